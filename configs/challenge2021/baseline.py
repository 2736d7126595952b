# 2021 stage 1 (SPEC section 9): YOLOv5 v5.0's yolov5l6 (Focus stem, SPP before the
# last C3) for the 7 driver-inattention classes, from scratch, on the "diet" subset:
# 300 epochs of 1/15 of it, batch 4, hyp.scratch-p6, cosine lf, validated once at
# the end.
#   python tools/train.py configs/challenge2021/baseline.py
#   bash tools/train_pipeline.sh 2021   # both stages, resumable
_base_ = '../_base_/scratch_low.py'

# ========================Frequently modified parameters======================
# -----data related-----
data_root = 'data/inattention/'  # the 2021 DATA folder (train/, test/ inside)
ann_dir = 'annotations/'  # tools/prepare_data.py --out-dir, relative to data_root
# k-fold: None trains on the 20,000-image split; k on annotations/fold{k}/ of
# tools/prepare_data.py --folds K (also FOLD=k in the environment, no edit needed).
fold = {{'$FOLD:None'}}
train_batch_size_per_gpu = 4
train_num_workers = 8
max_epochs = 300
epoch_parts = 15
img_scale = (1280, 1280)  # width, height
load_from = None  # from scratch, as the reference (no --weights)
work_dir = 'work_dirs/challenge2021/baseline'

# -----inference (SPEC section 9): predict.py and test.py-----
test_img_scale = (1536, 1536)
test_batch_size_per_gpu = 4
score_thr = 0.006
nms_iou_thr = 0.7
max_per_img = 300  # v5.0's non_max_suppression default
# Several checkpoints (baseline + fine-tuned, or fold models) fused as YOLOv5's
# Ensemble: every model's raw (TTA) predictions concatenated, then one NMS.
predict_ensemble = 'nms'
# The 2021 submission: {"annotations": [{"file_name", "objects": [...]}]}
submission_format = '2021'

# ========================Hyper-parameters: hyp.scratch-p6====================
# YOLOv5 name -> MMYOLO counterpart, as in configs/_base_/scratch_low.py.
base_lr = 0.01  # lr0
lr_factor = 0.2  # lrf
scheduler_type = 'cosine'  # v5.0's default lf: cosine from 1 to lrf
momentum = 0.937  # momentum
weight_decay = 0.0005  # weight_decay
warmup_epochs = 3.0  # warmup_epochs
warmup_min_iters = 1000  # v5.0: max(round(warmup_epochs x nb), 1000) iterations
warmup_momentum = 0.8  # warmup_momentum
warmup_bias_lr = 0.1  # warmup_bias_lr
warmup_bias_lr_group = 'bias'  # v5.0's third parameter group holds the biases
# v5.0 steps when the iteration is a multiple of accumulate (v6.x: when accumulate
# iterations have passed since the last step).
optim_step_rule = 'multiple_of_accumulate'
loss_bbox_weight = 0.05  # box
loss_cls_weight = 0.3  # cls
loss_cls_pos_weight = 1.0  # cls_pw
loss_obj_weight = 0.7  # obj
loss_obj_pos_weight = 1.0  # obj_pw
# iou_t 0.2: read nowhere in YOLOv5's loss. fl_gamma 0.0: plain BCE.
prior_match_thr = 4.0  # anchor_t
hsv_h = 0.0  # hsv_h
hsv_s = 0.0  # hsv_s
hsv_v = 0.4  # hsv_v
max_rotate_degree = 0.0  # degrees
max_translate_ratio = 0.1  # translate
affine_scale = 0.9  # scale
max_shear_degree = 0.0  # shear
# perspective 0.0, flipud 0.0, mixup 0.0: no such transform (as in the base).
flip_lr_prob = 0.5  # fliplr
mosaic_prob = 1.0  # mosaic

# ========================Derived from the values above=======================
metainfo = dict(classes=('eye_opened', 'eye_closed', 'mouth_opened',
                         'mouth_closed', 'face', 'phone', 'cigar'))
num_classes = 7
deepen_factor = 1.0  # yolov5l6: depth_multiple
widen_factor = 1.0  # width_multiple
num_det_layers = _base_.num_det_layers
split_dir = ann_dir if fold is None else f'{ann_dir}fold{fold}/'
train_ann_file = split_dir + 'train_diet.json'
val_ann_file = split_dir + 'val.json'
test_ann_file = ann_dir + 'test.json'
if fold is not None:
    work_dir = f'{work_dir}_fold{fold}'

model = dict(
    # Focus stem and SPP before the last C3: v5.0's P6 layout (SPEC section 9).
    backbone=dict(
        type='YOLOv5V50CSPDarknet',
        deepen_factor=deepen_factor,
        widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(
        head_module=dict(num_classes=num_classes, widen_factor=widen_factor),
        loss_cls=dict(
            loss_weight=loss_cls_weight * (num_classes / 80 * 3 /
                                           num_det_layers),
            class_weight=[loss_cls_pos_weight] * num_classes),
        loss_bbox=dict(loss_weight=loss_bbox_weight * (3 / num_det_layers)),
        loss_obj=dict(
            loss_weight=loss_obj_weight *
            ((img_scale[0] / 640)**2 * 3 / num_det_layers),
            class_weight=[loss_obj_pos_weight]),
        prior_match_thr=prior_match_thr),
    test_cfg=dict(
        score_thr=score_thr,
        nms=dict(type='nms', iou_threshold=nms_iou_thr),
        max_per_img=max_per_img))


def _is(transform, name):
    # Matched by name ending, so that a subclass (e.g. a weighted Mosaic, an
    # affine warp) that keeps the name's tail is still found.
    return transform['type'].endswith(name)


train_pipeline = [
    dict(t, img_scale=img_scale, prob=mosaic_prob) if _is(t, 'Mosaic') else
    dict(t,
         max_rotate_degree=max_rotate_degree,
         max_translate_ratio=max_translate_ratio,
         max_shear_degree=max_shear_degree,
         scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
         border=(-img_scale[0] // 2, -img_scale[1] // 2))
    if _is(t, 'RandomAffine') or _is(t, 'RandomAffineWarp') else
    dict(t, hue_delta=hsv_h, saturation_delta=hsv_s, value_delta=hsv_v)
    if _is(t, 'HSVRandomAug') else
    dict(t, prob=flip_lr_prob) if _is(t, 'RandomFlip') else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=test_img_scale) if 'scale' in t else t
    for t in _base_.val_pipeline
]

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    sampler=dict(parts=epoch_parts),
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file=val_ann_file))
test_dataloader = dict(
    batch_size=test_batch_size_per_gpu,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=test_ann_file,
        pipeline=test_pipeline,
        batch_shapes_cfg=dict(
            batch_size=test_batch_size_per_gpu, img_size=test_img_scale[0])))
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = dict(
    ann_file=data_root + test_ann_file, submission_format=submission_format)

optim_wrapper = dict(
    step_rule=optim_step_rule,
    optimizer=dict(lr=base_lr, momentum=momentum, weight_decay=weight_decay))
default_hooks = dict(
    param_scheduler=dict(
        scheduler_type=scheduler_type,
        lr_factor=lr_factor,
        max_epochs=max_epochs,
        warmup_epochs=warmup_epochs,
        warmup_min_iters=warmup_min_iters,
        warmup_momentum=warmup_momentum,
        warmup_bias_lr=warmup_bias_lr,
        warmup_bias_lr_group=warmup_bias_lr_group))

# No image weights in 2021: EMA only. Validation once, after the last epoch.
custom_hooks = [_base_.ema_hook]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

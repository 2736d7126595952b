# YOLOv5x6 (P6: 4 levels, strides 8/16/32/64) for the 14 parking classes at 1280, with
# YOLOv5's hyp.scratch-low mapped onto MMYOLO (SPEC sections 4-5). Stage configs
# (baseline.py, finetune.py) inherit it; see the README's table for every mapping.
_base_ = 'mmyolo::yolov5/yolov5_x-p6-v62_syncbn_fast_8xb16-300e_coco.py'

custom_imports = dict(imports=['parkdet_mm'], allow_failed_imports=False)

# ========================Frequently modified parameters======================
# -----data related-----
data_root = 'data/parking/'  # the challenge's DATA folder (train/, test/ inside)
# tools/prepare_data.py --out-dir: annotation files, relative to data_root
ann_dir = 'annotations/'
train_ann_file = ann_dir + 'train.json'
val_ann_file = ann_dir + 'val.json'
test_ann_file = ann_dir + 'test.json'
# The reference trained with 2 images in all; with several GPUs, divide.
train_batch_size_per_gpu = 2
# YOLOv5's nominal batch: the gradients of round(64 / total batch) batches add up
# before one optimizer step, weight decay scaled to match (SPEC section 5). The
# total batch is read at run time (batch x world size). None: a step every batch.
nominal_batch_size = 64
train_num_workers = 4
# YOLOv5's --cache: None reads every image from its file; 'ram' or 'disk' decodes the
# training images once, resized as Mosaic resizes them (tools/train.py --cache; in a
# child config: default_hooks = dict(image_cache=dict(cache='ram'))).
image_cache = None
max_epochs = 300
# Each epoch sees 1/epoch_parts of the training images (SPEC section 6).
epoch_parts = 15
img_scale = (1280, 1280)  # width, height
load_from = None

# -----inference (SPEC section 8)-----
test_img_scale = (1536, 1536)
test_batch_size_per_gpu = 16
score_thr = 0.01
nms_iou_thr = 0.7
max_per_img = 50

# ========================Hyper-parameters: hyp.scratch-low===================
# YOLOv5 name -> MMYOLO counterpart. Values from SPEC section 5.
base_lr = 0.01  # lr0
lr_factor = 0.01  # lrf: linear decay from lr0 to lr0 * lrf
momentum = 0.937  # momentum (SGD, nesterov)
weight_decay = 0.0005  # weight_decay
warmup_epochs = 3.0  # warmup_epochs
warmup_momentum = 0.8  # warmup_momentum
warmup_bias_lr = 0.1  # warmup_bias_lr
# YOLOv5 warms up for max(warmup_epochs * iters per epoch, 100) iterations.
warmup_min_iters = 100
scheduler_type = 'linear'  # lf: linear decay from lr0 to lr0 * lrf
# warmup_bias_lr goes to YOLOv5's third parameter group: the reference's fork orders
# them biases, weights, BatchNorm weights, so there the BatchNorm weights start at
# warmup_bias_lr and the biases at 0 (YOLOv5 v5.0 and v6.1: the biases, 'bias').
warmup_bias_lr_group = 'norm'
loss_bbox_weight = 0.05  # box
loss_cls_weight = 0.5  # cls
loss_cls_pos_weight = 1.0  # cls_pw: BCE pos_weight (mmdet's sigmoid class_weight)
loss_obj_weight = 1.0  # obj
loss_obj_pos_weight = 1.0  # obj_pw: BCE pos_weight
# iou_t (0.20) has no counterpart: YOLOv5 v6 reads it nowhere in its loss.
prior_match_thr = 4.0  # anchor_t
# fl_gamma 0.0: focal loss off, i.e. the plain BCE (mmdet.CrossEntropyLoss) below.
hsv_h = 0.015  # hsv_h -> YOLOv5HSVRandomAug.hue_delta
hsv_s = 0.7  # hsv_s -> saturation_delta
hsv_v = 0.4  # hsv_v -> value_delta
max_rotate_degree = 0.0  # degrees
max_translate_ratio = 0.1  # translate
affine_scale = 0.5  # scale: YOLOv5RandomAffineWarp.scaling_ratio_range (1 -+ scale)
max_shear_degree = 0.0  # shear
# perspective 0.0: YOLOv5RandomAffineWarp has no perspective term, which 0 switches
# off; like YOLOv5 it then warps with cv2.warpAffine.
# flipud 0.0: no vertical flip transform.
flip_lr_prob = 0.5  # fliplr -> mmdet.RandomFlip(prob)
mosaic_prob = 1.0  # mosaic -> Mosaic(prob)
# mixup 0.0 and copy_paste 0.0: no YOLOv5MixUp / copy-paste transform.
# No Albu either: the reference had none (MMYOLO's stock configs add one).

# ========================Unmodified in most cases============================
metainfo = dict(
    classes=('sedan', 'SUV', 'van', 'bus', 'school bus', 'truck', 'taxi',
             'adult', 'child', 'motorcycle', 'kickboard', 'bicycle',
             'stroller', 'cart'))
num_classes = 14
num_det_layers = 4
deepen_factor = 1.33
widen_factor = 1.25

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(
        head_module=dict(num_classes=num_classes, widen_factor=widen_factor),
        # YOLOv5 scales the gains by the head: box x 3/nl, cls x nc/80 x 3/nl,
        # obj x (imgsz/640)^2 x 3/nl.
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
        multi_label=True,
        nms_pre=30000,
        score_thr=score_thr,
        nms=dict(type='nms', iou_threshold=nms_iou_thr),
        max_per_img=max_per_img))

# Reads from the image cache when ImageCacheHook built one; skips (and counts) an
# image that has become unreadable instead of stopping the run.
pre_transform = [
    dict(type='LoadImageFromFileOrCache', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True)
]
train_pipeline = [
    *pre_transform,
    # MMYOLO's Mosaic, with the partner tiles drawn by the image weights when the
    # sampler has them (SPEC section 7); otherwise uniform, as Mosaic.
    dict(
        type='WeightedMosaic',
        img_scale=img_scale,
        pad_val=114.0,
        prob=mosaic_prob,
        pre_transform=pre_transform),
    dict(
        type='YOLOv5RandomAffineWarp',
        max_rotate_degree=max_rotate_degree,
        max_translate_ratio=max_translate_ratio,
        max_shear_degree=max_shear_degree,
        scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(
        type='YOLOv5HSVRandomAug',
        hue_delta=hsv_h,
        saturation_delta=hsv_s,
        value_delta=hsv_v),
    dict(type='mmdet.RandomFlip', prob=flip_lr_prob),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip',
                   'flip_direction'))
]

val_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=False,
        pad_val=dict(img=114)),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'pad_param'))
]
# Inference runs at test_img_scale; otherwise the same steps.
test_pipeline = [
    dict(t, scale=test_img_scale) if 'scale' in t else t for t in val_pipeline
]

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    # Inheriting mmyolo:: configs hands `_scope_` to the collate function.
    collate_fn=dict(_delete_=True, type='yolov5_collate'),
    sampler=dict(_delete_=True, type='EpochPartSampler', parts=epoch_parts),
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file=val_ann_file,
        data_prefix=dict(img=''),
        pipeline=val_pipeline,
        batch_shapes_cfg=dict(img_size=img_scale[0])))
test_dataloader = dict(
    batch_size=test_batch_size_per_gpu,
    num_workers=2,
    persistent_workers=False,
    dataset=dict(
        type='YOLOv5CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file=test_ann_file,
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        # rectangular batches (SPEC section 8)
        batch_shapes_cfg=dict(
            type='BatchShapePolicy',
            batch_size=test_batch_size_per_gpu,
            img_size=test_img_scale[0],
            size_divisor=64,
            extra_pad_ratio=0.5)))

val_evaluator = dict(
    _delete_=True,
    type='ChallengeSubmissionMetric',
    ann_file=data_root + val_ann_file,
    out_dir=None,
    # The confusion matrix (in the run's log folder) counts boxes scoring >= this.
    confusion_score_thr=score_thr)
test_evaluator = dict(
    _delete_=True,
    type='ChallengeSubmissionMetric',
    ann_file=data_root + test_ann_file,
    # tools/test.py and tools/predict.py write preds.json and submission.json
    # into their output folder
    out_dir=None,
    confusion_score_thr=score_thr)

# YOLOv5's TTA (--augment; tools/test.py --tta, tools/predict.py): views of the
# letterboxed test batch at scales 1, 0.83, 0.67 (bilinear, padded with grey to a
# multiple of the largest stride), the middle one flipped left-right; their raw
# predictions mapped back, YOLOv5's _clip_augmented, then one NMS with model.test_cfg.
tta_scale_factors = (1.0, 0.83, 0.67)
tta_flips = (False, True, False)
tta_model = dict(
    _delete_=True,
    type='YOLOv5TTAModel',
    scale_factors=tta_scale_factors,
    flips=tta_flips)
# The views come from the normal test batch: no TTA pipeline (MMYOLO's base has one).
tta_pipeline = None

# Three groups (MMYOLO's YOLOv5OptimizerConstructor): weights with decay, BatchNorm
# weights and biases without. The optim wrapper scales the decay (not the
# constructor, which would need the batch in the config).
optim_wrapper = dict(
    type='NominalBatchOptimWrapper',
    nominal_batch_size=nominal_batch_size,
    optimizer=dict(
        _delete_=True,
        type='SGD',
        lr=base_lr,
        momentum=momentum,
        weight_decay=weight_decay,
        nesterov=True))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # builds the image cache (image_cache) and logs skipped unreadable images
    image_cache=dict(type='ImageCacheHook', cache=image_cache),
    # The reference's schedule: epoch e at lr0 x lf(e), YOLOv5's warmup (lr,
    # momentum, accumulate per iteration). MMYOLO's YOLOv5ParamSchedulerHook trains
    # epoch e at lf(e - 1) after warmup.
    param_scheduler=dict(
        _delete_=True,
        type='YOLOv5LoopSchedulerHook',
        scheduler_type=scheduler_type,
        lr_factor=lr_factor,
        max_epochs=max_epochs,
        warmup_epochs=warmup_epochs,
        warmup_min_iters=warmup_min_iters,
        warmup_momentum=warmup_momentum,
        warmup_bias_lr=warmup_bias_lr,
        warmup_bias_lr_group=warmup_bias_lr_group),
    checkpoint=dict(
        type='CheckpointHook', interval=1, save_best=None, max_keep_ckpts=3),
    # YOLOv5's AutoAnchor before training (BPR at anchor_t; evolved below 0.98);
    # checkpoints carry the anchors (meta['anchors']) and loading one applies them.
    # check=False is YOLOv5's --noautoanchor.
    auto_anchor=dict(type='AutoAnchorHook'),
    # WORK_DIR/results.png when training ends: losses, LR, validation metrics
    # (tools/plot_results.py WORK_DIR draws it on demand)
    training_curves=dict(type='TrainingCurvesHook'))

# EMA of weights, as YOLOv5: updated once per optimizer step with decay
# 0.9999 x (1 - exp(-updates / 2000)), updates counted in optimizer steps.
ema_hook = dict(
    type='OptimizerStepEMAHook',
    ema_type='YOLOv5ModelEMA',
    momentum=0.0001,
    gamma=2000,
    update_buffers=True,
    strict_load=False,
    priority=49)
custom_hooks = [ema_hook]

train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

# A fixed seed (YOLOv5's default is 0) also lets --resume continue the sampler's
# sequence: mmengine builds the dataloader before it restores a checkpoint's seed.
randomness = dict(seed=0)

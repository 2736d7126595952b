# 2021 stage 2 (SPEC section 9): from the baseline's last checkpoint, on the full
# training split (not the diet), 50 epochs of 1/50 of it, hyp.finetune-simple (no
# mosaic, no scale, no HSV), with the backbone layers the reference froze frozen.
#   python tools/train.py configs/challenge2021/finetune.py
_base_ = './baseline.py'

# ========================Frequently modified parameters======================
max_epochs = 50
epoch_parts = 50
# The baseline's final checkpoint, derived from its work_dir and epoch count.
load_from = f'{_base_.work_dir}/epoch_{_base_.max_epochs}.pth'
work_dir = 'work_dirs/challenge2021/finetune'
# YOLOv5-numbered backbone layers frozen (FreezeLayersHook). The reference meant
# 1-11 but wrote ['1', ..., '6' '7', ...]: Python joins '6' '7' into '67', so layers
# 6 and 7 trained (and there is no layer 67 in the backbone); kept as it ran.
frozen_layers = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]

# ========================Hyper-parameters: hyp.finetune-simple===============
# 2022's hyp.finetune with hsv_v 0, scale 0 and mosaic 0.
base_lr = 0.0032  # lr0
lr_factor = 0.12  # lrf
momentum = 0.843  # momentum
weight_decay = 0.00036  # weight_decay
warmup_epochs = 2.0  # warmup_epochs
warmup_momentum = 0.5  # warmup_momentum
warmup_bias_lr = 0.05  # warmup_bias_lr
loss_bbox_weight = 0.0296  # box
loss_cls_weight = 0.243  # cls
loss_cls_pos_weight = 0.631  # cls_pw
loss_obj_weight = 0.301  # obj
loss_obj_pos_weight = 0.911  # obj_pw
prior_match_thr = 2.91  # anchor_t
hsv_h = 0.0  # hsv_h
hsv_s = 0.0  # hsv_s
hsv_v = 0.0  # hsv_v
max_rotate_degree = 0.0  # degrees
max_translate_ratio = 0.1  # translate
affine_scale = 0.0  # scale
max_shear_degree = 0.0  # shear
flip_lr_prob = 0.5  # fliplr
mosaic_prob = 0.0  # mosaic: off, see the pipeline below
# iou_t 0.2, fl_gamma 0, perspective 0, flipud 0, mixup 0: as in the base.

# ========================Derived from the values above=======================
fold = _base_.fold
num_classes = _base_.num_classes
num_det_layers = _base_.num_det_layers
img_scale = _base_.img_scale
train_ann_file = _base_.split_dir + 'train.json'
if fold is not None:
    work_dir = f'{work_dir}_fold{fold}'

model = dict(
    bbox_head=dict(
        loss_cls=dict(
            loss_weight=loss_cls_weight * (num_classes / 80 * 3 /
                                           num_det_layers),
            class_weight=[loss_cls_pos_weight] * num_classes),
        loss_bbox=dict(loss_weight=loss_bbox_weight * (3 / num_det_layers)),
        loss_obj=dict(
            loss_weight=loss_obj_weight *
            ((img_scale[0] / 640)**2 * 3 / num_det_layers),
            class_weight=[loss_obj_pos_weight]),
        prior_match_thr=prior_match_thr))


def _is(transform, name):
    return transform['type'].endswith(name)


# Without mosaic YOLOv5 trains on one image: resized to img_scale on its long side,
# letterboxed to img_scale, then the random affine with no border.
load_steps = [t for t in _base_.train_pipeline if 'Load' in t['type']]
train_pipeline = [
    *load_steps,
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=True,
        pad_val=dict(img=114.0)),
    *[
        dict(t,
             max_rotate_degree=max_rotate_degree,
             max_translate_ratio=max_translate_ratio,
             max_shear_degree=max_shear_degree,
             scaling_ratio_range=(1 - affine_scale, 1 + affine_scale),
             border=(0, 0))
        if _is(t, 'RandomAffine') or _is(t, 'RandomAffineWarp') else
        dict(t, hue_delta=hsv_h, saturation_delta=hsv_s, value_delta=hsv_v)
        if _is(t, 'HSVRandomAug') else
        dict(t, prob=flip_lr_prob) if _is(t, 'RandomFlip') else t
        for t in _base_.train_pipeline
        if 'Load' not in t['type'] and not _is(t, 'Mosaic')
    ],
]
train_dataloader = dict(
    sampler=dict(parts=epoch_parts),
    dataset=dict(ann_file=train_ann_file, pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(lr=base_lr, momentum=momentum, weight_decay=weight_decay))
default_hooks = dict(
    # No Mosaic to read the training size from: AutoAnchor is told it.
    auto_anchor=dict(img_size=img_scale[0]),
    param_scheduler=dict(
        lr_factor=lr_factor,
        max_epochs=max_epochs,
        warmup_epochs=warmup_epochs,
        warmup_momentum=warmup_momentum,
        warmup_bias_lr=warmup_bias_lr))

custom_hooks = [
    _base_.ema_hook,
    dict(type='FreezeLayersHook', layers=frozen_layers),
]
# Several processes: DDP is built before the hook freezes, so it must not wait for
# the frozen parameters' gradients.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

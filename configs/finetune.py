# Stage 2 (SPEC section 5): 15 epochs from the baseline's last checkpoint with YOLOv5's
# finetune hyper-parameters, image weights off.
#   python tools/train.py configs/finetune.py
_base_ = './baseline.py'

# ========================Frequently modified parameters======================
max_epochs = 15
# The baseline's final checkpoint, derived from its work_dir and epoch count.
load_from = f'{_base_.work_dir}/epoch_{_base_.max_epochs}.pth'
work_dir = 'work_dirs/finetune'

# ========================Hyper-parameters: hyp.finetune======================
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
hsv_v = 0.4  # hsv_v
affine_scale = 0.9  # scale
# iou_t 0.20, fl_gamma 0, degrees 0, translate 0.1, shear 0, perspective 0, flipud 0,
# fliplr 0.5, mosaic 1.0, mixup 0, copy_paste 0: as in scratch-low (the base).

# ========================Derived from the values above=======================
num_classes = _base_.num_classes
num_det_layers = _base_.num_det_layers
img_scale = _base_.img_scale

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

train_pipeline = [
    dict(t, scaling_ratio_range=(1 - affine_scale, 1 + affine_scale))
    if t['type'] == 'YOLOv5RandomAffineWarp' else
    dict(t, hue_delta=hsv_h, saturation_delta=hsv_s, value_delta=hsv_v)
    if t['type'] == 'YOLOv5HSVRandomAug' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(lr=base_lr, momentum=momentum, weight_decay=weight_decay))
default_hooks = dict(
    param_scheduler=dict(
        lr_factor=lr_factor,
        max_epochs=max_epochs,
        warmup_epochs=warmup_epochs,
        warmup_momentum=warmup_momentum,
        warmup_bias_lr=warmup_bias_lr))

# Image weights off: EMA only.
custom_hooks = [_base_.ema_hook]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

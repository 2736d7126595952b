# YOLOv5's hyp.finetune.yaml (docs/reference.md section 5), named as in ./scratch_low.py.
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
# iou_t 0.20: no counterpart
prior_match_thr = 2.91  # anchor_t (MMYOLO warns it is not 4.0: YOLOv5 ran it so)
# fl_gamma 0.0
hsv_h = 0.0  # hsv_h
hsv_s = 0.0  # hsv_s
hsv_v = 0.4  # hsv_v
max_rotate_degree = 0.0  # degrees
max_translate_ratio = 0.1  # translate
affine_scale = 0.9  # scale
max_shear_degree = 0.0  # shear
# perspective 0.0
flip_ud_prob = 0.0  # flipud
flip_lr_prob = 0.5  # fliplr
mosaic_prob = 1.0  # mosaic
mixup_prob = 0.0  # mixup
# copy_paste 0.0

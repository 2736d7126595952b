# YOLOv5's hyp.scratch-low.yaml (docs/reference.md section 5), each value under the name of the
# MMYOLO setting it drives, with YOLOv5's name beside it (README: the mapping table;
# tools/train.py --hyp FILE reads a YOLOv5 file into these names).
base_lr = 0.01  # lr0
lr_factor = 0.01  # lrf: lr0 decays to lr0 * lrf
momentum = 0.937  # momentum (SGD, nesterov)
weight_decay = 0.0005  # weight_decay
warmup_epochs = 3.0  # warmup_epochs
warmup_momentum = 0.8  # warmup_momentum
warmup_bias_lr = 0.1  # warmup_bias_lr
loss_bbox_weight = 0.05  # box
loss_cls_weight = 0.5  # cls
loss_cls_pos_weight = 1.0  # cls_pw: BCE pos_weight
loss_obj_weight = 1.0  # obj
loss_obj_pos_weight = 1.0  # obj_pw: BCE pos_weight
# iou_t 0.20: no counterpart, YOLOv5 v6 reads it nowhere in its loss
prior_match_thr = 4.0  # anchor_t
# fl_gamma 0.0: focal loss off, the plain BCE of the head
hsv_h = 0.015  # hsv_h: YOLOv5HSVRandomAug.hue_delta
hsv_s = 0.7  # hsv_s: saturation_delta
hsv_v = 0.4  # hsv_v: value_delta
max_rotate_degree = 0.0  # degrees
max_translate_ratio = 0.1  # translate
affine_scale = 0.5  # scale: YOLOv5RandomAffineWarp.scaling_ratio_range (1 -+ scale)
max_shear_degree = 0.0  # shear
# perspective 0.0: the affine has no perspective term (warped with cv2.warpAffine)
flip_ud_prob = 0.0  # flipud: mmdet.RandomFlip(prob, 'vertical'); 0: none at all
flip_lr_prob = 0.5  # fliplr: mmdet.RandomFlip(prob)
mosaic_prob = 1.0  # mosaic: the share of images that get YOLOv5's mosaic
mixup_prob = 0.0  # mixup: the share of mosaics blended with a second (WeightedMixUp)
# copy_paste 0.0: no copy-paste (it needs segment labels)

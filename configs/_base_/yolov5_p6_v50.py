# YOLOv5-P6 as YOLOv5 v5.0 built and trained it, the 2021 reference's release (docs/reference.md
# section 9): v5.0's P6 backbone (Focus stem, SPP before the last C3) and its loop.
_base_ = './yolov5_p6.py'

scheduler_type = 'cosine'  # v5.0's default lf: cosine from 1 to lrf
warmup_min_iters = 1000  # v5.0: max(round(warmup_epochs x nb), 1000) iterations
warmup_bias_lr_group = 'bias'  # v5.0's third parameter group holds the biases
# v5.0 steps when the iteration is a multiple of accumulate (v6.x: when accumulate
# iterations have passed since the last step).
optim_step_rule = 'multiple_of_accumulate'

model = dict(backbone=dict(type='YOLOv5V50CSPDarknet'))
# v5.0's MixUp ratio: Beta(8, 8) (Beta(32, 32) from v6.0 on).
mixup_alpha = 8.0
# v5.0 converts to HSV and back even when every gain is 0 (v6.0+ skips it).
hsv_at_zero_gains = True

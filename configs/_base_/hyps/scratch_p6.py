# hyp.scratch-p6.yaml as the 2021 team shipped it (docs/reference.md section 9): the values of
# hyp.scratch-low (./scratch_low.py) but these.
_base_ = './scratch_low.py'

lr_factor = 0.2  # lrf
loss_cls_weight = 0.3  # cls
loss_obj_weight = 0.7  # obj
hsv_h = 0.0  # hsv_h
hsv_s = 0.0  # hsv_s
affine_scale = 0.9  # scale

# hyp.finetune-simple.yaml of the 2021 team (docs/reference.md section 9): hyp.finetune with no
# value gain, no scale and no mosaic.
_base_ = './finetune.py'

hsv_v = 0.0  # hsv_v
affine_scale = 0.0  # scale
mosaic_prob = 0.0  # mosaic: every image letterboxed alone

# 2021 stage 2 (docs/reference.md section 9): from the baseline's last checkpoint, on the full
# training split (not the diet), 50 epochs of 1/50 of it, hyp.finetune-simple (no
# mosaic, no scale, no HSV), with the backbone layers the reference froze frozen.
#   python tools/train.py configs/challenge2021/finetune.py
_base_ = [
    '../_base_/yolov5_p6_v50.py', '../_base_/datasets/inattention2021.py',
    '../_base_/sizes/l6_1280.py', '../_base_/hyps/finetune_simple.py'
]

max_epochs = 50
epoch_parts = 50
# load_from: the final checkpoint the baseline's run recorded
previous_stage = '{{ fileDirname }}/baseline.py'
# tools/predict.py with this config and no checkpoint: the baseline's (load_from) and
# this stage's final checkpoints, ensembled with NMS, as the reference's predict.py.
predict_with_load_from = True
# YOLOv5-numbered backbone layers frozen (FreezeLayersHook). The reference meant
# 1-11 but wrote ['1', ..., '6' '7', ...]: Python joins '6' '7' into '67', so layers
# 6 and 7 trained (and there is no layer 67 in the backbone); kept as it ran.
frozen_layers = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

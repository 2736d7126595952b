# 2021 stage 1 (docs/reference.md section 9): YOLOv5 v5.0's yolov5l6 for the 7 driver-inattention
# classes, from scratch, on the "diet" subset: 300 epochs of 1/15 of it, batch 4,
# hyp.scratch-p6, cosine lf, validated once at the end.
#   python tools/train.py configs/challenge2021/baseline.py
#   bash tools/train_pipeline.sh 2021   # both stages, resumable
_base_ = [
    '../_base_/yolov5_p6_v50.py', '../_base_/datasets/inattention2021.py',
    '../_base_/sizes/l6_1280.py', '../_base_/hyps/scratch_p6.py'
]

max_epochs = 300
train_split = 'train_diet'  # tools/prepare_data.py --diet

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

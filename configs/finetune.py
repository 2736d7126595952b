# Stage 2 (docs/reference.md section 5): 15 epochs from the baseline's last checkpoint with
# hyp.finetune, image weights off.
#   python tools/train.py configs/finetune.py
_base_ = [
    './_base_/yolov5_p6.py', './_base_/datasets/parking2022.py',
    './_base_/sizes/x6_1280.py', './_base_/hyps/finetune.py'
]

max_epochs = 15
# load_from: the final checkpoint the baseline's run recorded
previous_stage = '{{ fileDirname }}/baseline.py'

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

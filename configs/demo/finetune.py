# The finetune recipe, tiny, from the demo baseline's last checkpoint. `make demo`
# runs it.
_base_ = [
    '../_base_/yolov5_p6.py', '../_base_/datasets/parking2022.py',
    '../_base_/sizes/demo_256.py', '../_base_/hyps/finetune.py'
]

data_root = 'data/demo/'
max_epochs = 20
# load_from: the final checkpoint the baseline's run recorded
previous_stage = '{{ fileDirname }}/baseline.py'

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

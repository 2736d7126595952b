# The 2021 finetune recipe, tiny, from the demo baseline's last checkpoint, with the
# reference's frozen layers (configs/challenge2021/finetune.py). `make demo2021`
# runs it.
_base_ = [
    '../../_base_/yolov5_p6_v50.py', '../../_base_/datasets/inattention2021.py',
    '../../_base_/sizes/demo_256.py', '../../_base_/hyps/finetune_simple.py'
]

data_root = 'data/demo2021/'
max_epochs = 6
warmup_min_iters = 20
checkpoint_interval = 3
# load_from: the final checkpoint the baseline's run recorded
previous_stage = '{{ fileDirname }}/baseline.py'
predict_with_load_from = True  # tools/predict.py's default: the NMS ensemble
frozen_layers = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

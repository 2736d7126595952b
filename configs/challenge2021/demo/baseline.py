# The 2021 baseline recipe, tiny (sizes/demo_256.py), on the synthetic 2021-format
# demo data (tools/make_demo_data.py --format 2021). `make demo2021` runs it.
_base_ = [
    '../../_base_/yolov5_p6_v50.py', '../../_base_/datasets/inattention2021.py',
    '../../_base_/sizes/demo_256.py', '../../_base_/hyps/scratch_p6.py'
]

data_root = 'data/demo2021/'
max_epochs = 30
epoch_parts = 1
train_split = 'train_diet'
warmup_min_iters = 60  # a few hundred batches in all
# The 2022 demo's class loss gain (2.0, not scratch-p6's 0.3; configs/demo/baseline.py
# says why): YOLOv5 scales it by classes / 80 and 3 / levels, to 0.020 at 7 classes.
# Seeds 0, 1, 2 at 1 thread (val mAP@.5, TTA): baseline 0.180, 0.291, 0.292 at 0.3;
# 0.470, 0.592, 0.580 at 2.0. docs/demo.md has the runs.
loss_cls_weight = 2.0

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

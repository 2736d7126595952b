# The recipe on a COCO data set, tiny (sizes/demo_256.py, from scratch), to try it on
# a CPU: `python tools/run_demo.py --recipe coco` converts the demo images into a
# plain COCO set with other class names and trains this.
_base_ = [
    '../_base_/yolov5_p6.py', '../_base_/datasets/coco.py',
    '../_base_/sizes/demo_256.py', '../_base_/hyps/scratch_low.py'
]

data_root = 'data/demo_coco/'
max_epochs = 100
image_weights = True
# The 2022 demo's class loss gain (2.0, not scratch-low's 0.5): on the same pictures
# the reference's left the rare classes unlearned (configs/demo/baseline.py says why).
loss_cls_weight = 2.0

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

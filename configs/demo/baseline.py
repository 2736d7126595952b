# The baseline recipe, tiny (sizes/demo_256.py), on the synthetic demo data set
# (tools/make_demo_data.py), so that it trains on a CPU in minutes. `make demo` runs
# it; no weights are downloaded: it trains from scratch.
_base_ = [
    '../_base_/yolov5_p6.py', '../_base_/datasets/parking2022.py',
    '../_base_/sizes/demo_256.py', '../_base_/hyps/scratch_low.py'
]

data_root = 'data/demo/'
max_epochs = 100
image_weights = True

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

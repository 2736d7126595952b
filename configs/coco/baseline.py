# The 2nd-place recipe on your own COCO data set: YOLOv5x6 at 1280 with YOLOv5
# v6.1's loop, hyp.scratch-low, class-balanced image weights, every image each epoch.
# A config of your own names the data and changes what differs:
#   _base_ = 'configs/coco/baseline.py'
#   data_root = '/data/my_set/'
_base_ = [
    '../_base_/yolov5_p6.py', '../_base_/datasets/coco.py',
    '../_base_/sizes/x6_1280.py', '../_base_/hyps/scratch_low.py'
]

max_epochs = 100
epoch_parts = 1
image_weights = True
# COCO-pretrained YOLOv5x6 by URL, fetched once into torch's hub cache (see
# configs/baseline.py); None: from scratch.
load_from = (
    'https://github.com/ultralytics/yolov5/releases/download/v6.1/yolov5x6.pt')

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

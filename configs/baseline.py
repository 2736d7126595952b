# Stage 1 (docs/reference.md section 5): YOLOv5x6 at 1280, 50 epochs of 1/15 of the data each,
# batch 2, class-balanced image weights, hyp.scratch-low, from COCO-pretrained
# YOLOv5x6.
#   python tools/train.py configs/baseline.py
_base_ = [
    './_base_/yolov5_p6.py', './_base_/datasets/parking2022.py',
    './_base_/sizes/x6_1280.py', './_base_/hyps/scratch_low.py'
]

max_epochs = 50
image_weights = True
# COCO-pretrained YOLOv5x6: ultralytics' yolov5x6.pt, GitHub release v6.1 (the file
# the reference started from; MMYOLO's model zoo has P6 weights for n/s/m/l only).
# Downloaded once into torch's hub cache ($TORCH_HOME/hub/checkpoints/yolov5x6.pt) and
# converted to MMYOLO's keys in memory; a local .pt or converted .pth works too.
load_from = (
    'https://github.com/ultralytics/yolov5/releases/download/v6.1/yolov5x6.pt')

# The values that follow the primaries (parkdet_mm/config/derivation.py), written out
# so that any reader of this file (MMEngine's Config.fromfile, MMDetection's and
# MMYOLO's tools) sees the run's values. Keep these two lines last.
from parkdet_mm.config import derived  # noqa: E402

globals().update(derived(globals()))

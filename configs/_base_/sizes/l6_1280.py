# YOLOv5l6 at 1280 px, as the 2021 reference trained it (docs/reference.md section 9): batch 4,
# inference in batches of 4; otherwise as YOLOv5x6.
_base_ = './x6_1280.py'

deepen_factor = 1.0  # yolov5l6: depth_multiple
widen_factor = 1.0  # width_multiple
train_batch_size_per_gpu = 4
train_num_workers = 8
test_batch_size_per_gpu = 4

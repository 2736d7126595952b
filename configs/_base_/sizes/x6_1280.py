# YOLOv5x6 at 1280 px on one GPU, as the 2022 reference trained it (docs/reference.md sections 4,
# 5, 8): the model's size, the images' and the batches'.
deepen_factor = 1.33
widen_factor = 1.25
img_scale = (1280, 1280)  # width, height
# YOLOv5's P6 anchors (yolov5x6.yaml), pixels: they stay when img_scale changes, as
# in YOLOv5 (AutoAnchor checks them on the data).
anchors = [
    [(19, 27), (44, 40), (38, 94)],  # P3/8
    [(96, 68), (86, 152), (180, 137)],  # P4/16
    [(140, 301), (303, 264), (238, 542)],  # P5/32
    [(436, 615), (739, 380), (925, 792)],  # P6/64
]
# The reference trained with 2 images in all; with several GPUs, divide.
train_batch_size_per_gpu = 2
# YOLOv5's nominal batch: a step every round(64 / total batch) batches, their
# gradients summed (docs/reference.md section 5). None: a step every batch.
nominal_batch_size = 64
train_num_workers = 4
# Each epoch sees 1/epoch_parts of the training images (docs/reference.md section 6).
epoch_parts = 15
val_batch_size_per_gpu = 1
val_num_workers = 2
test_img_scale = (1536, 1536)
test_batch_size_per_gpu = 16
test_num_workers = 2
log_interval = 50  # iterations
checkpoint_interval = 1  # epochs

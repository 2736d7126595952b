# YOLOv5x6 at 1280 px on one GPU, as the 2022 reference trained it (SPEC sections 4,
# 5, 8): the model's size, the images' and the batches'.
deepen_factor = 1.33
widen_factor = 1.25
img_scale = (1280, 1280)  # width, height
anchors = '${yolov5_p6_anchors}'
# The reference trained with 2 images in all; with several GPUs, divide.
train_batch_size_per_gpu = 2
# YOLOv5's nominal batch: a step every round(64 / total batch) batches, their
# gradients summed (SPEC section 5). None: a step every batch.
nominal_batch_size = 64
train_num_workers = 4
# Each epoch sees 1/epoch_parts of the training images (SPEC section 6).
epoch_parts = 15
val_batch_size_per_gpu = 1
val_num_workers = 2
test_img_scale = (1536, 1536)
test_batch_size_per_gpu = 16
test_num_workers = 2
log_interval = 50  # iterations
checkpoint_interval = 1  # epochs

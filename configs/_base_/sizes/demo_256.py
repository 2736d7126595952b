# The recipe small enough to train on a CPU in minutes (`make demo`): yolov5n6's size
# (deepen 0.33, widen 0.25) at 256 px.
deepen_factor = 0.33
widen_factor = 0.25
img_scale = (256, 256)  # width, height
# None: YOLOv5's P6 anchors scaled from 1280 to img_scale.
anchors = None
train_batch_size_per_gpu = 8
# The demo trains about 2,000 batches from scratch: at the nominal 64 (a step every 8
# batches) that is 250 optimizer steps, too few to learn in its minutes (0.06 to
# 0.17 lower val mAP@.5 at each of 3 seeds: docs/demo.md's loop ablation). Its
# nominal batch is its own batch (None): a step every batch, and otherwise the
# reference's loop (schedule, warmup, weight decay, EMA per step).
nominal_batch_size = None
train_num_workers = 2
epoch_parts = 2
val_batch_size_per_gpu = 8
val_num_workers = 1
test_img_scale = None  # None: img_scale
test_batch_size_per_gpu = 8
test_num_workers = 1
log_interval = 10
checkpoint_interval = 5

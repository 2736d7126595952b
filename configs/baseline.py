# Stage 1 (SPEC section 5): 50 epochs of 1/15 of the data each, batch 2, class-balanced
# image weights, scratch-low hyper-parameters, from COCO-pretrained YOLOv5x6.
#   python tools/train.py configs/baseline.py
_base_ = './_base_/scratch_low.py'

# ========================Frequently modified parameters======================
data_root = 'data/parking/'
ann_dir = 'annotations/'
train_batch_size_per_gpu = 2
max_epochs = 50
epoch_parts = 15
# COCO-pretrained YOLOv5x6: ultralytics' yolov5x6.pt (GitHub release v6.1, the file
# the reference started from; MMYOLO's model zoo has P6 weights for n/s/m/l only)
# converted to MMYOLO's keys. Download it yourself (nothing here fetches weights):
#   python tools/convert_yolov5.py checkpoints/yolov5x6.pt checkpoints/yolov5x6.pth
# (load_from may also name the .pt itself: it is then converted in memory.)
load_from = 'checkpoints/yolov5x6.pth'
work_dir = 'work_dirs/baseline'

# ========================Derived from the values above=======================
train_ann_file = ann_dir + 'train.json'
val_ann_file = ann_dir + 'val.json'
test_ann_file = ann_dir + 'test.json'

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    sampler=dict(parts=epoch_parts),
    dataset=dict(data_root=data_root, ann_file=train_ann_file))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=val_ann_file))
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file=test_ann_file))
val_evaluator = dict(ann_file=data_root + val_ann_file)
test_evaluator = dict(ann_file=data_root + test_ann_file)
default_hooks = dict(param_scheduler=dict(max_epochs=max_epochs))

# Class-balanced image weights (SPEC section 7), recomputed before every epoch.
custom_hooks = [_base_.ema_hook, dict(type='ClassBalanceHook')]

# The reference never validated during training; here once, at the end.
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)

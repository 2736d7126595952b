# The finetune recipe, tiny: configs/finetune.py resized like configs/demo/baseline.py,
# starting from the demo baseline's last checkpoint. `make demo` runs it.
_base_ = '../finetune.py'

# ========================Frequently modified parameters======================
# Every dataloader and evaluator follows data_root (the tools apply it).
data_root = 'data/demo/'
train_batch_size_per_gpu = 8
# A step every batch, as in configs/demo/baseline.py (its 400 batches would be 50
# steps at the nominal 64).
nominal_batch_size = train_batch_size_per_gpu
train_num_workers = 2
max_epochs = 20
epoch_parts = 2
img_scale = (256, 256)
baseline_work_dir = 'work_dirs/demo/baseline'
baseline_max_epochs = 100
load_from = f'{baseline_work_dir}/epoch_{baseline_max_epochs}.pth'
work_dir = 'work_dirs/demo/finetune'
deepen_factor = 0.33
widen_factor = 0.25

# ========================Derived from the values above=======================
# The same resizing as configs/demo/baseline.py (a config has one base to inherit
# from, and the finetune recipe is this one's).
test_img_scale = img_scale
num_det_layers = _base_.num_det_layers
anchors = [[(round(w * img_scale[0] / 1280), round(h * img_scale[0] / 1280))
            for w, h in level] for level in _base_.model.bbox_head.
           prior_generator.base_sizes]

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(
        head_module=dict(widen_factor=widen_factor),
        prior_generator=dict(base_sizes=anchors),
        loss_obj=dict(loss_weight=_base_.loss_obj_weight *
                      ((img_scale[0] / 640)**2 * 3 / num_det_layers))))

train_pipeline = [
    dict(t, img_scale=img_scale) if t['type'] == 'WeightedMosaic' else
    dict(t, border=(-img_scale[0] // 2, -img_scale[1] // 2))
    if t['type'] == 'YOLOv5RandomAffineWarp' else t
    for t in _base_.train_pipeline
]
val_pipeline = [
    dict(t, scale=img_scale) if 'scale' in t else t
    for t in _base_.val_pipeline
]

train_dataloader = dict(
    batch_size=train_batch_size_per_gpu,
    num_workers=train_num_workers,
    persistent_workers=True,
    sampler=dict(parts=epoch_parts),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        pipeline=val_pipeline,
        batch_shapes_cfg=dict(batch_size=8, img_size=img_scale[0])))
test_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        pipeline=val_pipeline,
        batch_shapes_cfg=dict(batch_size=8, img_size=img_scale[0])))

optim_wrapper = dict(nominal_batch_size=nominal_batch_size)
default_hooks = dict(
    logger=dict(interval=10),
    param_scheduler=dict(max_epochs=max_epochs),
    checkpoint=dict(interval=5))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
env_cfg = dict(cudnn_benchmark=False)

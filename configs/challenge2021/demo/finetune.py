# The 2021 finetune recipe, tiny: configs/challenge2021/finetune.py (frozen layers,
# hyp.finetune-simple, full training split) resized like the demo baseline, from the
# demo baseline's last checkpoint. `make demo2021` runs it.
_base_ = '../finetune.py'

# ========================Frequently modified parameters======================
data_root = 'data/demo2021/'
train_batch_size_per_gpu = 8
nominal_batch_size = train_batch_size_per_gpu  # as the demo baseline
warmup_min_iters = 20
train_num_workers = 2
max_epochs = 6
epoch_parts = 2
img_scale = (256, 256)
baseline_work_dir = 'work_dirs/demo2021/baseline'
baseline_max_epochs = 30
load_from = f'{baseline_work_dir}/epoch_{baseline_max_epochs}.pth'
work_dir = 'work_dirs/demo2021/finetune'
deepen_factor = 0.33
widen_factor = 0.25
test_batch_size_per_gpu = 8

# ========================Derived from the values above=======================
# The same resizing as configs/challenge2021/demo/baseline.py (a config has one
# base, and the finetune recipe is this one's).
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
    dict(t, scale=img_scale) if 'Resize' in t['type'] else t
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
    batch_size=test_batch_size_per_gpu,
    num_workers=1,
    dataset=dict(
        pipeline=val_pipeline,
        batch_shapes_cfg=dict(
            batch_size=test_batch_size_per_gpu, img_size=img_scale[0])))

optim_wrapper = dict(nominal_batch_size=nominal_batch_size)
default_hooks = dict(
    auto_anchor=dict(img_size=img_scale[0]),
    logger=dict(interval=10),
    param_scheduler=dict(max_epochs=max_epochs, warmup_min_iters=warmup_min_iters),
    checkpoint=dict(interval=3))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
env_cfg = dict(cudnn_benchmark=False)

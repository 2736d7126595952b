# The 2021 baseline recipe, tiny: YOLOv5 v5.0's P6 layout at deepen 0.33, widen 0.25
# and 256 px on the synthetic 2021-format demo data (tools/make_demo_data.py
# --format 2021), so that it trains on a CPU in minutes. `make demo2021` runs it.
_base_ = '../baseline.py'

# ========================Frequently modified parameters======================
# Every dataloader and evaluator follows data_root (the tools apply it).
data_root = 'data/demo2021/'
train_batch_size_per_gpu = 8
# A few hundred batches in all: at the nominal 64 that would be a few dozen
# optimizer steps. The demo's nominal batch is its own batch (a step every batch),
# and its warmup is short; otherwise the 2021 loop (cosine lf, warmup, EMA per step).
nominal_batch_size = train_batch_size_per_gpu
warmup_min_iters = 60
train_num_workers = 2
max_epochs = 30
epoch_parts = 1
img_scale = (256, 256)
load_from = None  # from scratch, as the reference
work_dir = 'work_dirs/demo2021/baseline'
deepen_factor = 0.33
widen_factor = 0.25
test_batch_size_per_gpu = 8

# ========================Derived from the values above=======================
test_img_scale = img_scale
num_det_layers = _base_.num_det_layers
# The P6 anchors, scaled from 1280 to the demo's input size.
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
    dict(t, img_scale=img_scale) if t['type'].endswith('Mosaic') else
    dict(t, border=(-img_scale[0] // 2, -img_scale[1] // 2))
    if 'RandomAffine' in t['type'] else t
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
    logger=dict(interval=10),
    param_scheduler=dict(max_epochs=max_epochs, warmup_min_iters=warmup_min_iters),
    checkpoint=dict(interval=5))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
env_cfg = dict(cudnn_benchmark=False)

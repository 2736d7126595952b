# YOLOv5-P6 (4 detection levels, strides 8/16/32/64) on MMYOLO, trained with YOLOv5
# v6.1's loop: the recipe every config here builds on (SPEC sections 4-8). It names no
# data set, size or hyper-parameters; a config composes it with one of each, as
# MMDetection composes model, data and schedule:
#   _base_ = ['./_base_/yolov5_p6.py', './_base_/datasets/parking2022.py',
#             './_base_/sizes/x6_1280.py', './_base_/hyps/scratch_low.py']
# Every value derived from those primaries is a formula '${expr}' (a Python expression
# over the config's top-level names), evaluated after all inheritance, --cfg-options
# and tools/train.py's flags (parkdet_mm.config): a primary set once, anywhere,
# reaches everything derived from it. The run's final values are dumped into its
# work dir.
_base_ = 'mmyolo::_base_/default_runtime.py'

custom_imports = dict(imports=['parkdet_mm'], allow_failed_imports=False)
# Evaluates the formulas for RUNNERS.build (MMYOLO's own tools/train.py) too.
runner_type = 'FormulaRunner'

# ========================Frequently modified parameters======================
# (the data set's, the size's and the hyper-parameters' own primaries are in the
# bases named above; a training config adds max_epochs and its stage's values)
# Validate every N epochs; None: once, after the last epoch (the reference). With
# validation before the end, YOLOv5's fitness (0.1 x mAP@.5 + 0.9 x mAP@.5:.95)
# picks the best epoch, kept as best.pth (YOLOv5's best.pt).
val_interval = None
# YOLOv5's --patience: stop when fitness has not improved for N validations
# (validating every epoch unless val_interval says otherwise); None: never.
patience = None
# Class-balanced image weights (SPEC section 7), recomputed before every epoch.
image_weights = False
# YOLOv5's --cache: None reads every image from its file; 'ram' or 'disk' decodes
# the training images once, resized as Mosaic resizes them (ImageCacheHook).
image_cache = None
# k-fold (tools/prepare_data.py --folds K): fold k trains on ANN_DIR/fold{k}/ into
# WORK_DIR_fold{k}; FOLD=k in the environment or fold=k.
fold = {{'$FOLD:None'}}
# The training annotation file in the split folder: train.json, or e.g. train_diet.
train_split = 'train'
# YOLOv5-numbered backbone layers to freeze (YOLOv5's --freeze), or None.
frozen_layers = None
# Hooks of your own, run after the recipe's custom_hooks.
extra_hooks = []
seed = 0  # YOLOv5's default
# Experiment loggers besides MMEngine's local logs (tools/train.py --logger):
# any of 'tensorboard', 'mlflow' (a local file store), 'wandb' (offline), each
# writing into the run's log folder (WORK_DIR/TIMESTAMP/vis_data).
# They get the losses, the LR, every validation metric and the pictures.
loggers = []
# Deterministic torch algorithms too (mmengine's randomness.deterministic; slower,
# and an op without a deterministic version then raises). tools/train.py
# --deterministic. cuDNN's own determinism is on regardless (env_cfg below).
deterministic = False
# With mixed precision, optimizer steps the loss scaler may skip in a row (inf
# gradients) before training stops as diverged; None: never (NonFiniteLossHook).
max_skipped_steps = 100
# YOLOv5's --multi-scale: each batch resized to a random multiple of the largest
# stride in 0.5-1.5 x img_scale (YOLOv5MultiScale).
multi_scale = False
# YOLOv5's --label-smoothing EPS: classification targets 1 - EPS/2 and EPS/2.
label_smoothing = 0.0

# -----YOLOv5 v6.1's loop (SPEC section 5); yolov5_p6_v50.py has v5.0's-----
scheduler_type = 'linear'  # lf: linear decay from lr0 to lr0 * lrf
# Warmup: max(warmup_epochs x iterations per epoch, warmup_min_iters) iterations.
warmup_min_iters = 100
# warmup_bias_lr goes to YOLOv5's third parameter group: the reference's fork orders
# them biases, weights, BatchNorm weights, so there the BatchNorm weights start at
# warmup_bias_lr and the biases at 0 (YOLOv5 v5.0 and v6.1: the biases, 'bias').
warmup_bias_lr_group = 'norm'
# v6.x steps when accumulate iterations have passed since the last step.
optim_step_rule = 'since_last_step'

# -----inference (SPEC section 8)-----
# YOLOv5's TTA (--augment; tools/test.py --tta, tools/predict.py): views of the
# letterboxed test batch at these scales (bilinear, padded with grey to a multiple
# of the largest stride), the middle one flipped left-right; their raw predictions
# mapped back, YOLOv5's _clip_augmented, then one NMS with model.test_cfg.
tta_scale_factors = (1.0, 0.83, 0.67)
tta_flips = (False, True, False)
# How boxes are merged wherever NMS runs (test, predict, TTA, the NMS ensemble):
# 'nms', or 'soft_nms' (mmcv's, linear decay, sigma 0.5; tools/test.py and
# tools/predict.py --nms soft).
nms_type = 'nms'
# NMS across classes (YOLOv5's --agnostic-nms; tools/detect.py --agnostic-nms)
agnostic_nms = False
# tools/predict.py without a checkpoint: the final checkpoint, and with this the
# load_from checkpoint too (the 2021 recipe's baseline + fine-tune ensemble).
predict_with_load_from = False

# ========================Derived from the primaries==========================
strides = [8, 16, 32, 64]
# YOLOv5's P6 anchors, in pixels at 1280 (sizes/*.py set `anchors` from them).
yolov5_p6_anchors = [
    [(19, 27), (44, 40), (38, 94)],  # P3/8
    [(96, 68), (86, 152), (180, 137)],  # P4/16
    [(140, 301), (303, 264), (238, 542)],  # P5/32
    [(436, 615), (739, 380), (925, 792)],  # P6/64
]
num_classes = '${len(classes)}'
metainfo = dict(classes='${classes}')
split_dir = '${ann_dir if fold is None else join(ann_dir, f"fold{fold}")}'
train_ann_file = '${join(split_dir, train_split + ".json")}'
val_ann_file = '${join(split_dir, "val.json")}'
test_ann_file = '${join(ann_dir, "test.json")}'
# work_dirs/ + the config's path below configs/ (+ _fold{k})
work_dir = '${default_work_dir(config_file, fold)}'

norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    type='YOLODetector',
    data_preprocessor=dict(
        type='YOLOv5DetDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        batch_augments=('${[dict(type="YOLOv5MultiScale", img_size=img_scale[0], '
                        'stride=max(strides))] if multi_scale else None}')),
    backbone=dict(
        type='YOLOv5CSPDarknet',
        arch='P6',
        out_indices=(2, 3, 4, 5),
        deepen_factor='${deepen_factor}',
        widen_factor='${widen_factor}',
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU', inplace=True)),
    neck=dict(
        type='YOLOv5PAFPN',
        deepen_factor='${deepen_factor}',
        widen_factor='${widen_factor}',
        in_channels=[256, 512, 768, 1024],
        out_channels=[256, 512, 768, 1024],
        num_csp_blocks=3,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU', inplace=True)),
    bbox_head=dict(
        # Takes YOLOv5's raw gains and scales them as YOLOv5 does: box x 3/nl,
        # cls x nc/80 x 3/nl, obj x (imgsz/640)^2 x 3/nl.
        type='YOLOv5GainHead',
        head_module=dict(
            type='YOLOv5HeadModule',
            num_classes='${num_classes}',
            in_channels=[256, 512, 768, 1024],
            widen_factor='${widen_factor}',
            featmap_strides='${strides}',
            num_base_priors=3),
        prior_generator=dict(
            type='mmdet.YOLOAnchorGenerator',
            base_sizes='${anchors}',
            strides='${strides}'),
        box='${loss_bbox_weight}',
        cls='${loss_cls_weight}',
        obj='${loss_obj_weight}',
        cls_pw='${loss_cls_pos_weight}',
        obj_pw='${loss_obj_pos_weight}',
        train_img_size='${img_scale[0]}',
        # fl_gamma 0.0: focal loss off, i.e. plain BCE; YOLOv5's smoothed
        # targets with label_smoothing
        loss_cls=('${dict(type="SmoothedCrossEntropyLoss", eps=label_smoothing, '
                  'use_sigmoid=True, reduction="mean") if label_smoothing else '
                  'dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, '
                  'reduction="mean")}'),
        loss_bbox=dict(
            type='IoULoss',
            iou_mode='ciou',
            bbox_format='xywh',
            eps=1e-7,
            reduction='mean',
            return_iou=True),
        loss_obj=dict(
            type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean'),
        prior_match_thr='${prior_match_thr}',
        obj_level_weights=[4.0, 1.0, 0.25, 0.06]),
    test_cfg=dict(
        multi_label=True,
        nms_pre=30000,
        score_thr='${score_thr}',
        nms=dict(
            type='${nms_type}',
            iou_threshold='${nms_iou_thr}',
            class_agnostic='${agnostic_nms}'),
        max_per_img='${max_per_img}'))

# Reads from the image cache when ImageCacheHook built one; skips (and counts) an
# image that has become unreadable instead of stopping the run.
pre_transform = [
    dict(type='LoadImageFromFileOrCache', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True)
]
random_affine = dict(
    type='YOLOv5RandomAffineWarp',
    max_rotate_degree='${max_rotate_degree}',
    max_translate_ratio='${max_translate_ratio}',
    max_shear_degree='${max_shear_degree}',
    scaling_ratio_range='${(1 - affine_scale, 1 + affine_scale)}',
    border='${(-img_scale[0] // 2, -img_scale[1] // 2)}',
    border_val=(114, 114, 114))
# YOLOv5's load_mosaic: MMYOLO's Mosaic with the partner tiles drawn by the image
# weights when the sampler has them (SPEC section 7), then the affine crops the
# 2x canvas back to img_scale.
mosaic_steps = [
    dict(
        type='WeightedMosaic',
        img_scale='${img_scale}',
        pad_val=114.0,
        prob=1.0,
        pre_transform='${pre_transform}'),
    '${random_affine}',
]
# YOLOv5 without mosaic: one image, long side resized to img_scale, letterboxed,
# then the affine with no border.
letterbox_steps = [
    dict(type='YOLOv5KeepRatioResize', scale='${img_scale}'),
    dict(
        type='LetterResize',
        scale='${img_scale}',
        allow_scale_up=True,
        pad_val=dict(img=114.0)),
    '${dict(random_affine, border=(0, 0))}',
]
# YOLOv5 takes the mosaic path with probability `mosaic`.
image_steps = ('${mosaic_steps if mosaic_prob == 1 else letterbox_steps '
               'if mosaic_prob == 0 else [dict(type="RandomChoice", '
               'transforms=[mosaic_steps, letterbox_steps], '
               'prob=[mosaic_prob, 1 - mosaic_prob])]}')
colour_and_flip_steps = [
    dict(
        type='YOLOv5HSVRandomAug',
        hue_delta='${hsv_h}',
        saturation_delta='${hsv_s}',
        value_delta='${hsv_v}'),
    dict(type='mmdet.RandomFlip', prob='${flip_lr_prob}'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'flip',
                   'flip_direction'))
]
# No Albu: the reference had none (MMYOLO's stock configs add one).
train_pipeline = '${pre_transform + image_steps + colour_and_flip_steps}'

val_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='YOLOv5KeepRatioResize', scale='${img_scale}'),
    dict(
        type='LetterResize',
        scale='${img_scale}',
        allow_scale_up=False,
        pad_val=dict(img=114)),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'pad_param'))
]
# Inference runs at test_img_scale; otherwise the same steps.
test_pipeline = ('${[dict(t, scale=test_img_scale) if "scale" in t else t '
                 'for t in val_pipeline]}')

train_dataloader = dict(
    batch_size='${train_batch_size_per_gpu}',
    num_workers='${train_num_workers}',
    persistent_workers='${train_num_workers > 0}',
    pin_memory=True,
    # Each epoch sees 1/epoch_parts of the training images (SPEC section 6).
    sampler=dict(type='EpochPartSampler', parts='${epoch_parts}'),
    collate_fn=dict(type='yolov5_collate'),
    dataset=dict(
        type='YOLOv5CocoDataset',
        data_root='${data_root}',
        metainfo=dict(classes='${classes}'),
        ann_file='${train_ann_file}',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline='${train_pipeline}'))
# What the validation and test loaders share, spelled once (a child config changes
# the loaders themselves, or the primaries). Rectangular batches (SPEC section 8):
# YOLOv5's rule, long side ceil(size / stride + 0.5) x stride.
_eval_loader = dict(
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
_eval_dataset = dict(
    type='YOLOv5CocoDataset',
    data_root='${data_root}',
    metainfo=dict(classes='${classes}'),
    data_prefix=dict(img=''),
    test_mode=True)
_rect_batches = dict(
    type='BatchShapePolicy', size_divisor='${max(strides)}', extra_pad_ratio=0.5)
val_dataloader = dict(
    _eval_loader,
    batch_size='${val_batch_size_per_gpu}',
    num_workers='${val_num_workers}',
    persistent_workers='${val_num_workers > 0}',
    dataset=dict(
        _eval_dataset,
        ann_file='${val_ann_file}',
        pipeline='${val_pipeline}',
        batch_shapes_cfg=dict(
            _rect_batches,
            batch_size='${val_batch_size_per_gpu}',
            img_size='${img_scale[0]}')))
test_dataloader = dict(
    _eval_loader,
    batch_size='${test_batch_size_per_gpu}',
    num_workers='${test_num_workers}',
    persistent_workers=False,
    dataset=dict(
        _eval_dataset,
        ann_file='${test_ann_file}',
        pipeline='${test_pipeline}',
        batch_shapes_cfg=dict(
            _rect_batches,
            batch_size='${test_batch_size_per_gpu}',
            img_size='${test_img_scale[0]}')))

# The challenge's records and COCO AP; the confusion matrix (in the run's log
# folder) counts boxes scoring >= score_thr. tools/test.py and tools/predict.py
# write preds.json and submission.json into their output folder (out_dir).
val_evaluator = dict(
    type='ChallengeSubmissionMetric',
    ann_file='${join(data_root, val_ann_file)}',
    out_dir=None,
    confusion_score_thr='${score_thr}',
    data_format='${data_format}',
    # several processes hand their results to rank 0 through this folder, in the
    # work dir (a file system every rank sees), removed once read
    collect_dir='${join(work_dir, ".collect_results")}')
test_evaluator = dict(val_evaluator, ann_file='${join(data_root, test_ann_file)}')

tta_model = dict(
    type='YOLOv5TTAModel',
    scale_factors='${tta_scale_factors}',
    flips='${tta_flips}')

# Three groups (MMYOLO's YOLOv5OptimizerConstructor): weights with decay, BatchNorm
# weights and biases without. YOLOv5's nominal batch: the gradients of
# round(nominal_batch_size / total batch) batches add up before one step, the
# weight decay scaled to match (NominalBatchOptimWrapper, SPEC section 5).
optim_wrapper = dict(
    type='NominalBatchOptimWrapper',
    nominal_batch_size='${nominal_batch_size}',
    step_rule='${optim_step_rule}',
    constructor='YOLOv5OptimizerConstructor',
    optimizer=dict(
        type='SGD',
        lr='${base_lr}',
        momentum='${momentum}',
        weight_decay='${weight_decay}',
        nesterov=True))

# Each training log line: the losses of the last log_interval iterations, their
# means over the epoch so far (mean_loss*: YOLOv5's progress bar), the ETA, and on
# CUDA MMEngine's `memory` (the GPU's peak MB: YOLOv5's GPU_mem).
log_processor = dict(custom_cfg=[
    dict(data_src=name, log_name='mean_' + name, method_name='mean',
         window_size='epoch')
    for name in ('loss', 'loss_bbox', 'loss_obj', 'loss_cls')
])

default_hooks = dict(
    logger=dict(type='LoggerHook', interval='${log_interval}'),
    # builds the image cache (image_cache) and logs skipped unreadable images
    image_cache=dict(type='ImageCacheHook', cache='${image_cache}'),
    # The reference's schedule: epoch e at lr0 x lf(e), YOLOv5's warmup (lr,
    # momentum, accumulate per iteration). MMYOLO's YOLOv5ParamSchedulerHook trains
    # epoch e at lf(e - 1) after warmup.
    param_scheduler=dict(
        type='YOLOv5LoopSchedulerHook',
        scheduler_type='${scheduler_type}',
        lr_factor='${lr_factor}',
        max_epochs='${max_epochs}',
        warmup_epochs='${warmup_epochs}',
        warmup_min_iters='${warmup_min_iters}',
        warmup_momentum='${warmup_momentum}',
        warmup_bias_lr='${warmup_bias_lr}',
        warmup_bias_lr_group='${warmup_bias_lr_group}'),
    # Written to a temporary file, then renamed; last_checkpoint updated after.
    # Validating before the end keeps the best fitness's weights as best.pth.
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval='${checkpoint_interval}',
        save_best='${"challenge/fitness" if val_interval or patience else None}',
        rule='greater',
        max_keep_ckpts=3),
    # A loss that is not finite stops training at once, in one line, before any
    # hook or checkpoint sees the diverged weights.
    non_finite_loss=dict(
        type='NonFiniteLossHook', max_skipped_steps='${max_skipped_steps}'),
    # YOLOv5's AutoAnchor before training (BPR at anchor_t; evolved below 0.98);
    # checkpoints carry the anchors (meta['anchors']) and loading one applies them.
    # check=False is YOLOv5's --noautoanchor.
    auto_anchor=dict(type='AutoAnchorHook', img_size='${img_scale[0]}'),
    # WORK_DIR/results.png when training ends: losses, LR, validation metrics
    # (tools/plot_results.py WORK_DIR draws it on demand)
    training_curves=dict(type='TrainingCurvesHook', loggers='${loggers}'),
    # After each validation or test on labelled data: PR, P, R, F1 curves and the
    # confusion matrix (YOLOv5's val.py pictures) in the run's log folder
    diagnostics=dict(type='DiagnosticsVisualizationHook', loggers='${loggers}'),
    # The first training batch as the model sees it (YOLOv5's train_batch0.jpg)
    train_batch=dict(type='TrainBatchVisualizationHook', loggers='${loggers}'),
    # YOLOv5's speed line when a test ends: ms per image per stage
    inference_speed=dict(type='InferenceSpeedHook'))
# MMEngine's local backend, then one per logger
visualizer = dict(vis_backends='${logger_backends(loggers)}')

# EMA of weights, as YOLOv5: updated once per optimizer step with decay
# 0.9999 x (1 - exp(-updates / 2000)), updates counted in optimizer steps.
ema_hook = dict(
    type='OptimizerStepEMAHook',
    ema_type='YOLOv5ModelEMA',
    momentum=0.0001,
    gamma=2000,
    update_buffers=True,
    strict_load=False,
    priority=49)
custom_hooks = ('${[ema_hook]'
                ' + ([dict(type="ClassBalanceHook")] if image_weights else [])'
                ' + ([dict(type="FreezeLayersHook", layers=frozen_layers)]'
                ' if frozen_layers else [])'
                # YOLOv5's EarlyStopping, when patience is set
                ' + ([dict(type="YOLOv5EarlyStoppingHook", patience=patience)]'
                ' if patience else []) + extra_hooks}')
# Several processes: DDP is built before FreezeLayersHook freezes, so it must not
# wait for the frozen parameters' gradients.
model_wrapper_cfg = ('${dict(type="MMDistributedDataParallel", '
                     'find_unused_parameters=True) if frozen_layers else None}')

# SIGTERM/SIGINT: the current iteration ends, a checkpoint is written from which
# --resume continues inside the epoch (the same images in the same order).
train_cfg = dict(
    type='InterruptibleEpochBasedTrainLoop',
    max_epochs='${max_epochs}',
    val_interval='${val_interval or (1 if patience else max_epochs)}')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# As the reference (YOLOv5's init_seeds(0)): cuDNN's algorithm choice fixed and
# deterministic (FormulaRunner applies cudnn_deterministic).
env_cfg = dict(cudnn_benchmark=False, cudnn_deterministic=True)
# A fixed seed also lets --resume continue the sampler's sequence: mmengine builds
# the dataloader before it restores a checkpoint's seed.
randomness = dict(seed='${seed}', deterministic='${deterministic}')

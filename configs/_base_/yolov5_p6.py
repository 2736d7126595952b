# YOLOv5-P6 (4 detection levels, strides 8/16/32/64) on MMYOLO, trained with YOLOv5
# v6.1's loop: the recipe every config here builds on (docs/reference.md sections
# 4-8). It names no data set, size or hyper-parameters; a training config composes it
# with one of each, as MMDetection composes model, data and schedule:
#   _base_ = ['./_base_/yolov5_p6.py', './_base_/datasets/parking2022.py',
#             './_base_/sizes/x6_1280.py', './_base_/hyps/scratch_low.py']
# and ends with the two lines that write out the values derived from the primaries
# (parkdet_mm/config/derivation.py: the sizes, classes, paths and hyper-parameters
# inside the model, the pipelines, the loaders and the hooks). The tools and the
# runner derive them again after every override, so a primary set once, anywhere (a
# child config, --cfg-options, a flag), reaches everything that follows it.
# docs/training.md lists the primaries and what follows each.
_base_ = 'mmyolo::_base_/default_runtime.py'

custom_imports = dict(imports=['parkdet_mm'], allow_failed_imports=False)
# Derives the values for RUNNERS.build (MMYOLO's own tools/train.py) too.
runner_type = 'DerivingRunner'

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
# Class-balanced image weights (docs/reference.md section 7), recomputed before
# every epoch.
image_weights = False
# YOLOv5's --cache: None reads every image from its file; 'ram' or 'disk' decodes
# the training images once, resized as Mosaic resizes them (ImageCacheHook).
image_cache = None
# k-fold (tools/prepare_data.py --folds K): fold k trains on ANN_DIR/fold{k}/ into
# WORK_DIR_fold{k}; FOLD=k in the environment or fold=k.
fold = {{'$FOLD:None'}}
# The training annotation file in the split folder: train.json, or e.g. train_diet.
train_split = 'train'
# The annotation files below data_root; None: ANN_DIR/train_split.json and
# ANN_DIR/val.json (ANN_DIR/fold{k}/ for a fold), ANN_DIR/test.json. Set one to
# use another file (e.g. test_ann_file = 'annotations/val.json' to test on val).
train_ann_file = None
val_ann_file = None
test_ann_file = None
# Pseudo-labels (tools/pseudo_label.py): a COCO file of predicted boxes on
# unlabelled images (e.g. the test set), whose images join the training set; a
# relative path is below data_root. None: none. Test images are trained on through
# this primary only (YOLOv5PseudoLabelCocoDataset refuses them anywhere else;
# derived into the training loader).
pseudo_label_file = None
# YOLOv5-numbered backbone layers to freeze (YOLOv5's --freeze), or None.
frozen_layers = None
# Hooks of your own, run after the recipe's custom_hooks (or, MMEngine's way:
# custom_hooks = _base_.custom_hooks + [dict(type=...)] in a child).
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
# One interpolation per mosaic tile: Mosaic's resize and the random affine composed
# into one cv2.warpAffine per tile from the loaded image (WeightedMosaicOneWarp),
# instead of resizing each tile onto a 2x canvas and warping that (two bilinear
# passes, as YOLOv5). The same random draws and boxes; the pixels within
# interpolation rounding; a faster loader.
mosaic_one_warp = False
# tools/train.py --compile: torch.compile the network and the loss for the training
# steps (CompileModelHook; validation stays eager). The first iteration compiles.
compile_model = False
# tools/train.py --channels-last: train in channels-last (NHWC) memory format.
channels_last = False
# YOLOv5's --single-cls: every class becomes one, 'item' (the data's own name when
# it has one class): the labels, the evaluation and a one-class model.
single_cls = False
# YOLOv5's hyp `anchors` (--hyp; hyp.Objects365.yaml, hyp.VOC.yaml): N anchors per
# level instead of the size's `anchors`. As in YOLOv5 they start as placeholders,
# (0, 1), (2, 3), ..., that AutoAnchor replaces before training by anchors evolved
# from the training boxes; a load_from checkpoint's anchors are not taken. None:
# the size's anchors.
anchors_per_level = None
# Where the run writes; None: work_dirs/ + the config's path below configs/
# (+ _fold{k}). tools/train.py --work-dir.
work_dir = None
# The training config whose final checkpoint this stage starts from (load_from
# then follows it: a fine-tune's baseline); None: load_from as set.
previous_stage = None

# -----YOLOv5 v6.1's loop (docs/reference.md section 5); yolov5_p6_v50.py has v5.0's---
scheduler_type = 'linear'  # lf: linear decay from lr0 to lr0 * lrf
# Warmup: max(warmup_epochs x iterations per epoch, warmup_min_iters) iterations.
warmup_min_iters = 100
# warmup_bias_lr goes to YOLOv5's third parameter group: the reference's fork orders
# them biases, weights, BatchNorm weights, so there the BatchNorm weights start at
# warmup_bias_lr and the biases at 0 (YOLOv5 v5.0 and v6.1: the biases, 'bias').
warmup_bias_lr_group = 'norm'
# v6.x steps when accumulate iterations have passed since the last step.
optim_step_rule = 'since_last_step'
# YOLOv5's MixUp ratio r ~ Beta(mixup_alpha, mixup_alpha): 32 since v6.0 (v5.0: 8).
mixup_alpha = 32.0
# YOLOv5 v6.0+ leaves HSV out when hsv_h, hsv_s and hsv_v are all 0 (no colour
# round trip, no random draw); v5.0 converts to HSV and back regardless.
hsv_at_zero_gains = False

# -----inference (docs/reference.md section 8)-----
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

# ========================The recipe's structure==============================
# What follows no primary. The values that do (marked "derived" below) are set by
# parkdet_mm/config/derivation.py; a config that ends with its two lines shows them.
strides = [8, 16, 32, 64]
# YOLOv5's P6 anchors, in pixels at 1280 (a size's anchors = None scales them to its
# img_scale).
yolov5_p6_anchors = [
    [(19, 27), (44, 40), (38, 94)],  # P3/8
    [(96, 68), (86, 152), (180, 137)],  # P4/16
    [(140, 301), (303, 264), (238, 542)],  # P5/32
    [(436, 615), (739, 380), (925, 792)],  # P6/64
]

norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    type='YOLODetector',
    # derived: batch_augments (multi_scale: YOLOv5MultiScale). MMYOLO's
    # YOLOv5DetDataPreprocessor, its training batches converted in fewer passes
    # (the same values, bit for bit).
    data_preprocessor=dict(
        type='YOLOv5BatchPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True),
    # derived: deepen_factor, widen_factor
    backbone=dict(
        type='YOLOv5CSPDarknet',
        arch='P6',
        out_indices=(2, 3, 4, 5),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU', inplace=True)),
    # derived: deepen_factor, widen_factor
    neck=dict(
        type='YOLOv5PAFPN',
        in_channels=[256, 512, 768, 1024],
        out_channels=[256, 512, 768, 1024],
        num_csp_blocks=3,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU', inplace=True)),
    # Takes YOLOv5's raw gains and scales them as YOLOv5 does: box x 3/nl,
    # cls x nc/80 x 3/nl, obj x (imgsz/640)^2 x 3/nl. Derived: box, cls, obj,
    # cls_pw, obj_pw (the hyper-parameters), train_img_size, prior_match_thr,
    # loss_cls (plain BCE, or YOLOv5's smoothed targets with label_smoothing).
    bbox_head=dict(
        type='YOLOv5GainHead',
        # derived: num_classes, widen_factor, featmap_strides, num_base_priors
        # (the anchors per level)
        head_module=dict(
            type='YOLOv5HeadModule',
            in_channels=[256, 512, 768, 1024]),
        # derived: base_sizes (anchors), strides
        prior_generator=dict(type='mmdet.YOLOAnchorGenerator'),
        loss_bbox=dict(
            type='IoULoss',
            iou_mode='ciou',
            bbox_format='xywh',
            eps=1e-7,
            reduction='mean',
            return_iou=True),
        loss_obj=dict(
            type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean'),
        obj_level_weights=[4.0, 1.0, 0.25, 0.06]),
    # derived: score_thr, nms (nms_type, nms_iou_thr, agnostic_nms), max_per_img
    test_cfg=dict(multi_label=True, nms_pre=30000))

# MMCV's loading, which OpenMMLab's tools recognise; in training, ImageCacheHook
# makes it read from the image cache when there is one and skip (and count) an image
# that has become unreadable instead of stopping the run. The pipelines
# (train_pipeline: YOLOv5's mosaic or letterbox, affine, HSV, flip; val_pipeline,
# test_pipeline: letterboxed at img_scale, test_img_scale) are derived.
pre_transform = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True)
]

# The data sets' class (MMYOLO's COCO data set with YOLOv5's rectangular batches);
# derived into each loader (SingleClassCocoDataset with single_cls).
dataset_type = 'YOLOv5CocoDataset'
# derived: batch_size, num_workers, persistent_workers, sampler.parts (epoch_parts),
# sampler.mixup_partners (with image weights, MixUp's second mosaic's partner
# tiles: 3 with mixup_prob), dataset.type (dataset_type), data_root, metainfo,
# ann_file, pipeline
# For training, with dataset_type YOLOv5CocoDataset: YOLOv5PseudoLabelCocoDataset
# (the same, with pseudo_label_file's images, refusing test images anywhere else)
# and its pseudo_label_file, test_ann_file and val_ann_file.
train_dataloader = dict(
    pin_memory=True,
    # Each epoch sees 1/epoch_parts of the training images (docs/reference.md
    # section 6).
    sampler=dict(type='EpochPartSampler'),
    collate_fn=dict(type='yolov5_collate'),
    dataset=dict(
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=False, min_size=0)))
# Validation and test: rectangular batches (docs/reference.md section 8), YOLOv5's
# rule: long side ceil(size / stride + 0.5) x stride. Derived as for training, and
# batch_shapes_cfg's batch_size, img_size and size_divisor (the largest stride).
val_dataloader = dict(
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img=''),
        test_mode=True,
        batch_shapes_cfg=dict(type='BatchShapePolicy', extra_pad_ratio=0.5)))
test_dataloader = dict(
    pin_memory=True,
    drop_last=False,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img=''),
        test_mode=True,
        batch_shapes_cfg=dict(type='BatchShapePolicy', extra_pad_ratio=0.5)))

# The challenge's records and COCO AP; the confusion matrix (in the run's log
# folder) counts boxes scoring >= score_thr. tools/test.py and tools/predict.py
# write preds.json and submission.json into their output folder (out_dir).
# Derived: ann_file, confusion_score_thr (score_thr), data_format, single_cls, and
# collect_dir, where several processes hand their results to rank 0 (in the work
# dir).
val_evaluator = dict(type='ChallengeSubmissionMetric', out_dir=None)
test_evaluator = dict(type='ChallengeSubmissionMetric', out_dir=None)

# derived: scale_factors, flips (tta_scale_factors, tta_flips)
tta_model = dict(type='YOLOv5TTAModel')

# Three groups (MMYOLO's YOLOv5OptimizerConstructor): weights with decay, BatchNorm
# weights and biases without. YOLOv5's nominal batch: the gradients of
# round(nominal_batch_size / total batch) batches add up before one step, the
# weight decay scaled to match (NominalBatchOptimWrapper, docs/reference.md section
# 5). Derived: nominal_batch_size, step_rule, the optimizer's lr, momentum and
# weight_decay.
optim_wrapper = dict(
    type='NominalBatchOptimWrapper',
    constructor='YOLOv5OptimizerConstructor',
    optimizer=dict(type='SGD', nesterov=True))

# Each training log line: the losses of the last log_interval iterations, their
# means over the epoch so far (mean_loss*: YOLOv5's progress bar), the ETA, and on
# CUDA MMEngine's `memory` (the GPU's peak MB: YOLOv5's GPU_mem).
log_processor = dict(custom_cfg=[
    dict(data_src=name, log_name='mean_' + name, method_name='mean',
         window_size='epoch')
    for name in ('loss', 'loss_bbox', 'loss_obj', 'loss_cls')
])

default_hooks = dict(
    # derived: interval (log_interval; MMYOLO's default_runtime says 50)
    logger=dict(type='LoggerHook', interval=None),
    # the training images' loading: the image cache (derived: cache, from
    # image_cache), unreadable images skipped and logged
    image_cache=dict(type='ImageCacheHook'),
    # The reference's schedule: epoch e at lr0 x lf(e), YOLOv5's warmup (lr,
    # momentum, accumulate per iteration). MMYOLO's YOLOv5ParamSchedulerHook trains
    # epoch e at lf(e - 1) after warmup. Derived: every value but the type.
    param_scheduler=dict(type='YOLOv5LoopSchedulerHook'),
    # Written to a temporary file, then renamed; last_checkpoint updated after.
    # Validating before the end keeps the best fitness's weights as best.pth.
    # Derived: interval (checkpoint_interval), save_best (val_interval, patience).
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=None, rule='greater', max_keep_ckpts=3),
    # A loss that is not finite stops training at once, in one line, before any
    # hook or checkpoint sees the diverged weights. Derived: max_skipped_steps.
    non_finite_loss=dict(type='NonFiniteLossHook'),
    # YOLOv5's AutoAnchor before training (BPR at anchor_t; evolved below 0.98);
    # checkpoints carry the anchors (meta['anchors']) and loading one applies them.
    # check=False is YOLOv5's --noautoanchor. Derived: img_size, initial_anchors
    # (with anchors_per_level, the placeholders, put back before the check: YOLOv5
    # leaves a pretrained checkpoint's anchors out).
    auto_anchor=dict(type='AutoAnchorHook'),
    # WORK_DIR/results.png when training ends: losses, LR, validation metrics
    # (tools/plot_results.py WORK_DIR draws it on demand). Derived: loggers.
    training_curves=dict(type='TrainingCurvesHook'),
    # After each validation or test on labelled data: PR, P, R, F1 curves and the
    # confusion matrix (YOLOv5's val.py pictures) in the run's log folder
    diagnostics=dict(type='DiagnosticsVisualizationHook'),
    # The first training batch as the model sees it (YOLOv5's train_batch0.jpg)
    train_batch=dict(type='TrainBatchVisualizationHook'),
    # YOLOv5's speed line when a test ends: ms per image per stage
    inference_speed=dict(type='InferenceSpeedHook'))
# derived: vis_backends (MMEngine's local backend, then one per logger)
visualizer = dict(vis_backends=None)

# EMA of weights, as YOLOv5: updated once per optimizer step with decay
# 0.9999 x (1 - exp(-updates / 2000)), updates counted in optimizer steps. The
# primaries add ClassBalanceHook (image_weights), FreezeLayersHook (frozen_layers),
# YOLOv5EarlyStoppingHook (patience) and extra_hooks after it.
custom_hooks = [
    dict(
        type='OptimizerStepEMAHook',
        ema_type='YOLOv5ModelEMA',
        momentum=0.0001,
        gamma=2000,
        update_buffers=True,
        strict_load=False,
        priority=49)
]
# Several processes with frozen_layers: DDP must not wait for the frozen parameters'
# gradients (derived).
model_wrapper_cfg = None

# SIGTERM/SIGINT: the current iteration ends, a checkpoint is written from which
# --resume continues inside the epoch (the same images in the same order).
# Derived: max_epochs, val_interval (val_interval, or 1 with patience, else
# max_epochs).
train_cfg = dict(type='InterruptibleEpochBasedTrainLoop')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# As the reference (YOLOv5's init_seeds(0)): cuDNN's algorithm choice fixed and
# deterministic (DerivingRunner applies cudnn_deterministic).
env_cfg = dict(cudnn_benchmark=False, cudnn_deterministic=True)
# randomness (derived: seed, deterministic): a fixed seed also lets --resume continue
# the sampler's sequence (mmengine builds the dataloader before it restores a
# checkpoint's seed).

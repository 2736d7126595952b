"""What a config derives from its primaries: every value that follows another one.

A *primary* is a top-level value users set (``img_scale``, ``max_epochs``, ``base_lr``,
``classes``, ...: :data:`PRIMARIES`). Everything that follows from them is written here,
once, as Python (the pipelines in :mod:`.derived_pipelines`): :func:`derived_values`
returns those values in the shape of the config they go into
(``model.backbone.deepen_factor``, the pipelines, the loaders, the hooks...), and
:mod:`.deriving` puts them into a config after all inheritance and overrides, so that
a primary set anywhere (a child config, ``--cfg-options``, a flag) reaches everything
that follows it. A few primaries may be None, meaning "follow another value"
(:func:`resolve_defaults`).

The recipe's structure that follows nothing (types, the constants of each transform
and hook) stays in ``configs/_base_/yolov5_p6.py``; what is built here from the
primaries is the rest of it.
"""
import os
import os.path as osp
from typing import Any, Dict, Iterable, List, Optional

from mmengine.config import ConfigDict

from parkdet_challenge.errors import InputError

from .data_classes import CLASSES_FILE, classes_of_data
from .derived_pipelines import pipelines
from .training_size import training_size

#: Every primary of the recipe (configs/_base_/ and the training configs set them).
#: The derivation reads these and nothing else of a config.
PRIMARIES = (
    # data
    'data_root', 'ann_dir', 'classes', 'fold', 'train_split', 'data_format',
    'pseudo_label_file',
    # model and sizes
    'deepen_factor', 'widen_factor', 'strides', 'anchors', 'yolov5_p6_anchors',
    'img_scale', 'test_img_scale',
    # loaders
    'train_batch_size_per_gpu', 'train_num_workers', 'epoch_parts',
    'val_batch_size_per_gpu', 'val_num_workers', 'test_batch_size_per_gpu',
    'test_num_workers', 'pre_transform', 'dataset_type',
    # schedule and loop
    'max_epochs', 'val_interval', 'patience', 'nominal_batch_size',
    'optim_step_rule', 'scheduler_type', 'warmup_min_iters', 'warmup_bias_lr_group',
    'log_interval', 'checkpoint_interval', 'max_skipped_steps', 'seed',
    'deterministic', 'image_weights', 'image_cache', 'frozen_layers', 'extra_hooks',
    'loggers', 'multi_scale', 'label_smoothing', 'mosaic_one_warp',
    'compile_model', 'channels_last',
    # hyper-parameters (YOLOv5's hyp.*.yaml: parkdet_mm.config.primaries.YOLOV5_HYPS)
    'base_lr', 'lr_factor', 'momentum', 'weight_decay', 'warmup_epochs',
    'warmup_momentum', 'warmup_bias_lr', 'loss_bbox_weight', 'loss_cls_weight',
    'loss_cls_pos_weight', 'loss_obj_weight', 'loss_obj_pos_weight',
    'prior_match_thr', 'hsv_h', 'hsv_s', 'hsv_v', 'max_rotate_degree',
    'max_translate_ratio', 'affine_scale', 'max_shear_degree', 'flip_lr_prob',
    'flip_ud_prob', 'mosaic_prob', 'mixup_prob', 'anchors_per_level',
    # YOLOv5 releases' differences (yolov5_p6_v50.py: v5.0's)
    'mixup_alpha', 'hsv_at_zero_gains',
    # YOLOv5's --single-cls
    'single_cls',
    # inference
    'score_thr', 'nms_iou_thr', 'max_per_img', 'nms_type', 'agnostic_nms',
    'tta_scale_factors', 'tta_flips',
    # where the run writes, what it starts from
    'work_dir', 'load_from', 'previous_stage', 'train_ann_file', 'val_ann_file',
    'test_ann_file',
)

#: Primaries that may be None, meaning "follow another value" (see
#: :func:`resolve_defaults`): set one and it is yours; leave it None and it follows.
DEFAULTED = ('classes', 'anchors', 'test_img_scale', 'work_dir', 'load_from',
             'train_ann_file', 'val_ann_file', 'test_ann_file')

#: Where the project writes runs: work_dirs/ + the config's path below configs/.
CONFIGS_DIR = 'configs'


def default_work_dir(config_file: Optional[str], fold: Optional[int] = None) -> str:
    """``work_dirs/`` + the config's path below ``configs/`` without ``.py``, and
    ``_fold{fold}`` for a k-fold split.

    ``configs/baseline.py`` -> ``work_dirs/baseline``, ``configs/demo/baseline.py`` ->
    ``work_dirs/demo/baseline``: two configs of one name never share a folder.
    """
    parts = osp.splitext(osp.normpath(config_file or 'config'))[0].split(os.sep)
    if CONFIGS_DIR in parts:
        parts = parts[len(parts) - parts[::-1].index(CONFIGS_DIR):]
    else:
        parts = parts[-1:]
    work_dir = osp.join('work_dirs', *parts)
    return work_dir if fold is None else f'{work_dir}_fold{fold}'


def scaled_anchors(anchors: List[list], img_size: int, size: int = 1280) -> List[list]:
    """``anchors`` (pixels at ``size``) scaled to ``img_size``, rounded."""
    return [[(round(w * img_size / size), round(h * img_size / size))
             for w, h in level] for level in anchors]


def resolve_defaults(p: ConfigDict, config_file: Optional[str],
                     need_data: bool = True, explicit: Iterable[str] = ()) -> ConfigDict:
    """``p`` with each None of :data:`DEFAULTED` replaced by what it follows:

    - ``classes``: the class list tools/prepare_data.py wrote for the data
      (``ANN_DIR/classes.json``), for data sets that bring their own classes;
      without ``need_data`` it stays None when there is no such list yet (a config
      file read before its data is converted), and so does all that follows it;
    - ``anchors``: YOLOv5's P6 anchors (pixels at 1280) scaled to the training
      size (:func:`~.training_size.training_size`);
    - ``test_img_scale``: ``img_scale``;
    - ``work_dir``: :func:`default_work_dir` of the config file and fold;
    - ``train_ann_file``, ``val_ann_file``, ``test_ann_file``: :func:`ann_files`;
    - ``load_from``: the final checkpoint of ``previous_stage`` (another training
      config, e.g. a fine-tune's baseline), when one is named, unless ``explicit``
      (the names a config or an override set) holds it: MMEngine's
      ``load_from = None``, from scratch.
    """
    from .loading import final_checkpoint_of  # (loading imports this module)
    p = ConfigDict(p)
    if p.classes is None and (need_data or osp.isfile(
            osp.join(p.data_root, p.ann_dir, CLASSES_FILE))):
        p.classes = classes_of_data(p.data_root, p.ann_dir)
    if p.anchors is None:
        p.anchors = scaled_anchors(p.yolov5_p6_anchors, img_size(p))
    if p.test_img_scale is None:
        p.test_img_scale = p.img_scale
    if p.work_dir is None:
        p.work_dir = default_work_dir(config_file, p.fold)
    for name, path in ann_files(p).items():
        if p[name] is None:
            p[name] = path
    if p.load_from is None and p.previous_stage and 'load_from' not in explicit:
        p.load_from = final_checkpoint_of(p.previous_stage, p.fold)
    return p


def img_size(p: ConfigDict) -> int:
    """The training size, YOLOv5's ``imgsz`` (:func:`~.training_size.training_size`)."""
    return training_size(p.img_scale, p.mosaic_prob).img_size


def model_classes(p: ConfigDict) -> Optional[tuple]:
    """The classes the model predicts: the data's, or with ``single_cls`` one,
    YOLOv5's 'item' (the data's own name when it has one class); None while they
    are not known (see :func:`resolve_defaults`)."""
    if p.classes is None or not p.single_cls or len(p.classes) == 1:
        return p.classes
    return ('item', )


def num_classes(p: ConfigDict) -> Optional[int]:
    """How many classes the model predicts; None while they are not known."""
    classes = model_classes(p)
    return None if classes is None else len(classes)


def metainfo(p: ConfigDict) -> dict:
    """A data set's ``metainfo``: its class names."""
    return dict(classes=model_classes(p))


def prior_base_sizes(p: ConfigDict) -> List[list]:
    """The anchors the model is built with: ``anchors``, or with
    ``anchors_per_level`` N YOLOv5's placeholders ``(0, 1), (2, 3), ...`` (N per
    level), which AutoAnchor replaces before training."""
    if p.anchors_per_level is None:
        return p.anchors
    return [[(2 * i, 2 * i + 1) for i in range(p.anchors_per_level)]
            for _ in p.strides]


class Whole(dict):
    """A derived dict that replaces the config's dict whole, rather than setting its
    keys one by one (a loss whose type, and so whose arguments, may change)."""


def model_values(p: ConfigDict) -> dict:
    """The detector's values that follow the primaries."""
    if p.label_smoothing:
        # YOLOv5's smoothed targets: 1 - eps/2 and eps/2
        loss_cls = Whole(type='SmoothedCrossEntropyLoss', eps=p.label_smoothing,
                         use_sigmoid=True, reduction='mean')
    else:  # fl_gamma 0.0: focal loss off, i.e. plain BCE
        loss_cls = Whole(type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                         reduction='mean')
    multi_scale = [dict(type='YOLOv5MultiScale', img_size=img_size(p),
                        stride=max(p.strides))]
    size = dict(deepen_factor=p.deepen_factor, widen_factor=p.widen_factor)
    return dict(
        data_preprocessor=dict(
            batch_augments=multi_scale if p.multi_scale else None),
        backbone=size,
        neck=size,
        bbox_head=dict(
            head_module=dict(num_classes=num_classes(p), widen_factor=p.widen_factor,
                             featmap_strides=p.strides,
                             num_base_priors=len(prior_base_sizes(p)[0])),
            prior_generator=dict(base_sizes=prior_base_sizes(p), strides=p.strides),
            # YOLOv5's raw gains; the head scales them as YOLOv5 does
            box=p.loss_bbox_weight,
            cls=p.loss_cls_weight,
            obj=p.loss_obj_weight,
            cls_pw=p.loss_cls_pos_weight,
            obj_pw=p.loss_obj_pos_weight,
            train_img_size=img_size(p),
            loss_cls=loss_cls,
            prior_match_thr=p.prior_match_thr),
        test_cfg=dict(
            score_thr=p.score_thr,
            # mmcv's batched_nms runs one NMS per class above split_thr
            # candidates, across classes too: one NMS over all, as YOLOv5's
            nms=dict(type=p.nms_type, iou_threshold=p.nms_iou_thr,
                     class_agnostic=p.agnostic_nms,
                     split_thr=2**62 if p.agnostic_nms else 10000),
            max_per_img=p.max_per_img))


def ann_files(p: ConfigDict) -> Dict[str, str]:
    """The annotation files below ``data_root``: the split folder's (``ann_dir``, or
    its ``fold{k}``) train and val files, and the test list."""
    split_dir = p.ann_dir if p.fold is None else osp.join(p.ann_dir, f'fold{p.fold}')
    return dict(train_ann_file=osp.join(split_dir, p.train_split + '.json'),
                val_ann_file=osp.join(split_dir, 'val.json'),
                test_ann_file=osp.join(p.ann_dir, 'test.json'))


#: The data set type the training set's guard and pseudo-labels extend.
GUARDED_DATASET_TYPE = 'YOLOv5CocoDataset'


def training_set_values(p: ConfigDict, files: Dict[str, str]) -> dict:
    """What the training set adds to ``dataset_type``'s values: with MMYOLO's COCO
    data set (the recipe's), :class:`~parkdet_mm.datasets.YOLOv5PseudoLabelCocoDataset`,
    which reads ``pseudo_label_file``'s images too and refuses test images
    anywhere else; a data set type of one's own, or ``single_cls``'s
    SingleClassCocoDataset, gets nothing (and no pseudo-labels)."""
    if p.dataset_type != GUARDED_DATASET_TYPE or p.single_cls:
        if p.pseudo_label_file:
            raise InputError(f'pseudo_label_file needs dataset_type '
                             f'{GUARDED_DATASET_TYPE!r} without single_cls')
        return {}
    return dict(type='YOLOv5PseudoLabelCocoDataset',
                pseudo_label_file=p.pseudo_label_file,
                test_ann_file=files['test_ann_file'], val_ann_file=files['val_ann_file'])


def loader_values(p: ConfigDict, files: Dict[str, str],
                  pipes: Dict[str, List[dict]]) -> dict:
    """The three dataloaders' values that follow the primaries. Evaluation runs in
    rectangular batches shaped by YOLOv5's rule for its size."""
    # with single_cls, every box under one label
    dataset = dict(type='SingleClassCocoDataset' if p.single_cls else p.dataset_type,
                   data_root=p.data_root, metainfo=metainfo(p))

    def rect_batches(batch_size: int, img_size: int) -> dict:
        return dict(batch_size=batch_size, img_size=img_size,
                    size_divisor=max(p.strides))

    return dict(
        train_dataloader=dict(
            batch_size=p.train_batch_size_per_gpu,
            num_workers=p.train_num_workers,
            persistent_workers=p.train_num_workers > 0,
            # with image weights, also MixUp's second mosaic's partner tiles
            sampler=dict(parts=p.epoch_parts,
                         mixup_partners=3 if p.mixup_prob else 0),
            dataset=dict(dataset, ann_file=files['train_ann_file'],
                         pipeline=pipes['train_pipeline'],
                         **training_set_values(p, files))),
        val_dataloader=dict(
            batch_size=p.val_batch_size_per_gpu,
            num_workers=p.val_num_workers,
            persistent_workers=p.val_num_workers > 0,
            dataset=dict(
                dataset, ann_file=files['val_ann_file'],
                pipeline=pipes['val_pipeline'],
                batch_shapes_cfg=rect_batches(p.val_batch_size_per_gpu,
                                              img_size(p)))),
        test_dataloader=dict(
            batch_size=p.test_batch_size_per_gpu,
            num_workers=p.test_num_workers,
            dataset=dict(
                dataset, ann_file=files['test_ann_file'],
                pipeline=pipes['test_pipeline'],
                batch_shapes_cfg=rect_batches(p.test_batch_size_per_gpu,
                                              p.test_img_scale[0]))))


def hook_values(p: ConfigDict) -> dict:
    """``default_hooks``' values that follow the primaries."""
    from parkdet_mm.visualization.loggers import logger_backends
    loggers = dict(loggers=p.loggers)
    size = training_size(p.img_scale, p.mosaic_prob)
    return dict(
        default_hooks=dict(
            logger=dict(interval=p.log_interval),
            # the images cached at the size they are first resized to
            image_cache=dict(cache=p.image_cache, scale=size.load_scale),
            param_scheduler=dict(
                scheduler_type=p.scheduler_type,
                lr_factor=p.lr_factor,
                max_epochs=p.max_epochs,
                warmup_epochs=p.warmup_epochs,
                warmup_min_iters=p.warmup_min_iters,
                warmup_momentum=p.warmup_momentum,
                warmup_bias_lr=p.warmup_bias_lr,
                warmup_bias_lr_group=p.warmup_bias_lr_group),
            checkpoint=dict(
                interval=p.checkpoint_interval,
                # validating before the end keeps the best fitness as best.pth
                save_best='challenge/fitness' if p.val_interval or p.patience
                else None),
            non_finite_loss=dict(max_skipped_steps=p.max_skipped_steps),
            # anchors_per_level: the placeholders, put back before the check
            auto_anchor=dict(img_size=size.img_size, initial_anchors=None
                             if p.anchors_per_level is None else prior_base_sizes(p)),
            training_curves=loggers,
            diagnostics=loggers,
            train_batch=loggers),
        # MMEngine's local backend, then one per logger
        visualizer=dict(vis_backends=logger_backends(p.loggers)))


def managed_hooks(p: ConfigDict) -> List[dict]:
    """The ``custom_hooks`` entries the primaries switch on, in order: the image
    weights, the frozen layers, early stopping, the compiled network and
    channels-last format, then ``extra_hooks``. Entries of other types in
    ``custom_hooks`` (the EMA, a child's own) are left alone."""
    hooks = []
    if p.image_weights:
        hooks.append(dict(type='ClassBalanceHook'))
    if p.frozen_layers:
        hooks.append(dict(type='FreezeLayersHook', layers=p.frozen_layers))
    if p.patience:  # YOLOv5's EarlyStopping
        hooks.append(dict(type='YOLOv5EarlyStoppingHook', patience=p.patience))
    if p.compile_model or p.channels_last:
        hooks.append(dict(type='CompileModelHook', compile=p.compile_model,
                          channels_last=p.channels_last))
    return hooks + list(p.extra_hooks)


#: The types of hook :func:`managed_hooks` switches; one of them in ``custom_hooks``
#: that the primaries do not ask for is refused, naming the primary.
MANAGED_HOOK_PRIMARIES = dict(ClassBalanceHook='image_weights',
                              FreezeLayersHook='frozen_layers',
                              YOLOv5EarlyStoppingHook='patience',
                              CompileModelHook='compile_model')


def derived_values(p: ConfigDict) -> Dict[str, Any]:
    """Every value that follows the primaries ``p`` (defaults resolved), in the
    shape of the config: a dict descends into the config's dict of that name, a
    :class:`Whole` dict, a list or any other value replaces what stands there."""
    files = {name: p[name] for name in ('train_ann_file', 'val_ann_file',
                                        'test_ann_file')}
    pipes = pipelines(p)
    return dict(
        num_classes=num_classes(p),
        metainfo=metainfo(p),
        **pipes,
        model=model_values(p),
        **loader_values(p, files, pipes),
        val_evaluator=evaluator_values(p, files['val_ann_file']),
        test_evaluator=evaluator_values(p, files['test_ann_file']),
        tta_model=dict(scale_factors=p.tta_scale_factors, flips=p.tta_flips),
        optim_wrapper=dict(
            nominal_batch_size=p.nominal_batch_size,
            step_rule=p.optim_step_rule,
            optimizer=dict(lr=p.base_lr, momentum=p.momentum,
                           weight_decay=p.weight_decay)),
        **hook_values(p),
        # several processes: DDP is built before FreezeLayersHook freezes, so it
        # must not wait for the frozen parameters' gradients
        model_wrapper_cfg=Whole(type='MMDistributedDataParallel',
                                find_unused_parameters=True)
        if p.frozen_layers else None,
        train_cfg=dict(max_epochs=p.max_epochs,
                       val_interval=p.val_interval or (1 if p.patience
                                                       else p.max_epochs)),
        randomness=dict(seed=p.seed, deterministic=p.deterministic))


def evaluator_values(p: ConfigDict, ann_file: str) -> dict:
    """An evaluator's values: its ground truth below the data root, the confusion
    matrix's score threshold, the competition format, and where several processes
    hand their results to rank 0 (in the work dir, a file system every rank
    sees)."""
    return dict(ann_file=osp.join(p.data_root, ann_file),
                confusion_score_thr=p.score_thr,
                data_format=p.data_format,
                single_cls=p.single_cls,
                collect_dir=osp.join(p.work_dir, '.collect_results'))


#: The recipe's components that derived values go into, with their types. A config
#: that puts a component of another type in one of these places (e.g. MMYOLO's
#: YOLOv5ParamSchedulerHook as ``default_hooks.param_scheduler``, with ``_delete_``)
#: sets that component's arguments itself: nothing is derived into it.
COMPONENT_TYPES = {
    f'default_hooks.{name}': type_name for name, type_name in (
        ('logger', 'LoggerHook'), ('image_cache', 'ImageCacheHook'),
        ('param_scheduler', 'YOLOv5LoopSchedulerHook'),
        ('checkpoint', 'AtomicCheckpointHook'), ('non_finite_loss', 'NonFiniteLossHook'),
        ('auto_anchor', 'AutoAnchorHook'), ('training_curves', 'TrainingCurvesHook'),
        ('diagnostics', 'DiagnosticsVisualizationHook'),
        ('train_batch', 'TrainBatchVisualizationHook'))
}

#: Derived values a config may set to something else on purpose: they are then
#: kept as it set them (with a warning for the pipelines, which no longer follow
#: the primaries). Any other derived value set to something else is refused,
#: naming the primaries to set instead.
KEPT_WHEN_SET = ('train_pipeline', 'val_pipeline', 'test_pipeline',
                 'train_dataloader.dataset.pipeline', 'val_dataloader.dataset.pipeline',
                 'test_dataloader.dataset.pipeline')

"""The primary values of the configs: what each must be, and YOLOv5's names for them.

A primary is a top-level config value that users set (``img_scale``, ``max_epochs``,
``base_lr``, ...); everything that follows from it is derived (:mod:`.derivation`).
:func:`check_primaries` refuses a bad one before any work, with one line naming it.
:data:`YOLOV5_HYPS` maps every key of a YOLOv5 hyperparameter file (``hyp.*.yaml``) to
its primary, and :func:`read_hyp_file` reads such a file as ``tools/train.py --hyp``.
"""
import numbers
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple

from mmengine.config import Config

from parkdet_challenge.errors import InputError
from parkdet_challenge.formats import FORMATS

from .derivation import DEFAULTED
from .training_size import config_training_size


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(value: Any) -> Optional[str]:
    return None if _is_int(value) and value > 0 else 'a whole number > 0'


def positive_int_or_none(value: Any) -> Optional[str]:
    return None if value is None else (
        None if _is_int(value) and value > 0 else 'None or a whole number > 0')


def non_negative_int(value: Any) -> Optional[str]:
    return None if _is_int(value) and value >= 0 else 'a whole number >= 0'


def non_negative(value: Any) -> Optional[str]:
    return None if _is_number(value) and value >= 0 else 'a number >= 0'


def positive(value: Any) -> Optional[str]:
    return None if _is_number(value) and value > 0 else 'a number > 0'


def fraction(value: Any) -> Optional[str]:
    return None if _is_number(value) and 0 <= value <= 1 else \
        'a number from 0 to 1'


def text(value: Any) -> Optional[str]:
    return None if isinstance(value, str) and value else 'a non-empty string'


def text_or_none(value: Any) -> Optional[str]:
    return None if value is None or (isinstance(value, str) and value) else \
        'None or a path'


def boolean(value: Any) -> Optional[str]:
    return None if isinstance(value, bool) else 'True or False'


def class_names(value: Any) -> Optional[str]:
    if (isinstance(value, (list, tuple)) and value
            and all(isinstance(n, str) and n for n in value)
            and len(set(value)) == len(value)):
        return None
    return 'a non-empty list of distinct class names'


def one_of(*choices: str) -> Callable[[Any], Optional[str]]:
    def check(value: Any) -> Optional[str]:
        return None if value in choices else f'one of {", ".join(choices)}'
    return check


def some_of(*choices: str) -> Callable[[Any], Optional[str]]:
    def check(value: Any) -> Optional[str]:
        if isinstance(value, (list, tuple)) and all(v in choices for v in value):
            return None
        return f'a list of any of {", ".join(choices)}'
    return check


# What each primary must be; a config that lacks one is not checked for it.
PRIMARY_CHECKS: Dict[str, Callable[[Any], Optional[str]]] = dict(
    data_root=text, ann_dir=text, classes=class_names, load_from=text_or_none,
    max_epochs=positive_int, epoch_parts=positive_int,
    train_batch_size_per_gpu=positive_int, val_batch_size_per_gpu=positive_int,
    test_batch_size_per_gpu=positive_int, nominal_batch_size=positive_int_or_none,
    train_num_workers=non_negative_int, val_num_workers=non_negative_int,
    test_num_workers=non_negative_int, val_interval=positive_int_or_none,
    log_interval=positive_int, checkpoint_interval=positive_int,
    image_weights=boolean, deterministic=boolean,
    patience=positive_int_or_none, multi_scale=boolean, label_smoothing=fraction,
    mosaic_one_warp=boolean, compile_model=boolean, channels_last=boolean,
    loggers=some_of('tensorboard', 'mlflow', 'wandb'),
    max_skipped_steps=positive_int_or_none,
    deepen_factor=positive, widen_factor=positive,
    scheduler_type=one_of('linear', 'cosine'),
    warmup_bias_lr_group=one_of('bias', 'norm'),
    warmup_min_iters=non_negative_int,
    score_thr=fraction, nms_iou_thr=fraction, max_per_img=positive_int,
    nms_type=one_of('nms', 'soft_nms'), agnostic_nms=boolean,
    data_format=one_of(*FORMATS), predict_with_load_from=boolean,
    single_cls=boolean, anchors_per_level=positive_int_or_none,
    mixup_alpha=positive,
    pseudo_label_file=text_or_none,
    # hyper-parameters (YOLOV5_HYPS)
    base_lr=positive, lr_factor=positive, momentum=fraction,
    weight_decay=non_negative, warmup_epochs=non_negative,
    warmup_momentum=fraction, warmup_bias_lr=non_negative,
    loss_bbox_weight=non_negative, loss_cls_weight=non_negative,
    loss_cls_pos_weight=non_negative, loss_obj_weight=non_negative,
    loss_obj_pos_weight=non_negative, prior_match_thr=positive,
    hsv_h=non_negative, hsv_s=non_negative, hsv_v=non_negative,
    max_rotate_degree=non_negative, max_translate_ratio=fraction,
    affine_scale=fraction, max_shear_degree=non_negative,
    flip_lr_prob=fraction, flip_ud_prob=fraction, mosaic_prob=fraction,
    mixup_prob=fraction)

IMAGE_SIZES = ('img_scale', 'test_img_scale')


def image_size_problem(value: Any, stride: int) -> Optional[str]:
    """Why ``value`` is not an image size (width, height) for a model whose largest
    stride is ``stride``, or None."""
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(_is_int(v) and v > 0 and v % stride == 0 for v in value)):
        return None
    return f'(width, height), two whole multiples of {stride} (the largest stride)'


def check_primaries(cfg: Config, before_defaults: bool = False) -> None:
    """Raise InputError naming the first primary of ``cfg`` that is not what it
    must be. ``before_defaults``: the primaries that may be None to follow another
    value (:data:`~.derivation.DEFAULTED`) may still be None."""
    def unchecked(name: str) -> bool:
        return name not in cfg or (before_defaults and name in DEFAULTED
                                   and cfg[name] is None)

    for name, check in PRIMARY_CHECKS.items():
        if not unchecked(name):
            problem = check(cfg[name])
            if problem:
                raise InputError(f'{name} = {cfg[name]!r}: must be {problem}')
    stride = max(cfg.get('strides') or [1])
    for name in IMAGE_SIZES:
        if not unchecked(name):
            problem = image_size_problem(cfg[name], stride)
            if problem:
                raise InputError(f'{name} = {cfg[name]!r}: must be {problem}')
    if cfg.get('multi_scale'):
        img_size = config_training_size(cfg).img_size
        if img_size < 2 * stride:
            # YOLOv5's check_img_size(floor=2 x stride): below it a drawn size can be 0
            raise InputError(f'multi_scale needs img_scale of at least {2 * stride} '
                             f'(2 x the largest stride, as YOLOv5), not {img_size}')


# YOLOv5's hyp.*.yaml keys -> the primary each sets.
YOLOV5_HYPS: Dict[str, str] = dict(
    lr0='base_lr', lrf='lr_factor', momentum='momentum',
    weight_decay='weight_decay', warmup_epochs='warmup_epochs',
    warmup_momentum='warmup_momentum', warmup_bias_lr='warmup_bias_lr',
    box='loss_bbox_weight', cls='loss_cls_weight', cls_pw='loss_cls_pos_weight',
    obj='loss_obj_weight', obj_pw='loss_obj_pos_weight',
    anchor_t='prior_match_thr', hsv_h='hsv_h', hsv_s='hsv_s', hsv_v='hsv_v',
    degrees='max_rotate_degree', translate='max_translate_ratio',
    scale='affine_scale', shear='max_shear_degree', fliplr='flip_lr_prob',
    flipud='flip_ud_prob', mosaic='mosaic_prob', mixup='mixup_prob')
# Keys with no counterpart here: the value YOLOv5's file may hold (None: any),
# and why it changes nothing. No hyp file of YOLOv5 v5.0 to v7.0 sets fl_gamma or
# perspective to anything but 0.
YOLOV5_HYPS_WITHOUT_COUNTERPART: Dict[str, Tuple[Optional[float], str]] = dict(
    iou_t=(None, 'no YOLOv5 from v5.0 to v7.0 reads it: targets match by anchor_t'),
    fl_gamma=(0.0, 'plain BCE, i.e. focal loss off'),
    perspective=(0.0, 'the random affine has no perspective term'))
# hyp['anchors']: anchors per output layer, which YOLOv5's Model rounds.
ANCHORS_HYP, ANCHORS_PRIMARY = 'anchors', 'anchors_per_level'


def read_hyp_file(path: str) -> Tuple[Dict[str, Any], List[str]]:
    """Read a YOLOv5 hyperparameter file (``hyp.scratch-low.yaml`` layout, YOLOv5's
    names): the primaries it sets, and one note per key that has no counterpart.
    A key may also name a primary itself (``label_smoothing``, as
    ``tools/evolve.py``'s best_hyp.yaml holds a searched primary); its value is
    checked with the config.

    ``anchors: N`` sets ``anchors_per_level`` to ``round(N)`` as YOLOv5's Model
    does (0 keeps the model's anchors); ``copy_paste`` above 0 is a warning
    note: it needs segment labels, so YOLOv5 trains without it on boxes too.
    A key that is neither a YOLOv5 hyperparameter nor a primary, a YOLOv5 value
    that is not a number, or a non-zero value for a key without counterpart
    (``fl_gamma: 1.5``) is an InputError naming it.
    """
    import yaml
    if not osp.isfile(path):
        raise InputError(f'--hyp {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            hyps = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise InputError(f'--hyp {path} is not YAML: {err}') from None
    if not isinstance(hyps, dict):
        raise InputError(f'--hyp {path} is not a mapping of YOLOv5 hyperparameters')
    primaries, notes = {}, []
    for key, value in hyps.items():
        if key in PRIMARY_CHECKS and key not in YOLOV5_HYPS and key != ANCHORS_HYP:
            primaries[key] = value
            continue
        if not _is_number(value):
            raise InputError(f'--hyp {path}: {key}: {value!r} is not a number')
        if key in YOLOV5_HYPS:
            primaries[YOLOV5_HYPS[key]] = value
        elif key == ANCHORS_HYP:
            primaries[ANCHORS_PRIMARY] = _anchors_per_level(path, value)
        elif key == 'copy_paste':
            notes.append(f'warning: copy_paste {value} needs segment labels, which '
                         'box labels do not have: training without it, as YOLOv5 '
                         'does without segments' if value > 0 else
                         f'copy_paste {value}: no counterpart (no copy-paste)')
        elif key in YOLOV5_HYPS_WITHOUT_COUNTERPART:
            allowed, why = YOLOV5_HYPS_WITHOUT_COUNTERPART[key]
            if allowed is not None and value != allowed:
                raise InputError(f'--hyp {path}: {key} {value} is not supported '
                                 f'({why}; no YOLOv5 hyp file of v5.0 to v7.0 '
                                 f'sets it); only {allowed} is')
            notes.append(f'{key} {value}: no counterpart ({why})')
        else:
            raise InputError(f'--hyp {path}: {key} is not a YOLOv5 '
                             'hyperparameter')
    return primaries, notes


def _anchors_per_level(path: str, value: float) -> Optional[int]:
    """YOLOv5's ``Model(anchors=hyp['anchors'])``: a non-zero value, rounded, is
    the number of anchors per level; 0 keeps the model's own."""
    if value == 0:
        return None
    count = round(value)
    if count < 1:
        raise InputError(f'--hyp {path}: anchors {value} is {count} anchors per '
                         'level; it must round to at least 1 (0: the model\'s own)')
    return count

"""The search space of ``tools/evolve.py``: YOLOv5's hyper-parameter evolution ranges,
and the primaries a user adds.

:data:`YOLOV5_META` is YOLOv5 v7.0 ``train.py``'s ``meta``: for each key of a hyp
file, its mutation scale (0 to 1: how strongly ``--evolve`` mutates it; 0 leaves it as
the hyp file has it) and its lower and upper limits. The keys with a counterpart here
(:data:`~parkdet_mm.config.YOLOV5_HYPS`) form the default space; ``iou_t``,
``fl_gamma``, ``perspective`` and ``copy_paste`` change nothing in this recipe, and
``anchors`` (anchors per level, the primary ``anchors_per_level``) changes the
model's head, so they are not searched.
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from parkdet_challenge.errors import InputError
from parkdet_mm.config import PRIMARY_CHECKS, YOLOV5_HYPS
from parkdet_mm.config.primaries import boolean, fraction

#: YOLOv5 v7.0 train.py's ``meta``: hyp -> (mutation scale, lower limit, upper limit).
YOLOV5_META: Dict[str, Tuple[float, float, float]] = {
    'lr0': (1, 1e-5, 1e-1),
    'lrf': (1, 0.01, 1.0),
    'momentum': (0.3, 0.6, 0.98),
    'weight_decay': (1, 0.0, 0.001),
    'warmup_epochs': (1, 0.0, 5.0),
    'warmup_momentum': (1, 0.0, 0.95),
    'warmup_bias_lr': (1, 0.0, 0.2),
    'box': (1, 0.02, 0.2),
    'cls': (1, 0.2, 4.0),
    'cls_pw': (1, 0.5, 2.0),
    'obj': (1, 0.2, 4.0),
    'obj_pw': (1, 0.5, 2.0),
    'iou_t': (0, 0.1, 0.7),
    'anchor_t': (1, 2.0, 8.0),
    'anchors': (2, 2.0, 10.0),
    'fl_gamma': (0, 0.0, 2.0),
    'hsv_h': (1, 0.0, 0.1),
    'hsv_s': (1, 0.0, 0.9),
    'hsv_v': (1, 0.0, 0.9),
    'degrees': (1, 0.0, 45.0),
    'translate': (1, 0.0, 0.9),
    'scale': (1, 0.0, 0.9),
    'shear': (1, 0.0, 10.0),
    'perspective': (0, 0.0, 0.001),
    'flipud': (1, 0.0, 1.0),
    'fliplr': (0, 0.0, 1.0),
    'mosaic': (1, 0.0, 1.0),
    'mixup': (1, 0.0, 1.0),
    'copy_paste': (1, 0.0, 1.0)}

#: ``--space`` token for YOLOv5's whole space.
YOLOV5_SPACE = 'yolov5'
_PRIMARY_TO_HYP = {primary: hyp for hyp, primary in YOLOV5_HYPS.items()}


@dataclass(frozen=True)
class SearchParam:
    """One searched value.

    Attributes:
        name: Its name in the study, evolve.csv and best_hyp.yaml: YOLOv5's hyp
            name where it has one (``lr0``), else the primary's (``label_smoothing``).
        primary: The config primary it sets (``base_lr``).
        distribution: What a sampler may draw (Optuna's distribution).
        gain: YOLOv5's mutation scale (``--sampler yolov5``).
    """

    name: str
    primary: str
    distribution: BaseDistribution
    gain: float


def hyp_columns(params: Sequence[SearchParam]) -> List[str]:
    """The hyp columns of evolve.csv and the keys of best_hyp.yaml: every YOLOv5 hyp
    with a counterpart (searched or not, as YOLOv5 lists its whole hyp file), then
    the other searched primaries."""
    return list(YOLOV5_HYPS) + [p.name for p in params if p.name not in YOLOV5_HYPS]


def column_primary(column: str) -> str:
    """The primary of an evolve.csv hyp column."""
    return YOLOV5_HYPS.get(column, column)


def _yolov5_param(hyp: str, gain: Optional[float] = None) -> SearchParam:
    meta_gain, low, high = YOLOV5_META[hyp]
    return SearchParam(hyp, YOLOV5_HYPS[hyp], FloatDistribution(low, high),
                       meta_gain if gain is None else gain)


def _range(token: str, text: str, base: Any) -> Tuple[BaseDistribution, float]:
    parts = text.split(':')
    if len(parts) not in (2, 3):
        raise InputError(f'--space {token}: the range is LOW:HIGH or LOW:HIGH:SCALE')
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InputError(f'--space {token}: {text} is not LOW:HIGH[:SCALE]') from None
    low, high = numbers[:2]
    gain = numbers[2] if len(parts) == 3 else 1.0
    if not low < high:
        raise InputError(f'--space {token}: LOW must be below HIGH')
    if isinstance(base, int) and not isinstance(base, bool):
        if low != int(low) or high != int(high):
            raise InputError(f'--space {token}: the config holds a whole number; '
                             'give whole limits')
        return IntDistribution(int(low), int(high)), gain
    return FloatDistribution(low, high), gain


def parse_space(text: Optional[str], base: Dict[str, Any]) -> List[SearchParam]:
    """The params of ``--space`` (None: YOLOv5's space), ``base`` the config.

    ``text`` is a comma-separated list of: ``yolov5`` (every YOLOv5 hyp with a
    counterpart and a mutation scale above 0, with YOLOv5's limits); a YOLOv5 hyp
    name or its primary (``lr0`` or ``base_lr``: YOLOv5's limits; a hyp YOLOv5
    leaves alone, ``fliplr``, gets scale 1 when named); a primary with a range
    ``name=LOW:HIGH[:SCALE]`` (a whole-number primary is drawn as whole numbers;
    SCALE, the mutation scale, 1 by default); a True/False primary (drawn from
    both); or a primary checked as a fraction (``label_smoothing``: 0 to 1).
    Anything else, or a primary the config lacks, is an InputError.
    """
    tokens = [t.strip() for t in (text or YOLOV5_SPACE).split(',') if t.strip()]
    params: Dict[str, SearchParam] = {}
    for token in tokens:
        name, _, range_text = token.partition('=')
        name = name.strip()
        if name == YOLOV5_SPACE and not range_text:
            for hyp in YOLOV5_HYPS:
                if YOLOV5_META[hyp][0] > 0 and hyp not in params:
                    params[hyp] = _yolov5_param(hyp)
            continue
        hyp = name if name in YOLOV5_HYPS else _PRIMARY_TO_HYP.get(name)
        primary = YOLOV5_HYPS[hyp] if hyp else name
        if primary not in base:
            raise InputError(f'--space {token}: {name} is neither a YOLOv5 hyp nor a '
                             'primary of the config')
        if range_text:
            distribution, gain = _range(token, range_text, base[primary])
            params[hyp or name] = SearchParam(hyp or name, primary, distribution, gain)
        elif hyp:
            params[hyp] = _yolov5_param(hyp, YOLOV5_META[hyp][0] or 1.0)
        elif PRIMARY_CHECKS.get(primary) is boolean:
            params[name] = SearchParam(name, primary,
                                       CategoricalDistribution((False, True)), 1.0)
        elif PRIMARY_CHECKS.get(primary) is fraction:
            params[name] = SearchParam(name, primary, FloatDistribution(0.0, 1.0), 1.0)
        else:
            raise InputError(f'--space {token}: give its range, '
                             f'{name}=LOW:HIGH (the config has {base[primary]!r})')
    if not params:
        raise InputError('--space names nothing to search')
    return list(params.values())

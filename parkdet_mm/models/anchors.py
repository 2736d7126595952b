"""Anchors that travel with the weights, and YOLOv5's AutoAnchor (check + evolve).

A checkpoint may carry ``meta['anchors']``: the anchors in pixels at the model's input
scale, in the form of the config key ``model.bbox_head.prior_generator.base_sizes``
(per level, finest first, a list of ``[w, h]``). :func:`apply_checkpoint_anchors` is
the one place where a loaded checkpoint's anchors replace a model's (or a config's):
``AutoAnchorHook`` calls it for resume, ``load_from`` and ``tools/test.py``, and
``parkdet_mm.apis.load_detector`` for predict.

The rest is YOLOv5's ``utils/autoanchor.py`` (``check_anchors``, ``kmean_anchors``,
``check_anchor_order``) on numpy, with a seeded generator instead of the global one.
"""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from tqdm import tqdm

from parkdet_challenge.cli import InputError
from parkdet_mm.datasets.pipelines import iter_transforms

CHECKPOINT_KEY = 'anchors'
# YOLOv5 re-evolves the anchors when the best possible recall is at or below this.
BPR_THRESHOLD = 0.98
PREFIX = 'AutoAnchor: '

Anchors = List[List[List[float]]]  # per level, [w, h] pairs in pixels


def unwrap_detector(model: torch.nn.Module) -> torch.nn.Module:
    """The detector inside DDP / TTA wrappers (anything with ``.module``)."""
    while not hasattr(model, 'bbox_head') and hasattr(model, 'module'):
        model = model.module
    return model


def model_anchors(model: torch.nn.Module) -> Anchors:
    """The model's anchors in ``base_sizes`` form, as plain floats."""
    generator = unwrap_detector(model).bbox_head.prior_generator
    return [[[float(w), float(h)] for w, h in level]
            for level in generator.base_sizes]


def set_model_anchors(model: torch.nn.Module, anchors: Anchors) -> None:
    """Give a built YOLOv5 detector (possibly wrapped) new anchors in place.

    Everything the head derives from ``base_sizes`` follows: the prior generator's
    base anchors, the loss's ``priors_base_sizes`` and the cached priors.

    Raises:
        InputError: ``anchors`` does not have the model's levels x anchors per level.
    """
    head = unwrap_detector(model).bbox_head
    generator = head.prior_generator
    shape = (len(generator.base_sizes), len(generator.base_sizes[0]), 2)
    if np.shape(anchors) != shape:
        raise InputError(
            f'anchors of shape {np.shape(anchors)} do not fit the model, which '
            f'has {shape[0]} levels of {shape[1]} anchors')
    generator.base_sizes = [[(float(w), float(h)) for w, h in level]
                            for level in anchors]
    generator.base_anchors = generator.gen_base_anchors()
    strides = torch.tensor(head.featmap_strides, dtype=torch.float)
    head.priors_base_sizes = (
        torch.tensor(anchors, dtype=torch.float) / strides[:, None, None]).to(
            head.priors_base_sizes.device)
    head.featmap_sizes = [torch.empty(1)] * head.num_levels  # priors re-made


def checkpoint_anchors(checkpoint: dict) -> Optional[Anchors]:
    """The checkpoint's ``meta['anchors']``, or None."""
    meta = checkpoint.get('meta') or {}
    return meta.get(CHECKPOINT_KEY)


def apply_checkpoint_anchors(target: Union[torch.nn.Module, Config, ConfigDict],
                             checkpoint: dict) -> Optional[Anchors]:
    """Use a loaded checkpoint's ``meta['anchors']`` in a model or config.

    Args:
        target: A detector (or a DDP / TTA wrapper of one), or a config (its
            ``model``, or a ``tta_model``-wrapped ``model.module``).
        checkpoint: The loaded checkpoint dict.

    Returns:
        The anchors applied, or None when the checkpoint carries none.
    """
    anchors = checkpoint_anchors(checkpoint)
    if anchors is None:
        return None
    if isinstance(target, torch.nn.Module):
        set_model_anchors(target, anchors)
        return anchors
    model = target.model if 'model' in target else target
    while 'bbox_head' not in model and 'module' in model:
        model = model.module
    model.bbox_head.prior_generator.base_sizes = [
        [tuple(pair) for pair in level] for level in anchors
    ]
    return anchors


def train_img_size(pipeline) -> int:
    """The training size: the longer side of the mosaic's ``img_scale``.

    ``pipeline``: a list of transform configs or a built ``Compose``.
    """
    for transform in iter_transforms(pipeline):
        scale = (transform.get('img_scale') if isinstance(transform, dict) else
                 getattr(transform, 'img_scale', None))
        if scale is not None:
            return int(max(scale))
    raise InputError('no transform with an img_scale (Mosaic) in the training '
                     'pipeline: give AutoAnchor the training size (img_size)')


def box_sizes_per_image(dataset, img_size: int) -> List[np.ndarray]:
    """Each training image's box ``(w, h)`` at the training size: the image's
    longer side scaled to ``img_size``, as YOLOv5's ``dataset.shapes`` x labels."""
    sizes = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        boxes = np.array([
            instance['bbox'] for instance in info.get('instances', [])
            if not instance.get('ignore_flag', 0)
        ], dtype=np.float64).reshape(-1, 4)
        ratio = img_size / max(info['width'], info['height'])
        sizes.append((boxes[:, 2:] - boxes[:, :2]) * ratio)
    return sizes


def _ratio_metric(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """YOLOv5's ratio metric: ``(boxes, anchors)``, 1 for equal shapes."""
    # YOLOv5's placeholder anchors (hyp anchors) have a width of 0: ratio 0
    with np.errstate(divide='ignore'):
        r = wh[:, None] / anchors[None]
        return np.minimum(r, 1 / r).min(2)


def anchor_fit(wh: np.ndarray, anchors: np.ndarray,
               thr: float) -> Tuple[float, float]:
    """YOLOv5's ``check_anchors`` metric: (best possible recall, anchors/target).

    A box counts as recallable when some anchor's width and height ratios are both
    within ``thr`` (``prior_match_thr``); anchors/target is the mean number of
    anchors within it per box.
    """
    x = _ratio_metric(wh, anchors)
    best = x.max(1)
    return float((best > 1 / thr).mean()), float((x > 1 / thr).sum(1).mean())


def check_anchor_order(anchors: np.ndarray,
                       strides: Sequence[int]) -> np.ndarray:
    """Anchor levels reversed if their mean areas run against the strides."""
    area = anchors.prod(-1).mean(-1)
    if area[-1] != area[0] and \
            np.sign(area[-1] - area[0]) != np.sign(strides[-1] - strides[0]):
        return anchors[::-1].copy()
    return anchors


def evolve_anchors(sizes: Sequence[np.ndarray],
                   num_anchors: int,
                   img_size: int,
                   thr: float,
                   rng: np.random.Generator,
                   generations: int = 1000,
                   log: Callable[[str], None] = print) -> np.ndarray:
    """YOLOv5's ``kmean_anchors``: k-means on whitened box sizes, then a genetic
    mutation of the anchors for ``generations`` rounds, keeping improvements of
    the fitness ``mean(best ratio x [best ratio > 1 / thr])``. Boxes under 2 px
    on both sides are left out. Returns ``(num_anchors, 2)`` sorted by area.
    """
    from scipy.cluster.vq import kmeans
    wh0 = np.concatenate(sizes).astype(np.float32)
    small = int((wh0 < 3.0).any(1).sum())
    if small:
        log(f'{PREFIX}WARNING: Extremely small objects found: {small} of '
            f'{len(wh0)} labels are < 3 pixels in size')
    wh = wh0[(wh0 >= 2.0).any(1)]
    inv_thr = 1 / thr

    def fitness(k: np.ndarray) -> float:
        best = _ratio_metric(wh, k.astype(np.float32)).max(1)
        return float((best * (best > inv_thr)).mean())

    log(f'{PREFIX}Running kmeans for {num_anchors} anchors on {len(wh)} '
        'points...')
    k = None
    if num_anchors <= len(wh):
        sigma = wh.std(0)
        k = kmeans(wh / sigma, num_anchors, iter=30, rng=rng)[0] * sigma
    if k is None or len(k) != num_anchors:
        log(f'{PREFIX}WARNING: switching strategies from kmeans to random init')
        k = np.sort(rng.random(num_anchors * 2)).reshape(num_anchors,
                                                         2) * img_size
    k = k[np.argsort(k.prod(1))]
    f, shape, mutation_prob, sigma = fitness(k), k.shape, 0.9, 0.1
    progress = tqdm(range(generations), desc=f'{PREFIX}Evolving anchors')
    for _ in progress:
        v = np.ones(shape)
        while (v == 1).all():  # mutate until something changes
            v = ((rng.random(shape) < mutation_prob) * rng.random() *
                 rng.standard_normal(shape) * sigma + 1).clip(0.3, 3.0)
        candidate = (k * v).clip(min=2.0)
        candidate_fitness = fitness(candidate)
        if candidate_fitness > f:
            f, k = candidate_fitness, candidate
            progress.set_description(
                f'{PREFIX}Evolving anchors with Genetic Algorithm: '
                f'fitness = {f:.4f}')
    k = k[np.argsort(k.prod(1))]
    x = _ratio_metric(wh0, k.astype(np.float32))
    best = x.max(1)
    log(f'{PREFIX}thr={inv_thr:.2f}: {(best > inv_thr).mean():.4f} best '
        f'possible recall, {(x > inv_thr).mean() * num_anchors:.2f} anchors '
        f'past thr\n{PREFIX}n={num_anchors}, img_size={img_size}, '
        f'metric_all={x.mean():.3f}/{best.mean():.3f}-mean/best, '
        f'past_thr={x[x > inv_thr].mean():.3f}-mean: ' +
        ', '.join(f'{round(w)},{round(h)}' for w, h in k))
    return k


def check_anchors(sizes: Sequence[np.ndarray],
                  anchors: Anchors,
                  strides: Sequence[int],
                  thr: float,
                  img_size: int,
                  rng: np.random.Generator,
                  generations: int = 1000,
                  log: Callable[[str], None] = print) -> Optional[Anchors]:
    """YOLOv5's ``check_anchors``: the fit of ``anchors`` to the boxes, each
    image's boxes scaled by a random 0.9-1.1; at or below 0.98 BPR, evolved
    anchors (:func:`evolve_anchors`), returned when their BPR is higher.

    Args:
        sizes: Per image, its boxes' ``(w, h)`` at the training size.
        anchors: The current anchors, ``base_sizes`` form.
        strides: The levels' strides.
        thr: ``prior_match_thr`` (YOLOv5's ``anchor_t``).
        img_size: The training size.
        rng: The random generator (scale augmentation, k-means, mutation).
        generations: Rounds of the genetic evolution.
        log: Where the lines go.

    Returns:
        The new anchors (``base_sizes`` form, each rounded to float16 in grid
        units as YOLOv5's ``model.half().float()``), or None to keep the old.
    """
    scale = rng.uniform(0.9, 1.1, size=len(sizes))
    wh = np.concatenate([s * f for s, f in zip(sizes, scale)]).astype(
        np.float32)
    current = np.array(anchors, dtype=np.float32)
    bpr, aat = anchor_fit(wh, current.reshape(-1, 2), thr)
    line = (f'{PREFIX}{aat:.2f} anchors/target, {bpr:.3f} Best Possible '
            'Recall (BPR). ')
    if bpr > BPR_THRESHOLD:
        log(line + 'Current anchors are a good fit to dataset')
        return None
    log(line + 'Anchors are a poor fit to dataset, attempting to improve...')
    levels, per_level = current.shape[:2]
    evolved = evolve_anchors(sizes, levels * per_level, img_size, thr, rng,
                             generations, log)
    new_bpr, _ = anchor_fit(wh, evolved.astype(np.float32), thr)
    if new_bpr <= bpr:
        log(f'{PREFIX}Done (original anchors better than new anchors, '
            'proceeding with original anchors)')
        return None
    evolved = check_anchor_order(evolved.reshape(levels, per_level, 2),
                                 strides)
    stride = np.asarray(strides, dtype=np.float32)[:, None, None]
    evolved = (evolved / stride).astype(np.float16).astype(np.float32) * stride
    log(f'{PREFIX}Done: new anchors in use, {new_bpr:.3f} BPR (saved in the '
        "checkpoints' meta['anchors']; optional: put them in the config)")
    return evolved.tolist()


def anchors_config_lines(anchors: Anchors) -> str:
    """The config line that sets the primary ``anchors`` (rounded to 0.01 px)."""
    levels = ',\n    '.join(
        '[' + ', '.join(f'({round(w, 2):g}, {round(h, 2):g})'
                        for w, h in level) + ']' for level in anchors)
    return f'anchors = [\n    {levels}\n]'


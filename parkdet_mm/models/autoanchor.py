"""YOLOv5's AutoAnchor: check a model's anchors on the training boxes, evolve better
ones when they fit badly (``utils/autoanchor.py``'s ``check_anchors``).

:func:`check_dataset_anchors` is the one check both ``AutoAnchorHook`` (before
training) and ``tools/check_anchors.py`` (without training) run: the boxes of a
built training data set at the training size, each image rescaled by a random
0.9-1.1, measured against the anchors (:mod:`.anchor_fit`); at or below 0.98 best
possible recall, anchors evolved from the boxes (:mod:`.anchor_evolution`) are
returned when they fit better.
"""
from typing import Callable, Optional, Sequence

import numpy as np

from parkdet_mm.models.anchor_evolution import PREFIX, evolve_anchors
from parkdet_mm.models.anchor_fit import anchor_fit, box_sizes_per_image, check_anchor_order
from parkdet_mm.models.anchors import Anchors

# YOLOv5 re-evolves the anchors when the best possible recall is at or below this.
BPR_THRESHOLD = 0.98


def check_dataset_anchors(dataset,
                          anchors: Anchors,
                          strides: Sequence[int],
                          thr: float,
                          img_size: int,
                          seed: int,
                          generations: int = 1000,
                          log: Callable[[str], None] = print) -> Optional[Anchors]:
    """:func:`check_anchors` on the boxes of ``dataset`` (a built training data
    set) at ``img_size``, the training size, with a generator seeded by ``seed``:
    the evolved anchors, or None to keep ``anchors``."""
    return check_anchors(box_sizes_per_image(dataset, img_size), anchors, strides, thr,
                         img_size, np.random.default_rng(seed), generations, log)


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

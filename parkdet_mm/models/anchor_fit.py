"""How well anchors fit a data set's boxes: YOLOv5's AutoAnchor metric.

:func:`box_sizes_per_image` gives the training boxes' sizes at the training size,
:func:`anchor_fit` YOLOv5's best possible recall and anchors per target of a set of
anchors on them (the ratio metric of ``utils/autoanchor.py``), and
:func:`check_anchor_order` puts anchor levels in the strides' order.
"""
from typing import List, Sequence, Tuple

import numpy as np


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


def ratio_metric(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
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
    x = ratio_metric(wh, anchors)
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

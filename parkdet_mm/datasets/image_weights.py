"""Class-balanced image weights (docs/reference.md section 7), vectorized over a count matrix.

Everything works on ``counts``, an ``(N images, C classes)`` matrix of box counts, built
once per run by :func:`class_count_matrix` from the annotations alone.
"""
from typing import Optional, Sequence, Union

import numpy as np

ArrayLike = Union[Sequence, np.ndarray]


def _as_counts(counts: ArrayLike) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(
            f'counts must be an (images x classes) matrix, got shape {counts.shape}')
    if (counts < 0).any():
        raise ValueError('counts must be >= 0')
    return counts


def image_weights(counts: ArrayLike,
                  maps: Optional[ArrayLike] = None) -> np.ndarray:
    """Per-image sampling weights, the reference's formula.

    With ``n_c`` the boxes of class ``c`` over all images (0 counted as 1):
    ``w_c = (1 / n_c) / sum_k (1 / n_k) * C``, ``cw_c = w_c * (1 - maps_c)^2 / C`` and
    ``iw_i = sum_c cw_c * counts[i, c]``. An image without boxes weighs 0, as in the
    reference, and so is never drawn.

    Args:
        counts: ``(N, C)`` non-negative box counts per image and class.
        maps: ``C`` per-class mAP@.5:.95 in [0, 1] from the latest validation; None
            for all zeros (validation off, as in the reference runs).

    Returns:
        np.ndarray: ``(N,)`` float64 weights.
    """
    counts = _as_counts(counts)
    num_classes = counts.shape[1]
    if maps is None:
        maps = np.zeros(num_classes)
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape != (num_classes, ):
        raise ValueError(f'maps must have one value per class, shape '
                         f'({num_classes},), got shape {maps.shape}')
    if not ((maps >= 0) & (maps <= 1)).all():  # also refuses NaN
        raise ValueError(f'maps must lie in [0, 1], got {maps.tolist()}')
    boxes = counts.sum(axis=0).astype(np.float64)
    boxes[boxes == 0] = 1
    inverse = 1.0 / boxes
    class_weights = inverse / inverse.sum() * num_classes
    per_box = class_weights * (1.0 - maps)**2 / num_classes
    return counts @ per_box


def expected_class_share(counts: ArrayLike,
                         weights: Optional[ArrayLike] = None) -> np.ndarray:
    """Expected share of each class among the boxes of images drawn by weight.

    An image is drawn with probability ``weights[i] / sum(weights)`` (uniformly when
    ``weights`` is None), so class ``c`` contributes ``sum_i p_i * counts[i, c]`` boxes
    per draw; the shares are these normalized to sum 1 (all zeros without boxes).
    """
    counts = _as_counts(counts)
    if weights is None:
        weights = np.ones(counts.shape[0])
    per_class = np.asarray(weights, dtype=np.float64) @ counts
    total = per_class.sum()
    return per_class / total if total > 0 else per_class


def class_count_matrix(dataset, num_classes: Optional[int] = None) -> np.ndarray:
    """Box counts per image and class, from the annotations only.

    Reads ``dataset.get_data_info(i)['instances']`` (MMDetection's format:
    ``bbox_label`` 0-based, instances with a true ``ignore_flag`` left out), which
    parses annotations but loads no image and runs no pipeline. Dataset wrappers
    (``ConcatDataset``, ``RepeatDataset``, ...) provide ``get_data_info`` over their
    own indices, so the rows match the indices a sampler of that dataset yields.

    Args:
        dataset: Has ``__len__`` and ``get_data_info``.
        num_classes (int, optional): Columns; defaults to
            ``len(dataset.metainfo['classes'])``.

    Returns:
        np.ndarray: ``(len(dataset), num_classes)`` int64 counts.
    """
    if num_classes is None:
        num_classes = len(dataset.metainfo['classes'])
    rows, labels = [], []
    for index in range(len(dataset)):
        for instance in dataset.get_data_info(index)['instances']:
            if not instance.get('ignore_flag', 0):
                rows.append(index)
                labels.append(instance['bbox_label'])
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'bbox_label outside 0..{num_classes - 1} '
                         f'(found {labels.min()}..{labels.max()})')
    counts = np.zeros((len(dataset), num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(rows, dtype=np.int64), labels), 1)
    return counts

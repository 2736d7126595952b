"""The converter's splits: which images go to train, val, the extra subsets and
the folds.

:func:`split_images` promises a :class:`Splits` of bool masks over the label set's
images, all within the readable ones: the data set's own train / val / test splits
where it names them (YOLOv5's data YAML), else ``val_size`` validation images drawn
by the format (:meth:`.formats.CompetitionFormat.val_mask`) and the rest for
training; the format's extra training subsets (2021's diet) drawn from the training
split or, with ``extras_from='all'``, from every labelled image; and with ``folds``
>= 2, that many train / val pairs in which every labelled image is validated once,
stratified by the classes each image holds (:func:`stratified_folds`). Every mask is
a function of the label set, its readable images and ``seed``.
"""
from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

from .box_check import BoxCheck
from .formats import CompetitionFormat
from .labels import LabelSet


@dataclass
class Splits:
    """Masks over the label set's images: ``masks`` the splits ('train', 'val',
    'test' of a data set that names its own, the extra subsets), ``folds`` the
    fold pairs ('fold{k}/train', 'fold{k}/val', 'fold{k}/<extra subset>')."""
    masks: Dict[str, np.ndarray]
    folds: Dict[str, np.ndarray]


def split_images(fmt: CompetitionFormat, labels: LabelSet, boxes: BoxCheck,
                 readable: np.ndarray, val_size: int, seed: int, folds: int,
                 extras_from: str) -> Splits:
    """The splits, extra subsets and folds of the ``readable`` images (see the
    module's docstring); ``val_size`` as resolved for the format and data."""
    own = labels.own_splits or {}
    in_train = readable & own.get('train', True)
    if 'val' in own:  # the data set's own, which may share images with train
        is_val = own['val'] & readable
        masks = {'train': in_train, 'val': is_val}
    else:
        is_val = fmt.val_mask(labels.images, in_train, val_size, seed)
        masks = {'train': in_train & ~is_val, 'val': is_val}
    if 'test' in own:  # labelled test images
        masks['test'] = own['test'] & readable
    # every image a fold may take
    labelled = masks['train'] | is_val
    extras = fmt.extra_subsets(labels, classes_present(labels, boxes))
    for name, mask in extras.items():
        masks[name] = mask & (masks['train'] if extras_from == 'train' else readable)
    fold_masks: Dict[str, np.ndarray] = {}
    if folds:
        fold_of = _fold_of_images(labels, boxes, labelled, folds, seed)
        for k in range(folds):
            fold_masks[f'fold{k}/train'] = labelled & (fold_of != k)
            fold_masks[f'fold{k}/val'] = fold_of == k
            for name, mask in extras.items():
                fold_masks[f'fold{k}/{name}'] = mask & (
                    fold_masks[f'fold{k}/train'] if extras_from == 'train'
                    else readable)
    return Splits(masks, fold_masks)


def classes_present(labels: LabelSet, boxes: BoxCheck) -> np.ndarray:
    """(images, classes) bool: the image has a kept box of the class."""
    present = np.zeros((len(labels.images.ids), len(labels.classes)), bool)
    kept = boxes.kept
    present[boxes.image_index[kept], boxes.categories[kept] - 1] = True
    return present


def stratified_folds(present: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Assign each row (an image) of ``present`` (images x classes, bool) to one of
    ``folds`` folds so that every class is spread evenly over the folds.

    Iterative stratification (Sechidis et al., 2011), on the classes an image holds:
    images are placed rarest class first; each goes to the fold that still lacks the
    most images of its rarest class, ties to the fold lacking the most images, then
    to the lowest fold. Images without boxes go last, to the emptiest folds. Image
    order within a class is a permutation drawn with ``seed``, so the result is a
    function of (``present``, ``folds``, ``seed``).
    """
    n, num_classes = present.shape
    per_class = present.sum(axis=0)
    # The rarest class each image holds (num_classes: none), by class frequency.
    rank = np.empty(num_classes, np.int64)
    rank[np.argsort(per_class, kind='stable')] = np.arange(num_classes)
    image_rank = np.where(present, rank[None, :], num_classes).min(axis=1)
    rarest = np.argsort(rank)  # rank -> class
    shuffle = np.random.RandomState(seed).permutation(n)
    order = shuffle[np.argsort(image_rank[shuffle], kind='stable')]
    wanted = np.repeat(per_class[None, :] / folds, folds, axis=0)  # (folds, classes)
    wanted_images = np.full(folds, n / folds)
    fold_of = np.empty(n, np.int64)
    for i in order.tolist():
        r = image_rank[i]
        # Most wanted for the rarest class, then for images overall, then lowest index.
        key = wanted_images if r == num_classes else (
            wanted[:, rarest[r]] * (n + 1) + wanted_images)
        fold = int(np.argmax(key))
        fold_of[i] = fold
        wanted[fold] -= present[i]
        wanted_images[fold] -= 1
    return fold_of


def _fold_of_images(labels: LabelSet, boxes: BoxCheck, readable: np.ndarray, folds: int,
                    seed: int) -> np.ndarray:
    """Fold index of each image of the label list (-1: unreadable); images taken in
    id order so that the folds do not depend on the JSON's order."""
    ids = np.asarray(labels.images.ids, dtype=np.int64)
    rows = np.flatnonzero(readable)
    rows = rows[np.argsort(ids[rows], kind='stable')]
    fold_of = np.full(len(ids), -1, np.int64)
    fold_of[rows] = stratified_folds(classes_present(labels, boxes)[rows], folds, seed)
    return fold_of


def fold_report(labels: LabelSet, boxes: BoxCheck, fold_masks: Dict[str, np.ndarray],
                 folds: int) -> Dict[str, Any]:
    """Per fold: its (validation) images and boxes per class."""
    safe = np.maximum(boxes.image_index, 0)
    report = {}
    for k in range(folds):
        mask = fold_masks[f'fold{k}/val']
        in_fold = boxes.kept & mask[safe]
        counts = np.bincount(boxes.categories[in_fold], minlength=len(labels.classes) + 1)
        report[f'fold{k}'] = {'images': int(mask.sum()),
                              'boxes_per_class': dict(zip(labels.classes,
                                                          counts[1:].tolist()))}
    return report

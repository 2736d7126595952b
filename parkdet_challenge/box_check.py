"""The converter's boxes: each box's fate, decided with whole-array operations.

:func:`check_boxes` promises a :class:`BoxCheck` parallel to a label set's ``ann_*``
lists: each box kept, clipped to its image, or rejected with the first reason of
:data:`REJECT_KINDS` that applies (not an object, an unknown or rejected image, a
category outside the classes, not four finite numbers, no area, wholly outside),
its image and class as indices, and the box to write (``xywh`` in pixels, clipped
where needed; YOLO's normalised boxes scaled by the image's size from its file).
Well-formed input costs no per-box Python work. :func:`box_problems` lists the
report entries of the boxes rejected or clipped, :class:`BoxRefs` how the audit's
findings name a box.
"""
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any, Dict, List, Tuple

import numpy as np

from .image_check import ImageCheck, below, problem
from .labels import LabelSet, json_safe

# Why a box was rejected, by priority: a box gets the first that applies.
REJECT_KINDS = ('annotation_malformed', 'unknown_image', 'image_rejected', 'bad_category',
                'box_malformed', 'box_empty', 'box_outside', 'box_suspicious')
KEPT, CLIPPED = 0, 1
CODE = {kind: i + 2 for i, kind in enumerate(REJECT_KINDS)}
ACTION = {
    'annotation_malformed': 'rejected: not an object with image id, category and box',
    'unknown_image': 'rejected: no image has this id',
    'bad_category': 'rejected',
    'box_malformed': 'rejected: a box must be four finite numbers',
    'box_empty': 'rejected: zero or negative width or height',
    'box_outside': 'rejected: wholly outside the image',
    'box_clipped': 'kept, clipped to the image',
    'box_suspicious': 'dropped (--drop-suspicious): see "suspicious"',
}


@dataclass
class BoxCheck:
    """Every box's fate, as arrays parallel to the label set's ``ann_*`` lists."""
    codes: np.ndarray  # int8: KEPT, CLIPPED or a CODE of REJECT_KINDS
    image_index: np.ndarray  # index into the image list, -1 if unknown
    categories: np.ndarray  # 1-based category id, 0 if invalid
    xywh: np.ndarray  # (n, 4) float64, the box to write (clipped where needed)
    # Every box in the file was written with integers: write integers back (clipping
    # to integer image sizes keeps them integral).
    integral: bool
    per_image_count: np.ndarray  # boxes listed per image, whatever their fate

    @property
    def kept(self) -> np.ndarray:
        return self.codes <= CLIPPED


def check_boxes(labels: LabelSet, images: ImageCheck) -> BoxCheck:
    """Decide each box's fate with whole-array operations (no per-box Python work on
    well-formed input: 135,000 boxes take milliseconds)."""
    n_images = len(labels.images.ids)
    index = _image_index(labels.ann_image_ids, labels.images.ids)
    categories = _category_ids(labels)
    values, malformed_box, integral = _box_values(labels.ann_boxes)
    safe = np.where(index >= 0, index, 0)
    width = images.widths[safe].astype(np.float64)
    height = images.heights[safe].astype(np.float64)
    with np.errstate(invalid='ignore'):  # NaN rows of malformed boxes
        malformed_box |= ~np.isfinite(values).all(axis=1)
        x1, y1 = values[:, 0], values[:, 1]
        if labels.box_format == 'cxcywhn':  # YOLO's, normalised to the image
            w, h = values[:, 2] * width, values[:, 3] * height
            x1, y1 = values[:, 0] * width - w / 2, values[:, 1] * height - h / 2
            x2, y2 = x1 + w, y1 + h
        elif labels.box_format == 'xywh':
            w, h = values[:, 2], values[:, 3]
            x2, y2 = x1 + w, y1 + h
        else:
            x2, y2 = values[:, 2], values[:, 3]
            w, h = x2 - x1, y2 - y1
        empty = (w <= 0) | (h <= 0)
        cx1, cx2 = np.clip(x1, 0, width), np.clip(x2, 0, width)
        cy1, cy2 = np.clip(y1, 0, height), np.clip(y2, 0, height)
        outside = (cx2 <= cx1) | (cy2 <= cy1)
        clipped = (cx1 != x1) | (cx2 != x2) | (cy1 != y1) | (cy2 != y2)
    # Unclipped boxes keep their own w and h: x + w - x is not always w in floats.
    xywh = np.stack([cx1, cy1, np.where(clipped, cx2 - cx1, w),
                     np.where(clipped, cy2 - cy1, h)], axis=1)

    codes = np.full(len(index), KEPT, np.int8)
    # Lowest priority first, so that a box ends with the first reason that applies.
    codes[clipped] = CLIPPED
    for kind, mask in (('box_outside', outside), ('box_empty', empty),
                       ('box_malformed', malformed_box), ('bad_category', categories == 0),
                       ('image_rejected', (index >= 0) & ~images.readable[safe]),
                       ('unknown_image', index < 0),
                       ('annotation_malformed', labels.ann_malformed)):
        codes[mask] = CODE[kind]
    per_image = np.bincount(index[index >= 0], minlength=n_images)
    return BoxCheck(codes, index, categories, xywh, integral, per_image)


def _image_index(ann_image_ids: List[Any], image_ids: List[int]) -> np.ndarray:
    lookup = {image_id: i for i, image_id in enumerate(image_ids)}
    n = len(ann_image_ids)
    if set(map(type, ann_image_ids)) <= {int}:
        return np.fromiter(map(lookup.get, ann_image_ids, repeat(-1)), np.int64, n)
    # A bool or float id must not match an int id that merely compares equal.
    return np.fromiter((lookup.get(v, -1) if type(v) is int else -1
                        for v in ann_image_ids), np.int64, n)


def _category_ids(labels: LabelSet) -> np.ndarray:
    """Each box's class as a 1-based index into ``labels.classes``; 0 where its
    category names no class (by name, or by the data set's category id)."""
    values = labels.ann_categories
    if labels.categories_by_name:
        lookup = {name: i + 1 for i, name in enumerate(labels.classes)}
        return np.fromiter((lookup.get(v, 0) if type(v) is str else 0 for v in values),
                           np.int64, len(values))
    by_id = {cat_id: i + 1 for i, cat_id in enumerate(labels.ids())}
    # type() rather than isinstance: true is not category 1.
    return np.fromiter((by_id.get(v, 0) if type(v) is int else 0 for v in values),
                       np.int64, len(values))


def _box_values(boxes: List[Any]) -> Tuple[np.ndarray, np.ndarray, bool]:
    """An (n, 4) float array of the boxes, a mask of those that are not four plain
    numbers (their rows are NaN; bools and numeric strings are not numbers here), and
    whether all boxes are well formed and written with integers."""
    n = len(boxes)
    if set(map(type, boxes)) <= {list} and set(map(len, boxes)) <= {4}:
        flat = list(chain.from_iterable(boxes))
        types = set(map(type, flat))
        if types <= {int, float}:
            try:
                values = np.array(flat, np.float64).reshape(n, 4)
                return values, np.zeros(n, bool), types == {int}
            except OverflowError:  # an int too large for a float: find it below
                pass
    values = np.full((n, 4), np.nan)
    malformed = np.zeros(n, bool)
    for i, box in enumerate(boxes):
        try:
            if (type(box) is list and len(box) == 4
                    and all(type(v) in (int, float) for v in box)):
                values[i] = box
                continue
        except OverflowError:
            values[i] = np.nan
        malformed[i] = True
    return values, malformed, False


def box_problems(labels: LabelSet, boxes: BoxCheck) -> List[Dict[str, Any]]:
    """Report entries for boxes rejected or clipped; those on rejected images are
    reported with their image."""
    entries = []
    names = {v: k for k, v in CODE.items()}
    names[CLIPPED] = 'box_clipped'
    reported = (boxes.codes != KEPT) & (boxes.codes != CODE['image_rejected'])
    for i in np.flatnonzero(reported).tolist():
        kind = names[int(boxes.codes[i])]
        image_index = int(boxes.image_index[i])
        detail = _box_detail(kind, labels, i)
        if kind == 'box_clipped':
            detail += f' -> xywh {boxes.xywh[i].tolist()}'
        entries.append(problem(
            kind, 'train', labels.images, image_index, detail, ACTION[kind],
            annotation=labels.annotation_ref(i),
            image_id=json_safe(labels.ann_image_ids[i])))
    return entries


class BoxRefs:
    """How the audit's findings name box ``i``: its annotation, image, file,
    class and box (a sequence, built per finding only)."""

    def __init__(self, labels: LabelSet, boxes: BoxCheck, check: ImageCheck,
                 folder: str) -> None:
        self.labels, self.boxes, self.check, self.folder = (labels, boxes, check,
                                                            folder)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        image = int(self.boxes.image_index[i])
        return dict(annotation=self.labels.annotation_ref(i),
                    image_id=self.labels.images.ids[image],
                    file_name=below(self.folder, self.check.disk_names[image]),
                    category=self.labels.classes[int(self.boxes.categories[i]) - 1],
                    bbox=[round(v, 1) for v in self.boxes.xywh[i].tolist()])


def _box_detail(kind: str, labels: LabelSet, i: int) -> str:
    if kind == 'unknown_image':
        return f'image id {labels.ann_image_ids[i]!r}'
    if kind == 'bad_category':
        return f'category {labels.ann_categories[i]!r} is none of {len(labels.classes)} classes'
    if kind == 'annotation_malformed':
        return 'missing fields or not an object'
    return f'{labels.box_format} {labels.ann_boxes[i]!r}'

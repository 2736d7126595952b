"""Label files in structured form, as every competition format reads them.

A format (:mod:`parkdet_challenge.formats`) parses its label file into a
:class:`LabelSet`: the images (:class:`ImageList`) and the boxes as parallel lists,
each field exactly as read. What makes a file unusable as a whole (not JSON, wrong
top-level shape, an image entry without an integer id or a file name, duplicate image
ids) raises ``InputError`` naming the file. A malformed *annotation* is not fatal
for the challenges' formats: it is kept here, marked, and rejected later with a
report line. Box values are not checked here (see :mod:`.convert`).
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .errors import InputError


@dataclass
class ImageList:
    """Image entries of a label file, in file order, structurally valid."""
    ids: List[int]
    file_names: List[str]
    # (width, height) as the JSON gives them (unchecked values), None when absent.
    json_sizes: List[Optional[Tuple[Any, Any]]]
    # Each image's position in its file, where the list is in another order (2021:
    # sorted by name); None when the list is in file order.
    file_positions: Optional[List[int]] = None

    def positions(self) -> np.ndarray:
        """Each image's position in its file (int64)."""
        if self.file_positions is None:
            return np.arange(len(self.ids), dtype=np.int64)
        return np.asarray(self.file_positions, dtype=np.int64)


@dataclass
class LabelSet:
    """A training label file: its images, and its boxes as parallel lists.

    The ``ann_*`` lists hold each box's fields exactly as read (unchecked);
    ``ann_malformed`` marks the boxes that are not objects or lack a field.
    ``ann_categories`` are category ids, or class names where
    ``categories_by_name``; ``ann_boxes`` are ``[x, y, w, h]`` (``box_format``
    'xywh'), ``[x1, y1, x2, y2]`` ('xyxy') or YOLO's ``[cx, cy, w, h]``
    normalised to the image ('cxcywhn'). ``category_ids`` are the data set's
    own ids of ``classes`` (None: 1..K in order); ``ann_iscrowd`` COCO's crowd
    flags (None: no crowd boxes). A report names a box by its "id" field
    (``refs_are_ids``) or by its position among its image's objects.
    """
    format: str
    classes: Tuple[str, ...]
    images: ImageList
    ann_image_ids: List[Any]
    ann_categories: List[Any]
    ann_boxes: List[Any]
    ann_refs: List[Any]
    ann_malformed: np.ndarray  # bool, one per box
    box_format: str = 'xywh'
    categories_by_name: bool = False
    refs_are_ids: bool = True
    category_ids: Optional[Tuple[int, ...]] = None
    ann_iscrowd: Optional[np.ndarray] = None
    # The data set's own splits, bool per image: 'train' (the images to train and
    # validate on), 'val' (None: drawn from 'train'), 'test' (labelled test
    # images); None: every image is labelled training data, val drawn from it.
    own_splits: Optional[Dict[str, np.ndarray]] = None

    def ids(self) -> Tuple[int, ...]:
        """The data set's category id of each class."""
        return self.category_ids or tuple(range(1, len(self.classes) + 1))

    def annotation_ref(self, index: int) -> Dict[str, Any]:
        """How a report names the annotation at ``index`` of the ``ann_*`` lists."""
        if self.refs_are_ids:
            return {'index': index, 'id': json_safe(self.ann_refs[index])}
        return {'object': self.ann_refs[index]}


def load_json(path: Path) -> Any:
    """The parsed content of ``path``; ``InputError`` if it is missing or not JSON."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f'{path}: cannot read: {err.strerror or err}') from None
    try:
        # From bytes, so that a UTF-8 byte-order mark is accepted.
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise InputError(f'{path}: not valid JSON ({err})') from None


def read_image_list(path: Path) -> ImageList:
    """Read ``{"images": [...]}`` (the test images' information file)."""
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get('images'), list):
        raise InputError(f'{path}: expected an object with an "images" list')
    return image_list(data['images'], path)


def image_list(entries: List[Any], path: Path) -> ImageList:
    """The structurally valid image entries of a COCO-like ``images`` list."""
    ids, names, sizes = [], [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(f'{path}: images[{i}] is not an object')
        image_id, name = entry.get('id'), entry.get('file_name')
        # bool is an int subclass; an id of true would collide with 1.
        if type(image_id) is not int:
            raise InputError(f'{path}: images[{i}] has no integer "id" (got {image_id!r})')
        if not isinstance(name, str) or not name:
            raise InputError(f'{path}: images[{i}] (id {image_id}) has no "file_name"')
        ids.append(image_id)
        names.append(name)
        width, height = entry.get('width'), entry.get('height')
        sizes.append(None if width is None and height is None else (width, height))
    _check_unique(ids, path)
    return ImageList(ids, names, sizes)


def _check_unique(ids: List[int], path: Path) -> None:
    if len(set(ids)) == len(ids):
        return
    first: Dict[int, int] = {}
    for i, image_id in enumerate(ids):
        if image_id in first:
            raise InputError(f'{path}: duplicate image id {image_id} '
                             f'(images[{first[image_id]}] and images[{i}])')
        first[image_id] = i


def json_safe(value: Any) -> Any:
    """``value`` if JSON can write it, else its repr (report fields must serialize)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)

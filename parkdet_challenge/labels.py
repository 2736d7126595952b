"""Read the challenges' label files and check their structure.

Two formats are understood, told apart by the file's shape:

- ``parking2022`` (SPEC section 1): COCO-like ``{"images": [{id, file_name, width?,
  height?}], "annotations": [{id?, image_id, category_id, bbox: [x, y, w, h]}]}`` with
  the 14 classes of :mod:`parkdet_challenge.classes`.
- ``inattention2021`` (SPEC section 9): ``{"annotations": [{file_name, objects:
  [{class: <name>, position: [x1, y1, x2, y2]}]}]}`` with 7 named classes. It has no
  image ids: they are assigned 1..N in the order of the sorted (NFC) file names.

What makes a file unusable as a whole (not JSON, wrong top-level shape, an image entry
without an integer id or a file name, duplicate image ids) raises ``InputError`` naming
the file. A malformed *annotation* is not fatal: it is kept here, marked, and rejected
later with a report line. Box values are not checked here (see :mod:`.convert`).
"""
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .classes import CLASSES
from .cli import InputError

FORMAT_2022 = 'parking2022'
FORMAT_2021 = 'inattention2021'
CLASSES_2021: Tuple[str, ...] = (
    'eye_opened', 'eye_closed', 'mouth_opened', 'mouth_closed', 'face', 'phone', 'cigar')

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
    """
    format: str
    classes: Tuple[str, ...]
    images: ImageList
    ann_image_ids: List[Any]
    ann_categories: List[Any]  # category_id (2022) or class name (2021)
    ann_boxes: List[Any]  # [x, y, w, h] (2022) or [x1, y1, x2, y2] (2021)
    # How the report names a box: its "id" field (2022) or its position among its
    # image's objects (2021).
    ann_refs: List[Any]
    ann_malformed: np.ndarray  # bool, one per box

    @property
    def box_format(self) -> str:
        """``'xywh'`` or ``'xyxy'``: how ``ann_boxes`` are written."""
        return 'xywh' if self.format == FORMAT_2022 else 'xyxy'

    def annotation_ref(self, index: int) -> Dict[str, Any]:
        """How a report names the annotation at ``index`` of the ``ann_*`` lists."""
        if self.format == FORMAT_2022:
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


def read_labels(path: Path) -> LabelSet:
    """Read a training label file in either format (see the module docstring)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise InputError(f'{path}: top level is a {type(data).__name__}, expected an object')
    if 'images' in data:
        return _read_2022(data, path)
    entries = data.get('annotations')
    if isinstance(entries, list) and (not entries or (
            isinstance(entries[0], dict) and 'file_name' in entries[0])):
        return _read_2021(entries, path)
    raise InputError(
        f'{path}: neither the 2022 layout ("images" and "annotations" lists) nor the '
        f'2021 layout ("annotations" list of {{"file_name", "objects"}})')


def read_image_list(path: Path) -> ImageList:
    """Read ``{"images": [...]}`` (the test images' information file)."""
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get('images'), list):
        raise InputError(f'{path}: expected an object with an "images" list')
    return _image_list(data['images'], path)


def _read_2022(data: Dict[str, Any], path: Path) -> LabelSet:
    images = data['images']
    anns = data.get('annotations')
    if not isinstance(images, list) or not isinstance(anns, list):
        raise InputError(f'{path}: "images" and "annotations" must both be lists')
    image_list = _image_list(images, path)
    try:
        # Fast path: every annotation is an object with the three fields.
        image_ids = [a['image_id'] for a in anns]
        categories = [a['category_id'] for a in anns]
        boxes = [a['bbox'] for a in anns]
        refs = [a.get('id') for a in anns]
        malformed = np.zeros(len(anns), dtype=bool)
    except (TypeError, KeyError, AttributeError):
        image_ids, categories, boxes, refs, malformed = _columns_slow(anns)
    return LabelSet(FORMAT_2022, CLASSES, image_list, image_ids, categories, boxes, refs,
                    malformed)


def _columns_slow(anns: List[Any]) -> Tuple[Any, ...]:
    image_ids, categories, boxes, refs, malformed = [], [], [], [], []
    for a in anns:
        if not isinstance(a, dict):
            a = {}
        image_ids.append(a.get('image_id'))
        categories.append(a.get('category_id'))
        boxes.append(a.get('bbox'))
        refs.append(a.get('id'))
        malformed.append(not {'image_id', 'category_id', 'bbox'} <= a.keys())
    return image_ids, categories, boxes, refs, np.array(malformed, dtype=bool)


def _image_list(entries: List[Any], path: Path) -> ImageList:
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


def _read_2021(entries: List[Any], path: Path) -> LabelSet:
    names, objects_of = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get('file_name'), str):
            raise InputError(f'{path}: annotations[{i}] has no "file_name"')
        objects = entry.get('objects', [])
        if not isinstance(objects, list):
            raise InputError(f'{path}: annotations[{i}] "objects" is not a list')
        names.append(entry['file_name'])
        objects_of.append(objects)
    # Ids from sorted NFC names: independent of the file's order and of the system
    # that wrote the names.
    nfc = [unicodedata.normalize('NFC', name) for name in names]
    order = sorted(range(len(names)), key=nfc.__getitem__)
    for a, b in zip(order, order[1:]):
        if nfc[a] == nfc[b]:
            raise InputError(f'{path}: file name {names[b]!r} is listed twice '
                             f'(annotations[{a}] and annotations[{b}])')
    ids = [0] * len(names)
    for new_id, i in enumerate(order, start=1):
        ids[i] = new_id
    image_ids, categories, boxes, refs, malformed = [], [], [], [], []
    for i in order:
        for j, obj in enumerate(objects_of[i]):
            if not isinstance(obj, dict):
                obj = {}
            image_ids.append(ids[i])
            categories.append(obj.get('class'))
            boxes.append(obj.get('position'))
            refs.append(j)
            malformed.append(not {'class', 'position'} <= obj.keys())
    image_list = ImageList([ids[i] for i in order], [names[i] for i in order],
                           [None] * len(order), file_positions=order)
    return LabelSet(FORMAT_2021, CLASSES_2021, image_list, image_ids, categories, boxes, refs,
                    np.array(malformed, dtype=bool))


def json_safe(value: Any) -> Any:
    """``value`` if JSON can write it, else its repr (report fields must serialize)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)

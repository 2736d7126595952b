"""The 2022 challenge, parking-related moving objects (docs/reference.md sections 1-3, 8).

Labels: COCO-like ``{"images": [{id, file_name, width?, height?}], "annotations":
[{id?, image_id, category_id, bbox: [x, y, w, h]}]}`` with the 14 classes of
:mod:`parkdet_challenge.classes`, category ids 1..14. Validation: 3,000 images drawn
from the sorted ids. Submission: a list of COCO result records, capped below 20 MB.
"""
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from ..classes import CLASS_NAMES_KO, CLASSES
from ..errors import InputError
from ..labels import LabelSet, image_list
from ..submission import MAX_BYTES, image_records
from .base import CompetitionFormat, register_format


def annotation_columns(anns: List[Any], path: Path) -> Tuple[Any, ...]:
    """A COCO ``annotations`` list as columns: image ids, category ids, boxes,
    ids and a mask of the entries that are not objects with the three fields."""
    if not isinstance(anns, list):
        raise InputError(f'{path}: "annotations" must be a list')
    try:
        # Fast path: every annotation is an object with the three fields.
        image_ids = [a['image_id'] for a in anns]
        categories = [a['category_id'] for a in anns]
        boxes = [a['bbox'] for a in anns]
        refs = [a.get('id') for a in anns]
        malformed = np.zeros(len(anns), dtype=bool)
        return image_ids, categories, boxes, refs, malformed
    except (TypeError, KeyError, AttributeError):
        pass
    image_ids, categories, boxes, refs, flags = [], [], [], [], []
    for a in anns:
        if not isinstance(a, dict):
            a = {}
        image_ids.append(a.get('image_id'))
        categories.append(a.get('category_id'))
        boxes.append(a.get('bbox'))
        refs.append(a.get('id'))
        flags.append(not {'image_id', 'category_id', 'bbox'} <= a.keys())
    return image_ids, categories, boxes, refs, np.array(flags, dtype=bool)


@register_format
class Parking2022(CompetitionFormat):
    name = 'parking2022'
    match_order = 10
    default_val_size = 3000
    max_bytes = MAX_BYTES
    test_info_required = True

    def matches(self, data: Dict[str, Any]) -> bool:
        if 'images' not in data:
            return False
        categories = data.get('categories')
        if not isinstance(categories, list) or not categories:
            return True  # the challenge's files name no categories
        names = tuple(c.get('name') for c in categories if isinstance(c, dict))
        # the challenge's own file names them in Korean (docs/reference.md section 2)
        return names in (CLASSES, tuple(ko for _, ko in CLASS_NAMES_KO))

    def read_labels(self, data: Dict[str, Any], path: Path) -> LabelSet:
        if not isinstance(data.get('images'), list):
            raise InputError(f'{path}: "images" and "annotations" must both be lists')
        images = image_list(data['images'], path)
        columns = annotation_columns(data.get('annotations'), path)
        return LabelSet(self.name, CLASSES, images, *columns)

    def image_entry(self, image_id, file_name, bboxes_xyxy, scores, category_ids,
                    class_names) -> List[dict]:
        # category ids 1..14 only (docs/reference.md section 8)
        return image_records(image_id, bboxes_xyxy, scores, category_ids)

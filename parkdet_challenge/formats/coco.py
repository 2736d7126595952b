"""Any COCO detection data set: its own classes and category ids.

Labels: a COCO file (``images``, ``annotations``, ``categories``) with any classes
and any category ids; its images anywhere below the images folder
(``file_name`` relative to it, subfolders allowed); crowd boxes (``iscrowd`` 1) kept
as crowd, so that training ignores them and COCO's evaluation matches them as
COCO does. Unlike the challenges' files, a COCO file with a broken annotation is
refused as a whole (one line naming it), nothing written. Validation: a tenth of
the images (or ``--val-size``) drawn from the sorted ids. Submission: a COCO
results list with the data set's own category ids, uncapped.
"""
import numbers
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from ..errors import InputError
from ..labels import LabelSet, image_list
from .base import CompetitionFormat, class_order, register_format
from .parking2022 import annotation_columns


@register_format
class Coco(CompetitionFormat):
    name = 'coco'
    match_order = 90

    def matches(self, data: Dict[str, Any]) -> bool:
        return 'images' in data and isinstance(data.get('categories'), list)

    def read_labels(self, data: Dict[str, Any], path: Path) -> LabelSet:
        if not isinstance(data.get('images'), list):
            raise InputError(f'{path}: no "images" list')
        images = image_list(data['images'], path)
        if not images.ids:
            raise InputError(f'{path}: the "images" list is empty')
        classes, ids = class_order(_categories(data.get('categories'), path))
        anns = data.get('annotations', [])
        image_ids, categories, boxes, refs, malformed = annotation_columns(anns,
                                                                           path)
        known_images, known_ids = set(images.ids), set(ids)
        seen_refs: Dict[Any, int] = {}
        for i, bad in enumerate(malformed.tolist()):
            where = f'{path}: annotations[{i}]'
            if bad:
                raise InputError(f'{where} is not an object with "image_id", '
                                 '"category_id" and "bbox"')
            if type(image_ids[i]) is not int or image_ids[i] not in known_images:
                raise InputError(f'{where}: image_id {image_ids[i]!r} is no '
                                 'image\'s id')
            if type(categories[i]) is not int or categories[i] not in known_ids:
                raise InputError(f'{where}: category_id {categories[i]!r} is no '
                                 'category\'s id')
            box = boxes[i]
            if not (isinstance(box, list) and len(box) == 4 and all(
                    isinstance(v, numbers.Real) and not isinstance(v, bool)
                    for v in box)):
                raise InputError(f'{where}: bbox {box!r} is not four numbers')
            if refs[i] is not None:
                if refs[i] in seen_refs:
                    raise InputError(f'{where}: duplicate annotation id {refs[i]!r} '
                                     f'(annotations[{seen_refs[refs[i]]}])')
                seen_refs[refs[i]] = i
        crowd = np.array([bool(a.get('iscrowd', 0)) for a in anns], dtype=bool)
        return LabelSet(self.name, classes, images, image_ids, categories, boxes,
                        refs, malformed, category_ids=ids, ann_iscrowd=crowd)


def _categories(categories: Any, path: Path) -> List[tuple]:
    """(id, name) of each category; InputError for a missing list, a category
    without an integer id or a name, and duplicate ids or names."""
    if not isinstance(categories, list) or not categories:
        raise InputError(f'{path}: no "categories" list')
    seen_ids: Dict[int, int] = {}
    seen_names: Dict[str, int] = {}
    pairs = []
    for i, category in enumerate(categories):
        if not isinstance(category, dict):
            raise InputError(f'{path}: categories[{i}] is not an object')
        cat_id, name = category.get('id'), category.get('name')
        if type(cat_id) is not int:
            raise InputError(f'{path}: categories[{i}] has no integer "id"')
        if not isinstance(name, str) or not name.strip():
            raise InputError(f'{path}: categories[{i}] (id {cat_id}) has no name')
        if cat_id in seen_ids:
            raise InputError(f'{path}: duplicate category id {cat_id} '
                             f'(categories[{seen_ids[cat_id]}] and [{i}])')
        if name in seen_names:
            raise InputError(f'{path}: duplicate category name {name!r} '
                             f'(categories[{seen_names[name]}] and [{i}])')
        seen_ids[cat_id], seen_names[name] = i, i
        pairs.append((cat_id, name))
    return pairs

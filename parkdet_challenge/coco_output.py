"""The converter's outputs: the COCO files, the report, and their bytes.

:func:`coco` promises a COCO detection dict of the images a mask chooses, sorted by
id, with ``file_name`` relative to the data root as spelled on disk and the sizes
the files gave, and their kept boxes under the ids :func:`annotation_ids` gives
(1.. in (image id, input order) order, unique across every file of one
conversion), in the data set's own category ids, integers where the input wrote
integers. :func:`conversion_report` counts what was read, kept, rejected and clipped, the
split, the boxes per class of each split, and lists every problem.
:func:`encode` writes the bytes: COCO files compact and ASCII, the report
indented for people. The output is a function of the input content alone (no
timestamps, fixed orders), so two runs write identical bytes.
"""
import json
from typing import Any, Dict, List, Optional

import numpy as np

from .box_check import CLIPPED, BoxCheck
from .image_check import ImageCheck, below
from .labels import ImageList, LabelSet


def annotation_ids(labels: LabelSet, boxes: BoxCheck) -> np.ndarray:
    """Kept boxes' output ids: 1.. in (image id, input order) order, unique across
    all output files; 0 for rejected boxes."""
    kept = np.flatnonzero(boxes.kept)
    image_ids = np.asarray(labels.images.ids, dtype=np.int64)[boxes.image_index[kept]]
    order = kept[np.argsort(image_ids, kind='stable')]
    ids = np.zeros(len(boxes.codes), np.int64)
    ids[order] = np.arange(1, len(order) + 1)
    return ids


def coco(images: ImageList, check: ImageCheck, mask: np.ndarray, folder: str,
          boxes: Optional[BoxCheck], ann_ids: Optional[np.ndarray],
          categories: List[Dict[str, Any]],
          labels: Optional[LabelSet] = None) -> Dict[str, Any]:
    """A COCO dict of the images in ``mask`` (sorted by id) and their kept boxes
    (``labels``' boxes, with its category ids and crowd flags)."""
    ids = np.asarray(images.ids, dtype=np.int64)
    chosen = np.flatnonzero(mask)
    chosen = chosen[np.argsort(ids[chosen], kind='stable')].tolist()
    coco_images = [{'id': images.ids[i],
                    'file_name': below(folder, check.disk_names[i]),
                    'width': int(check.widths[i]), 'height': int(check.heights[i])}
                   for i in chosen]
    annotations: List[Dict[str, Any]] = []
    if boxes is not None and labels is not None:
        selected = np.flatnonzero(boxes.kept & mask[np.maximum(boxes.image_index, 0)])
        selected = selected[np.argsort(ann_ids[selected])]
        xywh = boxes.xywh[selected]
        if boxes.integral:
            xywh = xywh.astype(np.int64)
        category_ids = np.asarray(labels.ids(), np.int64)[
            boxes.categories[selected] - 1]
        crowd = (np.zeros(len(selected), np.int64) if labels.ann_iscrowd is None
                 else labels.ann_iscrowd[selected].astype(np.int64))
        annotations = [
            {'id': a, 'image_id': im, 'category_id': c, 'bbox': b, 'area': area,
             'iscrowd': z}
            for a, im, c, b, area, z in zip(
                ann_ids[selected].tolist(), ids[boxes.image_index[selected]].tolist(),
                category_ids.tolist(), xywh.tolist(),
                (xywh[:, 2] * xywh[:, 3]).tolist(), crowd.tolist())]
    return {'images': coco_images, 'annotations': annotations, 'categories': categories}


def conversion_report(labels: LabelSet, train: ImageCheck, test: Optional[ImageCheck],
                      boxes: BoxCheck, split_masks: Dict[str, np.ndarray], val_size: int,
                      seed: int, problems: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The report's counts (images and boxes read, kept, rejected, clipped; sizes;
    the split; boxes per class of each split; the diet) and ``problems``."""
    n_images, n_boxes = len(labels.images.ids), len(boxes.codes)
    n_kept_boxes = int(boxes.kept.sum())
    report: Dict[str, Any] = {
        'format': labels.format,
        'classes': list(labels.classes),
        'images': {'input': n_images, 'kept': int(train.readable.sum()),
                   'rejected': n_images - int(train.readable.sum())},
        'annotations': {'input': n_boxes, 'kept': n_kept_boxes,
                        'rejected': n_boxes - n_kept_boxes,
                        'clipped': int((boxes.codes == CLIPPED).sum())},
        # Train and test images together.
        'sizes': {'from_header_only': train.size_from_header + (test.size_from_header
                                                                if test else 0),
                  'mismatch': sum(p['kind'] == 'size_mismatch' for p in problems)},
        'split': {'seed': seed, 'val_size': val_size,
                  'train_images': int(split_masks['train'].sum()),
                  'val_images': int(split_masks['val'].sum())},
    }
    if test is not None:
        n_test = len(test.readable)
        report['test_images'] = {'input': n_test, 'kept': int(test.readable.sum()),
                                 'rejected': n_test - int(test.readable.sum())}
    safe = np.maximum(boxes.image_index, 0)
    report['boxes_per_class'] = {}
    for name, mask in split_masks.items():
        in_split = boxes.kept & mask[safe]
        counts = np.bincount(boxes.categories[in_split], minlength=len(labels.classes) + 1)
        report['boxes_per_class'][name] = dict(zip(labels.classes, counts[1:].tolist()))
    if 'train_diet' in split_masks:
        report['diet'] = {'images': int(split_masks['train_diet'].sum()),
                          'boxes': sum(report['boxes_per_class']['train_diet'].values())}
    kinds: Dict[str, int] = {}
    for p in problems:
        kinds[p['kind']] = kinds.get(p['kind'], 0) + 1
    report['problem_counts'] = dict(sorted(kinds.items()))
    report['problems'] = problems
    return report


def encode(rel: str, obj: Any) -> bytes:
    """The bytes of output ``rel`` (a path relative to the output folder)."""
    if rel == 'report.json':
        # For people: indented, Korean file names legible.
        return (json.dumps(obj, indent=2, ensure_ascii=False) + '\n').encode('utf-8')
    # Compact and pure ASCII: readers such as pycocotools open files with the locale's
    # encoding, which is not always UTF-8; \u escapes read the same everywhere.
    return json.dumps(obj, separators=(',', ':')).encode('ascii')

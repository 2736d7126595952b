"""Pseudo-labels: a model's confident predictions on unlabelled images as a COCO
training file, which the ``pseudo_label_file`` primary adds to a training set
(:class:`~parkdet_mm.datasets.YOLOv5PseudoLabelCocoDataset`)."""
import json
from typing import Any, Dict, Mapping, Sequence

from parkdet_challenge.errors import InputError


def pseudo_label_coco(predictions: Mapping[int, Any], ann_file: str,
                      classes: Sequence[str], score_thr: float,
                      info: Dict[str, Any]) -> Dict[str, Any]:
    """The COCO file of ``predictions`` (image id -> bboxes xyxy, scores, labels) on
    the images of ``ann_file``: every box scoring at least ``score_thr`` becomes an
    annotation (its ``score`` kept), on the images that get one; the categories are
    ``ann_file``'s, matched to ``classes`` by name; ``info`` (what made the file)
    goes into COCO's ``info`` with ``pseudo_labels: true``."""
    with open(ann_file, encoding='utf-8') as f:
        source = json.load(f)
    by_name = {c['name']: c['id'] for c in source['categories']}
    missing = [name for name in classes if name not in by_name]
    if missing:
        raise InputError(f'{ann_file} has no category {missing[0]!r} of the config')
    category_ids = [by_name[name] for name in classes]
    images, annotations = [], []
    for image in source['images']:
        pred = predictions.get(image['id'])
        if pred is None:
            continue
        keep = pred.scores >= score_thr
        boxes = pred.bboxes[keep].tolist()
        if not boxes:
            continue
        images.append(image)
        for (x1, y1, x2, y2), score, label in zip(
                boxes, pred.scores[keep].tolist(), pred.labels[keep].tolist()):
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image['id'],
                category_id=category_ids[label],
                bbox=[round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                area=round((x2 - x1) * (y2 - y1), 2), iscrowd=0, score=round(score, 5)))
    return dict(info=dict(info, pseudo_labels=True), images=images,
                annotations=annotations, categories=source['categories'])

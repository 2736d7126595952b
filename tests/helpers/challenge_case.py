"""A small challenge case (ground truth, detections, the metric run on them)
for the metric and writer tests."""
import json
from pathlib import Path

import torch

from parkdet_challenge.classes import coco_categories

# Challenge image ids are not 0..n-1; boxes [x, y, w, h] and category ids (1-based).
GT = {
    1001: [([10.0, 20.0, 30.5, 40.2], 1), ([100.0, 50.0, 20.0, 20.0], 5)],
    1003: [([5.5, 5.5, 50.0, 60.0], 8)],
    2000: [([0.0, 0.0, 10.1, 10.3], 8), ([40.0, 40.0, 12.0, 30.0], 9),
           ([300.0, 200.0, 80.0, 40.0], 14)],
    2002: [],
    2005: [([60.0, 70.0, 33.3, 44.4], 5)],
    2010: [([1.0, 2.0, 3.0, 4.0], 12)],
    2011: [([500.0, 300.0, 100.0, 90.0], 1)],
}


IMAGE_IDS = list(GT)


def _ann_file(folder: Path, with_boxes: bool) -> str:
    """The set as a COCO file; the test set's has no annotations."""
    boxes = [(img, box, cat) for img, objs in GT.items() for box, cat in objs]
    anns = [dict(id=k + 1, image_id=img, category_id=cat, bbox=box,
                 area=box[2] * box[3], iscrowd=0)
            for k, (img, box, cat) in enumerate(boxes)]
    path = folder / ('val.json' if with_boxes else 'test.json')
    path.write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.png', width=640, height=480)
                for i in IMAGE_IDS],
        annotations=anns if with_boxes else [],
        categories=coco_categories())))
    return str(path)


def _samples(drop=()):
    """Data samples whose predictions are the ground truth (scores 0.9 down), plus a
    low-scoring false positive per image (tied scores); ``drop``: (image, index) of
    true boxes left out."""
    samples = []
    for img, objs in GT.items():
        boxes, scores, labels = [], [], []
        for j, (box, cat) in enumerate(objs):
            if (img, j) in drop:
                continue
            x, y, w, h = box
            boxes.append([x, y, x + w, y + h])
            scores.append(0.9 - 0.1 * j)
            labels.append(cat - 1)
        boxes.append([600.0, 400.0, 630.0, 470.0])
        scores.append(0.05)
        labels.append(img % 14)
        samples.append(dict(
            img_id=img, ori_shape=(480, 640),
            pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                scores=torch.tensor(scores),
                                labels=torch.tensor(labels))))
    return samples


def _evaluate(metric, samples):
    for k in range(0, len(samples), 3):
        metric.process({}, samples[k:k + 3])
    return metric.evaluate(size=len(samples))

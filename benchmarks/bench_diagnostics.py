"""What the validation diagnostics cost: the metric with and without them, side by side.

    .venv/bin/python benchmarks/bench_diagnostics.py [--images 5000] [--repeats 2]

Synthetic validation: ``--images`` images of 1920x1080 with 1 to 10 ground-truth boxes
each over the 14 classes, and predictions as a trained model's at score >= 0.01
(50 boxes per image at most, docs/reference.md section 8): each true box found with
probability 0.8 (a jittered box, a wrong class one time in ten), the rest random
false positives, scores skewed low. ``ChallengeSubmissionMetric.compute_metrics``
runs on the same records with ``diagnostics=False`` (COCO AP only) and
``diagnostics=True`` (also P/R/F1 curves, the per-class table, the confusion matrix
and five PNGs), alternately; the best time of each is printed with the difference,
and the diagnostics' own parts are timed.
"""
import argparse
import gc
import json
import os
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np
from mmengine.logging import MMLogger

from parkdet_challenge.classes import CLASSES, coco_categories
from parkdet_challenge.submission import image_records
from parkdet_mm.evaluation import diagnostics
from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric
from parkdet_mm.visualization.diagnostic_plots import draw_diagnostics

MAX_PER_IMAGE = 50
SIZE = np.array([1920, 1080])


def make_validation(folder: str, num_images: int, seed: int = 0):
    """Write the annotation file; return the per-image prediction records."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id, file_name=f'{img_id}.png', width=1920,
                           height=1080))
        n = int(rng.integers(1, 11))
        xy = rng.uniform(0, SIZE - 300, size=(n, 2))
        wh = rng.uniform(10, 300, size=(n, 2))
        cats = rng.integers(1, len(CLASSES) + 1, size=n)
        for box_xy, box_wh, cat in zip(xy, wh, cats):
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=int(cat),
                             bbox=[*box_xy.tolist(), *box_wh.tolist()],
                             area=float(box_wh.prod()), iscrowd=0))
        found = rng.random(n) < 0.8
        jitter = rng.normal(0, 0.05, size=(n, 4)) * np.hstack([wh, wh])
        boxes = np.hstack([xy, xy + wh]) + jitter
        pred_cats = np.where(rng.random(n) < 0.1,
                             rng.integers(1, len(CLASSES) + 1, size=n), cats)
        scores = rng.uniform(0.3, 0.95, size=n)
        extra = MAX_PER_IMAGE - int(found.sum())
        fp_xy = rng.uniform(0, SIZE - 300, size=(extra, 2))
        fp_boxes = np.hstack([fp_xy, fp_xy + rng.uniform(10, 300, size=(extra, 2))])
        results.append(image_records(
            img_id, np.vstack([boxes[found], fp_boxes]),
            np.r_[scores[found], 0.01 + 0.6 * rng.beta(0.5, 3.0, size=extra)],
            np.r_[pred_cats[found], rng.integers(1, len(CLASSES) + 1, size=extra)]))
    path = os.path.join(folder, 'val.json')
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=coco_categories()), f)
    return path, results


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    MMLogger.get_instance('bench_diagnostics', log_level='WARNING')  # no tables

    with tempfile.TemporaryDirectory() as tmp:
        ann_file, results = make_validation(tmp, args.images)
        records = [r for image in results for r in image]

        def metric(with_diagnostics: bool) -> ChallengeSubmissionMetric:
            m = ChallengeSubmissionMetric(ann_file=ann_file,
                                          diagnostics=with_diagnostics,
                                          confusion_score_thr=0.01)
            m.dataset_meta = dict(classes=CLASSES)
            return m

        best: Dict[str, float] = {}
        values: Dict[str, dict] = {}
        for _ in range(args.repeats):
            for label, flag in (('AP only', False), ('AP + diagnostics', True)):
                m = metric(flag)
                seconds = timed(lambda: values.__setitem__(
                    label, m.compute_metrics(results)))
                best[label] = min(best.get(label, float('inf')), seconds)

        # The parts, on one evaluation.
        m = metric(True)
        coco_eval = m.coco_evaluation(records)
        m.compute_metrics(results)
        kept = m.last_diagnostics
        parts: List[tuple] = [
            ('P/R/F1 curves from evalImgs',
             lambda: diagnostics.confidence_curves(
                 *diagnostics.matched_detections(coco_eval))),
            ('confusion matrix (score >= 0.01)', lambda: m.confusion_matrix(records)),
            ('five PNGs', lambda: draw_diagnostics(kept, os.path.join(tmp, 'plots'))),
        ]
        part_times = [(name, timed(fn)) for name, fn in parts]

    plain, full = best['AP only'], best['AP + diagnostics']
    print(f'{args.images} images, {len(records)} predictions, {len(CLASSES)} '
          f'classes; best of {args.repeats}')
    print(f'metric, AP only:          {plain:6.2f} s')
    print(f'metric, AP + diagnostics: {full:6.2f} s')
    print(f'diagnostics add {full - plain:.2f} s ({(full - plain) / plain:.1%})')
    for name, seconds in part_times:
        print(f'  {name}: {seconds:.2f} s')
    print(f"P {values['AP + diagnostics']['P']:.3f}  "
          f"R {values['AP + diagnostics']['R']:.3f}  "
          f"mAP@.5 {values['AP + diagnostics']['mAP_50']:.3f}")


if __name__ == '__main__':
    main()

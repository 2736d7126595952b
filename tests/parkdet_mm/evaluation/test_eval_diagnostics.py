"""Validation diagnostics: P/R/F1 against confidence from pycocotools' matches and
the confusion matrix, each against a direct computation on hand-made cases; the
metric's P, R, table and pictures."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import pixel_of, png_pixels
from matplotlib import colormaps

from parkdet_challenge.classes import CLASSES, coco_categories
from parkdet_challenge.submission import image_records
from parkdet_mm.evaluation import diagnostics
from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric
from parkdet_mm.visualization.diagnostic_plots import DIAGNOSTICS_PICTURES, draw_diagnostics

# image id -> ground truth [(x, y, w, h), label]
GT = {
    1: [((10, 10, 40, 40), 0), ((100, 10, 40, 40), 0), ((200, 200, 60, 30), 3)],
    2: [((10, 10, 40, 40), 0), ((50, 100, 30, 60), 7), ((300, 100, 20, 20), 7)],
    3: [((0, 0, 100, 100), 3)],
    4: [],
}
# image id -> detections [(x, y, w, h), score, label]: hits, misses, duplicates,
# boxes of the wrong class, low IoU, an image without ground truth.
DETS = {
    1: [((11, 10, 40, 40), 0.92, 0), ((101, 12, 40, 38), 0.55, 0),
        ((12, 11, 40, 40), 0.81, 0),  # duplicate of a matched box: FP
        ((200, 200, 60, 30), 0.33, 7),  # right place, wrong class
        ((200, 202, 60, 30), 0.12, 3)],
    2: [((10, 10, 40, 40), 0.71, 0), ((50, 100, 30, 60), 0.66, 7),
        ((320, 100, 20, 20), 0.44, 7),  # IoU 0 with its neighbour: FP and miss
        ((400, 400, 30, 30), 0.95, 3)],
    3: [((0, 0, 100, 70), 0.58, 3)],  # IoU 0.7
    4: [((5, 5, 30, 30), 0.27, 0), ((60, 60, 30, 30), 0.05, 9)],
}


def _ann_file(folder: Path) -> str:
    anns = [dict(id=n + 1, image_id=img, category_id=label + 1, bbox=list(box),
                 area=box[2] * box[3], iscrowd=0)
            for n, (img, box, label) in enumerate(
                (img, box, label) for img, objs in GT.items()
                for box, label in objs)]
    path = folder / 'val.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.png', width=500, height=500)
                for i in GT],
        annotations=anns, categories=coco_categories())))
    return str(path)


def _samples():
    samples = []
    for img, dets in DETS.items():
        boxes = [[x, y, x + w, y + h] for (x, y, w, h), _, _ in dets]
        samples.append(dict(img_id=img, pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.tensor([s for _, s, _ in dets]),
            labels=torch.tensor([label for _, _, label in dets]))))
    return samples


def _iou(a, b):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def _direct_pr(confidence):
    """Per class with ground truth: (precision, recall) of the detections scoring
    at least ``confidence``, matched per image and class in score order to the
    unmatched ground-truth box of highest IoU >= 0.5 (COCO's rule)."""
    result = {}
    for label in sorted({label for objs in GT.values() for _, label in objs}):
        true_pos = count = 0
        for img, dets in DETS.items():
            gts = [box for box, gl in GT[img] if gl == label]
            taken = set()
            mine = sorted([(s, box) for box, s, dl in dets
                           if dl == label and s >= confidence], reverse=True)
            for _, box in mine:
                count += 1
                ious = [(_iou(box, g), j) for j, g in enumerate(gts) if j not in taken]
                ious = [(v, j) for v, j in ious if v >= 0.5]
                if ious:
                    taken.add(max(ious)[1])
                    true_pos += 1
        instances = sum(gl == label for objs in GT.values() for _, gl in objs)
        has_dets = any(dl == label for dets in DETS.values() for _, _, dl in dets)
        precision = (true_pos / count if count else 1.0) if has_dets else 0.0
        result[label] = (precision, true_pos / instances)
    return result


def _metric(folder, **kwargs):
    metric = ChallengeSubmissionMetric(ann_file=_ann_file(folder), **kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def _records():
    return [r for s in _samples() for r in image_records(
        s['img_id'], s['pred_instances']['bboxes'].numpy(),
        s['pred_instances']['scores'].numpy(),
        s['pred_instances']['labels'].numpy() + 1)]


def _coco_eval(folder):
    """The COCOeval the metric runs, on the hand-made case."""
    return _metric(folder).coco_evaluation(_records())


def _near(pixels, row, column, colour, tolerance=40) -> bool:
    """Whether ``colour`` is within ``tolerance`` of a pixel in the 5x5 patch at
    (row, column)."""
    patch = pixels[row - 2:row + 3, column - 2:column + 3].reshape(-1, 3).astype(int)
    return bool((np.abs(patch - np.array(colour)).sum(1) <= tolerance).any())


def _check_drawn(figures, paths, curves, metrics):
    """The five pictures show the hand-made case: the classes with ground truth
    (sedan, bus, adult) and their mean in each curve's legend and lines, the
    confusion matrix of the hand counts, and in the PNGs read back, the mean
    curve's blue and the matrix cells' shades where their axes put them."""
    assert len(figures) == 5
    names = [CLASSES[k] for k in curves.labels]
    assert names == ['sedan', 'bus', 'adult']
    pr_axes = figures[0].axes[0]
    legend = [t.get_text() for t in pr_axes.get_legend().get_texts()]
    assert [t.rsplit(' ', 1)[0] for t in legend[:3]] == names
    # the mean of the per-class APs at IoU 0.5 is the metric's mAP@0.5
    assert legend[3] == f"all classes {metrics['challenge/mAP_50']:.3f} mAP@0.5"
    assert np.mean([float(t.rsplit(' ', 1)[1]) for t in legend[:3]]) == \
        pytest.approx(metrics['challenge/mAP_50'], abs=0.001)
    for figure, path, values, label in zip(
            figures[1:4], paths[1:4], (curves.precision, curves.recall, curves.f1),
            ('Precision', 'Recall', 'F1')):
        ax = figure.axes[0]
        assert ax.get_ylabel() == label
        lines = ax.get_lines()
        for line, row in zip(lines[:3], values):
            assert line.get_xdata() == pytest.approx(curves.confidence)
            assert line.get_ydata() == pytest.approx(row)
        assert lines[3].get_ydata() == pytest.approx(values.mean(0))
        assert lines[4].get_xdata()[0] == pytest.approx(curves.best_confidence)
        assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == names
        pixels = png_pixels(path)
        middle = len(curves.confidence) // 3
        assert _near(pixels, *pixel_of(ax, curves.confidence[middle],
                                       values.mean(0)[middle], len(pixels)),
                     (0, 0, 255)), label
    # the matrix: shares of each true class (columns), empty cells left blank
    ax = figures[4].axes[0]
    counts = _hand_counts()
    shares = counts / np.maximum(counts.sum(0, keepdims=True), 1)
    drawn = np.ma.filled(ax.get_images()[0].get_array().astype(float), np.nan)
    assert np.array_equal(np.isnan(drawn), shares == 0)
    assert drawn[shares > 0] == pytest.approx(shares[shares > 0])
    assert [t.get_text() for t in ax.get_xticklabels()] == [*CLASSES, 'background']
    pixels = png_pixels(paths[4])
    blues = colormaps['Blues']
    for (row, col), colour in [((0, 0), blues(1.0)), ((7, 3), blues(0.5)),
                               ((1, 1), (1.0, 1.0, 1.0))]:
        # a cell's corner, clear of the share written at its centre
        where = pixel_of(ax, col - 0.3, row - 0.3, len(pixels))
        assert _near(pixels, *where, [round(255 * c) for c in colour[:3]]), (row, col)


def test_pr_f1_against_direct_counts(tmp_path):
    curves = diagnostics.confidence_curves(
        *diagnostics.matched_detections(_coco_eval(tmp_path), iou=0.5))
    direct_labels = sorted(_direct_pr(0.0))
    assert list(curves.labels) == direct_labels
    assert list(curves.instances) == [3, 2, 2]  # sedan, bus, adult
    grid = curves.confidence
    for c in range(0, len(grid), 7):
        direct = _direct_pr(grid[c])
        for row, label in enumerate(curves.labels):
            assert curves.precision[row, c] == pytest.approx(direct[label][0]), \
                (label, grid[c])
            assert curves.recall[row, c] == pytest.approx(direct[label][1]), \
                (label, grid[c])
    p, r = curves.precision, curves.recall
    assert curves.f1 == pytest.approx(2 * p * r / np.maximum(p + r, 1e-16))
    # The best confidence maximises the mean F1 after YOLOv5's box filter
    # (101 points on the 1000-point grid, ends padded).
    mean = curves.f1.mean(0)
    padded = np.r_[np.full(50, mean[0]), mean, np.full(50, mean[-1])]
    smoothed = np.array([padded[i:i + 101].mean() for i in range(len(mean))])
    assert curves.best == int(smoothed.argmax())


def test_metric_returns_p_r_at_best_f1_fitness_and_keeps_the_pictures(
        tmp_path, saved_figures):
    metric = _metric(tmp_path, confusion_score_thr=0.25)
    metric.process({}, _samples())
    metrics = metric.evaluate(size=len(DETS))
    curves = diagnostics.confidence_curves(
        *diagnostics.matched_detections(_coco_eval(tmp_path), iou=0.5))
    direct = _direct_pr(curves.best_confidence)
    assert metrics['challenge/P'] == pytest.approx(
        np.mean([p for p, _ in direct.values()]))
    assert metrics['challenge/R'] == pytest.approx(
        np.mean([r for _, r in direct.values()]))
    # YOLOv5's fitness: 0.1 x mAP@.5 + 0.9 x mAP@.5:.95
    assert metrics['challenge/fitness'] == pytest.approx(
        0.1 * metrics['challenge/mAP_50'] + 0.9 * metrics['challenge/mAP'])
    # The metric draws nothing; what it kept draws the five pictures.
    assert not list(tmp_path.rglob('*.png'))
    paths = draw_diagnostics(metric.last_diagnostics, str(tmp_path / 'plots'))
    assert [Path(p).name for p in paths] == list(DIAGNOSTICS_PICTURES)
    _check_drawn(saved_figures, paths, curves, metrics)
    # Without diagnostics: AP and fitness only, nothing kept for pictures.
    quiet = _metric(tmp_path, diagnostics=False)
    quiet.process({}, _samples())
    plain = quiet.evaluate(size=len(DETS))
    assert set(metrics) - set(plain) == {'challenge/P', 'challenge/R'}
    assert quiet.last_diagnostics is None


def _hand_counts():
    """The confusion matrix of the hand-made case at score 0.25, counted by hand
    ([predicted, true], background last)."""
    bg = len(CLASSES)
    expected = np.zeros((bg + 1, bg + 1), dtype=np.int64)
    # detections below 0.25 (0.12 and 0.05) are left out.
    expected[0, 0] = 3  # image 1: two sedans; image 2: one
    expected[0, bg] = 2  # the duplicate sedan (0.81) and image 4's sedan (0.27)
    expected[7, 3] = 1  # image 1: the bus found as an adult
    expected[7, 7] = 1  # image 2: the first adult
    expected[7, bg] = 1  # image 2: the adult 20 px off
    expected[bg, 7] = 1  # ... and the adult it missed
    expected[3, bg] = 1  # image 2: a bus where there is nothing
    expected[3, 3] = 1  # image 3: IoU 0.7
    return expected


def test_confusion_matrix_against_hand_counts(tmp_path):
    metric = _metric(tmp_path, confusion_score_thr=0.25)
    matrix = metric.confusion_matrix(_records())
    assert matrix.tolist() == _hand_counts().tolist()
    assert matrix[:, :len(CLASSES)].sum() == sum(len(objs) for objs in GT.values())


def test_match_boxes_is_one_to_one_by_iou():
    iou = np.array([[0.9, 0.6, 0.0],
                    [0.8, 0.7, 0.55],
                    [0.4, 0.0, 0.0]])
    pairs = diagnostics.match_boxes(iou, np.array([0.1, 0.9, 0.5]), 0.5)
    assert sorted(pairs) == [(0, 0), (1, 1)]
    # A tie in IoU goes to the higher-scoring detection.
    tie = diagnostics.match_boxes(np.array([[0.8, 0.8]]), np.array([0.2, 0.6]), 0.5)
    assert tie == [(0, 1)]

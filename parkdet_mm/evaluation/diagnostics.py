"""YOLOv5's validation diagnostics from a finished pycocotools evaluation.

YOLOv5's ``val.py`` reports precision and recall per class at the confidence of
best mean F1 and draws P, R and F1 against confidence, PR curves at IoU 0.5 and a
confusion matrix with a background class. Here the first three come from a
``COCOeval`` that has run ``evaluate()`` and ``accumulate()``: its per-image results
(``evalImgs``) already say which detection matched a ground-truth box at IoU 0.5 (so
nothing is matched twice), and ``eval['precision']`` is the PR curve. The confusion
matrix needs class-agnostic matching, which COCO does not do, so it is computed
directly from the boxes.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

# Confidence grid of YOLOv5's curves.
CONFIDENCE_GRID = np.linspace(0, 1, 1000)


@dataclass
class ConfidenceCurves:
    """Precision, recall and F1 of each class against the detection confidence.

    Rows are the classes that have ground truth (``labels``), as in YOLOv5, where
    a class without boxes has no recall and is left out of the means.
    """
    labels: np.ndarray  # (K,) class index of each row
    instances: np.ndarray  # (K,) ground-truth boxes per class
    confidence: np.ndarray  # (C,)
    precision: np.ndarray  # (K, C)
    recall: np.ndarray  # (K, C)
    f1: np.ndarray  # (K, C)
    best: int  # index into ``confidence`` of the best (smoothed) mean F1

    @property
    def best_confidence(self) -> float:
        return float(self.confidence[self.best])

    def at_best(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-class precision and recall at :attr:`best_confidence`."""
        return self.precision[:, self.best], self.recall[:, self.best]


@dataclass
class Diagnostics:
    """What one evaluation found, for the pictures YOLOv5's val.py draws (the
    visualization side draws them: parkdet_mm.visualization.diagnostic_plots)."""
    names: Sequence[str]  # class names, by label
    pr_recall: np.ndarray  # (R,) recall thresholds of the PR curves
    pr_precision: np.ndarray  # (K, R) precision per class, -1 without ground truth
    curves: ConfidenceCurves  # P, R, F1 against confidence
    confusion_matrix: np.ndarray  # (K + 1, K + 1), [predicted, true]
    confusion_score_thr: float
    iou_thr: float


def matched_detections(coco_eval, iou: float = 0.5
                       ) -> Tuple[List[np.ndarray], List[np.ndarray], np.ndarray]:
    """Per category of ``coco_eval.params.catIds``: detection scores (descending),
    whether each matched a ground-truth box at IoU ``iou``, and the number of
    ground-truth boxes, all over the 'all' area range.

    Detections COCO ignores (matched to a crowd box) and ignored ground truth are
    left out, as in its AP.
    """
    params = coco_eval.params
    t = int(np.flatnonzero(np.isclose(params.iouThrs, iou))[0])
    area_all = list(params.areaRngLbl).index('all')
    num_imgs, num_areas = len(params.imgIds), len(params.areaRng)
    scores, matched = [], []
    instances = np.zeros(len(params.catIds), dtype=np.int64)
    for k in range(len(params.catIds)):
        start = (k * num_areas + area_all) * num_imgs
        per_image = [e for e in coco_eval.evalImgs[start:start + num_imgs] if e]
        if not per_image:
            scores.append(np.zeros(0))
            matched.append(np.zeros(0, dtype=bool))
            continue
        instances[k] = sum(int((e['gtIgnore'] == 0).sum()) for e in per_image)
        dt_scores = np.concatenate([e['dtScores'] for e in per_image])
        dt_matched = np.concatenate([e['dtMatches'][t] for e in per_image]) > 0
        dt_ignored = np.concatenate([e['dtIgnore'][t] for e in per_image]) > 0
        keep = ~dt_ignored
        order = np.argsort(-dt_scores[keep], kind='mergesort')
        scores.append(dt_scores[keep][order])
        matched.append(dt_matched[keep][order])
    return scores, matched, instances


def smooth(values: np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """Box filter over ``fraction`` of the points, edges padded with the end values
    (YOLOv5's ``smooth``)."""
    width = round(len(values) * fraction * 2) // 2 + 1  # odd
    pad = width // 2
    padded = np.concatenate([np.full(pad, values[0]), values,
                             np.full(pad, values[-1])])
    return np.convolve(padded, np.ones(width) / width, mode='valid')


def confidence_curves(scores: Sequence[np.ndarray], matched: Sequence[np.ndarray],
                      instances: np.ndarray,
                      confidence: np.ndarray = CONFIDENCE_GRID,
                      eps: float = 1e-16) -> ConfidenceCurves:
    """P, R and F1 of each class with ground truth over ``confidence``.

    At confidence ``c`` a class's precision and recall count its detections
    scoring at least ``c``: precision is 1 where there are none (YOLOv5's
    convention), and a class that has no detection at all has precision and
    recall 0 (as in YOLOv5). The best confidence maximises the mean F1 over
    classes after YOLOv5's smoothing (a box filter over a tenth of the grid).
    """
    labels = np.flatnonzero(instances > 0)
    precision = np.zeros((len(labels), len(confidence)))
    recall = np.zeros_like(precision)
    for row, k in enumerate(labels):
        score, hit = scores[k], matched[k]
        if not len(score):
            continue
        true_pos = np.cumsum(hit)
        # detections scoring >= c; scores are descending
        count = np.searchsorted(-score, -confidence, side='right')
        last = np.maximum(count - 1, 0)
        found = np.where(count > 0, true_pos[last], 0)
        recall[row] = found / instances[k]
        precision[row] = np.where(count > 0, found / np.maximum(count, 1), 1.0)
    f1 = 2 * precision * recall / (precision + recall + eps)
    best = int(smooth(f1.mean(0), 0.1).argmax()) if len(labels) else 0
    return ConfidenceCurves(labels=labels, instances=instances[labels],
                            confidence=confidence, precision=precision,
                            recall=recall, f1=f1, best=best)


def pr_curves(coco_eval, iou: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """COCO's interpolated PR curve per category at IoU ``iou`` (area 'all', the
    most detections): recall thresholds (R,) and precision (K, R), -1 for a
    category without ground truth."""
    params = coco_eval.params
    t = int(np.flatnonzero(np.isclose(params.iouThrs, iou))[0])
    return (np.asarray(params.recThrs),
            coco_eval.eval['precision'][t, :, :, 0, -1].T)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), x1y1x2y2."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-12)


def match_boxes(iou: np.ndarray, det_scores: np.ndarray,
                iou_thr: float) -> List[Tuple[int, int]]:
    """One-to-one (gt, det) pairs at IoU >= ``iou_thr``, greedily by IoU (a tie
    goes to the higher-scoring detection), regardless of class."""
    gt_idx, det_idx = np.nonzero(iou >= iou_thr)
    order = np.lexsort((-det_scores[det_idx], -iou[gt_idx, det_idx]))
    pairs, used_gt, used_det = [], set(), set()
    for g, d in zip(gt_idx[order], det_idx[order]):
        if g not in used_gt and d not in used_det:
            used_gt.add(g)
            used_det.add(d)
            pairs.append((int(g), int(d)))
    return pairs


def confusion_matrix(gts: Dict[int, Tuple[np.ndarray, np.ndarray]],
                     dets: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]],
                     num_classes: int, score_thr: float,
                     iou_thr: float = 0.5) -> np.ndarray:
    """YOLOv5's detection confusion matrix, (num_classes + 1) square.

    ``gts``: image id -> (boxes (G, 4) x1y1x2y2, labels (G,)); ``dets``: image id ->
    (boxes (D, 4), scores (D,), labels (D,)). Detections scoring at least
    ``score_thr`` are matched one-to-one to ground truth at IoU >= ``iou_thr``
    whatever their classes (:func:`match_boxes`). Entry [predicted, true] counts the
    matches; the last row counts missed boxes (true class, background predicted),
    the last column unmatched detections (background true). Unlike YOLOv5's, an
    image where nothing matched still counts its detections as background.
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    background = num_classes
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))
    for img_id in set(gts) | set(dets):
        gt_boxes, gt_labels = gts.get(img_id, empty[::2])
        det_boxes, det_scores, det_labels = dets.get(img_id, empty)
        keep = det_scores >= score_thr
        det_boxes, det_scores, det_labels = (det_boxes[keep], det_scores[keep],
                                             det_labels[keep])
        pairs = match_boxes(box_iou(gt_boxes, det_boxes), det_scores, iou_thr) \
            if len(gt_boxes) and len(det_boxes) else []
        gt_hit = np.zeros(len(gt_boxes), dtype=bool)
        det_hit = np.zeros(len(det_boxes), dtype=bool)
        for g, d in pairs:
            matrix[det_labels[d], gt_labels[g]] += 1
            gt_hit[g] = det_hit[d] = True
        np.add.at(matrix[background], gt_labels[~gt_hit], 1)
        np.add.at(matrix[:, background], det_labels[~det_hit], 1)
    return matrix


def group_by_image(image_ids: np.ndarray, *columns: np.ndarray
                   ) -> Dict[int, Tuple[np.ndarray, ...]]:
    """Split row-aligned arrays into one tuple of slices per image id."""
    order = np.argsort(image_ids, kind='stable')
    ids = image_ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else []
    ends = list(starts[1:]) + [len(ids)] if len(ids) else []
    sorted_columns = [c[order] for c in columns]
    return {int(ids[s]): tuple(c[s:e] for c in sorted_columns)
            for s, e in zip(starts, ends)}


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)

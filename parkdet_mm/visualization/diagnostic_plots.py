"""Pictures of a validation, as YOLOv5's val.py draws them: PR curves, P/R/F1
against confidence and the confusion matrix.

Figures are drawn with matplotlib's object API (``Figure``, saved through the Agg
canvas), so nothing touches pyplot's global state or needs a display.
"""
import os.path as osp
from typing import List, Sequence

import numpy as np
from matplotlib.figure import Figure

from parkdet_challenge.atomic import atomic_write
from parkdet_mm.evaluation.diagnostics import ConfidenceCurves, Diagnostics

#: The pictures :func:`draw_diagnostics` writes, in order.
DIAGNOSTICS_PICTURES = ('PR_curve.png', 'P_curve.png', 'R_curve.png',
                        'F1_curve.png', 'confusion_matrix.png')

# With more classes than this, per-class lines get no legend entries.
MAX_LEGEND_CLASSES = 21


def _save(fig: Figure, path: str) -> None:
    with atomic_write(path) as f:
        fig.savefig(f, format='png', dpi=100)


def plot_pr_curves(path: str, recall: np.ndarray, precision: np.ndarray,
                   names: Sequence[str]) -> None:
    """Precision against recall per class (rows of ``precision``; -1 rows, classes
    without ground truth, are skipped) and their mean, each labelled with its AP."""
    fig = Figure(figsize=(9, 6), tight_layout=True)
    ax = fig.add_subplot()
    valid = [k for k in range(len(precision)) if (precision[k] > -1).all()]
    legend = len(valid) < MAX_LEGEND_CLASSES
    for k in valid:
        ax.plot(recall, precision[k], linewidth=1,
                label=f'{names[k]} {precision[k].mean():.3f}' if legend else None)
    if valid:
        mean = precision[valid].mean(0)
        ax.plot(recall, mean, linewidth=3, color='blue',
                label=f'all classes {mean.mean():.3f} mAP@0.5')
    ax.set(xlabel='Recall', ylabel='Precision', xlim=(0, 1), ylim=(0, 1),
           title='Precision-Recall curve (IoU 0.5)')
    ax.legend(bbox_to_anchor=(1.04, 1), loc='upper left', fontsize=8)
    _save(fig, path)


def plot_confidence_curve(path: str, curves: ConfidenceCurves, values: np.ndarray,
                          ylabel: str, names: Sequence[str]) -> None:
    """One of P, R or F1 (``values``, rows as ``curves.labels``) against confidence,
    per class and the mean, with the confidence of best mean F1 marked."""
    fig = Figure(figsize=(9, 6), tight_layout=True)
    ax = fig.add_subplot()
    x = curves.confidence
    legend = len(curves.labels) < MAX_LEGEND_CLASSES
    for row, k in enumerate(curves.labels):
        ax.plot(x, values[row], linewidth=1, label=names[k] if legend else None)
    if len(curves.labels):
        mean = values.mean(0)
        ax.plot(x, mean, linewidth=3, color='blue',
                label=f'all classes {mean[curves.best]:.2f} at '
                f'{curves.best_confidence:.3f}')
        ax.axvline(curves.best_confidence, color='grey', linestyle='--',
                   linewidth=1)
    ax.set(xlabel='Confidence', ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.01),
           title=f'{ylabel}-Confidence curve (IoU 0.5; dashed: best mean F1)')
    ax.legend(bbox_to_anchor=(1.04, 1), loc='upper left', fontsize=8)
    _save(fig, path)


def plot_confusion_matrix(path: str, matrix: np.ndarray, names: Sequence[str],
                          score_thr: float, iou_thr: float) -> None:
    """The matrix normalised per true class (columns), as YOLOv5 draws it."""
    totals = matrix.sum(0, keepdims=True)
    shares = matrix / np.maximum(totals, 1)
    labels = list(names) + ['background']
    n = len(labels)
    fig = Figure(figsize=(max(6, 0.6 * n + 2), max(5, 0.5 * n + 2)),
                 tight_layout=True)
    ax = fig.add_subplot()
    image = ax.imshow(np.where(shares > 0, shares, np.nan), cmap='Blues',
                      vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 30:
        for row in range(n):
            for col in range(n):
                if shares[row, col] >= 0.005:
                    ax.text(col, row, f'{shares[row, col]:.2f}', ha='center',
                            va='center', fontsize=7,
                            color='white' if shares[row, col] > 0.5 else 'black')
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set(xlabel='True', ylabel='Predicted',
           title=f'Confusion matrix (IoU {iou_thr:g}, score >= {score_thr:g}; '
           'columns sum to 1)')
    _save(fig, path)


def draw_diagnostics(result: Diagnostics, out_dir: str) -> List[str]:
    """Draw one evaluation's pictures into ``out_dir``: its PR curves, P, R and F1
    against confidence, and its confusion matrix (:data:`DIAGNOSTICS_PICTURES`);
    return their paths."""
    paths = [osp.join(out_dir, name) for name in DIAGNOSTICS_PICTURES]
    curves, names = result.curves, result.names
    plot_pr_curves(paths[0], result.pr_recall, result.pr_precision, names)
    for path, values, label in zip(paths[1:4], (curves.precision, curves.recall,
                                                curves.f1),
                                   ('Precision', 'Recall', 'F1')):
        plot_confidence_curve(path, curves, values, label, names)
    plot_confusion_matrix(paths[4], result.confusion_matrix, names,
                          result.confusion_score_thr, result.iou_thr)
    return paths

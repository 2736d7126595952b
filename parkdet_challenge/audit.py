"""Ground-truth audit: boxes a person should look at before training on them.

Competition practice cleans the labels before the model learns their mistakes.
:func:`audit_boxes` lists, among the kept boxes of a conversion, those that are
suspicious by each of four rules (thresholds in :class:`AuditThresholds`):

- ``whole_image``: the box covers nearly the whole image (area share >=
  ``coverage``), usually a label drawn around the frame;
- ``extreme_ratio``: width / height or height / width above ``max_ratio`` (YOLOv5's
  ``box_candidates`` drops augmented boxes beyond 20);
- ``area_outlier``: the box's area far from its class's usual area, more than
  ``area_mads`` median absolute deviations of log-area from the class median (for
  classes with at least ``min_class_boxes`` boxes);
- ``duplicate``: a second box of the same class on the same image overlapping an
  earlier one at IoU >= ``duplicate_iou`` (IoU 1: an exact duplicate).

Each finding names the image, the annotation and the box; with ``drop`` the
converter leaves them out of the training files (of a duplicate pair, the later
box). :func:`examples_png` draws a page of examples.
"""
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np


@dataclass(frozen=True)
class AuditThresholds:
    """What counts as suspicious (see the module docstring)."""
    coverage: float = 0.9
    max_ratio: float = 20.0
    area_mads: float = 6.0
    min_class_boxes: int = 20
    duplicate_iou: float = 0.9


def audit_boxes(xywh: np.ndarray, image_index: np.ndarray, categories: np.ndarray,
                widths: np.ndarray, heights: np.ndarray, kept: np.ndarray,
                thresholds: AuditThresholds) -> Dict[str, np.ndarray]:
    """Per rule, a bool mask over the boxes (parallel arrays of the conversion:
    ``xywh`` boxes, their image's index into ``widths``/``heights``, their class
    index 1.., ``kept``) of the kept boxes it finds suspicious."""
    w, h = xywh[:, 2], xywh[:, 3]
    safe = np.maximum(image_index, 0)
    image_area = np.maximum(widths[safe] * heights[safe], 1).astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        share = w * h / image_area
        ratio = np.maximum(w / h, h / w)
        log_area = np.log(np.maximum(w * h, 1e-9))
    found = {
        'whole_image': kept & (share >= thresholds.coverage),
        'extreme_ratio': kept & (ratio > thresholds.max_ratio),
        'area_outlier': np.zeros(len(kept), bool),
        'duplicate': np.zeros(len(kept), bool),
    }
    for cls in np.unique(categories[kept]):
        members = np.flatnonzero(kept & (categories == cls))
        if len(members) < thresholds.min_class_boxes:
            continue
        values = log_area[members]
        median = np.median(values)
        mad = np.median(np.abs(values - median)) or 1e-9
        found['area_outlier'][members[np.abs(values - median)
                                      > thresholds.area_mads * mad]] = True
    found['duplicate'] = _duplicates(xywh, image_index, categories, kept,
                                     thresholds.duplicate_iou)
    return found


def _duplicates(xywh: np.ndarray, image_index: np.ndarray, categories: np.ndarray,
                kept: np.ndarray, min_iou: float) -> np.ndarray:
    """Boxes overlapping an earlier box of their image and class at >= min_iou.

    Every (later, earlier) pair of kept boxes of one image and class is measured at
    once, as whole-array operations: a data set's boxes make few such pairs (135,000
    boxes on 25,000 images, about 50,000), where a loop over the groups would cost
    a second of Python."""
    found = np.zeros(len(kept), bool)
    candidates = np.flatnonzero(kept)  # in input order
    keys = image_index[candidates] * (int(categories.max(initial=0)) + 1) \
        + categories[candidates]
    # grouped by key, input order within a group (a stable sort)
    candidates = candidates[np.argsort(keys, kind='stable')]
    keys = np.sort(keys, kind='stable')
    first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    # each box's place in its group: as many earlier boxes to compare it with
    place = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    later = np.repeat(np.arange(len(keys)), place)
    back = np.arange(len(later)) - np.repeat(np.cumsum(place) - place, place)
    earlier = later - 1 - back
    a, b = xywh[candidates[later]], xywh[candidates[earlier]]
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    iou = inter / np.maximum(union, 1e-12)
    found[candidates[later[iou >= min_iou]]] = True
    return found


def findings(found: Dict[str, np.ndarray], refs: Sequence[Dict[str, Any]],
             thresholds: AuditThresholds) -> Dict[str, Any]:
    """The report's ``suspicious`` section: thresholds, counts per rule, and one
    entry per finding (``refs[i]``: how the report names box i, with its image,
    class and box)."""
    boxes = [dict(kind=kind, **refs[i]) for kind, mask in found.items()
             for i in np.flatnonzero(mask).tolist()]
    return dict(thresholds=asdict(thresholds),
                counts={kind: int(mask.sum()) for kind, mask in found.items()},
                boxes=boxes)


def examples_png(examples: Sequence[Dict[str, Any]], image_root: Path,
                 limit: int = 24) -> bytes:
    """A page of up to ``limit`` findings: each image with its suspicious box
    drawn, titled by rule and class, four to a row (PNG bytes).

    The images are decoded and shrunk on threads, one per core: Pillow decodes
    and resizes without holding the GIL, and decoding the full-size images is
    most of the page's time. Each tile is made alone, so the page is the same."""
    from PIL import Image, ImageDraw
    tile, title = 200, 16
    shown = list(examples)[:limit]
    columns = 4
    rows = max(1, -(-len(shown) // columns))
    page = Image.new('RGB', (columns * tile, rows * (tile + title)), 'white')
    draw = ImageDraw.Draw(page)

    def thumbnail(example: Dict[str, Any]) -> 'Image.Image':
        with Image.open(image_root / example['file_name']) as opened:
            # drawn on as loaded when already RGB: convert() would copy it
            image = opened if opened.mode == 'RGB' else opened.convert('RGB')
            image.load()
        x, y, w, h = example['bbox']
        ImageDraw.Draw(image).rectangle([x, y, x + w, y + h], outline=(255, 0, 0),
                                        width=max(2, image.width // 150))
        image.thumbnail((tile, tile))
        return image

    threads = max(1, min(len(shown), os.cpu_count() or 1))
    with ThreadPoolExecutor(threads) as pool:
        for k, (example, image) in enumerate(zip(shown, pool.map(thumbnail, shown))):
            left, top = (k % columns) * tile, (k // columns) * (tile + title)
            page.paste(image, (left, top + title))
            draw.text((left + 3, top + 2), f"{example['kind']}: {example['category']}",
                      fill=(0, 0, 0))
    buffer = io.BytesIO()
    page.save(buffer, format='PNG')
    return buffer.getvalue()

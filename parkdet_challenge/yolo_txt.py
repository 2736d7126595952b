"""YOLOv5's label text files written from detections (``--save-txt``).

One file per image, ``labels/STEM.txt``, one line per box: ``class cx cy w h``, the
box's centre and size divided by the image's width and height, each number printed
with ``%g`` as YOLOv5's ``detect.py`` and ``val.py`` print them; ``--save-conf``
appends the score. Images without boxes get no file, as in YOLOv5.
"""
import os.path as osp
from typing import Any, List, Optional

import numpy as np

from .atomic import write_bytes_atomic


def label_lines(bboxes_xyxy: Any, labels: Any, width: int, height: int,
                scores: Optional[Any] = None) -> List[str]:
    """The lines of one image's label file: ``bboxes_xyxy`` (N, 4) in pixels of
    the ``width`` x ``height`` image, class indices ``labels`` (N,) and, to append
    them, ``scores`` (N,)."""
    boxes = np.asarray(bboxes_xyxy, dtype=np.float64).reshape(-1, 4).tolist()
    classes = np.asarray(labels).reshape(-1).tolist()
    conf = None if scores is None else np.asarray(scores).reshape(-1).tolist()
    lines = []
    for i, ((x1, y1, x2, y2), label) in enumerate(zip(boxes, classes)):
        line = (label, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height,
                (x2 - x1) / width, (y2 - y1) / height)
        if conf is not None:
            line += (conf[i], )
        lines.append(('%g ' * len(line)).rstrip() % line + '\n')
    return lines


def write_label_file(labels_dir: str, stem: str, lines: List[str]) -> None:
    """Write ``LABELS_DIR/STEM.txt`` atomically; nothing for no lines."""
    if lines:
        write_bytes_atomic(osp.join(labels_dir, f'{stem}.txt'), ''.join(lines).encode())

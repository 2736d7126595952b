"""Training inputs as a person looks at them: a grid of images with their boxes,
like YOLOv5's train_batch pictures (tools/browse_dataset.py and
TrainBatchVisualizationHook)."""
import math
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from parkdet_challenge.atomic import write_bytes_atomic

TILE_TITLE = 18  # pixels of the title strip above each tile
MAX_WIDTH = 1920  # the grid's width at most


def titled(tile: np.ndarray, title: str, size: int) -> np.ndarray:
    """``tile`` (RGB) fitted into ``size`` x ``size`` below a strip with ``title``."""
    scale = size / max(tile.shape[:2])
    tile = cv2.resize(tile, (max(1, round(tile.shape[1] * scale)),
                             max(1, round(tile.shape[0] * scale))))
    out = np.full((size + TILE_TITLE, size, 3), 255, np.uint8)
    out[TILE_TITLE:TILE_TITLE + tile.shape[0], :tile.shape[1]] = tile
    cv2.putText(out, title[:size // 8], (2, TILE_TITLE - 5),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def grid(tiles: Sequence[np.ndarray], columns: int, border: int = 2) -> np.ndarray:
    """Tiles of one size in rows of ``columns``, white between them."""
    height, width = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / columns)
    out = np.full((rows * (height + border) + border,
                   columns * (width + border) + border, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        y = border + (i // columns) * (height + border)
        x = border + (i % columns) * (width + border)
        out[y:y + height, x:x + width] = tile
    return out


def titled_grid(drawn: List[Tuple[np.ndarray, str]]) -> np.ndarray:
    """(RGB image, title) pairs as one grid: tiles as large as the largest image,
    the grid at most :data:`MAX_WIDTH` pixels wide."""
    columns = math.ceil(math.sqrt(len(drawn)))
    size = min(max(max(image.shape[:2]) for image, _ in drawn),
               MAX_WIDTH // columns)
    return grid([titled(image, title, size) for image, title in drawn], columns)


def draw_samples(visualizer, images: Sequence[np.ndarray], samples: Sequence,
                 titles: Sequence[str]) -> np.ndarray:
    """Each RGB image with its data sample's ground-truth boxes and class names
    drawn by ``visualizer`` (mmdet's DetLocalVisualizer, its ``dataset_meta``
    set), in one titled grid."""
    drawn = []
    for image, sample, title in zip(images, samples, titles):
        boxes = sample.gt_instances.bboxes
        # mmdet's visualizer draws plain tensors, not box-type objects.
        sample.gt_instances.bboxes = getattr(boxes, 'tensor', boxes)
        visualizer.add_datasample('batch', np.ascontiguousarray(image), sample,
                                  draw_pred=False)
        drawn.append((visualizer.get_image(), title))
    return titled_grid(drawn)


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image as a PNG, atomically."""
    ok, encoded = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError(f'cannot encode {path} as PNG')
    write_bytes_atomic(path, encoded.tobytes())

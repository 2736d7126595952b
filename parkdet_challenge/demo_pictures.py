"""The demo's pictures: each object one saturated colour and one simple shape with a
dark outline, on a smooth low-contrast background (:func:`render_all`).

:mod:`.demo` chooses what goes in each image and writes the data set's files; this
module draws the images and says where each object landed.
"""
import io
import math
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

# One well-separated saturated colour per class (after Trubetskoy's 20 colours).
COLOURS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128),
           (170, 110, 40), (0, 0, 128), (128, 0, 0), (255, 255, 255))
SHAPES = ('rectangle', 'ellipse', 'triangle', 'diamond', 'hexagon', 'rectangle', 'ellipse',
          'triangle', 'cross', 'diamond', 'star', 'hexagon', 'cross', 'star')
# Width / height of each class's shape: vehicles wide, people tall.
ASPECTS = (1.6, 1.3, 1.2, 2.2, 1.9, 1.7, 1.5, 0.45, 0.55, 1.0, 0.6, 1.25, 0.8, 1.0)
MIN_SIDE, MAX_SIDE = 14, 80  # the long side of an object, in pixels
MIN_SHORT = 10  # thinner shapes would be mostly outline at 256 px
OUTLINE = (20, 20, 20)


def render_all(rng: np.random.Generator, folder: Path, names: List[str],
               sizes: List[Tuple[int, int]], objects: List[List[int]]
               ) -> List[List[Tuple[int, List[int]]]]:
    """Draw and save each image; return its boxes as (class id 0-based, [x, y, w, h])."""
    folder.mkdir(parents=True, exist_ok=True)
    all_boxes = []
    for name, size, classes in zip(names, sizes, objects):
        image, boxes = _render(rng, size, classes)
        buf = io.BytesIO()
        if name.endswith('.jpg'):
            image.save(buf, format='JPEG', quality=95)
        else:
            # Level 1: 3x faster than the default; the noise compresses poorly anyway.
            image.save(buf, format='PNG', compress_level=1)
        (folder / name).write_bytes(buf.getvalue())
        all_boxes.append(boxes)
    return all_boxes


def _render(rng: np.random.Generator, size: Tuple[int, int],
            classes: List[int]) -> Tuple[Image.Image, List[Tuple[int, List[int]]]]:
    width, height = size
    image = Image.fromarray(_background(rng, width, height))
    draw = ImageDraw.Draw(image)
    placed: List[List[int]] = []
    boxes = []
    for cls in classes:
        box = _place(rng, cls, width, height, placed)
        if box is None:  # no room left without heavy overlap: skip this object
            continue
        placed.append(box)
        _draw_shape(draw, SHAPES[cls], COLOURS[cls], box)
        boxes.append((cls, box))
    return image, boxes


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth grey-ish gradient with mild noise: low contrast against the objects."""
    # A grey with a faint tint, so that no background rivals an object's colour.
    start = (rng.uniform(100, 160) + rng.uniform(-12, 12, size=3)).astype(np.float32)
    end = start + np.float32(rng.uniform(-30, 30)) + rng.uniform(-6, 6, size=3).astype(
        np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    # float32 and broadcasting from 1-D ramps: the background was the slowest step.
    t = (np.arange(width, dtype=np.float32)[None, :] * math.cos(angle)
         + np.arange(height, dtype=np.float32)[:, None] * math.sin(angle))
    t -= t.min()
    t /= max(float(t.max()), 1.0)
    pixels = start + t[..., None] * (end - start)
    # Small integer noise: mild, and it keeps PNG encoding fast.
    pixels += rng.integers(-3, 4, size=(height, width, 1), dtype=np.int8)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _place(rng: np.random.Generator, cls: int, width: int, height: int,
           placed: List[List[int]]) -> Optional[List[int]]:
    """A box [x, y, w, h] for a class-``cls`` object, inside the image, overlapping
    no placed box by more than 10% of either's area; None after 30 tries."""
    for _ in range(30):
        aspect = ASPECTS[cls] * rng.uniform(0.85, 1.15)
        ratio = min(aspect, 1 / aspect)  # short side / long side
        long_side = max(rng.uniform(MIN_SIDE, MAX_SIDE), MIN_SHORT / ratio)
        short_side = max(long_side * ratio, MIN_SHORT)
        w, h = (long_side, short_side) if aspect >= 1 else (short_side, long_side)
        w, h = min(int(round(w)), MAX_SIDE), min(int(round(h)), MAX_SIDE)
        if w > width or h > height:
            continue
        x = int(rng.integers(0, width - w + 1))
        y = int(rng.integers(0, height - h + 1))
        box = [x, y, w, h]
        if all(_overlap(box, other) <= 0.1 for other in placed):
            return box
    return None


def _overlap(a: List[int], b: List[int]) -> float:
    """Intersection over the smaller box's area."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min(a[2] * a[3], b[2] * b[3])


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, colour: Tuple[int, int, int],
                box: List[int]) -> None:
    """Fill ``shape`` so that its extent is exactly ``box`` (the box is tight)."""
    x, y, w, h = box
    x1, y1 = x + w - 1, y + h - 1  # PIL's coordinates are inclusive
    # A thinner outline on small objects, so that their colour still shows.
    style = dict(fill=colour, outline=OUTLINE, width=2 if min(w, h) >= 16 else 1)
    if shape == 'rectangle':
        draw.rectangle([x, y, x1, y1], **style)
    elif shape == 'ellipse':
        draw.ellipse([x, y, x1, y1], **style)
    else:
        draw.polygon([(x + u * (x1 - x), y + v * (y1 - y)) for u, v in _POLYGONS[shape]],
                     **style)


def _star(points: int = 5, inner: float = 0.45) -> List[Tuple[float, float]]:
    raw = [(math.cos(math.pi * k / points - math.pi / 2) * (1 if k % 2 == 0 else inner),
            math.sin(math.pi * k / points - math.pi / 2) * (1 if k % 2 == 0 else inner))
           for k in range(2 * points)]
    return _normalise(raw)


def _normalise(points: List[Tuple[float, float]]) -> List[Tuple[float, float]]:
    """Scale a polygon to span exactly [0, 1] x [0, 1]."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [((px - min(xs)) / (max(xs) - min(xs)), (py - min(ys)) / (max(ys) - min(ys)))
            for px, py in points]


# Unit-square polygons, each touching all four sides.
_POLYGONS = {
    'triangle': [(0, 1), (0.5, 0), (1, 1)],
    'diamond': [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)],
    'hexagon': [(0.25, 0), (0.75, 0), (1, 0.5), (0.75, 1), (0.25, 1), (0, 0.5)],
    'cross': [(0.33, 0), (0.67, 0), (0.67, 0.33), (1, 0.33), (1, 0.67), (0.67, 0.67),
              (0.67, 1), (0.33, 1), (0.33, 0.67), (0, 0.67), (0, 0.33), (0.33, 0.33)],
    'star': _star(),
}

"""Mosaic and YOLOv5's random affine in one interpolation per tile."""
from typing import List, Optional, Tuple

import cv2
import numpy as np
from mmdet.structures.bbox import autocast_box_type
from numpy import random

from mmyolo.registry import TRANSFORMS

from .affine import YOLOv5RandomAffineWarp
from .weighted_mosaic import WeightedMosaic

TILE_LOCATIONS = ('top_left', 'top_right', 'bottom_left', 'bottom_right')


@TRANSFORMS.register_module()
class WeightedMosaicOneWarp(WeightedMosaic):
    """:class:`WeightedMosaic` then ``affine`` (a :class:`YOLOv5RandomAffineWarp`),
    with every tile resampled once, straight from its loaded image.

    In two steps, as YOLOv5's ``load_mosaic`` and MMYOLO's pipeline do them, each
    tile is interpolated twice: Mosaic resizes it onto a canvas twice the training
    size, then the affine warps that canvas (bilinear both times). Here the resize,
    the tile's place on the canvas and the affine are composed into one matrix per
    tile, and each tile is warped once, into the part of the output it covers;
    the canvas is never drawn.

    The random draws are the two steps', in the same order (Mosaic's partners and
    centre, then the affine's matrix), and the boxes go through the same arithmetic
    (Mosaic's rescale, shift and clip, then the affine's projection, clip and
    filter): boxes, labels and which boxes are kept are exactly the two steps'.
    The pixels differ by the rounding of one interpolation against two (the one
    warp is slightly sharper), and along the seams between tiles, where the second
    interpolation of two steps blends neighbouring tiles over about one pixel while
    here every output pixel comes from the one tile it falls in (the tile's own
    pixels continue across the seam).

    Tiles from the image cache come resized already (once, when the cache was
    built), as two steps would have resized them. Inputs with masks or keypoints,
    and samples where the mosaic does not run (``prob``), take the two steps.

    Args:
        affine (dict): the config of the :class:`YOLOv5RandomAffineWarp` that
            follows the mosaic; its ``border_val`` must equal ``pad_val`` in
            every channel (the canvas' padding and the warp's border are one area
            here).
        *args, **kwargs: :class:`WeightedMosaic`'s.
    """

    def __init__(self, *args, affine: dict, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.affine = TRANSFORMS.build(affine)
        if not isinstance(self.affine, YOLOv5RandomAffineWarp):
            raise TypeError(f'affine must be a YOLOv5RandomAffineWarp, not '
                            f'{type(self.affine).__name__}')
        if any(value != self.pad_val for value in self.affine.border_val):
            raise ValueError(f'the affine\'s border_val {self.affine.border_val} '
                             f'must equal pad_val {self.pad_val}')
        self._warped = False

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        self._warped = False
        results = super().transform(results)
        if not self._warped:  # no mosaic this time: the affine alone
            results = self.affine.transform(results)
        return results

    def mix_img_transform(self, results: dict) -> dict:
        if 'gt_masks' in results or 'gt_keypoints' in results:
            return super().mix_img_transform(results)  # then transform() warps
        tiles = [results] + list(results['mix_results'])
        scale_w, scale_h = self.img_scale
        center = (int(random.uniform(*self.center_ratio_range) * scale_w),
                  int(random.uniform(*self.center_ratio_range) * scale_h))
        placements, boxes = [], []
        for location, tile in zip(TILE_LOCATIONS, tiles):
            height, width = tile['img'].shape[:2]
            ratio = min(scale_h / height, scale_w / width)
            size = (int(width * ratio), int(height * ratio))
            paste, crop = self._mosaic_combine(location, center, size)
            shift = (paste[0] - crop[0], paste[1] - crop[1])
            tile_boxes = tile['gt_bboxes']
            tile_boxes.rescale_([ratio, ratio])
            tile_boxes.translate_(list(shift))
            boxes.append(tile_boxes)
            # the resize as cv2.resize maps pixels, then the shift onto the canvas
            sx, sy = size[0] / width, size[1] / height
            placements.append((tile['img'], paste, np.array(
                [[sx, 0, shift[0] + 0.5 * sx - 0.5],
                 [0, sy, shift[1] + 0.5 * sy - 0.5], [0, 0, 1]])))
        mosaic_boxes = boxes[0].cat(boxes, 0)
        labels = np.concatenate([t['gt_bboxes_labels'] for t in tiles], 0)
        ignore = np.concatenate([t['gt_ignore_flags'] for t in tiles], 0)
        canvas_shape = (2 * scale_h, 2 * scale_w)
        if self.bbox_clip_border:
            mosaic_boxes.clip_(list(canvas_shape))
        else:
            inside = mosaic_boxes.is_inside(list(canvas_shape)).numpy()
            mosaic_boxes, labels, ignore = (
                mosaic_boxes[inside], labels[inside], ignore[inside])

        warp_matrix, scaling_ratio, out_shape = self.affine.draw_warp(canvas_shape)
        img = self._render(placements, warp_matrix.astype(np.float64), out_shape,
                           results['img'])
        results.update(img=img, img_shape=img.shape, gt_bboxes=mosaic_boxes,
                       gt_bboxes_labels=labels, gt_ignore_flags=ignore)
        self.affine.warp_boxes(results, warp_matrix, scaling_ratio, out_shape)
        self._warped = True
        return results

    def _render(self, placements: List[tuple], warp_matrix: np.ndarray,
                out_shape: Tuple[int, int], like: np.ndarray) -> np.ndarray:
        """The output image: each tile warped once into the output pixels whose
        canvas pixel (nearest, through the inverse warp) lies in its pasted area;
        the rest is padding."""
        height, width = out_shape
        out = np.full((height, width) + like.shape[2:], self.pad_val,
                      dtype=like.dtype)
        affine = np.array_equal(warp_matrix[2], (0, 0, 1))
        cols, rows = _canvas_pixels(warp_matrix, out_shape, affine)
        for img, (x1, y1, x2, y2), tile_matrix in placements:
            region = _covered_region(cols, rows, (x1, y1, x2, y2), warp_matrix,
                                     out_shape)
            if region is None:
                continue
            (u0, v0, u1, v1), mask = region
            to_region = np.array([[1, 0, -u0], [0, 1, -v0], [0, 0, 1]])
            matrix = to_region @ warp_matrix @ tile_matrix
            warp = cv2.warpAffine if affine else cv2.warpPerspective
            patch = warp(img, matrix[:2] if affine else matrix, (u1 - u0, v1 - v0),
                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if mask is None:
                out[v0:v1, u0:u1] = patch
            else:
                np.copyto(out[v0:v1, u0:u1], patch,
                          where=mask if patch.ndim == 2 else mask[..., None])
        return out


def _canvas_pixels(warp_matrix: np.ndarray, out_shape: Tuple[int, int],
                   affine: bool) -> Tuple[np.ndarray, np.ndarray]:
    """The canvas pixel (column, row) each output pixel samples: per output
    column and row when the warp scales and shifts only (the reference's
    affine, without rotation or shear), else per output pixel."""
    height, width = out_shape
    inverse = np.linalg.inv(warp_matrix)
    if affine and warp_matrix[0, 1] == 0 and warp_matrix[1, 0] == 0:
        return (np.floor(inverse[0, 0] * np.arange(width) + inverse[0, 2] + 0.5),
                np.floor(inverse[1, 1] * np.arange(height) + inverse[1, 2] + 0.5))
    v, u = np.mgrid[0:height, 0:width]
    points = inverse @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    points = np.floor(points[:2] / points[2] + 0.5)
    return points[0].reshape(height, width), points[1].reshape(height, width)


def _covered_region(cols: np.ndarray, rows: np.ndarray,
                    paste: Tuple[int, int, int, int], warp_matrix: np.ndarray,
                    out_shape: Tuple[int, int]) -> Optional[tuple]:
    """The output box (u0, v0, u1, v1) around the pixels whose canvas pixel lies
    in ``paste`` (x1, y1, x2, y2), and the mask of those pixels in the box (None:
    all of it); None when there are none."""
    x1, y1, x2, y2 = paste
    if cols.ndim == 1:  # scale and shift only: the covered pixels are a box
        inside_x = np.flatnonzero((cols >= x1) & (cols < x2))
        inside_y = np.flatnonzero((rows >= y1) & (rows < y2))
        if not len(inside_x) or not len(inside_y):
            return None
        return (inside_x[0], inside_y[0], inside_x[-1] + 1, inside_y[-1] + 1), None
    corners = np.array([[x1 - 0.5, x1 - 0.5, x2 - 0.5, x2 - 0.5],
                        [y1 - 0.5, y2 - 0.5, y1 - 0.5, y2 - 0.5], [1, 1, 1, 1]])
    projected = warp_matrix @ corners
    projected = projected[:2] / projected[2]
    height, width = out_shape
    u0, v0 = np.maximum(np.floor(projected.min(1)).astype(int) - 1, 0)
    u1, v1 = np.minimum(np.ceil(projected.max(1)).astype(int) + 2, (width, height))
    if u0 >= u1 or v0 >= v1:
        return None
    box_cols, box_rows = cols[v0:v1, u0:u1], rows[v0:v1, u0:u1]
    mask = (box_cols >= x1) & (box_cols < x2) & (box_rows >= y1) & (box_rows < y2)
    if not mask.any():
        return None
    return (u0, v0, u1, v1), mask

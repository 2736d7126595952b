"""YOLOv5's random affine, warped as YOLOv5 warps when there is no perspective."""
from typing import Tuple

import cv2
import numpy as np
from mmdet.structures.bbox import autocast_box_type

from mmyolo.datasets.transforms import YOLOv5RandomAffine
from mmyolo.registry import TRANSFORMS


@TRANSFORMS.register_module()
class YOLOv5RandomAffineWarp(YOLOv5RandomAffine):
    """MMYOLO's :class:`YOLOv5RandomAffine`, warping with ``cv2.warpAffine`` when the
    drawn matrix has no perspective row, as YOLOv5's ``random_perspective`` does.

    MMYOLO always calls ``cv2.warpPerspective``, which divides per pixel; the matrices
    this transform draws (rotation, scale, shear, translation) always end in
    ``[0, 0, 1]``, for which the affine warp samples the same points in fixed point,
    about 1.5x faster at 1280. Random draws, boxes and their filtering are the
    parent's; pixels agree with the parent's within interpolation rounding. Inputs
    with masks take the parent's path unchanged.

    :meth:`draw_warp` and :meth:`warp_boxes` are the two halves around the pixels'
    warp, for a transform that warps the pixels its own way
    (:class:`~parkdet_mm.datasets.transforms.WeightedMosaicOneWarp`).
    """

    def draw_warp(self, img_shape: Tuple[int, ...]
                  ) -> Tuple[np.ndarray, float, Tuple[int, int]]:
        """Draw the warp of an image of ``img_shape`` (height, width, ...): the 3x3
        matrix from the image's pixels to the output's, the drawn scaling ratio
        and the output's (height, width)."""
        # self.border is (width, height) padding on each side
        height = img_shape[0] + self.border[1] * 2
        width = img_shape[1] + self.border[0] * 2
        center_matrix = np.eye(3, dtype=np.float32)
        center_matrix[0, 2] = -img_shape[1] / 2
        center_matrix[1, 2] = -img_shape[0] / 2
        warp_matrix, scaling_ratio = self._get_random_homography_matrix(
            height, width)
        return warp_matrix @ center_matrix, scaling_ratio, (height, width)

    def warp_boxes(self, results: dict, warp_matrix: np.ndarray,
                   scaling_ratio: float, out_shape: Tuple[int, int]) -> None:
        """Map ``results``' boxes through ``warp_matrix`` into an output of
        ``out_shape`` (height, width), clip them and drop those the parent's
        filter drops, with their labels and ignore flags."""
        bboxes = results['gt_bboxes']
        if len(bboxes):
            orig_bboxes = bboxes.clone()
            orig_bboxes.rescale_([scaling_ratio, scaling_ratio])
            bboxes.project_(warp_matrix)
            if self.bbox_clip_border:
                bboxes.clip_(list(out_shape))
            keep = self.filter_gt_bboxes(orig_bboxes, bboxes).numpy()
            results['gt_bboxes'] = bboxes[keep]
            for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
                results[key] = results[key][keep]

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        if 'gt_masks' in results:
            return super().transform(results)
        warp_matrix, scaling_ratio, (height, width) = self.draw_warp(
            results['img'].shape)
        if np.array_equal(warp_matrix[2], (0, 0, 1)):
            img = cv2.warpAffine(
                results['img'], warp_matrix[:2], dsize=(width, height),
                borderValue=self.border_val)
        else:
            img = cv2.warpPerspective(
                results['img'], warp_matrix, dsize=(width, height),
                borderValue=self.border_val)
        results['img'] = img
        results['img_shape'] = img.shape
        self.warp_boxes(results, warp_matrix, scaling_ratio, (height, width))
        return results

"""Sliced inference for small objects: the model on overlapping tiles of each image
and on the whole image, the detections merged by the model's own NMS."""
from typing import List, Optional, Sequence

import mmcv
import numpy as np
import torch
from mmcv.ops import batched_nms
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData

from mmyolo.registry import MODELS
from parkdet_mm.datasets.pipelines import replace_transforms


@MODELS.register_module()
class SlicedInferenceModel(BaseTTAModel):
    """A detector run, for each image, on the whole image and on tiles of
    ``slice_size`` x ``slice_size`` pixels of the original image overlapping by
    ``overlap_ratio`` (the SAHI library's slicing), each through the test pipeline
    (resized to the test size: a small object covers more of the model's input in
    a tile than in the whole image), the tiles' boxes moved back into the image and
    all of them merged by the detector's NMS (its ``test_cfg``: IoU, class-aware or
    not, NMS or soft-NMS, ``max_per_img``).

    A test batch's images are read again from their files (``img_path``) for the
    tiles; :meth:`predict_image` takes an image array (video frames).

    Args:
        module: The detector.
        slice_size: Tile width and height, in original-image pixels.
        overlap_ratio: How much neighbouring tiles overlap (SAHI's ratio).
        test_pipeline: The config's test pipeline (its loading step is replaced
            by one that takes arrays; annotations are not loaded).
        tta_model: The config's ``tta_model`` to run on every tile and the whole
            image instead of the plain detector (YOLOv5's TTA), or None.
        batch_size: Tiles per forward pass.
    """

    def __init__(self, module, slice_size: int, overlap_ratio: float = 0.2,
                 test_pipeline: Sequence[dict] = (), tta_model: Optional[dict] = None,
                 batch_size: int = 8) -> None:
        super().__init__(module)
        self.slice_size = int(slice_size)
        self.overlap_ratio = float(overlap_ratio)
        self.batch_size = batch_size
        self.runner_model = (MODELS.build(dict(**tta_model, module=self.module))
                             if tta_model else self.module)
        pipeline = replace_transforms(test_pipeline, 'LoadImageFrom',
                                      dict(type='mmdet.LoadImageFromNDArray'))
        self.pipeline = Compose(replace_transforms(pipeline, 'LoadAnnotations', None))

    def tiles(self, height: int, width: int) -> List[List[int]]:
        """``[x1, y1, x2, y2]`` of each tile of an image (SAHI's
        ``get_slice_bboxes``)."""
        # (imported here: parkdet_mm imports without SAHI, which only this needs)
        from sahi.slicing import get_slice_bboxes
        return get_slice_bboxes(height, width, self.slice_size, self.slice_size,
                                auto_slice_resolution=False,
                                overlap_height_ratio=self.overlap_ratio,
                                overlap_width_ratio=self.overlap_ratio)

    def _predict_arrays(self, images: Sequence[np.ndarray]) -> List[InstanceData]:
        results = []
        for start in range(0, len(images), self.batch_size):
            batch = [self.pipeline(dict(img=image, img_id=0))
                     for image in images[start:start + self.batch_size]]
            results += [s.pred_instances for s in
                        self.runner_model.test_step(pseudo_collate(batch))]
        return results

    def merge(self, parts: Sequence[InstanceData]) -> InstanceData:
        """One image's detections from the whole image's and the tiles' (boxes in
        image pixels), by the detector's NMS, best ``max_per_img`` kept."""
        bboxes = torch.cat([p.bboxes for p in parts])
        scores = torch.cat([p.scores for p in parts])
        labels = torch.cat([p.labels for p in parts])
        test_cfg = self.module.test_cfg
        result = InstanceData()
        if len(bboxes):
            bboxes, keep = batched_nms(bboxes, scores, labels, dict(test_cfg.nms))
            scores, labels = bboxes[:, -1], labels[keep]
            bboxes = bboxes[:, :4]
            order = scores.argsort(descending=True)[:test_cfg.get('max_per_img', 100)]
            bboxes, scores, labels = bboxes[order], scores[order], labels[order]
        result.bboxes, result.scores, result.labels = bboxes, scores, labels
        return result

    def predict_image(self, image: np.ndarray,
                      whole: Optional[InstanceData] = None) -> InstanceData:
        """Sliced detections of one BGR image; ``whole``: its whole-image detections
        when already made."""
        height, width = image.shape[:2]
        tiles = self.tiles(height, width)
        parts = self._predict_arrays(
            [image[y1:y2, x1:x2] for x1, y1, x2, y2 in tiles]
            + ([] if whole is not None else [image]))
        for (x1, y1, _, _), part in zip(tiles, parts):
            part.bboxes = part.bboxes + part.bboxes.new_tensor([x1, y1, x1, y1])
        return self.merge(parts + ([whole] if whole is not None else []))

    def test_step(self, data: dict) -> list:
        """Sliced detections for one test batch."""
        samples = self.runner_model.test_step(data)
        for sample in samples:
            image = mmcv.imread(sample.img_path)
            sample.pred_instances = self.predict_image(image, sample.pred_instances)
        return samples

    def merge_preds(self, data_samples_list):
        """Not used: the tiles are made from each image, not by a pipeline."""
        raise NotImplementedError('SlicedInferenceModel takes the normal test batch')

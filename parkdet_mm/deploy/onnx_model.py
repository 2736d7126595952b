"""A YOLOv5 detector as one traceable module for ONNX: normalization, network, box
decoding and, optionally, class-aware NMS as ONNX's ``NonMaxSuppression``.

The decoding is the one the TTA model uses (``decoded_predictions``: the detector's
own network, prior generator and box coder); only the per-image Python loop of
``YOLOv5Head.predict_by_feat`` (which tracing cannot follow) is written here as
batched tensor operations. With NMS the results equal
``detector.predict(..., rescale=False)`` under the config's ``test_cfg``
(score_thr, multi-label, NMS IoU, class-aware or across classes
(``agnostic_nms``), max_per_img), except that ``nms_pre`` is not applied.
Soft-NMS has no ONNX operator: a config with ``nms_type='soft_nms'`` is refused.
"""
from typing import Tuple

import torch
from mmcv.ops import batched_nms
from torch import Tensor, nn
from torch.onnx.operators import shape_as_tensor

from parkdet_mm.models.tta import decoded_predictions


class ONNXNonMaxSuppression(torch.autograd.Function):
    """ONNX's ``NonMaxSuppression`` (per batch and class) with an eager twin.

    Eager, it runs mmcv's class-aware NMS on each image and returns what the ONNX
    operator returns: ``selected_indices`` (K, 3) as ``[batch, class, box]``.
    Scores must be above ``score_thr``; at most ``max_per_class`` boxes a class.
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int,
                iou_thr: float, score_thr: float) -> Tensor:
        # boxes (B, N, 4) xyxy, scores (B, C, N)
        selected = []
        for batch, (image_boxes, image_scores) in enumerate(zip(boxes, scores)):
            classes, box_inds = (image_scores > score_thr).nonzero(as_tuple=True)
            if len(box_inds) == 0:
                continue
            _, keep = batched_nms(image_boxes[box_inds],
                                  image_scores[classes, box_inds], classes,
                                  dict(type='nms', iou_threshold=iou_thr))
            classes, box_inds = classes[keep], box_inds[keep]
            for cls in classes.unique():
                in_class = box_inds[classes == cls][:max_per_class]
                selected.append(
                    torch.stack([
                        torch.full_like(in_class, batch),
                        torch.full_like(in_class, cls), in_class
                    ], 1))
        if not selected:
            return boxes.new_zeros((0, 3), dtype=torch.long)
        return torch.cat(selected)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class, iou_thr, score_thr):
        return g.op(
            'NonMaxSuppression', boxes, scores,
            g.op('Constant', value_t=torch.tensor([max_per_class])),
            g.op('Constant', value_t=torch.tensor([iou_thr])),
            g.op('Constant', value_t=torch.tensor([score_thr])),
            center_point_box_i=0)


class YOLOv5ONNXModel(nn.Module):
    """``forward(images)`` on a batch of letterboxed RGB images, float 0..255,
    shaped (B, 3, H, W) with H and W multiples of the largest stride.

    Without NMS it returns ``boxes`` (B, N, 4), xyxy in input pixels, and ``scores``
    (B, N, num_classes) = objectness x class probability, for every prior.
    With NMS it returns ``num_dets`` (B, 1), ``boxes`` (B, M, 4) clipped to the
    image, ``scores`` (B, M) and ``labels`` (B, M), M = ``max_per_img``, sorted by
    score; rows past ``num_dets`` are padding (score 0, label -1). NMS across
    classes (``class_agnostic``) runs on each box's best class: with multi-label
    candidates the best pair of a box suppresses its other pairs (IoU 1), so this is
    the same set.
    """

    def __init__(self, detector: nn.Module, with_nms: bool = False) -> None:
        super().__init__()
        self.detector = detector
        self.with_nms = with_nms
        preprocessor = detector.data_preprocessor
        self.register_buffer('mean', preprocessor.mean.view(1, -1, 1, 1))
        self.register_buffer('std', preprocessor.std.view(1, -1, 1, 1))
        test_cfg = detector.bbox_head.test_cfg
        self.score_thr = float(test_cfg.get('score_thr', 0.0))
        self.iou_thr = float(test_cfg.nms.iou_threshold)
        self.agnostic = bool(test_cfg.nms.get('class_agnostic', False))
        self.max_per_img = int(test_cfg.max_per_img)
        if not test_cfg.get('multi_label', False):
            raise ValueError('export supports multi_label=True test_cfg only '
                             '(the configs here use it)')
        if with_nms and test_cfg.nms.get('type', 'nms') != 'nms':
            raise ValueError(f"nms_type {test_cfg.nms.type!r} has no ONNX operator: "
                             "export without --nms, or with --cfg-options nms_type=nms")

    def decode(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Every prior's box (B, N, 4) and class scores (B, N, C)."""
        pred = decoded_predictions(self.detector,
                                   (images - self.mean) / self.std)
        return pred.bboxes, pred.scores * pred.objectness[..., None]

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        boxes, scores = self.decode(images)
        if not self.with_nms:
            return boxes, scores
        return self.nms(images, boxes, scores)

    def nms(self, images: Tensor, boxes: Tensor,
            scores: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Class-aware NMS (or across classes), then the ``max_per_img`` best of
        each image."""
        batch = boxes.shape[0]
        if self.agnostic:  # one "class": each box's best
            scores, best = scores.max(2, keepdim=True)
        selected = ONNXNonMaxSuppression.apply(boxes,
                                               scores.transpose(1, 2),
                                               self.max_per_img, self.iou_thr,
                                               self.score_thr)
        batch_inds, labels, box_inds = selected.unbind(1)
        det_scores = scores[batch_inds, box_inds, labels]
        if self.agnostic:
            labels = best[batch_inds, box_inds, 0]
        det_boxes = boxes[batch_inds, box_inds]
        # One row per image over all selections (other images' scores masked to
        # -1), padded with max_per_img columns so top-k always has enough.
        mine = batch_inds[None] == torch.arange(batch,
                                                device=boxes.device)[:, None]
        padding = det_scores.new_full((batch, self.max_per_img), -1.0)
        table = torch.cat([torch.where(mine, det_scores[None], -1.0), padding],
                          1)
        top_scores, top = table.topk(self.max_per_img, dim=1)
        valid = top_scores > 0
        # Padding rows point at one extra all-zero box with label -1.
        padded_boxes = torch.cat([det_boxes, det_boxes.new_zeros((1, 4))])
        padded_labels = torch.cat([labels, labels.new_full((1, ), -1)])
        pick = torch.where(valid, top, det_scores.shape[0])
        # The image size as a tensor, so that a dynamic export clips to each
        # input's own size.
        height, width = shape_as_tensor(images)[2:].to(boxes.dtype).unbind()
        upper = torch.stack([width, height, width, height])
        out_boxes = torch.minimum(padded_boxes[pick].clamp(min=0), upper)
        out_scores = torch.where(valid, top_scores, 0.0)
        num_dets = valid.sum(1, keepdim=True)
        return num_dets, out_boxes, out_scores, padded_labels[pick]

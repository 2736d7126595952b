"""Two ways of running a trained detector that YOLOv5's detect.py and val.py have:
``--half`` (:func:`half_precision`) and ``--classes`` (:func:`keep_classes`).

Both act on every detector inside a model (a detector, a TTA model, an ensemble)
through torch's forward hooks, so that every route that runs the network (the
detector's ``predict``, YOLOv5's TTA, the NMS ensemble, the test loop) runs them.
"""
from typing import List, Sequence

import torch
from mmdet.models.detectors import BaseDetector
from torch import nn


def detectors_in(model: nn.Module) -> List[nn.Module]:
    """The detectors inside ``model`` (itself, a TTA model's, an ensemble's)."""
    return [m for m in model.modules() if isinstance(m, BaseDetector)]


def _to_half(module: nn.Module, args: tuple) -> tuple:
    return tuple(a.half() if torch.is_tensor(a) else a for a in args)


def _to_float(module: nn.Module, args: tuple, outputs) -> tuple:
    """The head's outputs (per kind, per level) back in float32."""
    return tuple([level.float() for level in kind] for kind in outputs)


def half_precision(model: nn.Module) -> nn.Module:
    """Run the networks of the detectors in ``model`` in FP16, as YOLOv5's
    ``--half`` (CUDA only): backbone, neck and head in half precision, the
    normalized image cast to half on the way in and the head's outputs to float32
    on the way out, so that preprocessing, box decoding and NMS stay float32.
    Returns ``model``."""
    for detector in detectors_in(model):
        for part in (detector.backbone, getattr(detector, 'neck', None),
                     detector.bbox_head):
            if part is not None:
                part.half()
        detector.backbone.register_forward_pre_hook(_to_half)
        detector.bbox_head.register_forward_hook(_to_float)
    return model


class _KeepClasses:
    """The forward hook of :func:`keep_classes` on one YOLOv5 head."""

    def __init__(self, head: nn.Module, classes: Sequence[int]) -> None:
        self.num_classes = head.num_classes
        self.drop = torch.tensor(sorted(set(range(self.num_classes)) - set(classes)),
                                 dtype=torch.long)
        self.keep = torch.tensor(sorted(set(classes)), dtype=torch.long)
        self.multi_label = head.test_cfg.get('multi_label', False) if head.test_cfg else False

    def __call__(self, head: nn.Module, args: tuple, outputs) -> tuple:
        cls_scores, bbox_preds, objectnesses = outputs[:3]
        cls_out, obj_out = [], []
        for cls_score, objectness in zip(cls_scores, objectnesses):
            batch, channels, height, width = cls_score.shape
            per_prior = cls_score.view(batch, -1, self.num_classes, height, width)
            if self.multi_label:
                # every (box, class) pair is a candidate: the other classes' go
                per_prior = per_prior.index_fill(2, self.drop.to(cls_score.device),
                                                 -float('inf'))
            else:
                # a box is its best class: a box whose best class is another goes
                best = per_prior.argmax(2)
                kept = torch.isin(best, self.keep.to(best.device)).view_as(objectness)
                objectness = objectness.masked_fill(~kept, -float('inf'))
            cls_out.append(per_prior.reshape(batch, channels, height, width))
            obj_out.append(objectness)
        return (cls_out, bbox_preds, obj_out, *outputs[3:])


def keep_classes(model: nn.Module, classes: Sequence[int]) -> nn.Module:
    """Keep only the class indices ``classes`` in the detections of the detectors
    in ``model``, before NMS, as YOLOv5's ``non_max_suppression(classes=...)``
    filters its candidates: a box of another class can then neither suppress a
    kept one (``--agnostic-nms``) nor take a place under ``max_per_img``. The head's
    logits of the other classes become -inf (scores 0, below any threshold); with
    ``multi_label=False`` a box whose best class is another is dropped (its
    objectness -inf), as YOLOv5 takes each box's best class first. Returns
    ``model``."""
    for detector in detectors_in(model):
        head = detector.bbox_head
        head.register_forward_hook(_KeepClasses(head, classes))
    return model

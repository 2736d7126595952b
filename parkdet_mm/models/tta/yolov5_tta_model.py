"""YOLOv5's test-time augmentation (``--augment``) on the one letterboxed batch.

YOLOv5's ``_forward_augment`` makes its views from the batch tensor the dataloader
already letterboxed: scales 1, 0.83 and 0.67 by bilinear interpolation, the 0.83 view
flipped left-right, each padded to a multiple of the largest stride. It maps every
view's raw decoded predictions back to the batch's pixels, drops the large view's
coarsest-level predictions and the small view's finest-level ones
(``_clip_augmented``), concatenates them, and then runs ONE NMS with the test
settings. :class:`YOLOv5TTAModel` does exactly that on an MMYOLO detector; the
functions below are its parts, usable without TTA too.
"""
import math
from typing import List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.utils import filter_scores_and_topk
from mmengine.config import ConfigDict
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmyolo.registry import MODELS


class DecodedPredictions(NamedTuple):
    """A batch's raw decoded predictions, before any threshold or NMS.

    Attributes:
        bboxes: ``(B, N, 4)`` boxes ``x1, y1, x2, y2`` in pixels of the batch
            tensor (the letterboxed input), not of the original images.
        scores: ``(B, N, C)`` class probabilities (sigmoid), not yet multiplied by
            the objectness.
        objectness: ``(B, N)`` objectness probabilities (sigmoid).
    """
    bboxes: Tensor
    scores: Tensor
    objectness: Tensor


def cat_predictions(
        predictions: Sequence[DecodedPredictions]) -> DecodedPredictions:
    """Concatenate several predictions of one batch along the box axis."""
    return DecodedPredictions(*(torch.cat(parts, dim=1)
                                for parts in zip(*predictions)))


def decode_levels(detector: nn.Module,
                  inputs: Tensor) -> List[DecodedPredictions]:
    """The detector's decoded predictions for ``inputs``, one entry per level
    (finest first), in the order and with the decoding of MMYOLO's
    ``YOLOv5Head.predict_by_feat``."""
    head = detector.bbox_head
    cls_scores, bbox_preds, objectnesses = head(detector.extract_feat(inputs))
    featmap_sizes = [cls_score.shape[2:] for cls_score in cls_scores]
    priors = head.prior_generator.grid_priors(
        featmap_sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device)
    num_imgs = inputs.shape[0]
    levels = []
    for cls_score, bbox_pred, objectness, level_priors, stride in zip(
            cls_scores, bbox_preds, objectnesses, priors,
            head.featmap_strides):
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4)
        levels.append(
            DecodedPredictions(
                bboxes=head.bbox_coder.decode(level_priors[None], bbox_pred,
                                              stride),
                scores=cls_score.permute(0, 2, 3, 1).reshape(
                    num_imgs, -1, head.num_classes).sigmoid(),
                objectness=objectness.permute(0, 2, 3, 1).reshape(
                    num_imgs, -1).sigmoid()))
    return levels


def decoded_predictions(detector: nn.Module,
                        inputs: Tensor) -> DecodedPredictions:
    """The detector's raw decoded predictions for ``inputs`` without TTA, all
    levels concatenated: what :func:`nms_predictions` turns into detections."""
    return cat_predictions(decode_levels(detector, inputs))


def nms_predictions(head: nn.Module,
                    predictions: DecodedPredictions,
                    batch_img_metas: Sequence[dict],
                    cfg: Optional[ConfigDict] = None) -> List[InstanceData]:
    """Detections per image from raw decoded predictions: the post-processing of
    MMYOLO's ``YOLOv5Head.predict_by_feat``, done once over whatever was
    concatenated.

    With ``cfg`` (default: ``head.test_cfg``): boxes with objectness above
    ``score_thr``, scores = objectness x class probability, every (box, class)
    above ``score_thr`` when ``multi_label`` (else each box's best class), the
    ``nms_pre`` highest, class-aware ``nms`` and the ``max_per_img`` best kept,
    all in the batch's pixels as YOLOv5's ``non_max_suppression``; then mapped to
    original pixels (``pad_param``, ``scale_factor``) and clamped to the image.
    ``decoded_predictions`` followed by this is the detector's own ``predict``
    except that MMYOLO maps to original pixels before its NMS (the same boxes up
    to rounding of the IoUs when the two scale factors of a letterbox differ).
    """
    cfg = ConfigDict(head.test_cfg if cfg is None else cfg)
    multi_label = cfg.get('multi_label', False) and head.num_classes > 1
    score_thr = cfg.get('score_thr', -1)
    results_list = []
    for bboxes, scores, objectness, img_meta in zip(*predictions,
                                                    batch_img_metas):
        if score_thr > 0:
            candidates = objectness > score_thr
            bboxes = bboxes[candidates]
            scores = scores[candidates]
            objectness = objectness[candidates]
        scores = scores * objectness[:, None]
        if scores.shape[0] == 0:
            results_list.append(
                InstanceData(bboxes=bboxes, scores=scores[:, 0],
                             labels=scores[:, 0].int()))
            continue
        nms_pre = cfg.get('nms_pre', 100000)
        if multi_label:
            scores, labels, keep, _ = filter_scores_and_topk(
                scores, score_thr, nms_pre)
        else:
            scores, labels = scores.max(1, keepdim=True)
            scores, _, keep, kept = filter_scores_and_topk(
                scores, score_thr, nms_pre, results=dict(labels=labels[:, 0]))
            labels = kept['labels']
        results = head._bbox_post_process(
            results=InstanceData(scores=scores, labels=labels,
                                 bboxes=bboxes[keep]),
            cfg=cfg, rescale=False, with_nms=True, img_meta=img_meta)
        pad_param = img_meta.get('pad_param')
        if pad_param is not None:
            results.bboxes -= results.bboxes.new_tensor(
                [pad_param[2], pad_param[0], pad_param[2], pad_param[0]])
        results.bboxes /= results.bboxes.new_tensor(
            img_meta['scale_factor']).repeat((1, 2))
        ori_height, ori_width = img_meta['ori_shape'][:2]
        results.bboxes[:, 0::2].clamp_(0, ori_width)
        results.bboxes[:, 1::2].clamp_(0, ori_height)
        results_list.append(results)
    return results_list


@MODELS.register_module()
class YOLOv5TTAModel(BaseTTAModel):
    """YOLOv5's ``--augment`` around an MMYOLO YOLOv5 detector.

    ``test_step`` takes the normal test batch (one image load, letterboxed,
    rectangular batches allowed) and returns one ``DetDataSample`` per image, as
    the detector's own ``test_step`` does, with one NMS over all views (the
    detector's ``test_cfg``). Configure it as the config's ``tta_model``; tools
    build it with ``dict(**cfg.tta_model, module=detector_cfg_or_model)``.
    Checkpoints of the bare detector load into it unchanged (mmengine loads into
    a ``BaseTTAModel``'s ``module``).

    Views (YOLOv5's ``scale_img`` on ``_forward_augment``'s list): view ``i``
    is the batch, flipped left-right first if ``flips[i]``, then for a factor
    ``s != 1`` resized by bilinear interpolation (``align_corners=False``) to
    ``(int(H * s), int(W * s))`` and padded right and bottom to
    ``ceil(H * s / stride) * stride`` (likewise W), ``stride`` the detector's
    largest, with ``pad_value`` grey expressed in the data preprocessor's
    normalized space (YOLOv5 pads with 0.447 in its [0, 1] space, i.e. 114).
    A factor of 1 is the batch as it is.

    Args:
        module (dict | nn.Module): The detector (a ``YOLODetector``).
        scale_factors (Sequence[float]): One per view. Defaults to YOLOv5's
            ``(1, 0.83, 0.67)``.
        flips (Sequence[bool]): Left-right flip per view. Defaults to
            ``(False, True, False)``.
        pad_value (float): Pixel value of the padding, before normalization.
            Defaults to 114.
    """

    def __init__(self,
                 module,
                 scale_factors: Sequence[float] = (1.0, 0.83, 0.67),
                 flips: Sequence[bool] = (False, True, False),
                 pad_value: float = 114.0,
                 data_preprocessor=None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        if len(scale_factors) != len(flips) or not scale_factors:
            raise ValueError('scale_factors and flips must be non-empty and of '
                             f'one length, got {scale_factors} and {flips}')
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.flips = tuple(bool(f) for f in flips)
        self.pad_value = pad_value

    def views(self, inputs: Tensor) -> List[Tensor]:
        """The augmented views of a normalized batch ``(B, 3, H, W)``."""
        height, width = inputs.shape[-2:]
        stride = int(max(self.module.bbox_head.featmap_strides))
        views = []
        for factor, flip in zip(self.scale_factors, self.flips):
            view = inputs.flip(-1) if flip else inputs
            if factor != 1.0:
                size = (int(height * factor), int(width * factor))
                view = F.interpolate(view, size=size, mode='bilinear',
                                     align_corners=False)
                padded = view.new_empty(
                    (*view.shape[:2], math.ceil(height * factor / stride) *
                     stride, math.ceil(width * factor / stride) * stride))
                padded[:] = self._normalized_pad_value(view)
                padded[..., :size[0], :size[1]] = view
                view = padded
            views.append(view)
        return views

    def raw_predictions(self, inputs: Tensor) -> DecodedPredictions:
        """The TTA's raw decoded predictions for a normalized batch, before NMS.

        ``inputs`` is what the detector's data preprocessor returns (``(B, 3, H,
        W)``, letterboxed). Every view's per-level predictions are mapped back to
        the pixels of ``inputs`` (boxes divided by the view's scale factor, flipped
        views mirrored about ``W``), the first view loses its coarsest level and
        the last view its finest level (YOLOv5's ``_clip_augmented``, one level
        each), and what remains is concatenated, views in order, levels finest
        first. Pass the result (alone, or concatenated with other models'
        predictions of the same batch by :func:`cat_predictions`, as YOLOv5's
        ``Ensemble`` does) to :func:`nms_predictions` with the batch's metainfo
        for the one NMS and the rescale to original pixels.
        """
        width = inputs.shape[-1]
        per_view = []
        for view, factor, flip in zip(
                self.views(inputs), self.scale_factors, self.flips):
            levels = []
            for level in decode_levels(self.module, view):
                bboxes = level.bboxes / factor
                if flip:
                    bboxes = torch.stack(
                        (width - bboxes[..., 2], bboxes[..., 1],
                         width - bboxes[..., 0], bboxes[..., 3]), dim=-1)
                levels.append(level._replace(bboxes=bboxes))
            per_view.append(levels)
        # _clip_augmented: YOLOv5 cuts as many predictions as the coarsest
        # (large view) or finest (small view) level holds, which are exactly those
        # levels when the view is a multiple of the largest stride.
        per_view[0] = per_view[0][:-1]
        per_view[-1] = per_view[-1][1:]
        return cat_predictions([level for levels in per_view
                                for level in levels])

    def test_step(self, data: dict) -> list:
        """Detections for one test batch, with TTA (see the class docstring)."""
        data = self.module.data_preprocessor(data, False)
        data_samples = data['data_samples']
        results = nms_predictions(
            self.module.bbox_head, self.raw_predictions(data['inputs']),
            [sample.metainfo for sample in data_samples])
        return self.module.add_pred_to_datasample(data_samples, results)

    def merge_preds(self, data_samples_list):
        """Not used: views come from one batch and merge before NMS."""
        raise NotImplementedError(
            'YOLOv5TTAModel merges raw predictions of views made from the batch '
            '(raw_predictions); it takes the normal test batch, not a '
            'TestTimeAug pipeline')

    def _normalized_pad_value(self, view: Tensor) -> Tensor:
        """``pad_value`` per channel in the data preprocessor's normalized space."""
        preprocessor = self.module.data_preprocessor
        value = view.new_full((view.shape[1], 1, 1), self.pad_value)
        if getattr(preprocessor, '_enable_normalize', False):
            value = (value - preprocessor.mean.to(value)) / \
                preprocessor.std.to(value)
        return value

"""Several checkpoints as one model at inference: weighted boxes fusion, or YOLOv5's
``Ensemble`` (one NMS over all models' predictions).

The 2022 route fuses each image's detections of every model with MMDetection's
weighted boxes fusion, as the 2021 solution fused its baseline and fine-tuned
models for its 2022 entry. The 2021 solution loaded its baseline and fine-tuned
checkpoints as YOLOv5's ``Ensemble``, whose forward runs every model on the same
batch (with ``--augment``, each model's own TTA), concatenates their raw decoded
predictions along the box axis and hands them to ONE ``non_max_suppression`` with
the test settings; no box fusion. :func:`ensemble_test_step` does that on MMYOLO
detectors, with the raw-prediction parts of :mod:`parkdet_mm.models.tta` (what the
detector's and the TTA model's own post-processing use), so that one checkpoint
through it gives that checkpoint's own predictions.
"""
from typing import List, Optional, Sequence, Union

import torch
from mmdet.models.utils import weighted_boxes_fusion
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import nn

from mmyolo.registry import MODELS
from parkdet_mm.models.tta import (
    DecodedPredictions,
    cat_predictions,
    decoded_predictions,
    nms_predictions,
)

from .detector_loading import load_weights, member_config

FUSIONS = ('wbf', 'nms')


def raw_predictions(model: nn.Module, inputs: torch.Tensor) -> DecodedPredictions:
    """A detector's (or a YOLOv5 TTA model's) raw decoded predictions for a
    preprocessed batch, before thresholds and NMS."""
    if hasattr(model, 'raw_predictions'):  # YOLOv5TTAModel: its views, merged
        return model.raw_predictions(inputs)
    return decoded_predictions(model, inputs)


def ensemble_test_step(models: Sequence[nn.Module], batch: dict) -> List:
    """Detections for one test batch from several models as YOLOv5's ``Ensemble``:
    every model's raw predictions concatenated (models in order), one NMS with the
    first model's ``test_cfg``. Returns one ``DetDataSample`` per image."""
    detectors = [getattr(m, 'module', m) for m in models]
    data = detectors[0].data_preprocessor(batch, False)
    samples = data['data_samples']
    merged = cat_predictions([raw_predictions(m, data['inputs']) for m in models])
    results = nms_predictions(detectors[0].bbox_head, merged,
                              [s.metainfo for s in samples])
    return detectors[0].add_pred_to_datasample(samples, results)


def fuse_boxes(preds: Sequence[InstanceData], iou_thr: float, max_per_img: int,
               weights: Optional[List[float]] = None) -> InstanceData:
    """One image's detections of several models (on the CPU) fused by weighted
    boxes fusion: the ``max_per_img`` best fused boxes, by score."""
    bboxes, scores, labels = weighted_boxes_fusion(
        [p.bboxes for p in preds], [p.scores for p in preds],
        [p.labels for p in preds], weights=weights, iou_thr=iou_thr)
    result = InstanceData()
    if len(scores) == 0:
        result.bboxes = torch.zeros((0, 4))
        result.scores = torch.zeros((0, ))
        result.labels = torch.zeros((0, ), dtype=torch.long)
    else:
        keep = scores.argsort(descending=True)[:max_per_img]
        result.bboxes = bboxes[keep].float()
        result.scores = scores[keep].float()
        result.labels = labels[keep].long()
    return result


@MODELS.register_module()
class DetectorEnsemble(nn.Module):
    """Several checkpoints' detectors (each maybe in a TTA model) as one model:
    :meth:`test_step` runs all of them on the same batch and fuses each image's
    results.

    Args:
        models: The detectors (or TTA models), all of one config; or their
            configs, then built.
        fusion: 'wbf': each model's own detections fused by weighted boxes fusion
            at ``wbf_iou``, the ``max_per_img`` best kept; 'nms': YOLOv5's
            ``Ensemble`` (:func:`ensemble_test_step`).
        wbf_iou: The IoU at which weighted boxes fusion merges boxes.
        max_per_img: Fused boxes kept per image.
        checkpoints: One per model, loaded into it (:func:`load_weights`); so a
            config (``tools/test.py`` with several checkpoints) holds the whole
            ensemble.
        weights: Each model's weight in weighted boxes fusion; None: equal.
    """

    def __init__(self, models: Sequence[Union[nn.Module, dict]], fusion: str = 'wbf',
                 wbf_iou: float = 0.55, max_per_img: int = 300,
                 checkpoints: Optional[Sequence[str]] = None,
                 weights: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
        models = [MODELS.build(m) if isinstance(m, dict) else m for m in models]
        for model, checkpoint in zip(models, checkpoints or ()):
            load_weights(model, checkpoint)
        self.models = nn.ModuleList(models)
        self.fusion = fusion
        self.wbf_iou = wbf_iou
        self.max_per_img = max_per_img
        self.weights = None if weights is None else list(weights)

    def test_step(self, data: dict) -> list:
        """One ``DetDataSample`` per image of the batch ``data``, its
        ``pred_instances`` the fused detections."""
        if self.fusion == 'nms':
            return ensemble_test_step(self.models, data)
        per_model = []
        for model in self.models:
            samples = model.test_step(data)
            # the next model's test_step sets pred_instances on the same samples
            per_model.append([s.pred_instances for s in samples])
        for sample, fused in zip(samples, self.fuse(per_model)):
            sample.pred_instances = fused
        return samples

    def fuse(self, per_model: Sequence[Sequence[InstanceData]]) -> List[InstanceData]:
        """Each image's detections of every model (``per_model[m][i]``) fused by
        weighted boxes fusion, on the CPU."""
        return [fuse_boxes([preds[i].cpu() for preds in per_model], self.wbf_iou,
                           self.max_per_img, self.weights)
                for i in range(len(per_model[0]))]


def ensemble_config(cfg: Config, checkpoints: Sequence[str], tta: bool = False,
                    fusion: Optional[str] = None, wbf_iou: float = 0.55) -> dict:
    """The model config of ``checkpoints`` of ``cfg``'s model fused as one
    :class:`DetectorEnsemble` (each in the config's ``tta_model`` with ``tta``);
    ``fusion`` defaults to the config's ``predict_ensemble``, else 'wbf'."""
    return dict(type='DetectorEnsemble', models=[member_config(cfg, tta)] * len(checkpoints),
                checkpoints=list(checkpoints), wbf_iou=wbf_iou,
                fusion=fusion or cfg.get('predict_ensemble', 'wbf'),
                max_per_img=cfg.max_per_img)

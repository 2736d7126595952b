"""YOLOv5's ``Ensemble`` of several checkpoints: one NMS over all models' predictions.

The 2021 solution loaded its baseline and fine-tuned checkpoints as YOLOv5's
``Ensemble``, whose forward runs every model on the same batch (with ``--augment``,
each model's own TTA), concatenates their raw decoded predictions along the box axis
and hands them to ONE ``non_max_suppression`` with the test settings; no box fusion.
:func:`predict_nms_ensemble` does that on MMYOLO detectors, with the raw-prediction
parts of :mod:`parkdet_mm.models.tta` (what the detector's and the TTA model's own
post-processing use), so that one checkpoint through it gives that checkpoint's
own predictions.
"""
import os.path as osp
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.runner import Runner
from torch import nn
from tqdm import tqdm

from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.models.tta import (
    DecodedPredictions,
    cat_predictions,
    decoded_predictions,
    nms_predictions,
)

from .predict import Predictions, load_detector


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


def predict_nms_ensemble(cfg: Config, checkpoints: Sequence[str], tta: bool,
                         device: str,
                         timer: Optional[InferenceTimer] = None) -> Predictions:
    """Run the checkpoints (all of ``cfg``'s model) together over
    ``cfg.test_dataloader``, each batch through :func:`ensemble_test_step`;
    predictions per image id in original-image pixels. With ``timer``, the
    ensemble's stages are timed there."""
    models = [load_detector(cfg, checkpoint, tta, device) for checkpoint in checkpoints]
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    names = ' + '.join(osp.basename(c) for c in checkpoints)
    timer = timer or InferenceTimer()
    predictions: Predictions = {}
    with torch.no_grad(), timer.timing(models):
        for batch in tqdm(timer.batches(dataloader), total=len(dataloader),
                          desc=f'NMS ensemble {names}', unit='batch',
                          disable=get_rank() != 0):
            for sample in ensemble_test_step(models, batch):
                predictions[sample.img_id] = sample.pred_instances.cpu()
    return predictions

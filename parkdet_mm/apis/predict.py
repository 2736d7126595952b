"""Inference for the submission: one or several checkpoints over the test set.

Each checkpoint is run over the test loader (with YOLOv5's TTA when asked); with
several, the predictions of each image are fused by MMDetection's weighted boxes
fusion, as the 2021 solution fused its baseline and fine-tuned models. The results
are handed to :class:`ChallengeSubmissionMetric`, which writes the files.

Under several processes (torchrun, Slurm) each reads whole batches of the test set
(:class:`~parkdet_mm.datasets.BatchShareSampler`), runs every model and the fusion
on them, and :func:`gather_predictions` hands rank 0 all images in the one-process
order, so the files are written once and are the same bytes as with one process.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.models.utils import weighted_boxes_fusion
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from tqdm import tqdm

from mmyolo.registry import MODELS
from parkdet_challenge.cli import InputError
from parkdet_mm.datasets import BatchShareSampler
from parkdet_mm.engine.checkpoint import load_local_checkpoint
from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.models.anchors import apply_checkpoint_anchors

Predictions = Dict[int, InstanceData]  # img_id -> bboxes (xyxy, pixels), scores, labels


def share_test_batches(cfg: Config) -> None:
    """Have the config's test loader hand whole batches to each process
    (:class:`BatchShareSampler`), so several processes predict exactly what one
    would. Size, batch and data come from the config's primaries."""
    loader = cfg.test_dataloader
    loader.sampler = dict(type='BatchShareSampler', batch_size=loader.batch_size)
    if loader.dataset.get('batch_shapes_cfg'):
        loader.dataset.batch_shapes_cfg.type = 'BatchShareShapePolicy'


def check_test_images(data_root: str, ann_file: str) -> int:
    """Return the number of test images; raise InputError for a missing one."""
    if not osp.isfile(ann_file):
        raise InputError(f'annotation file {ann_file} does not exist '
                         '(run tools/prepare_data.py)')
    try:
        with open(ann_file, encoding='utf-8') as f:
            images = json.load(f)['images']
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f'{ann_file} is not a COCO annotation file: {err}') \
            from None
    for image in images:
        path = osp.join(data_root, image['file_name'])
        if not osp.isfile(path):
            raise InputError(f'test image {path} (id {image["id"]}) is missing')
    return len(images)


def check_checkpoint_fits(model: torch.nn.Module, state_dict: dict,
                          checkpoint: str) -> None:
    """Raise InputError when the checkpoint's tensors do not fit the model.

    The usual cause is a checkpoint of another number of classes; say so.
    """
    own = model.state_dict()
    for key, value in state_dict.items():
        if key in own and own[key].shape != value.shape:
            message = (f'checkpoint {checkpoint} does not fit the config: {key} '
                       f'is {tuple(value.shape)}, the model has '
                       f'{tuple(own[key].shape)}')
            if 'convs_pred' in key:
                # YOLOv5 head: num_base_priors x (5 + num_classes) outputs
                ckpt_classes = value.shape[0] // 3 - 5
                model_classes = own[key].shape[0] // 3 - 5
                message = (f'checkpoint {checkpoint} was trained for '
                           f'{ckpt_classes} classes, the config has '
                           f'{model_classes}')
            raise InputError(message)
    missing = [key for key in own if key not in state_dict]
    if missing:
        raise InputError(f'checkpoint {checkpoint} lacks {len(missing)} of the '
                         f"model's tensors (e.g. {missing[0]}); wrong config?")


def load_detector(cfg: Config, checkpoint: str, tta: bool,
                  device: str) -> torch.nn.Module:
    """The config's detector with ``checkpoint`` loaded, in eval mode on ``device``.

    With ``tta`` it is wrapped in the config's ``tta_model``. The checkpoint's
    ``meta['anchors']``, if any, replace the config's anchors. Every tool that runs a
    checkpoint (predict, detect, export) builds its model here.
    """
    init_default_scope(cfg.get('default_scope', 'mmyolo'))
    detector = MODELS.build(cfg.model)
    state = load_local_checkpoint(checkpoint, map_location='cpu')
    state_dict = state.get('state_dict', state)
    check_checkpoint_fits(detector, state_dict, checkpoint)
    detector.load_state_dict(state_dict)
    apply_checkpoint_anchors(detector, state)
    model = (MODELS.build(dict(**cfg.tta_model, module=detector))
             if tta else detector)
    return model.to(device).eval()


def predict_with_checkpoint(cfg: Config, checkpoint: str, tta: bool,
                            device: str, desc: Optional[str] = None,
                            timer: Optional[InferenceTimer] = None
                            ) -> Predictions:
    """Run one checkpoint over ``cfg.test_dataloader``; predictions per image id.
    With ``timer``, its stages are timed there."""
    model = load_detector(cfg, checkpoint, tta, device)
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    timer = timer or InferenceTimer()
    predictions: Predictions = {}
    with torch.no_grad(), timer.timing([model]):
        for batch in tqdm(timer.batches(dataloader), total=len(dataloader),
                          desc=desc or osp.basename(checkpoint), unit='batch',
                          disable=get_rank() != 0):
            for sample in model.test_step(batch):
                predictions[sample.img_id] = sample.pred_instances.cpu()
    return predictions


def gather_predictions(predictions: Predictions,
                       batch_size: int) -> Optional[Predictions]:
    """All processes' predictions on rank 0, in the order one process makes them;
    ``None`` on the other ranks. ``predictions`` are this rank's, read through
    :class:`BatchShareSampler` with ``batch_size``. One process: returned as is."""
    if get_world_size() == 1:
        return predictions
    parts = all_gather_object(list(predictions.items()))
    if get_rank() != 0:
        return None
    return dict(BatchShareSampler.merge(parts, batch_size))


def fuse_models(per_model: Sequence[Predictions], iou_thr: float,
                max_per_img: int,
                weights: Optional[List[float]] = None) -> Predictions:
    """Fuse each image's boxes from several models with weighted boxes fusion."""
    if len(per_model) == 1:
        return dict(per_model[0])
    fused: Predictions = {}
    for img_id in per_model[0]:
        preds = [model_preds[img_id] for model_preds in per_model]
        bboxes, scores, labels = weighted_boxes_fusion(
            [p.bboxes for p in preds], [p.scores for p in preds],
            [p.labels for p in preds],
            weights=weights,
            iou_thr=iou_thr)
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
        fused[img_id] = result
    return fused

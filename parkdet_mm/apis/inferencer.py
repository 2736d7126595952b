"""The inferencer every inference tool runs: checkpoints -> model, images -> batches
-> detections -> outputs.

:class:`YOLOv5Inferencer` is MMDetection's ``DetInferencer`` over this project's
checkpoints. Its model is one checkpoint's detector, or several fused
(:class:`~parkdet_mm.apis.ensemble.DetectorEnsemble`), each in YOLOv5's TTA when
asked; its pipeline is the config's test pipeline, fed files or arrays (video
frames); its visualizer draws as YOLOv5's detect.py. It serves two routes:

- images (``tools/detect.py``, or MMDetection's ``inferencer(inputs)``):
  :meth:`preprocess` batches them, :meth:`forward` detects, :meth:`draw` draws;
- a data set (``tools/predict.py``): :meth:`predict_loader` runs the config's test
  loader (rectangular batches, shared among processes) and returns the
  detections per image id, with the stages timed as YOLOv5's val.py reports them.
"""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.dist import get_rank
from mmengine.structures import InstanceData
from torch import nn
from tqdm import tqdm

from mmyolo.registry import VISUALIZERS
from parkdet_challenge.errors import InputError
from parkdet_mm.datasets.pipelines import replace_transforms
from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.models import keep_classes

from .detector_loading import load_detector
from .ensemble import FUSIONS, DetectorEnsemble

Predictions = Dict[int, InstanceData]  # img_id -> bboxes (xyxy, pixels), scores, labels


class YOLOv5Inferencer(DetInferencer):
    """Detections of one checkpoint, or of several fused, on images or a data set.

    Args:
        cfg: The loaded config (:func:`parkdet_mm.config.load_config`): model,
            test pipeline and loader, ``tta_model``, classes.
        checkpoints: One checkpoint, or several of the config's model: fused per
            image by ``ensemble``.
        tta: Wrap each detector in the config's ``tta_model`` (YOLOv5's TTA).
        device: 'cpu', 'cuda', 'cuda:N'; None: CUDA if there is one.
        half: Run the networks in FP16 (YOLOv5's ``--half``; CUDA only).
        backend: Where the networks run: 'pytorch', or on the CPU 'onnxruntime'
            or 'openvino' (an export cached beside each checkpoint; the same pre-
            and post-processing).
        classes: Keep only these class indices, before NMS (YOLOv5's
            ``--classes``, :func:`~parkdet_mm.models.keep_classes`).
        ensemble: How several checkpoints are fused: 'wbf' (weighted boxes
            fusion) or 'nms' (YOLOv5's ``Ensemble``); None: the config's
            ``predict_ensemble``, else 'wbf'.
        wbf_iou: The IoU at which weighted boxes fusion merges boxes.
        model_weights: Each checkpoint's weight in weighted boxes fusion (e.g. the
            fold models' held-out fitness); None: equal.
        show_progress: Progress bars.
        line_thickness: Box line width of the drawings.
        hide_labels: Draw boxes without class names nor scores.
        hide_conf: Draw class names without scores.
    """

    def __init__(self,
                 cfg: Config,
                 checkpoints: Union[str, Sequence[str]],
                 tta: bool = False,
                 device: Optional[str] = None,
                 half: bool = False,
                 backend: str = 'pytorch',
                 classes: Optional[Sequence[int]] = None,
                 ensemble: Optional[str] = None,
                 wbf_iou: float = 0.55,
                 model_weights: Optional[Sequence[float]] = None,
                 show_progress: bool = True,
                 line_thickness: int = 3,
                 hide_labels: bool = False,
                 hide_conf: bool = False) -> None:
        self.checkpoints = ([checkpoints] if isinstance(checkpoints, str)
                            else list(checkpoints))
        self.tta = tta
        self.half = half
        self.backend = backend
        self.classes = classes
        self.ensemble = ensemble or cfg.get('predict_ensemble', 'wbf')
        if self.ensemble not in FUSIONS:
            raise ValueError(f'ensemble must be one of {FUSIONS}, got {self.ensemble!r}')
        self.wbf_iou = wbf_iou
        self.model_weights = model_weights
        if model_weights is not None and self.ensemble != 'wbf':
            raise InputError('model weights weigh weighted boxes fusion; the NMS '
                             'ensemble has no weights')
        if (tta and self.ensemble == 'nms' and len(self.checkpoints) > 1
                and cfg.tta_model.get('type') == 'SlicedInferenceModel'):
            raise InputError('sliced inference (--slice) goes with --ensemble wbf, '
                             'not the NMS ensemble')
        self.drawing = dict(line_width=line_thickness, hide_labels=hide_labels,
                            hide_conf=hide_conf)
        super().__init__(model=cfg, weights=None, device=device,
                         scope=cfg.get('default_scope', 'mmyolo'), palette='random',
                         show_progress=show_progress)

    @property
    def models(self) -> List[nn.Module]:
        """The checkpoints' models (detectors, or their TTA models), in order."""
        return list(getattr(self.model, 'models', [self.model]))

    @property
    def names(self) -> str:
        """What runs, for progress bars and reports: 'a.pth + b.pth (TTA)'."""
        return (' + '.join(osp.basename(c) for c in self.checkpoints)
                + (' (TTA)' if self.tta else ''))

    def _init_model(self, cfg: Config, weights: Optional[str], device: str) -> nn.Module:
        """Each checkpoint's detector (:func:`load_detector`), fused when several,
        keeping ``classes``."""
        models = [load_detector(cfg, checkpoint, self.tta, device, self.half, self.backend)
                  for checkpoint in self.checkpoints]
        model = models[0] if len(models) == 1 else DetectorEnsemble(
            models, self.ensemble, self.wbf_iou, cfg.max_per_img,
            weights=self.model_weights)
        if self.classes is not None:
            keep_classes(model, self.classes)
        model.dataset_meta = dict(classes=tuple(cfg.metainfo['classes']),
                                  palette=self.palette)
        return model

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The config's test pipeline, loading a file or taking an array (BGR, as
        OpenCV reads it), without annotations."""
        pipeline = replace_transforms(cfg.test_dataloader.dataset.pipeline,
                                      'LoadImageFrom', dict(type='mmdet.InferencerLoader'))
        return Compose(replace_transforms(pipeline, 'LoadAnnotations', None))

    def _init_collate(self, cfg: Config):
        """MMEngine's ``pseudo_collate``, as the config's test loader collates."""
        return pseudo_collate

    def _init_visualizer(self, cfg: Config):
        """YOLOv5's drawing (:class:`YOLOv5DetLocalVisualizer`), saving nothing
        by itself."""
        visualizer = VISUALIZERS.build(dict(
            type='YOLOv5DetLocalVisualizer', name=f'inferencer{time.time()}',
            vis_backends=[], **self.drawing))
        visualizer.dataset_meta = self.model.dataset_meta
        return visualizer

    def draw(self, image: np.ndarray, pred: InstanceData) -> np.ndarray:
        """``image`` (BGR) with the detections ``pred`` drawn; BGR."""
        return self.visualizer.draw_detections(image, pred)

    def predict_loader(self, dataloader, timer: Optional[InferenceTimer] = None) -> Predictions:
        """Run every batch of ``dataloader`` (a test loader: its samples carry
        ``img_id``); the detections per image id, on the CPU, in the loader's
        order, each with its image's ``img_path`` and ``ori_shape`` as metainfo.
        With ``timer``, the stages are timed there."""
        timer = timer or InferenceTimer()
        predictions: Predictions = {}
        with torch.no_grad(), timer.timing([self.model]):
            for batch in tqdm(timer.batches(dataloader), total=len(dataloader),
                              desc=self.names, unit='batch',
                              disable=get_rank() != 0 or not self.show_progress):
                for sample in self.forward(batch):
                    pred = sample.pred_instances.cpu()
                    pred.set_metainfo(dict(img_path=sample.img_path,
                                           ori_shape=sample.ori_shape))
                    predictions[sample.img_id] = pred
        return predictions

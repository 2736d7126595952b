"""What a search needs from a training run: its validation metrics, YOLOv5's
validation losses, and Optuna's pruning."""
from typing import Dict, Optional

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

#: evolve.csv's loss columns (YOLOv5's) -> the head's loss keys
VAL_LOSS_KEYS = {'val/box_loss': 'loss_bbox', 'val/obj_loss': 'loss_obj',
                 'val/cls_loss': 'loss_cls'}


def yolov5_val_losses(model: torch.nn.Module, data_batch: dict) -> Dict[str, float]:
    """The YOLOv5 head's losses on one validation batch, as YOLOv5's ``val.py``
    reports them: each loss of the batch (its gain applied), not multiplied by the
    batch size as MMYOLO's head returns it.

    The ground-truth boxes, which the validation pipeline leaves in original-image
    pixels, are mapped onto the letterboxed input (scale, then padding), the inverse
    of how the head maps its predictions back.
    """
    data = model.data_preprocessor(data_batch, False)
    samples = data['data_samples']
    targets = []
    for index, sample in enumerate(samples):
        boxes = sample.gt_instances.bboxes
        boxes = getattr(boxes, 'tensor', boxes).float()
        scale_x, scale_y = (float(s) for s in sample.metainfo['scale_factor'])
        top, _, left, _ = (float(p) for p in sample.metainfo.get('pad_param', (0, 0, 0, 0)))
        boxes = boxes * boxes.new_tensor([scale_x, scale_y, scale_x, scale_y]) + \
            boxes.new_tensor([left, top, left, top])
        labels = sample.gt_instances.labels.float()[:, None]
        targets.append(torch.cat([labels.new_full(labels.shape, index), labels, boxes], 1))
    features = model.extract_feat(data['inputs'])
    losses = model.bbox_head.loss(
        features, dict(bboxes_labels=torch.cat(targets),
                       img_metas=[sample.metainfo for sample in samples]))
    scale = len(samples) * get_world_size()
    return {column: float(losses[key].sum()) / scale
            for column, key in VAL_LOSS_KEYS.items()}


class TrialHook(Hook):
    """Keeps the last validation's metrics (``metrics``), with YOLOv5's validation
    losses (``val/box_loss``, ``val/obj_loss``, ``val/cls_loss``, computed in the
    final epoch's validation on the weights validated, the EMA's); with ``trial``,
    reports each validation's ``challenge/fitness`` to Optuna and ends training
    when its pruner says so (``pruned_at``: that epoch).
    """

    priority = 'LOW'

    def __init__(self, trial=None, monitor: str = 'challenge/fitness') -> None:
        self.trial = trial
        self.monitor = monitor
        self.metrics: Dict[str, float] = {}
        self.pruned_at: Optional[int] = None
        self._losses: Dict[str, float] = {}
        self._batches = 0

    def _final(self, runner) -> bool:
        return runner.epoch >= runner.max_epochs

    def before_val_epoch(self, runner) -> None:
        self._losses, self._batches = {}, 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if not self._final(runner):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        with torch.no_grad():
            losses = yolov5_val_losses(model, data_batch)
        for column, value in losses.items():
            self._losses[column] = self._losses.get(column, 0.0) + value
        self._batches += 1

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        self.metrics = dict(metrics or {})
        self.metrics.update({column: total / self._batches
                             for column, total in self._losses.items()})
        if self.trial is None or self.monitor not in self.metrics:
            return
        self.trial.report(float(self.metrics[self.monitor]), runner.epoch)
        if self.trial.should_prune():
            self.pruned_at = runner.epoch
            runner.train_loop.stop_training = True

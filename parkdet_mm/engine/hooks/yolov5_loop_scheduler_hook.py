"""The reference's learning-rate, momentum and accumulation schedule
(docs/reference.md sections 5, 9)."""
from typing import Optional

import numpy as np
from mmengine.dist import get_world_size
from mmengine.runner import Runner

from mmyolo.engine.hooks import YOLOv5ParamSchedulerHook
from mmyolo.registry import HOOKS
from parkdet_mm.engine.optimizers import NominalBatchMixin

# MMYOLO's YOLOv5OptimizerConstructor orders the groups as: weights with decay,
# normalisation weights, biases.
GROUP_INDEX = {'weight': 0, 'norm': 1, 'bias': 2}


@HOOKS.register_module()
class YOLOv5LoopSchedulerHook(YOLOv5ParamSchedulerHook):
    """Sets every parameter group's lr and momentum, and the nominal batch's
    ``accumulate``, before each training iteration as YOLOv5's train.py does.

    - Epoch ``e`` trains at ``lr0 * lf(e)``: ``lf`` is linear,
      ``(1 - e / max_epochs) * (1 - lr_factor) + lr_factor``, or cosine,
      ``((1 - cos(e * pi / max_epochs)) / 2) * (lr_factor - 1) + 1``. (MMYOLO's
      YOLOv5ParamSchedulerHook, which this replaces, trains epoch ``e`` at
      ``lf(e - 1)`` once warmup is over.)
    - Warmup over ``nw = max(round(warmup_epochs * iterations per epoch),
      warmup_min_iters)`` iterations, per iteration ``ni <= nw`` interpolating
      from ``ni = 0`` to ``nw``: the lr of the group named by
      ``warmup_bias_lr_group`` falls from ``warmup_bias_lr``, the others rise from
      0, all to ``lr0 * lf(epoch)``; momentum rises from ``warmup_momentum`` to
      its configured value; ``accumulate`` rises from 1 to ``nbs / B``
      (:meth:`NominalBatchMixin.set_warmup_accumulate`).
    - Before training it hands the total batch (the training dataloader's batch
      x the world size) to a nominal-batch optim wrapper; before every epoch it
      zeroes the gradients, as YOLOv5 drops an epoch's unfinished accumulation.

    Args:
        scheduler_type (str): 'linear' (YOLOv5 v6.x default, 2022) or 'cosine'
            (v5.0's default, 2021).
        lr_factor (float): YOLOv5's lrf, the final lr as a fraction of lr0.
        max_epochs (int): YOLOv5's epochs, the ``lf`` horizon.
        warmup_epochs (float): warmup length in epochs.
        warmup_min_iters (int): at least this many warmup iterations (100 in
            YOLOv5 v6.x, 1000 in v5.0).
        warmup_momentum (float): momentum at the start of warmup.
        warmup_bias_lr (float): lr at the start of warmup of the group named by
            ``warmup_bias_lr_group``.
        warmup_bias_lr_group (str): 'bias', 'weight' or 'norm': which group
            starts at ``warmup_bias_lr``. YOLOv5 gives it to its third group:
            the biases in v5.0 and v6.1, but the reference's fork (v6.2's group
            order: biases, weights, normalisation weights) hands it to the
            normalisation weights.
    """

    def __init__(self,
                 scheduler_type: str = 'linear',
                 lr_factor: float = 0.01,
                 max_epochs: int = 300,
                 warmup_epochs: float = 3.0,
                 warmup_min_iters: int = 100,
                 warmup_momentum: float = 0.8,
                 warmup_bias_lr: float = 0.1,
                 warmup_bias_lr_group: str = 'bias') -> None:
        if warmup_bias_lr_group not in GROUP_INDEX:
            raise ValueError(f'warmup_bias_lr_group must be one of '
                             f'{sorted(GROUP_INDEX)}, got {warmup_bias_lr_group!r}')
        super().__init__(
            scheduler_type=scheduler_type,
            lr_factor=lr_factor,
            max_epochs=max_epochs,
            warmup_epochs=warmup_epochs,
            warmup_bias_lr=warmup_bias_lr,
            warmup_momentum=warmup_momentum,
            warmup_mim_iter=warmup_min_iters)
        self.warmup_bias_lr_group = GROUP_INDEX[warmup_bias_lr_group]

    def before_train(self, runner: Runner) -> None:
        """Record each group's lr0 and momentum; give the optim wrapper the
        total batch."""
        super().before_train(runner)
        optim_wrapper = runner.optim_wrapper
        if isinstance(optim_wrapper, NominalBatchMixin):
            loader = runner.train_dataloader
            per_process = loader.batch_size or loader.batch_sampler.batch_size
            optim_wrapper.set_total_batch_size(per_process * get_world_size())

    def before_train_epoch(self, runner: Runner) -> None:
        runner.optim_wrapper.zero_grad()

    def warmup_iters(self, runner: Runner) -> int:
        """YOLOv5's nw."""
        return max(
            round(self.warmup_epochs * len(runner.train_dataloader)),
            self.warmup_mim_iter)

    def before_train_iter(self,
                          runner: Runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        cur_iter, epoch = runner.iter, runner.epoch
        optim_wrapper = runner.optim_wrapper
        param_groups = optim_wrapper.optimizer.param_groups
        nw = self.warmup_iters(runner)
        factor = self.scheduler_fn(epoch)
        if cur_iter > nw:
            # After warmup: the epoch's lr; momentum where warmup left it.
            for group, base_lr, momentum in zip(param_groups, self._base_lr,
                                                self._base_momentum):
                group['lr'] = base_lr * factor
                if 'momentum' in group:
                    group['momentum'] = momentum
            return
        if isinstance(optim_wrapper, NominalBatchMixin):
            optim_wrapper.set_warmup_accumulate(cur_iter, nw)
        for index, (group, base_lr, momentum) in enumerate(
                zip(param_groups, self._base_lr, self._base_momentum)):
            start = (self.warmup_bias_lr
                     if index == self.warmup_bias_lr_group else 0.0)
            group['lr'] = float(
                np.interp(cur_iter, [0, nw], [start, base_lr * factor]))
            if 'momentum' in group:
                group['momentum'] = float(
                    np.interp(cur_iter, [0, nw],
                              [self.warmup_momentum, momentum]))

    def after_train_epoch(self, runner: Runner) -> None:
        """Nothing: every iteration sets its epoch's lr (MMYOLO's hook sets the
        next epoch's lr here from the finished epoch's number)."""

"""Stop training at the first loss that is not finite, before anything saves it."""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from mmyolo.registry import HOOKS
from parkdet_mm.engine.errors import TrainingDiverged, resume_hint
from parkdet_mm.engine.optimizers import NominalBatchMixin


def _is_finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    return math.isfinite(float(value))


def _shown(value) -> str:
    if isinstance(value, torch.Tensor):
        value = value.float().mean().item()
    return f'{float(value):.4g}'


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """End training with one line the moment it diverges.

    After every training iteration it reads the iteration's losses (the
    ``outputs`` of ``train_step``: ``loss`` and its parts, every key holding
    ``loss``). When one is NaN or infinite it raises
    :class:`~parkdet_mm.engine.errors.TrainingDiverged`: the iteration (counted
    from 1, as mmengine logs it), the epoch, the batch and the values of the parts
    that are not finite. With mixed precision a loss scaler skips the optimizer
    step whenever the gradients hold inf or NaN, and lowers its scale: a few such
    skips are normal, but ``max_skipped_steps`` in a row mean the gradients no
    longer come back; it stops the same way. Under several processes the
    verdict is all-reduced, so every process stops at the same iteration.

    It runs first among the ``after_train_iter`` hooks (priority ``VERY_HIGH``),
    so no later hook (EMA, logger, iteration checkpoints) sees the iteration and
    no checkpoint is written from the diverged weights: ``last_checkpoint`` still
    names the last good one, which ``--resume`` continues from. Weights can also
    turn NaN while the loss was still finite (a step on NaN gradients, the last of
    an epoch): before every checkpoint it checks the weights being saved, and
    stops the same way rather than save them.

    Args:
        max_skipped_steps (int, optional): Optimizer steps in a row that may be
            skipped (by a loss scaler) before training stops; None: never.
            Defaults to 100.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_skipped_steps: Optional[int] = 100) -> None:
        if max_skipped_steps is not None and max_skipped_steps < 1:
            raise ValueError('max_skipped_steps must be None or at least 1, got '
                             f'{max_skipped_steps}')
        self.max_skipped_steps = max_skipped_steps
        self.skipped_in_row = 0
        self._steps_taken = 0

    def before_train(self, runner) -> None:
        """Count the optimizer's real steps: a loss scaler that finds inf
        gradients does not call ``optimizer.step``."""
        runner.optim_wrapper.optimizer.register_step_post_hook(
            self._count_step)

    def _count_step(self, *args) -> None:
        self._steps_taken += 1

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        losses = {key: value for key, value in (outputs or {}).items()
                  if 'loss' in key}
        names = sorted(losses)
        bad = [not _is_finite(losses[name]) for name in names]
        attempted = self._attempted_step(runner)
        skipped = attempted and self._steps_taken == 0
        self._steps_taken = 0
        if get_world_size() > 1:
            flags = torch.tensor([*bad, skipped], dtype=torch.float32)
            all_reduce(flags, op='max')
            *bad, skipped = (bool(flag) for flag in flags.tolist())
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch '
                 f'{batch_idx + 1} of {len(runner.train_dataloader)})')
        if any(bad):
            parts = ', '.join(f'{name}={_shown(losses[name])}'
                              for name, flag in zip(names, bad) if flag)
            raise TrainingDiverged(
                f'loss not finite at {where}: {parts}; training stopped and '
                'nothing was saved from these weights (lower the learning rate '
                f'or check the data), {resume_hint(runner.work_dir)}')
        if attempted:
            self.skipped_in_row = self.skipped_in_row + 1 if skipped else 0
        if (self.max_skipped_steps is not None
                and self.skipped_in_row >= self.max_skipped_steps):
            raise TrainingDiverged(
                f'{self.skipped_in_row} optimizer steps in a row skipped at '
                f'{where}: the loss scaler found inf or NaN gradients every '
                f'time{self._scale(runner)}; training stopped and nothing was '
                f'saved from these weights, {resume_hint(runner.work_dir)}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save weights that are not finite."""
        bad = [name for name, tensor in checkpoint.get('state_dict', {}).items()
               if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
        if bad:
            raise TrainingDiverged(
                f'weights not finite after iteration {runner.iter} (epoch '
                f'{runner.epoch + 1}): NaN or inf in {len(bad)} of the model\'s '
                f'tensors, {bad[0]} first; '
                'training stopped before saving them (lower the learning rate or '
                f'check the data), {resume_hint(runner.work_dir)}')

    @staticmethod
    def _attempted_step(runner) -> bool:
        """Whether this iteration's ``update_params`` called the wrapper's step."""
        optim_wrapper = runner.optim_wrapper
        if isinstance(optim_wrapper, NominalBatchMixin):
            return optim_wrapper.last_step_iter == runner.iter
        return optim_wrapper.should_update()

    @staticmethod
    def _scale(runner) -> str:
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        if scaler is None:
            return ''
        return f' (loss scale now {scaler.get_scale():g})'


"""Hooks for the tests: what the training loop did at each iteration, and the batches.

Configs import it with ``custom_imports`` (tests/ on PYTHONPATH). After every
training iteration it appends one JSON line per process to
``{work_dir}/loop_rank{rank}.jsonl``: the iteration, whether the optimizer stepped
(counted by a step hook on the torch optimizer), each parameter group's lr,
momentum and weight decay, the EMA's update count and whether its weights changed,
and, under DDP, how many gradient buckets were all-reduced (counted by a DDP
communication hook that then all-reduces as DDP does by default).
"""
import json
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import EMAHook, Hook
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from mmyolo.registry import HOOKS

# MMYOLO's YOLOv5OptimizerConstructor's group order
GROUP_NAMES = ('weight', 'norm', 'bias')


@HOOKS.register_module()
class LoopRecorderHook(Hook):
    priority = 'LOWEST'  # after the EMA hook has updated

    def before_train(self, runner) -> None:
        self.path = Path(runner.work_dir) / f'loop_rank{get_rank()}.jsonl'
        self.steps = 0
        self.allreduced_buckets = 0
        runner.optim_wrapper.optimizer.register_step_post_hook(
            lambda *args: self._count_step())
        if hasattr(runner.model, 'register_comm_hook'):
            runner.model.register_comm_hook(None, self._count_allreduce)
        self.ema = next(hook for hook in runner.hooks
                        if isinstance(hook, EMAHook)).ema_model
        self.last_steps = self.steps
        self.last_buckets = self.allreduced_buckets
        self.last_ema = self._ema_vector()

    def _count_step(self) -> None:
        self.steps += 1

    def _count_allreduce(self, state, bucket):
        self.allreduced_buckets += 1
        return allreduce_hook(state, bucket)

    def _ema_vector(self) -> torch.Tensor:
        return torch.cat([
            p.detach().flatten().clone()
            for p in self.ema.module.parameters()
        ])

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        groups = runner.optim_wrapper.optimizer.param_groups
        ema = self._ema_vector()
        record = dict(
            iter=runner.iter,
            epoch=runner.epoch,
            stepped=self.steps > self.last_steps,
            allreduced_buckets=self.allreduced_buckets - self.last_buckets,
            lr={name: g['lr'] for name, g in zip(GROUP_NAMES, groups)},
            momentum={name: g['momentum'] for name, g in zip(GROUP_NAMES, groups)},
            weight_decay={
                name: g['weight_decay'] for name, g in zip(GROUP_NAMES, groups)
            },
            ema_updates=int(self.ema.steps),
            ema_moved=not torch.equal(ema, self.last_ema))
        self.last_steps, self.last_buckets = self.steps, self.allreduced_buckets
        self.last_ema = ema
        with self.path.open('a') as f:
            f.write(json.dumps(record) + '\n')


@HOOKS.register_module()
class BatchRecorderHook(Hook):
    """Appends ``{mode, epoch, shapes}`` to ``{work_dir}/batches.jsonl`` for every
    training and validation batch: the shape of each image tensor of the batch
    (a training batch is one stacked tensor; validation images come padded to
    their batch's shape), and the epoch (for validation: the epochs done)."""

    def _record(self, runner, mode: str, data_batch) -> None:
        shapes = [list(image.shape) for image in data_batch['inputs']]
        with (Path(runner.work_dir) / 'batches.jsonl').open('a') as f:
            f.write(json.dumps(dict(mode=mode, epoch=runner.epoch,
                                    shapes=shapes)) + '\n')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._record(runner, 'train', data_batch)

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._record(runner, 'val', data_batch)

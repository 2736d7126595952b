"""Faults injected into real tiny trainings, and what the training did, for
tests/test_reliability_*.py. Configs import this module with ``custom_imports``
(tests/ on PYTHONPATH). Nothing here stands in for what the tests check: the
faults are a signal, a NaN loss, infinite gradients, a write that dies or finds
the disk full; the guards, hooks, loop and writers under test are the project's.
"""
import errno
import functools
import json
import os
import signal
from pathlib import Path
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import EMAHook, Hook
from mmengine.optim.optimizer import amp_optimizer_wrapper

import parkdet_challenge.atomic
from mmyolo.registry import HOOKS
from parkdet_mm.engine.optimizers import nominal_batch_optim_wrapper


@HOOKS.register_module()
class SignalAtIterationHook(Hook):
    """Send ``signal_name`` ``count`` times to this process (``group``: to its
    whole process group, as Slurm signals every process of a job step) when
    iteration ``iteration`` (0-based) starts, so it arrives while that iteration
    runs."""

    def __init__(self, iteration: int, signal_name: str = 'SIGTERM',
                 group: bool = False, count: int = 1) -> None:
        self.iteration = iteration
        self.signum = signal.Signals[signal_name]
        self.group = group
        self.count = count

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.iteration:
            for _ in range(self.count):
                if self.group:
                    os.killpg(os.getpgrp(), self.signum)
                else:
                    os.kill(os.getpid(), self.signum)


@HOOKS.register_module()
class NonFiniteLossAtIterationHook(Hook):
    """Make the head's ``part`` loss (``loss_obj``) NaN at iteration
    ``iteration``: a forward hook on that loss module multiplies its output."""

    def __init__(self, iteration: int, part: str = 'loss_obj') -> None:
        self.iteration = iteration
        self.part = part
        self.handle = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.iteration:
            module = getattr(runner.model.bbox_head, self.part)
            self.handle = module.register_forward_hook(
                lambda module, args, output: output * float('nan'))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


@HOOKS.register_module()
class NonFiniteWeightsAtIterationHook(Hook):
    """After iteration ``iteration`` (its loss finite), one weight is NaN, as a
    step on NaN gradients leaves it."""

    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter == self.iteration:
            with torch.no_grad():
                next(runner.model.parameters()).view(-1)[0] = float('nan')


@HOOKS.register_module()
class InfiniteGradientsHook(Hook):
    """At iterations ``start`` to ``stop`` (0-based, ``stop`` excluded; None: to
    the end) every gradient of the first parameter is infinite (a tensor hook
    on it); the loss stays finite."""

    def __init__(self, start: int, stop: Optional[int] = None) -> None:
        self.start = start
        self.stop = stop
        self.handle = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.start <= runner.iter and (self.stop is None
                                          or runner.iter < self.stop):
            param = next(runner.model.parameters())
            self.handle = param.register_hook(lambda grad: grad * float('inf'))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


def _amp_optim_wrapper_on_the_cpu() -> None:
    """Let mmengine's own AmpOptimWrapper (and the project's
    NominalBatchAmpOptimWrapper over it, what ``tools/train.py --amp`` picks) run
    on this CPU machine. Two module-level names of mmengine's wrapper module stop
    it there: an assertion that a GPU is present, and torch.cuda.amp's GradScaler,
    which disables itself without CUDA (no scaling, no skipped step). torch's
    GradScaler is the same class on the CPU (``torch.amp.GradScaler('cpu')``):
    the wrapper gets that one. Its backward, unscale, step, update and state, the
    scaler's inf checks and mmengine's autocast (bfloat16 on a CPU) are all their
    own code. The project's ``use_amp`` asks the same question to pick between
    that wrapper and its CPU bfloat16 one, and gets the same answer."""
    amp_optimizer_wrapper.is_cuda_available = lambda: True
    amp_optimizer_wrapper.GradScaler = functools.partial(torch.amp.GradScaler, 'cpu')
    nominal_batch_optim_wrapper.is_cuda_available = lambda: True


_amp_optim_wrapper_on_the_cpu()


class _FailingFile:
    """A file that writes half of what it is given, then ``fail()``s."""

    def __init__(self, file, fail) -> None:
        self.file = file
        self.fail = fail

    def write(self, data) -> int:
        self.file.write(bytes(data)[:len(data) // 2])
        self.file.flush()
        self.fail()
        return len(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.file.__exit__(*exc)


def _die() -> None:
    os._exit(137)  # as SIGKILL: nothing cleaned up


def _disk_full() -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@HOOKS.register_module()
class FailingCheckpointWriteHook(Hook):
    """Make the atomic writer's write of file ``name`` die half-way
    (``how='kill'``: the process exits at once) or find the disk full
    (``how='full'``: ENOSPC). Only the write fails: parkdet_challenge.atomic
    names, renames and cleans up as it always does."""

    def __init__(self, name: str, how: str = 'kill') -> None:
        self.name = name
        self.fail = dict(kill=_die, full=_disk_full)[how]

    def before_train(self, runner) -> None:
        def failing_open(path, mode='r', *args, **kwargs):
            file = open(path, mode, *args, **kwargs)
            if f'.{self.name}.' in os.path.basename(str(path)):
                return _FailingFile(file, self.fail)
            return file

        parkdet_challenge.atomic.open = failing_open


@HOOKS.register_module()
class TrainingRecorderHook(Hook):
    """After every iteration, one JSON line per process in
    ``{work_dir}/record_rank{rank}.jsonl``: the
    iteration, epoch and batch, the dataset indices the batch was made of (and
    their mosaic partners), each group's lr and momentum, whether the optimizer
    stepped, the nominal batch's accumulate and last step, the EMA's update
    count, and fingerprints of the state (sums over the weights, the momentum
    buffers, the EMA weights and the gradients). Before the first iteration of
    a run it writes the same fingerprints as a ``start`` line."""

    priority = 'LOWEST'  # after the EMA hook

    def before_train(self, runner) -> None:
        self.path = Path(runner.work_dir) / f'record_rank{get_rank()}.jsonl'
        self.indices = []
        dataset = runner.train_dataloader.dataset
        prepare = dataset.prepare_data

        def recording_prepare(idx):
            self.indices.append([int(idx), list(getattr(idx, 'partners', ()))])
            return prepare(idx)

        dataset.prepare_data = recording_prepare
        self.steps = 0
        runner.optim_wrapper.optimizer.register_step_post_hook(
            lambda *args: setattr(self, 'steps', self.steps + 1))
        self.started = False

    def _fingerprints(self, runner) -> dict:
        model = runner.model
        optimizer = runner.optim_wrapper.optimizer
        ema = next(h for h in runner.hooks if isinstance(h, EMAHook)).ema_model
        buffers = [state['momentum_buffer'] for state in optimizer.state.values()
                   if state.get('momentum_buffer') is not None]
        return dict(
            weights=sum(float(p.double().sum()) for p in model.parameters()),
            momentum=sum(float(b.double().sum()) for b in buffers),
            ema=sum(float(p.double().sum()) for p in ema.module.parameters()),
            ema_updates=int(ema.steps),
            grads=sum(float(p.grad.double().sum()) for p in model.parameters()
                      if p.grad is not None),
            has_grads=any(p.grad is not None for p in model.parameters()))

    def _write(self, record: dict) -> None:
        with self.path.open('a') as f:
            f.write(json.dumps(record) + '\n')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not self.started:
            self.started = True
            self._write(dict(start=runner.iter, **self._fingerprints(runner)))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        wrapper = runner.optim_wrapper
        groups = wrapper.optimizer.param_groups
        self._write(dict(
            iter=runner.iter, epoch=runner.epoch, batch=batch_idx,
            samples=self.indices,
            lr=[g['lr'] for g in groups],
            group_momentum=[g['momentum'] for g in groups],
            stepped=self.steps > 0,
            accumulate=wrapper.accumulate,
            last_step_iter=wrapper.last_step_iter,
            **self._fingerprints(runner)))
        self.indices = []
        self.steps = 0

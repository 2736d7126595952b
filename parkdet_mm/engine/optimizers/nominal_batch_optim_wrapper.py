"""YOLOv5's nominal batch: gradients of several batches add up before one step.

YOLOv5 (the reference's train.py, docs/reference.md section 5) accumulates the gradients of
``accumulate = round(nominal_batch_size / B)`` consecutive batches of B images (the
total over all processes) and then takes one optimizer step; during warmup
``accumulate`` ramps from 1 per iteration, and a step is taken whenever
``iteration - last_step_iteration >= accumulate`` (YOLOv5 v5.0, the 2021 solution:
whenever ``iteration % accumulate == 0``). The weight decay is scaled by
``B * accumulate / nominal_batch_size`` so that it acts per nominal batch.

The wrappers here keep that state (the total batch, ``accumulate``, the iteration of
the last step), skip DDP's gradient all-reduce on the iterations that do not step,
and save the state in the checkpoint so that ``--resume`` continues the sequence.
The total batch is only known once the runner has built the training dataloader, so
:class:`~parkdet_mm.engine.hooks.YOLOv5LoopSchedulerHook` hands it over with
:meth:`NominalBatchMixin.set_total_batch_size` before training and sets the warmup's
``accumulate`` before every iteration.
"""
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.device import is_cuda_available
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmyolo.registry import OPTIM_WRAPPERS
from parkdet_challenge.errors import InputError


class NominalBatchMixin:
    """The nominal-batch accumulation, mixed into an mmengine optim wrapper.

    The wrapper's ``_inner_count`` counts backward passes since the start of
    training (mmengine sets it to the resumed iteration), so before a backward it
    is the current iteration (YOLOv5's ``ni``).

    Args:
        nominal_batch_size (int, optional): images per optimizer step (YOLOv5's
            ``nbs``, 64). None: one step per batch, weight decay as configured.
        step_rule (str): when to step. 'since_last_step' (YOLOv5 v6.x, the 2022
            reference): once ``iteration - last_step_iteration >= accumulate``.
            'multiple_of_accumulate' (YOLOv5 v5.0, the 2021 solution): when
            ``iteration % accumulate == 0``.
    """

    step_rules = ('since_last_step', 'multiple_of_accumulate')

    #: The optimizer state dict key under which the accumulation state is saved.
    state_key = 'nominal_batch'

    def __init__(self,
                 *args,
                 nominal_batch_size: Optional[int] = 64,
                 step_rule: str = 'since_last_step',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if step_rule not in self.step_rules:
            raise ValueError(f'step_rule must be one of {self.step_rules}, '
                             f'got {step_rule!r}')
        self.step_rule = step_rule
        if self._accumulative_counts != 1:
            raise ValueError('NominalBatch optim wrappers choose the steps '
                             'themselves: leave accumulative_counts at 1')
        if nominal_batch_size is not None and nominal_batch_size < 1:
            raise ValueError('nominal_batch_size must be None or at least 1, '
                             f'got {nominal_batch_size}')
        self.nominal_batch_size = nominal_batch_size
        self.total_batch_size: Optional[int] = None
        #: batches whose gradients add up before a step (YOLOv5's accumulate)
        self.accumulate = 1
        #: iteration of the last optimizer step (YOLOv5's last_opt_step)
        self.last_step_iter = -1

    def set_total_batch_size(self, total_batch_size: int) -> None:
        """Take the total batch B (per-process batch x world size): the steady
        ``accumulate`` becomes ``max(round(nbs / B), 1)`` and the weight decay of
        every group ``B * accumulate / nbs`` times its configured value."""
        self.total_batch_size = total_batch_size
        if self.nominal_batch_size is None:
            return
        self.accumulate = max(round(self.nominal_batch_size / total_batch_size), 1)
        scale = total_batch_size * self.accumulate / self.nominal_batch_size
        for group in self.optimizer.param_groups:
            # The configured value is kept in the group (and so in checkpoints):
            # scaling it again on resume, or with another world size, starts from it.
            base = group.setdefault('unscaled_weight_decay',
                                    group.get('weight_decay', 0))
            group['weight_decay'] = base * scale
        print_log(
            f'Nominal batch {self.nominal_batch_size}: total batch '
            f'{total_batch_size}, one optimizer step per {self.accumulate} '
            f'batches after warmup, weight decay x {scale:g}', 'current')

    def set_warmup_accumulate(self, cur_iter: int, warmup_iters: int) -> None:
        """YOLOv5's warmup ramp: ``accumulate`` goes from 1 at iteration 0 to
        ``nbs / B`` at ``warmup_iters``, rounded half to even, at least 1."""
        if self.nominal_batch_size is None:
            return
        if self.total_batch_size is None:
            raise RuntimeError('set_total_batch_size() must come first')
        ramp = np.interp(cur_iter, [0, warmup_iters],
                         [1, self.nominal_batch_size / self.total_batch_size])
        self.accumulate = max(1, int(np.round(ramp)))

    def _steps_at(self, cur_iter: int) -> bool:
        if self.step_rule == 'multiple_of_accumulate':
            return cur_iter % self.accumulate == 0
        return cur_iter - self.last_step_iter >= self.accumulate

    def should_update(self) -> bool:
        """Called after the backward pass, when ``_inner_count`` is already one
        ahead of the current iteration."""
        return self._steps_at(self._inner_count - 1)

    def should_sync(self) -> bool:
        """Called before the backward pass (``optim_context``): DDP all-reduces
        only on the iterations that step."""
        return self._steps_at(self._inner_count)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        # YOLOv5's loss is already x batch size: accumulated gradients add up.
        return loss

    def step(self, **kwargs) -> None:
        super().step(**kwargs)
        self.last_step_iter = self._inner_count - 1

    def state_dict(self) -> dict:
        state = super().state_dict()
        state[self.state_key] = dict(last_step_iter=self.last_step_iter)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop(self.state_key, None)
        if saved is not None:
            self.last_step_iter = saved['last_step_iter']
        super().load_state_dict(state_dict)


@OPTIM_WRAPPERS.register_module()
class NominalBatchOptimWrapper(NominalBatchMixin, OptimWrapper):
    """mmengine's :class:`OptimWrapper` stepping once per nominal batch
    (see :class:`NominalBatchMixin`)."""


@OPTIM_WRAPPERS.register_module()
class NominalBatchAmpOptimWrapper(NominalBatchMixin, AmpOptimWrapper):
    """mmengine's :class:`AmpOptimWrapper` stepping once per nominal batch: the
    scaled gradients add up, and the scaler unscales and steps (and updates its
    scale) once per optimizer step, as YOLOv5's ``scaler.step`` does."""


@OPTIM_WRAPPERS.register_module()
class CpuBFloat16OptimWrapper(OptimWrapper):
    """Mixed precision on a CPU, which mmengine's :class:`AmpOptimWrapper` does not
    offer: the forward pass and the loss run under ``torch.autocast('cpu',
    torch.bfloat16)``, as YOLOv5's forward pass and loss run under CUDA's autocast:
    convolutions and matrix products in bfloat16 (through oneDNN), the losses'
    reductions and the weights, gradients and optimizer in float32. bfloat16 has
    float32's range, so no loss scaler is needed."""

    @contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), \
                torch.autocast('cpu', dtype=torch.bfloat16):
            yield


@OPTIM_WRAPPERS.register_module()
class NominalBatchCpuBFloat16OptimWrapper(NominalBatchMixin, CpuBFloat16OptimWrapper):
    """:class:`CpuBFloat16OptimWrapper` stepping once per nominal batch (see
    :class:`NominalBatchMixin`)."""


#: the mixed-precision variant of each optim wrapper type (tools/train.py --amp):
#: on a GPU, then on a CPU
AMP_VARIANTS = {'NominalBatchOptimWrapper': 'NominalBatchAmpOptimWrapper',
                'OptimWrapper': 'AmpOptimWrapper'}
CPU_AMP_VARIANTS = {'NominalBatchOptimWrapper': 'NominalBatchCpuBFloat16OptimWrapper',
                    'OptimWrapper': 'CpuBFloat16OptimWrapper'}


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), where
    autocast to it pays; elsewhere oneDNN emulates it, slower than float32."""
    return torch.backends.mkldnn.is_available() and \
        torch.ops.mkldnn._is_mkldnn_bf16_supported()


def use_amp(optim_wrapper: ConfigDict, cuda: Optional[bool] = None) -> None:
    """Switch the ``optim_wrapper`` config to mixed precision (tools/train.py
    --amp), keeping its nominal-batch accumulation: float16 with a dynamic loss
    scaler on a GPU (mmengine's), bfloat16 autocast on a CPU that computes it
    natively; on another CPU, refused in one line. ``cuda``: whether training
    runs on a GPU (default: whether one is available)."""
    cuda = is_cuda_available() if cuda is None else cuda
    variants = AMP_VARIANTS if cuda else CPU_AMP_VARIANTS
    if optim_wrapper.type not in variants:
        raise InputError(f'--amp: no mixed-precision variant of optim_wrapper type '
                         f'{optim_wrapper.type!r} (one of {sorted(variants)})')
    if not cuda and not cpu_has_bfloat16():
        raise InputError('--amp: this CPU has no bfloat16 instructions (AVX512-BF16 '
                         'or AMX), so mixed precision would be slower than float32: '
                         'train without --amp, or on a GPU')
    optim_wrapper.type = variants[optim_wrapper.type]
    if cuda:
        optim_wrapper.setdefault('loss_scale', 'dynamic')

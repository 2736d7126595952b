"""Compile the network and the loss for training (tools/train.py --compile)."""
from typing import Callable, Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmyolo.registry import HOOKS


class TrainingOnlyCompiled:
    """A function of ``module`` that runs compiled by ``torch.compile`` while
    ``module`` is in training mode and as it was otherwise.

    Validation and testing (eval mode, rectangular batches of changing shapes)
    would only add compilations that a run of a few validations does not earn
    back; they keep the eager code.
    """

    def __init__(self, module: nn.Module, function: Callable, **compile_kwargs) -> None:
        self.module = module
        self.eager = function
        self.compiled = torch.compile(function, **compile_kwargs)

    def __call__(self, *args, **kwargs):
        run = self.compiled if self.module.training else self.eager
        return run(*args, **kwargs)


def compile_for_training(module: nn.Module, name: str, owner: Optional[nn.Module] = None,
                         **compile_kwargs) -> None:
    """Replace ``module.<name>`` (a method) by its :class:`TrainingOnlyCompiled`
    version, which follows the training mode of ``owner`` (default ``module``)."""
    function = getattr(module, name)
    if isinstance(function, TrainingOnlyCompiled):
        return
    setattr(module, name,
            TrainingOnlyCompiled(owner or module, function, **compile_kwargs))


@HOOKS.register_module()
class CompileModelHook(Hook):
    """``torch.compile`` the detector's network and loss for its training steps,
    and optionally train in channels-last memory format.

    MMEngine's own ``compile`` config compiles the whole ``train_step``, optimizer
    update included; torch's compiler fails on that step (it cannot trace
    ``SGD.step`` over MMYOLO's parameter groups), and the update is a handful of
    fused element-wise loops that compiling does not speed up. This hook compiles
    what does the work: the network (``extract_feat``: backbone and neck; the
    head's convolutions) and the loss (``bbox_head.loss_by_feat``, with dynamic
    shapes, since the number of boxes changes from batch to batch). Both run
    compiled in training mode only; validation and testing run eagerly. The first
    iteration pays the compilation (minutes on a CPU; torch caches the result on
    disk for later runs of the same model). The parameters, the checkpoints and the
    EMA model are untouched.

    ``channels_last`` converts the model's weights to channels-last memory format
    before training (the convolutions then run NHWC, which GPUs with AMP and
    oneDNN on recent CPUs run faster); the checkpoints hold the same values.

    Args:
        compile (bool): compile the network and the loss.
        channels_last (bool): train in channels-last memory format.
        mode (str, optional): ``torch.compile``'s mode (None: its default).
    """
    priority = 'LOW'  # after FreezeLayersHook and loading, before the first step

    def __init__(self, compile: bool = True, channels_last: bool = False,
                 mode: Optional[str] = None) -> None:
        self.compile = compile
        self.channels_last = channels_last
        self.mode = mode

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if self.compile:
            kwargs = dict(mode=self.mode) if self.mode else {}
            compile_for_training(model, 'extract_feat', **kwargs)
            head = model.bbox_head
            compile_for_training(head.head_module, 'forward', **kwargs)
            compile_for_training(head, 'loss_by_feat', owner=model, dynamic=True, **kwargs)
        runner.logger.info(
            'CompileModelHook: '
            + ', '.join(filter(None, [
                'network and loss compiled for training' if self.compile else '',
                'channels-last memory format' if self.channels_last else ''])))

"""YOLOv5's ModelEMA: one update per optimizer step, its decay ramp counted in steps."""
import torch.nn as nn
from mmengine.hooks import EMAHook

from mmyolo.models.layers import ExpMomentumEMA
from mmyolo.registry import HOOKS, MODELS
from parkdet_mm.engine.optimizers import NominalBatchMixin


@MODELS.register_module()
class YOLOv5ModelEMA(ExpMomentumEMA):
    """MMYOLO's :class:`ExpMomentumEMA` (weight of the new model
    ``(1 - momentum) * exp(-updates / gamma) + momentum``, i.e. YOLOv5's decay
    ``0.9999 * (1 - exp(-updates / 2000))`` at momentum 0.0001, gamma 2000) whose
    first update averages too: mmengine's averaged models copy the model at their
    first update, where YOLOv5 keeps ``1 - 0.9996`` of the initial weights.

    Each update reads the model's tensors as they are then: MMYOLO's EMA keeps the
    ones it saw when it was built, and a hook that later gives the model new
    tensors (``--channels-last``'s conversion, in ``before_train``) left it
    averaging the initial weights for the whole run."""

    def update_parameters(self, model: nn.Module) -> None:
        self.src_parameters = model.state_dict() if self.update_buffers \
            else dict(model.named_parameters())
        if self.steps > 0:
            super().update_parameters(model)
            return
        for name, averaged in self.avg_parameters.items():
            if averaged.dtype.is_floating_point:
                self.avg_func(averaged.data, self.src_parameters[name].data,
                              self.steps)
        if not self.update_buffers:
            for averaged, buffer in zip(self.module.buffers(), model.buffers()):
                averaged.data.copy_(buffer.data)
        self.steps += 1


@HOOKS.register_module()
class OptimizerStepEMAHook(EMAHook):
    """mmengine's :class:`EMAHook` updating the average only on the iterations
    where a nominal-batch optim wrapper took an optimizer step (every iteration
    with any other optim wrapper). The averaged model counts its updates, and
    mmengine saves and resumes that count with the EMA weights."""

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        optim_wrapper = runner.optim_wrapper
        if (isinstance(optim_wrapper, NominalBatchMixin)
                and optim_wrapper.last_step_iter != runner.iter):
            return
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

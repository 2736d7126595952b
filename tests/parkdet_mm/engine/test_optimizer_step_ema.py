"""The EMA (YOLOv5ModelEMA) follows the model's weights, also after a hook has
given the model new tensors (--channels-last converts it before training)."""
import torch
from helpers.tiny_training import train_tiny
from torch import nn

from parkdet_mm.engine.hooks.optimizer_step_ema_hook import (
    OptimizerStepEMAHook,
    YOLOv5ModelEMA,
)


def test_the_average_follows_tensors_the_model_was_given_after_it():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    ema = YOLOv5ModelEMA(model, momentum=0.0001, gamma=2000, update_buffers=True)
    model.to(memory_format=torch.channels_last)  # new tensors, as the hook does
    with torch.no_grad():
        model[0].weight.add_(1.0)  # what the optimizer would change
    before = ema.module[0].weight.detach().clone()
    expected = before.clone()
    for steps in range(2):
        ema.update_parameters(model)
        weight = (1 - 0.0001) * torch.exp(torch.tensor(-(1 + steps) / 2000)) + 0.0001
        expected.lerp_(model[0].weight.detach(), float(weight))
    torch.testing.assert_close(ema.module[0].weight, expected)
    assert (ema.module[0].weight - before).abs().min() > 1e-4


def ema_weights(runner) -> dict:
    hook = next(h for h in runner.hooks if isinstance(h, OptimizerStepEMAHook))
    return {k: v.detach().clone() for k, v in hook.ema_model.module.state_dict().items()}


def test_channels_last_training_averages_the_trained_weights(tmp_path, tiny_coco):
    """After two iterations with --channels-last the EMA holds the trained
    convolution weights (the tensors the conversion replaced): its first updates
    weigh the model's by 0.9995, so it is within a hair of them. Before the fix
    it kept the initial ones, which the two steps had moved by up to 1e-3."""
    runner, _ = train_tiny(tmp_path, tiny_coco, 'channels_last', channels_last=True)
    hook = next(h for h in runner.hooks if isinstance(h, OptimizerStepEMAHook))
    assert hook.ema_model.steps == 2
    averaged = hook.ema_model.module.state_dict()
    for name, value in runner.model.state_dict().items():
        if value.dim() == 4:
            torch.testing.assert_close(averaged[name], value, rtol=0, atol=1e-5,
                                       msg=lambda text: f'{name}: {text}')

"""The nominal-batch optim wrappers on a small model, against plain torch SGD.

Gradients of `accumulate` batches add up (no averaging) into one step with the
scaled weight decay; the AMP variant unscales and steps its scaler once per
optimizer step; the decay is scaled once however often the total batch is set or
a checkpoint reloaded; v5.0's step rule (ni % accumulate == 0) as transcribed.
"""
import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.optim.optimizer import amp_optimizer_wrapper

from parkdet_mm.engine.optimizers import (
    NominalBatchAmpOptimWrapper,
    NominalBatchOptimWrapper,
)

WEIGHT_DECAY = 0.0005
LR = 0.05


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(64, 2))


def sgd(model: nn.Module, weight_decay: float) -> torch.optim.SGD:
    """YOLOv5OptimizerConstructor's groups: weights with decay, BN weights, biases."""
    weights = [model[0].weight, model[3].weight]
    return torch.optim.SGD(
        [dict(params=weights, weight_decay=weight_decay),
         dict(params=[model[1].weight]),
         dict(params=[model[0].bias, model[1].bias, model[3].bias])],
        lr=LR, momentum=0.9, nesterov=True)


def batches(count: int):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(2, 3, 6, 6, generator=generator) for _ in range(count)]


def loss_of(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model(images).square().sum()


def count_steps(optimizer: torch.optim.Optimizer) -> list:
    steps = []
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    return steps


def train_wrapper(wrapper, model, images):
    for batch in images:
        wrapper.update_params(loss_of(model, batch))


def params(model: nn.Module):
    return [p.detach().clone() for p in model.parameters()]


def test_gradients_of_accumulated_batches_add_up_into_one_step():
    images = batches(8)
    model, reference = make_model(), make_model()
    # nominal 7, total batch 2: accumulate round(3.5) = 4, decay x 2 x 4 / 7
    wrapper = NominalBatchOptimWrapper(
        optimizer=sgd(model, WEIGHT_DECAY), nominal_batch_size=7)
    wrapper.set_total_batch_size(2)
    steps = count_steps(wrapper.optimizer)
    train_wrapper(wrapper, model, images)
    assert len(steps) == 2 and wrapper.last_step_iter == 7

    optimizer = sgd(reference, WEIGHT_DECAY * 8 / 7)
    for start in (0, 4):
        optimizer.zero_grad()
        for batch in images[start:start + 4]:
            loss_of(reference, batch).backward()  # summed, not averaged
        optimizer.step()
    for got, want in zip(params(model), params(reference)):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_none_steps_every_batch_with_the_configured_decay():
    model = make_model()
    wrapper = NominalBatchOptimWrapper(
        optimizer=sgd(model, WEIGHT_DECAY), nominal_batch_size=None)
    wrapper.set_total_batch_size(2)
    steps = count_steps(wrapper.optimizer)
    train_wrapper(wrapper, model, batches(3))
    assert len(steps) == 3
    assert wrapper.optimizer.param_groups[0]['weight_decay'] == WEIGHT_DECAY


def test_amp_variant_steps_its_scaler_once_per_optimizer_step(monkeypatch):
    images = batches(8)
    plain_model, amp_model = make_model(), make_model()
    plain = NominalBatchOptimWrapper(
        optimizer=sgd(plain_model, WEIGHT_DECAY), nominal_batch_size=7)
    # mmengine's AmpOptimWrapper insists on a GPU; a real CPU GradScaler that
    # grows its scale at every update() shows how often it stepped.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    amp = NominalBatchAmpOptimWrapper(
        optimizer=sgd(amp_model, WEIGHT_DECAY), nominal_batch_size=7)
    amp.loss_scaler = torch.amp.GradScaler(
        'cpu', init_scale=2.0**10, growth_interval=1)
    steps = count_steps(amp.optimizer)
    for wrapper in (plain, amp):
        wrapper.set_total_batch_size(2)
    train_wrapper(plain, plain_model, images)
    train_wrapper(amp, amp_model, images)
    assert len(steps) == 2
    assert amp.loss_scaler.get_scale() == 2.0**12  # two updates, not eight
    for got, want in zip(params(amp_model), params(plain_model)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    state = amp.state_dict()
    assert 'loss_scaler' in state and state['nominal_batch'] == dict(
        last_step_iter=7)


def test_decay_is_scaled_once_and_the_state_survives_a_checkpoint():
    model = make_model()
    wrapper = NominalBatchOptimWrapper(
        optimizer=sgd(model, WEIGHT_DECAY), nominal_batch_size=7)
    wrapper.set_total_batch_size(2)
    wrapper.set_total_batch_size(2)
    assert wrapper.optimizer.param_groups[0]['weight_decay'] == pytest.approx(
        WEIGHT_DECAY * 8 / 7)
    train_wrapper(wrapper, model, batches(6))
    state = copy.deepcopy(wrapper.state_dict())

    resumed = NominalBatchOptimWrapper(
        optimizer=sgd(model, WEIGHT_DECAY), nominal_batch_size=7)
    resumed.load_state_dict(state)
    assert resumed.last_step_iter == 3  # steps at 3 (and 7): accumulate 4
    # resumed with 3 images in all: accumulate round(7 / 3) = 2, decay x 6 / 7 of
    # the configured value, not of the saved (already scaled) one
    resumed.set_total_batch_size(3)
    assert resumed.accumulate == 2
    assert resumed.optimizer.param_groups[0]['weight_decay'] == pytest.approx(
        WEIGHT_DECAY * 6 / 7)
    assert resumed.optimizer.param_groups[2]['weight_decay'] == 0


def v50_steps(iters: int, warmup_iters: int, batch_size: int, nbs: int):
    """YOLOv5 v5.0's train.py (the 2021 solution), transcribed."""
    accumulate = max(round(nbs / batch_size), 1)
    stepped = []
    for ni in range(iters):
        if ni <= warmup_iters:
            accumulate = max(
                1, np.interp(ni, [0, warmup_iters], [1, nbs / batch_size]).round())
        stepped.append(ni % accumulate == 0)
    return stepped


def test_v50_step_rule_steps_on_multiples_of_accumulate():
    model = make_model()
    wrapper = NominalBatchOptimWrapper(
        optimizer=sgd(model, WEIGHT_DECAY), nominal_batch_size=7,
        step_rule='multiple_of_accumulate')
    wrapper.set_total_batch_size(2)
    steps = count_steps(wrapper.optimizer)
    stepped = []
    for ni, batch in enumerate(batches(16)):
        if ni <= 10:
            wrapper.set_warmup_accumulate(ni, 10)
        before = len(steps)
        wrapper.update_params(loss_of(model, batch))
        stepped.append(len(steps) > before)
    assert stepped == v50_steps(16, 10, 2, 7)
    # differs from v6's rule (iteration 2 - last step 1 < accumulate 2)
    assert stepped[:4] == [True, True, True, False]

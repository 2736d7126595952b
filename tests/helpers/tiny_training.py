"""Training the tiny config's first iterations in-process, recording what they
computed: for comparing a way of training (compiled, mixed precision) with eager
float32 on the same seed and batches."""
from typing import Callable, Optional

from conftest import write_tiny_config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401
from parkdet_mm.apis.run_setup import build_runner
from parkdet_mm.config import load_config


class LossRecorder(Hook):
    """The losses of every training iteration, the weights after the first, and
    the validation's metrics."""
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.losses = []
        self.metrics = None
        self.first_step_weights = None

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append({k: float(v) for k, v in outputs.items()})
        if self.first_step_weights is None:
            self.first_step_weights = {
                k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = metrics


def train_tiny(tmp_path, tiny_coco, name: str = 'eager',
               edit: Optional[Callable] = None, **primaries):
    """Train the tiny config one epoch (two iterations) and validate, in
    ``tmp_path/name``; ``edit``: applied to the finished config first. Return the
    runner and the recorder of its losses, first step and metrics."""
    folder = tmp_path / name
    folder.mkdir()
    config = write_tiny_config(folder / 'tiny.py', tiny_coco, epochs=1)
    cfg = load_config(str(config), primaries=dict(
        work_dir=str(folder / 'work'), checkpoint_interval=10**6, **primaries))
    if edit is not None:
        edit(cfg)
    init_default_scope('mmyolo')
    runner = build_runner(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder


def assert_losses_close(losses: dict, expected: dict, tolerance: float) -> None:
    """Every loss of ``expected`` within ``tolerance`` (relative) in ``losses``."""
    assert losses.keys() == expected.keys() and 'loss_bbox' in losses
    for name, value in expected.items():
        assert abs(losses[name] - value) <= tolerance * abs(value) + 1e-6, (
            name, value, losses[name])

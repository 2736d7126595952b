"""The 2021 fine-tune freezes exactly the reference's backbone layers (its list with
the missing comma: 1-5, 67, 8-11), and they stay unchanged through a short run."""
from pathlib import Path

import pytest
import torch
from conftest import write_tiny_config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401
from parkdet_challenge.convert import prepare_data
from parkdet_challenge.demo import make_demo_data
from parkdet_mm.config import load_config
from parkdet_mm.engine.hooks import yolov5_backbone_layers

FROZEN = [1, 2, 3, 4, 5, 8, 9, 10, 11]  # 67 names no layer
TRAINED = [0, 6, 7]  # the stem, stage 3's C3 and stage 4's Conv

# no validation, no checkpoint: faster
NO_OUTPUTS = '''
load_from = None
val_interval = 100
checkpoint_interval = 100
'''


class Snapshot(Hook):
    """The backbone layers' parameters when training starts (after weight init,
    load_from and the freeze)."""

    def before_train(self, runner) -> None:
        self.layers = yolov5_backbone_layers(runner.model.backbone)
        self.params = [{n: p.detach().clone() for n, p in layer.named_parameters()}
                       for layer in self.layers]


@pytest.fixture(scope='module')
def data_2021(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('demo2021')
    make_demo_data(root, n_train=12, n_test=1, data_format='2021')
    prepare_data(root, root, val_size=2, plot=False)
    return root


def test_short_finetune_leaves_the_frozen_layers_unchanged(data_2021, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny_finetune.py', data_2021, epochs=2,
                               base='configs/challenge2021/demo/finetune.py')
    with config.open('a') as f:
        f.write(NO_OUTPUTS)
    cfg = load_config(str(config))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    snapshot = Snapshot()
    runner.register_hook(snapshot, priority='VERY_LOW')
    runner.train()
    layers, before = snapshot.layers, snapshot.params

    for index, layer in enumerate(layers):
        params = dict(layer.named_parameters())
        unchanged = all(torch.equal(params[n], before[index][n]) for n in params)
        if index in FROZEN:
            assert unchanged, f'layer {index} changed'
            assert not any(p.requires_grad for p in params.values())
        else:
            assert index in TRAINED
            assert not unchanged, f'layer {index} did not train'
            assert all(p.requires_grad for p in params.values())
    assert len(layers) == 12  # v5.0's P6 backbone: yaml layers 0..11

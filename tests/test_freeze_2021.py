"""The 2021 fine-tune freezes exactly the reference's backbone layers (its list with
the missing comma: 1-5, 67, 8-11), and they stay unchanged through a short run."""
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import parkdet_mm  # noqa: F401
from conftest import REPO
from parkdet_challenge.convert import prepare_data
from parkdet_challenge.demo import make_demo_data
from parkdet_mm.engine.hooks import yolov5_backbone_layers
from parkdet_mm.utils import load_config

FROZEN = [1, 2, 3, 4, 5, 8, 9, 10, 11]  # 67 names no layer
TRAINED = [0, 6, 7]  # the stem, stage 3's C3 and stage 4's Conv

TINY = '''
_base_ = {base!r}
data_root = {root!r}
img_scale = (64, 64)
max_epochs = 2
load_from = None
_pipeline = [dict(t, scale=img_scale) if 'scale' in t else t
             for t in _base_.train_pipeline]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        sampler=dict(parts=1), dataset=dict(pipeline=_pipeline))
default_hooks = dict(param_scheduler=dict(max_epochs=max_epochs),
                     checkpoint=dict(interval=100), logger=dict(interval=1))
train_cfg = dict(max_epochs=max_epochs, val_interval=100)
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
    config = tmp_path / 'tiny_finetune.py'
    config.write_text(TINY.format(
        base=str(REPO / 'configs/challenge2021/demo/finetune.py'),
        root=f'{data_2021}/'))
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

"""FreezeLayersHook: YOLOv5-numbered backbone layers stay fixed through real training."""
import torch
from conftest import run_tool, write_tiny_config
from helpers.yolov5_checkpoints import expected_values, mmyolo_detector, randomise
from mmcv.cnn import ConvModule
from mmdet.models.backbones.csp_darknet import CSPLayer
from yolov5_pickle_layout import YAML_V50_P6, build_yolov5, fill_from_mmyolo, save_yolov5_checkpoint

import parkdet_mm  # noqa: F401
from mmyolo.models.layers import SPPFBottleneck
from mmyolo.registry import MODELS
from parkdet_mm.engine.checkpoint import load_local_checkpoint
from parkdet_mm.engine.hooks import yolov5_backbone_layers

# The 2021 reference's list, quirk included: '6' '7' is the string '67'.
REFERENCE_FREEZE = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]
# YOLOv5 backbone index -> MMYOLO module.
PREFIXES = ['backbone.stem'] + [f'backbone.stage{s}.{k}' for s in range(1, 5)
                                for k in range(2)] + [
                                    f'backbone.stage5.{k}' for k in range(3)]


def test_numbering_of_mmyolo_backbone():
    backbone = MODELS.build(dict(type='mmyolo.YOLOv5CSPDarknet', arch='P6',
                                 deepen_factor=0.33, widen_factor=0.25))
    layers = yolov5_backbone_layers(backbone)
    kinds = [type(m) for m in layers]
    assert kinds == [ConvModule] + [ConvModule, CSPLayer] * 5 + [SPPFBottleneck]
    assert layers[0] is backbone.stem and layers[11] is backbone.stage5[2]


def test_reference_freeze_through_training(tiny_coco, tmp_path):
    """A short fine-tune of the v5.0 model loaded from a YOLOv5 .pt: the frozen
    layers' parameters do not move, their BN statistics and everything else do."""
    nc, depth, width = 14, 0.33, 0.25
    values = expected_values(YAML_V50_P6, 'P6')
    values.update({'model.bbox_head.head_module.num_classes': nc})
    source = mmyolo_detector(values)
    randomise(source, seed=3)
    yolo = build_yolov5(YAML_V50_P6, nc, depth, width)
    fill_from_mmyolo(yolo, source.state_dict())
    pt = tmp_path / 'weights_baseline.pt'
    save_yolov5_checkpoint(pt, yolo, stripped=True)

    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    config.write_text(config.read_text() + f'''
model = dict(backbone=dict(type='YOLOv5V50CSPDarknet'))
load_from = {str(pt)!r}
frozen_layers = {REFERENCE_FREEZE}
image_weights = False
custom_hooks = []  # no EMA either: only the freeze
nominal_batch_size = None
val_interval = 10
''')
    work = tmp_path / 'run'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work)])
    log = proc.stdout + proc.stderr
    assert 'layer 67 matches no backbone layer' in log
    assert 'froze backbone layers [1, 2, 3, 4, 5, 8, 9, 10, 11]' in log

    before = source.state_dict()
    after = load_local_checkpoint(str(work / 'epoch_1.pth'))['state_dict']
    frozen = [PREFIXES[i] for i in REFERENCE_FREEZE if i < len(PREFIXES)]
    trained = [PREFIXES[i] for i in (0, 6, 7)] + ['neck.', 'bbox_head.']

    def params(prefix):
        return [k for k in before if k.startswith(prefix + ('' if prefix.endswith('.') else '.'))
                and not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]

    for prefix in frozen:
        assert params(prefix)
        for key in params(prefix):
            assert torch.equal(after[key], before[key]), key
    for prefix in trained:
        assert any(not torch.equal(after[k], before[k]) for k in params(prefix)), prefix
    # BN stays in train mode: running statistics of a frozen layer still update
    key = 'backbone.stage1.0.bn.running_mean'
    assert not torch.equal(after[key], before[key])

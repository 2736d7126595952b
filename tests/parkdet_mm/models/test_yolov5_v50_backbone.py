"""YOLOv5V50CSPDarknet against YOLOv5 v5.0's models/hub/yolov5l6.yaml
(docs/reference.md section 9)."""
import math

import pytest
import torch
from mmcv.cnn import ConvModule
from mmdet.models.backbones.csp_darknet import CSPLayer, Focus
from mmengine.config import Config
from mmengine.registry import init_default_scope

import parkdet_mm  # noqa: F401  (registers the backbone)
from mmyolo.models.layers import SPPFBottleneck
from mmyolo.registry import MODELS
from parkdet_mm.engine.hooks import yolov5_backbone_layers

# The 2021 reference's models/hub/yolov5l6.yaml, transcribed: [from, number, module, args].
V50_L6_BACKBONE = [
    [-1, 1, 'Focus', [64, 3]],  # 0-P1/2
    [-1, 1, 'Conv', [128, 3, 2]],  # 1-P2/4
    [-1, 3, 'C3', [128]],
    [-1, 1, 'Conv', [256, 3, 2]],  # 3-P3/8
    [-1, 9, 'C3', [256]],
    [-1, 1, 'Conv', [512, 3, 2]],  # 5-P4/16
    [-1, 9, 'C3', [512]],
    [-1, 1, 'Conv', [768, 3, 2]],  # 7-P5/32
    [-1, 3, 'C3', [768]],
    [-1, 1, 'Conv', [1024, 3, 2]],  # 9-P6/64
    [-1, 1, 'SPP', [1024, [3, 5, 7]]],
    [-1, 3, 'C3', [1024, False]],  # 11
]
V50_L6_HEAD = [
    [-1, 1, 'Conv', [768, 1, 1]], [-1, 1, 'Upsample', [None, 2, 'nearest']],
    [[-1, 8], 1, 'Concat', [1]], [-1, 3, 'C3', [768, False]],  # 15
    [-1, 1, 'Conv', [512, 1, 1]], [-1, 1, 'Upsample', [None, 2, 'nearest']],
    [[-1, 6], 1, 'Concat', [1]], [-1, 3, 'C3', [512, False]],  # 19
    [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, 'Upsample', [None, 2, 'nearest']],
    [[-1, 4], 1, 'Concat', [1]], [-1, 3, 'C3', [256, False]],  # 23
    [-1, 1, 'Conv', [256, 3, 2]], [[-1, 20], 1, 'Concat', [1]],
    [-1, 3, 'C3', [512, False]],  # 26
    [-1, 1, 'Conv', [512, 3, 2]], [[-1, 16], 1, 'Concat', [1]],
    [-1, 3, 'C3', [768, False]],  # 29
    [-1, 1, 'Conv', [768, 3, 2]], [[-1, 12], 1, 'Concat', [1]],
    [-1, 3, 'C3', [1024, False]],  # 32
    [[23, 26, 29, 32], 1, 'Detect', ['nc', 'anchors']],
]


def conv_params(c1: int, c2: int, k: int = 1) -> int:
    return c1 * c2 * k * k + 2 * c2  # conv without bias + BN weight and bias


def yaml_params(layers, nc: int, gd: float, gw: float, na: int = 3):
    """Parameters per layer of a YOLOv5 yaml layer list, from channels and kernels,
    with parse_model's depth/width rounding; returns (per-layer list, out channels)."""
    ch, counts, outs = [3], [], []
    for i, (f, n, m, args) in enumerate(layers):
        n = max(round(n * gd), 1) if n > 1 else n
        c_in = ch[f] if isinstance(f, int) else None
        if m in ('Conv', 'Focus', 'C3', 'SPP'):
            c2 = math.ceil(args[0] * gw / 8) * 8
            if m == 'Conv':
                p = conv_params(c_in, c2, args[1])
            elif m == 'Focus':
                p = conv_params(4 * c_in, c2, args[1])
            elif m == 'SPP':
                c_ = c_in // 2
                p = conv_params(c_in, c_) + conv_params(c_ * (len(args[1]) + 1), c2)
            else:  # C3
                c_ = c2 // 2
                p = (2 * conv_params(c_in, c_) + conv_params(2 * c_, c2)
                     + n * (conv_params(c_, c_) + conv_params(c_, c_, 3)))
        elif m == 'Concat':
            c2, p = sum(ch[x] for x in f), 0
        elif m == 'Detect':
            no = na * (nc + 5)
            c2, p = 0, sum(ch[x] * no + no for x in f)
        else:  # Upsample
            c2, p = c_in, 0
        counts.append(p)
        outs.append(c2)
        if i == 0:
            ch = []
        ch.append(c2)
    return counts, outs


def build(deepen: float, widen: float, nc: int = 80):
    init_default_scope('mmyolo')
    channels = [256, 512, 768, 1024]
    cfg = Config(dict(model=dict(
        type='YOLODetector',
        backbone=dict(type='YOLOv5V50CSPDarknet', arch='P6', deepen_factor=deepen,
                      widen_factor=widen, out_indices=(2, 3, 4, 5)),
        neck=dict(type='YOLOv5PAFPN', deepen_factor=deepen, widen_factor=widen,
                  in_channels=channels, out_channels=channels, num_csp_blocks=3),
        bbox_head=dict(
            type='YOLOv5Head',
            head_module=dict(type='YOLOv5HeadModule', num_classes=nc,
                             in_channels=channels, widen_factor=widen,
                             featmap_strides=[8, 16, 32, 64]),
            prior_generator=dict(type='mmdet.YOLOAnchorGenerator',
                                 base_sizes=[[(19, 27), (44, 40), (38, 94)],
                                             [(96, 68), (86, 152), (180, 137)],
                                             [(140, 301), (303, 264), (238, 542)],
                                             [(436, 615), (739, 380), (925, 792)]],
                                 strides=[8, 16, 32, 64]),
            obj_level_weights=[4.0, 1.0, 0.25, 0.06]))))
    return MODELS.build(cfg.model)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('deepen,widen', [(1.0, 1.0), (0.33, 0.25)])
def test_layer_layout_follows_the_yaml(deepen, widen):
    model = build(deepen, widen)
    layers = yolov5_backbone_layers(model.backbone)
    counts, outs = yaml_params(V50_L6_BACKBONE, 80, deepen, widen)
    assert len(layers) == len(V50_L6_BACKBONE) == 12
    for i, ((f, n, kind, args), layer) in enumerate(zip(V50_L6_BACKBONE, layers)):
        assert count(layer) == counts[i], (i, kind)
        if kind == 'Focus':
            assert isinstance(layer, Focus)
            assert layer.conv.conv.kernel_size == (3, 3) and layer.conv.conv.in_channels == 12
            assert layer.conv.conv.out_channels == outs[i]
        elif kind == 'Conv':
            assert isinstance(layer, ConvModule)
            assert layer.conv.kernel_size == (args[1], ) * 2
            assert layer.conv.stride == (args[2], ) * 2
            assert layer.conv.out_channels == outs[i]
        elif kind == 'SPP':
            assert isinstance(layer, SPPFBottleneck)
            assert [p.kernel_size for p in layer.poolings] == args[1]
        else:
            assert isinstance(layer, CSPLayer)
            assert len(layer.blocks) == max(round(n * deepen), 1)
            shortcut = args[1] if len(args) > 1 else True
            assert all(b.add_identity == shortcut for b in layer.blocks)
            assert layer.final_conv.conv.out_channels == outs[i]


def test_parameter_count_matches_the_yaml():
    """The whole l6 (backbone, P6 neck and head, 80 classes) against the yaml's count
    (77,263,228)."""
    model = build(1.0, 1.0, nc=80)
    counts, _ = yaml_params(V50_L6_BACKBONE + V50_L6_HEAD, 80, 1.0, 1.0)
    assert count(model.backbone) == sum(counts[:12])
    assert count(model) == sum(counts)


def test_forward_shapes():
    model = build(0.33, 0.25)
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 128, 128))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 16, 16), (1, 128, 8, 8),
                                                (1, 192, 4, 4), (1, 256, 2, 2)]

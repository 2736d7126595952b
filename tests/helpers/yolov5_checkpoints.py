"""YOLOv5-layout checkpoints with random weights and the MMYOLO values they convert to."""
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from yolov5_pickle_layout import (
    build_yolov5,
    fill_from_mmyolo,
    save_yolov5_checkpoint,
)

from mmyolo.registry import MODELS

DEPTH, WIDTH, NC = 0.33, 0.25, 3


def mmyolo_detector(values: Dict[str, Any]) -> torch.nn.Module:
    """An MMYOLO YOLOv5 detector configured by dotted ``values``."""
    cfg = Config(dict(model=dict(
        type='YOLODetector',
        backbone=dict(type='YOLOv5CSPDarknet'),
        neck=dict(type='YOLOv5PAFPN', num_csp_blocks=3),
        bbox_head=dict(
            type='YOLOv5Head',
            head_module=dict(type='YOLOv5HeadModule'),
            prior_generator=dict(type='mmdet.YOLOAnchorGenerator')))))
    cfg.merge_from_dict(dict(values))
    levels = len(values['model.bbox_head.prior_generator.strides'])
    cfg.model.bbox_head.obj_level_weights = [4.0, 1.0, 0.25, 0.06][:levels] \
        if levels == 4 else [4.0, 1.0, 0.4]
    init_default_scope('mmyolo')
    return MODELS.build(cfg.model)


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Random weights and BN statistics, rounded to fp16 (what a .pt stores)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            t.copy_(t.half().float())


def expected_values(yaml, arch: str) -> Dict[str, Any]:
    levels = 4 if arch == 'P6' else 3
    anchors = [[[a[i], a[i + 1]] for i in range(0, 6, 2)] for a in yaml['anchors']]
    strides = [8, 16, 32, 64][:levels]
    channels = [256, 512, 768, 1024] if levels == 4 else [256, 512, 1024]
    v50 = yaml['backbone'][0][2] == 'Focus'
    return {
        'model.backbone.type': 'YOLOv5V50CSPDarknet' if v50 else 'YOLOv5CSPDarknet',
        'model.backbone.arch': arch, 'model.backbone.deepen_factor': DEPTH,
        'model.backbone.widen_factor': WIDTH,
        'model.backbone.out_indices': list(range(2, 2 + levels)),
        'model.neck.deepen_factor': DEPTH, 'model.neck.widen_factor': WIDTH,
        'model.neck.in_channels': channels, 'model.neck.out_channels': channels,
        'model.bbox_head.head_module.num_classes': NC,
        'model.bbox_head.head_module.in_channels': channels,
        'model.bbox_head.head_module.widen_factor': WIDTH,
        'model.bbox_head.head_module.featmap_strides': strides,
        'model.bbox_head.prior_generator.base_sizes': anchors,
        'model.bbox_head.prior_generator.strides': strides,
    }


def write_pair(tmp_path: Path, yaml, arch: str, ema: bool, v7: bool = False,
               name: str = 'w.pt') -> Tuple[Path, torch.nn.Module, torch.nn.Module]:
    """A YOLOv5 checkpoint made from two MMYOLO models: (path, ema's, model's)."""
    values = expected_values(yaml, arch)
    sources = []
    for seed in (1, 2):
        mm = mmyolo_detector(values).eval()
        randomise(mm, seed)
        sources.append(mm)
    yolo_model = build_yolov5(yaml, NC, DEPTH, WIDTH, v7=v7)
    fill_from_mmyolo(yolo_model, sources[1].state_dict())
    yolo_ema = None
    if ema:
        yolo_ema = build_yolov5(yaml, NC, DEPTH, WIDTH, v7=v7)
        fill_from_mmyolo(yolo_ema, sources[0].state_dict())
    path = tmp_path / name
    save_yolov5_checkpoint(path, yolo_model, yolo_ema, stripped=not ema)
    assert 'models.yolo' not in sys.modules and 'models.common' not in sys.modules
    return path, sources[0], sources[1]

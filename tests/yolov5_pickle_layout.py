"""Write checkpoints in ultralytics YOLOv5's exact pickle layout, without YOLOv5.

YOLOv5's ``train.py`` saves ``{'epoch', 'best_fitness', 'model', 'ema', 'updates',
'optimizer', 'opt', 'date'}`` where ``model``/``ema`` are the ``nn.Module`` tree of
``models.yolo.Model`` (v6.1; ``DetectionModel`` from v6.2) made of ``models.common``
blocks and torch's layers, halved. Here stand-in classes of those names and
attributes (a transcription of YOLOv5's ``parse_model`` and block constructors; no
forward pass) are put in ``sys.modules`` as ``models.common`` / ``models.yolo`` only
while the file is written, and are filled with an MMYOLO model's weights through an
explicit YOLOv5 -> MMYOLO name table, so a converted checkpoint can be compared with
the model it came from.
"""
import contextlib
import math
import sys
import types
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch
import torch.nn as nn

ANCHORS_P5 = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119],
              [116, 90, 156, 198, 373, 326]]
ANCHORS_P6 = [[19, 27, 44, 40, 38, 94], [96, 68, 86, 152, 180, 137],
              [140, 301, 303, 264, 238, 542], [436, 615, 739, 380, 925, 792]]
UP = ['nn.Upsample', [None, 2, 'nearest']]

# yolov5{n,s,m,l,x}.yaml of v6.0-v7.0 (depth/width set per model).
YAML_V6_P5 = dict(
    anchors=ANCHORS_P5,
    backbone=[[-1, 1, 'Conv', [64, 6, 2, 2]], [-1, 1, 'Conv', [128, 3, 2]],
              [-1, 3, 'C3', [128]], [-1, 1, 'Conv', [256, 3, 2]],
              [-1, 6, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 2]],
              [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [1024, 3, 2]],
              [-1, 3, 'C3', [1024]], [-1, 1, 'SPPF', [1024, 5]]],
    head=[[-1, 1, 'Conv', [512, 1, 1]], [-1, 1, *UP], [[-1, 6], 1, 'Concat', [1]],
          [-1, 3, 'C3', [512, False]],
          [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, *UP], [[-1, 4], 1, 'Concat', [1]],
          [-1, 3, 'C3', [256, False]],
          [-1, 1, 'Conv', [256, 3, 2]], [[-1, 14], 1, 'Concat', [1]],
          [-1, 3, 'C3', [512, False]],
          [-1, 1, 'Conv', [512, 3, 2]], [[-1, 10], 1, 'Concat', [1]],
          [-1, 3, 'C3', [1024, False]],
          [[17, 20, 23], 1, 'Detect', ['nc', 'anchors']]])

_HEAD_P6 = [
    [-1, 1, 'Conv', [768, 1, 1]], [-1, 1, *UP], [[-1, 8], 1, 'Concat', [1]],
    [-1, 3, 'C3', [768, False]],
    [-1, 1, 'Conv', [512, 1, 1]], [-1, 1, *UP], [[-1, 6], 1, 'Concat', [1]],
    [-1, 3, 'C3', [512, False]],
    [-1, 1, 'Conv', [256, 1, 1]], [-1, 1, *UP], [[-1, 4], 1, 'Concat', [1]],
    [-1, 3, 'C3', [256, False]],
    [-1, 1, 'Conv', [256, 3, 2]], [[-1, 20], 1, 'Concat', [1]],
    [-1, 3, 'C3', [512, False]],
    [-1, 1, 'Conv', [512, 3, 2]], [[-1, 16], 1, 'Concat', [1]],
    [-1, 3, 'C3', [768, False]],
    [-1, 1, 'Conv', [768, 3, 2]], [[-1, 12], 1, 'Concat', [1]],
    [-1, 3, 'C3', [1024, False]],
    [[23, 26, 29, 32], 1, 'Detect', ['nc', 'anchors']]]

# yolov5{n,s,m,l,x}6.yaml of v6.0-v7.0.
YAML_V6_P6 = dict(
    anchors=ANCHORS_P6,
    backbone=[[-1, 1, 'Conv', [64, 6, 2, 2]], [-1, 1, 'Conv', [128, 3, 2]],
              [-1, 3, 'C3', [128]], [-1, 1, 'Conv', [256, 3, 2]],
              [-1, 6, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 2]],
              [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [768, 3, 2]],
              [-1, 3, 'C3', [768]], [-1, 1, 'Conv', [1024, 3, 2]],
              [-1, 3, 'C3', [1024]], [-1, 1, 'SPPF', [1024, 5]]],
    head=_HEAD_P6)

# v5.0's models/hub/yolov5l6.yaml (the 2021 reference's, docs/reference.md section 9).
YAML_V50_P6 = dict(
    anchors=ANCHORS_P6,
    backbone=[[-1, 1, 'Focus', [64, 3]], [-1, 1, 'Conv', [128, 3, 2]],
              [-1, 3, 'C3', [128]], [-1, 1, 'Conv', [256, 3, 2]],
              [-1, 9, 'C3', [256]], [-1, 1, 'Conv', [512, 3, 2]],
              [-1, 9, 'C3', [512]], [-1, 1, 'Conv', [768, 3, 2]],
              [-1, 3, 'C3', [768]], [-1, 1, 'Conv', [1024, 3, 2]],
              [-1, 1, 'SPP', [1024, [3, 5, 7]]], [-1, 3, 'C3', [1024, False]]],
    head=_HEAD_P6)


# --------------------------------------------------------------- YOLOv5's classes
def _autopad(k: int, p: Optional[int] = None) -> int:
    return k // 2 if p is None else p


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, _autopad(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = shortcut and c1 == c2


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, g, e=1.0)
                                 for _ in range(n)))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)


class SPP(nn.Module):
    def __init__(self, c1, c2, k=(5, 9, 13)):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList(
            [nn.MaxPool2d(kernel_size=x, stride=1, padding=x // 2) for x in k])


class Focus(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = Conv(c1 * 4, c2, k, s, p, g, act)


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension


class Detect(nn.Module):
    stride = None
    export = False

    def __init__(self, nc=80, anchors=(), ch=(), inplace=True, v50=False):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid = [torch.zeros(1)] * self.nl
        a = torch.tensor(anchors).float().view(self.nl, -1, 2)
        self.register_buffer('anchors', a)
        if v50:  # v5.0 keeps the pixel anchors as a buffer too
            self.register_buffer('anchor_grid', a.clone().view(self.nl, 1, -1, 1, 1, 2))
        else:
            self.anchor_grid = [torch.zeros(1)] * self.nl
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)
        self.inplace = inplace


class Model(nn.Module):
    def __init__(self, yaml: Dict[str, Any], v50: bool = False):
        super().__init__()
        self.yaml = yaml
        self.model, self.save = _parse_model(yaml, v50)
        self.names = [str(i) for i in range(yaml['nc'])]
        self.inplace = True
        detect = self.model[-1]
        levels = detect.nl
        detect.stride = torch.tensor([8., 16., 32., 64.][:levels])
        detect.anchors /= detect.stride.view(-1, 1, 1)
        self.stride = detect.stride


class DetectionModel(Model):
    pass


BLOCKS = dict(Conv=Conv, Bottleneck=Bottleneck, C3=C3, SPPF=SPPF, SPP=SPP,
              Focus=Focus, Concat=Concat)


def _parse_model(d: Dict[str, Any], v50: bool):
    """YOLOv5's parse_model for the modules above (same channel arithmetic)."""
    anchors, nc, gd, gw = d['anchors'], d['nc'], d['depth_multiple'], d['width_multiple']
    na = len(anchors[0]) // 2
    no = na * (nc + 5)
    layers, save, ch = [], [], [3]
    for i, (f, n, m, args) in enumerate(d['backbone'] + d['head']):
        args = [nc if a == 'nc' else anchors if a == 'anchors' else a for a in args]
        n = max(round(n * gd), 1) if n > 1 else n
        if m in ('Conv', 'C3', 'SPPF', 'SPP', 'Focus', 'Bottleneck'):
            c1, c2 = ch[f], args[0]
            if c2 != no:
                c2 = math.ceil(c2 * gw / 8) * 8
            args = [c1, c2, *args[1:]]
            if m == 'C3':
                args.insert(2, n)
                n = 1
            module = BLOCKS[m](*args)
        elif m == 'Concat':
            c2 = sum(ch[x] for x in f)
            module = Concat(*args)
        elif m == 'Detect':
            module = Detect(args[0], args[1], [ch[x] for x in f], v50=v50)
            c2 = ch[f[0]]
        else:  # nn.Upsample
            c2 = ch[f]
            module = nn.Upsample(*args)
        if n > 1:
            module = nn.Sequential(*(BLOCKS[m](*args) for _ in range(n)))
        module.i, module.f = i, f
        module.type = m if m.startswith('nn.') else f'models.common.{m}'
        module.np = sum(x.numel() for x in module.parameters())
        save.extend(x % i for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(module)
        ch = ch[1:] if i == 0 else ch
        ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


for _cls in (Conv, Bottleneck, C3, SPPF, SPP, Focus, Concat):
    _cls.__module__ = 'models.common'
for _cls in (Detect, Model, DetectionModel):
    _cls.__module__ = 'models.yolo'


@contextlib.contextmanager
def yolov5_modules() -> Iterator[None]:
    """``models``, ``models.common`` and ``models.yolo`` importable while inside."""
    common = types.ModuleType('models.common')
    yolo = types.ModuleType('models.yolo')
    for cls in BLOCKS.values():
        setattr(common, cls.__name__, cls)
    for cls in (Detect, Model, DetectionModel):
        setattr(yolo, cls.__name__, cls)
    package = types.ModuleType('models')
    package.common, package.yolo = common, yolo
    saved = {k: sys.modules.get(k) for k in ('models', 'models.common', 'models.yolo')}
    sys.modules.update({'models': package, 'models.common': common, 'models.yolo': yolo})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def build_yolov5(yaml: Dict[str, Any], nc: int, depth: float, width: float,
                 v7: bool = False) -> Model:
    """A YOLOv5 model (stand-in classes) for ``yaml`` at this size."""
    d = dict(yaml, nc=nc, depth_multiple=depth, width_multiple=width)
    v50 = d['backbone'][0][2] == 'Focus'
    return (DetectionModel if v7 else Model)(d, v50=v50)


# ------------------------------------------------ YOLOv5 -> MMYOLO names (test oracle)
def mmyolo_prefixes(levels: int, v50: bool) -> Dict[int, str]:
    """YOLOv5 layer index -> MMYOLO module, as MMYOLO's own converter tables it."""
    if levels == 3:
        table = {0: 'backbone.stem', 1: 'backbone.stage1.0', 2: 'backbone.stage1.1',
                 3: 'backbone.stage2.0', 4: 'backbone.stage2.1',
                 5: 'backbone.stage3.0', 6: 'backbone.stage3.1',
                 7: 'backbone.stage4.0', 8: 'backbone.stage4.1',
                 9: 'backbone.stage4.2', 10: 'neck.reduce_layers.2',
                 13: 'neck.top_down_layers.0.0', 14: 'neck.top_down_layers.0.1',
                 17: 'neck.top_down_layers.1', 18: 'neck.downsample_layers.0',
                 20: 'neck.bottom_up_layers.0', 21: 'neck.downsample_layers.1',
                 23: 'neck.bottom_up_layers.1',
                 24: 'bbox_head.head_module.convs_pred'}
    else:
        table = {0: 'backbone.stem', 1: 'backbone.stage1.0', 2: 'backbone.stage1.1',
                 3: 'backbone.stage2.0', 4: 'backbone.stage2.1',
                 5: 'backbone.stage3.0', 6: 'backbone.stage3.1',
                 7: 'backbone.stage4.0', 8: 'backbone.stage4.1',
                 9: 'backbone.stage5.0', 10: 'backbone.stage5.1',
                 11: 'backbone.stage5.2', 12: 'neck.reduce_layers.3',
                 15: 'neck.top_down_layers.0.0', 16: 'neck.top_down_layers.0.1',
                 19: 'neck.top_down_layers.1.0', 20: 'neck.top_down_layers.1.1',
                 23: 'neck.top_down_layers.2', 24: 'neck.downsample_layers.0',
                 26: 'neck.bottom_up_layers.0', 27: 'neck.downsample_layers.1',
                 29: 'neck.bottom_up_layers.1', 30: 'neck.downsample_layers.2',
                 32: 'neck.bottom_up_layers.2',
                 33: 'bbox_head.head_module.convs_pred'}
    return table


_IN_BLOCK = {C3: {'cv1': 'main_conv', 'cv2': 'short_conv', 'cv3': 'final_conv',
                  'm': 'blocks'},
             Bottleneck: {'cv1': 'conv1', 'cv2': 'conv2'},
             SPPF: {'cv1': 'conv1', 'cv2': 'conv2'},
             SPP: {'cv1': 'conv1', 'cv2': 'conv2'}}


def _mmyolo_key(model: Model, key: str, levels: int, v50: bool) -> Optional[str]:
    parts = key.split('.')  # model.<i>.<...>
    index = int(parts[1])
    if parts[2] in ('anchors', 'anchor_grid'):
        return None
    out = [mmyolo_prefixes(levels, v50)[index]]
    module: nn.Module = model.model[index]
    rest = parts[2:]
    if isinstance(module, Detect):
        return '.'.join(out + rest[1:])  # m.<k>.weight -> convs_pred.<k>.weight
    for name in rest:
        table = _IN_BLOCK.get(type(module), {})
        out.append(table.get(name, name))
        module = getattr(module, name) if not name.isdigit() else module[int(name)]
    return '.'.join(out)


def fill_from_mmyolo(model: Model, mmyolo_state: Dict[str, torch.Tensor]) -> None:
    """Give every YOLOv5 parameter/buffer the MMYOLO tensor of the same role."""
    levels = model.model[-1].nl
    v50 = isinstance(model.model[0], Focus)
    own = model.state_dict()
    mapped = set()
    for key, tensor in own.items():
        target = _mmyolo_key(model, key, levels, v50)
        if target is None:
            continue
        source = mmyolo_state[target]
        assert source.shape == tensor.shape, (key, target, source.shape, tensor.shape)
        tensor.copy_(source)
        mapped.add(target)
    missing = set(mmyolo_state) - mapped
    assert not missing, sorted(missing)[:5]


def save_yolov5_checkpoint(path: Path, model: Model, ema: Optional[Model] = None,
                           stripped: bool = False) -> None:
    """``torch.save`` the dict YOLOv5's train.py writes (halved models, numpy
    best_fitness); ``stripped`` as ``strip_optimizer`` leaves a release file."""
    with yolov5_modules():
        ckpt = {
            'epoch': -1 if stripped else 3,
            'best_fitness': None if stripped else np.array([0.4242])[0],
            'model': model.half(),
            'ema': None if ema is None else ema.half(),
            'updates': None if ema is None else 120,
            'optimizer': None,
            'opt': {'weights': 'yolov5s.pt', 'imgsz': 640, 'hyp': {'lr0': 0.01},
                    'epochs': 3},
            'date': '2022-02-22T00:00:00',
        }
        if stripped:
            for p in model.parameters():
                p.requires_grad = False
        torch.save(ckpt, path)
    model.float()
    if ema is not None:
        ema.float()

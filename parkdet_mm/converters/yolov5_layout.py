"""Where each layer of a YOLOv5 model goes in MMYOLO's YOLOv5, and under which keys.

:class:`YOLOv5Layout` reads a model record (:mod:`.yolov5_pickle`) as one of the
layouts it knows: P5 (3 levels) or P6 (4 levels), v6.x/v7.0 (a ``Conv`` stem, SPPF
after the last C3) or v5.0 (a ``Focus`` stem, SPP before the last C3), every layer
checked against YOLOv5's yaml order. It promises the MMYOLO state dict of the
record (MMYOLO's key names for ``YOLOv5CSPDarknet`` / parkdet_mm's
``YOLOv5V50CSPDarknet``, ``YOLOv5PAFPN`` and ``YOLOv5Head``; fp32 tensors) and the
values a config needs to take it (strides, anchors in pixels, classes, sizes), or
:class:`~.yolov5_pickle.YOLOv5CheckpointError` naming the first layer that fits no
layout.
"""
from collections import OrderedDict
from typing import Any, Dict, List, Sequence, Tuple

import torch

from parkdet_mm.converters.yolov5_pickle import ModuleRecord, YOLOv5CheckpointError

# Inside blocks, YOLOv5's attribute names -> MMYOLO's.
_C3_NAMES = {'cv1': 'main_conv', 'cv2': 'short_conv', 'cv3': 'final_conv',
             'm': 'blocks'}
_BOTTLENECK_NAMES = {'cv1': 'conv1', 'cv2': 'conv2'}
_SPP_NAMES = {'cv1': 'conv1', 'cv2': 'conv2'}

# MMYOLO's YOLOv5 neck/head channels before widening, by number of levels.
NECK_CHANNELS = {3: [256, 512, 1024], 4: [256, 512, 768, 1024]}


def _rename_block(kind: str, key: str) -> str:
    """``cv1.conv.weight`` in a C3 -> ``main_conv.conv.weight`` and so on."""
    parts = key.split('.')
    if kind == 'C3':
        parts[0] = _C3_NAMES[parts[0]]
        if parts[0] == 'blocks':  # blocks.<k>.cv1 -> blocks.<k>.conv1
            parts[2] = _BOTTLENECK_NAMES[parts[2]]
    elif kind in ('SPPF', 'SPP'):
        parts[0] = _SPP_NAMES[parts[0]]
    return '.'.join(parts)


class YOLOv5Layout:
    """The MMYOLO layout of one YOLOv5 model record: which layer goes where.

    Raises :class:`YOLOv5CheckpointError` naming the first module that does not fit
    MMYOLO's YOLOv5 (v6.x/v7.0) or parkdet_mm's v5.0 architecture.
    """

    def __init__(self, model: ModuleRecord) -> None:
        self.model = model
        seq = model.children().get('model')
        if not isinstance(seq, ModuleRecord):
            raise YOLOv5CheckpointError('its model has no layer list (model.model)')
        self.layers: List[ModuleRecord] = list(seq.children().values())
        yaml = model.attrs.get('yaml')
        if not isinstance(yaml, dict) or not isinstance(yaml.get('backbone'), list):
            raise YOLOv5CheckpointError('its model has no YOLOv5 yaml description')
        self.yaml = yaml
        self.detect = self.layers[-1]
        if self.detect.type_name != 'Detect':
            raise YOLOv5CheckpointError(
                f'unmapped module {self.detect.qualname} as its last layer '
                '(only the detection head Detect is mapped)')
        self.num_levels = len(self.detect.children()['m'].children())
        if self.num_levels not in NECK_CHANNELS:
            raise YOLOv5CheckpointError(
                f'its Detect has {self.num_levels} levels (3 or 4 are mapped)')
        self.targets = self._layer_targets()

    def _expect(self, index: int, kinds: Sequence[str]) -> str:
        layer = self.layers[index]
        if layer.type_name not in kinds:
            raise YOLOv5CheckpointError(
                f'unmapped module {layer.qualname} at layer {index} (expected '
                f'{" or ".join(kinds)} there for a YOLOv5 '
                f'{"P6" if self.num_levels == 4 else "P5"} model)')
        return layer.type_name

    def _layer_targets(self) -> Dict[int, Tuple[str, str]]:
        """Layer index -> (MMYOLO prefix, YOLOv5 block kind); parameter-free layers
        (Upsample, Concat) are checked and left out."""
        levels = self.num_levels
        num_backbone = len(self.yaml['backbone'])
        num_head = 7 * levels - 6  # Conv, top-down (Up, Cat, C3[, Conv]), bottom-up, Detect
        if num_backbone != 2 * levels + 4 or len(self.layers) != num_backbone + num_head:
            raise YOLOv5CheckpointError(
                f'its {len(self.layers)} layers ({num_backbone} in the backbone) are '
                f'not the YOLOv5 {"P6" if levels == 4 else "P5"} layout')
        stem = self._expect(0, ('Conv', 'Focus'))
        self.v50 = stem == 'Focus'
        targets = {0: ('backbone.stem', stem)}
        stages = levels + 1
        for stage in range(1, stages + 1):
            first = 2 * stage - 1
            targets[first] = (f'backbone.stage{stage}.0',
                              self._expect(first, ('Conv', )))
            if stage < stages:
                targets[first + 1] = (f'backbone.stage{stage}.1',
                                      self._expect(first + 1, ('C3', )))
        last = 2 * stages - 1
        if self.v50:  # Conv -> SPP -> C3
            self.spp_kernel_sizes = self._spp_kernels(self.layers[last + 1])
            targets[last + 1] = (f'backbone.stage{stages}.1',
                                 self._expect(last + 1, ('SPP', )))
            targets[last + 2] = (f'backbone.stage{stages}.2',
                                 self._expect(last + 2, ('C3', )))
        else:  # Conv -> C3 -> SPPF
            targets[last + 1] = (f'backbone.stage{stages}.1',
                                 self._expect(last + 1, ('C3', )))
            targets[last + 2] = (f'backbone.stage{stages}.2',
                                 self._expect(last + 2, ('SPPF', )))
        index = num_backbone
        targets[index] = (f'neck.reduce_layers.{levels - 1}',
                          self._expect(index, ('Conv', )))
        index += 1
        for j in range(levels - 1):  # top-down: Upsample, Concat, C3 [, Conv]
            self._expect(index, ('Upsample', ))
            self._expect(index + 1, ('Concat', ))
            if j < levels - 2:
                targets[index + 2] = (f'neck.top_down_layers.{j}.0',
                                      self._expect(index + 2, ('C3', )))
                targets[index + 3] = (f'neck.top_down_layers.{j}.1',
                                      self._expect(index + 3, ('Conv', )))
                index += 4
            else:
                targets[index + 2] = (f'neck.top_down_layers.{j}',
                                      self._expect(index + 2, ('C3', )))
                index += 3
        for j in range(levels - 1):  # bottom-up: Conv, Concat, C3
            targets[index] = (f'neck.downsample_layers.{j}',
                              self._expect(index, ('Conv', )))
            self._expect(index + 1, ('Concat', ))
            targets[index + 2] = (f'neck.bottom_up_layers.{j}',
                                  self._expect(index + 2, ('C3', )))
            index += 3
        targets[index] = ('bbox_head.head_module.convs_pred', 'Detect')
        return targets

    @staticmethod
    def _spp_kernels(spp: ModuleRecord) -> List[int]:
        pools = spp.children().get('m')
        kernels = []
        for pool in (pools.children().values() if pools is not None else ()):
            size = pool.attrs.get('kernel_size')
            kernels.append(int(size[0] if isinstance(size, (tuple, list)) else size))
        return kernels

    def state_dict(self) -> 'OrderedDict[str, torch.Tensor]':
        """MMYOLO keys -> fp32 tensors (integer buffers keep their type)."""
        out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
        for index, (prefix, kind) in sorted(self.targets.items()):
            for key, value in self.layers[index].state_dict().items():
                if kind == 'Detect':
                    if not key.startswith('m.'):
                        continue  # anchors / anchor_grid: config values, not weights
                    new_key = key[2:]
                elif kind == 'Focus':
                    new_key = key
                else:
                    new_key = _rename_block(kind, key) if kind != 'Conv' else key
                out[f'{prefix}.{new_key}'] = (value.float() if value.is_floating_point()
                                              else value.clone())
        return out

    # ---------------------------------------------------------------- meta
    def strides(self) -> List[int]:
        stride = self.detect.attrs.get('stride')
        if stride is None:
            stride = self.model.attrs.get('stride')
        if stride is None:
            raise YOLOv5CheckpointError('its Detect has no strides')
        return [int(round(float(s))) for s in torch.as_tensor(stride).flatten()]

    def anchors(self) -> List[List[List[float]]]:
        """Anchors in pixels per level, as MMYOLO's ``prior_generator.base_sizes``."""
        anchors = self.detect.state_dict().get('anchors')
        if anchors is None:
            raise YOLOv5CheckpointError('its Detect has no anchors')
        pixels = anchors.double() * torch.tensor(self.strides(), dtype=torch.float64
                                                 ).view(-1, 1, 1)
        return [[[_tidy(w), _tidy(h)] for w, h in level.tolist()] for level in pixels]

    def names(self) -> List[str]:
        names = self.model.attrs.get('names')
        if isinstance(names, dict):  # v7.0: {0: 'person', ...}
            names = [names[k] for k in sorted(names)]
        nc = self.num_classes()
        if not isinstance(names, (list, tuple)) or len(names) != nc:
            names = [str(i) for i in range(nc)]
        return [str(n) for n in names]

    def num_classes(self) -> int:
        return int(self.detect.attrs.get('nc', self.yaml.get('nc')))

    def version(self) -> str:
        if self.v50:
            return 'v5.0 (Focus stem, SPP before the last C3)'
        if self.model.type_name == 'Model':
            return 'v6.0-v6.1 (models.yolo.Model)'
        return 'v6.2-v7.0 (models.yolo.DetectionModel)'


def _tidy(value: float) -> Any:
    """Whole pixel counts as ints (fp16 anchors are exact for the stock ones)."""
    return int(round(value)) if abs(value - round(value)) < 1e-3 else round(value, 3)

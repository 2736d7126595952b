"""Convert ultralytics YOLOv5 checkpoints (``.pt``) to MMYOLO's models, without
YOLOv5's code.

:func:`convert_yolov5_checkpoint` reads the file's pickle with nothing from it
executed (:mod:`.yolov5_pickle`), takes its ``ema`` weights (else ``model``), maps
them onto MMYOLO's key names (:mod:`.yolov5_layout`) and returns an mmengine
checkpoint dict (fp32 ``state_dict`` + ``meta``: the YOLOv5 release, classes,
strides, anchors, sizes). :func:`config_values` lists the config values a model
needs to take these weights as they are, :func:`config_differences` where a config
differs from them, :func:`iter_summary` both for a person.
"""
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Tuple

from parkdet_mm.converters.yolov5_layout import NECK_CHANNELS, YOLOv5Layout
from parkdet_mm.converters.yolov5_pickle import (
    ModuleRecord,
    YOLOv5CheckpointError,
    read_yolov5_pickle,
)
from parkdet_mm.models.backbones.yolov5_v50_csp_darknet import V50_SPP_KERNEL_SIZES


def choose_weights(ckpt: Dict[str, Any],
                   weights: Optional[str]) -> Tuple[str, ModuleRecord]:
    """``ema`` when present (as YOLOv5's own loader does), else ``model``."""
    if weights is None:
        weights = 'ema' if isinstance(ckpt.get('ema'), ModuleRecord) else 'model'
    if weights not in ('ema', 'model'):
        raise YOLOv5CheckpointError(f'--weights must be ema or model, not {weights}')
    record = ckpt.get(weights)
    if not isinstance(record, ModuleRecord):
        raise YOLOv5CheckpointError(f'it holds no {weights!r} weights')
    return weights, record


def convert_yolov5_checkpoint(path: str,
                              weights: Optional[str] = None) -> Dict[str, Any]:
    """A YOLOv5 ``.pt`` as an mmengine checkpoint ``{'state_dict', 'meta'}``.

    Args:
        path: the YOLOv5 checkpoint.
        weights: ``'ema'`` or ``'model'``; None picks ``ema`` when it is there.

    Raises:
        YOLOv5CheckpointError: the file is damaged, holds a foreign global, is not
            a YOLOv5 checkpoint or holds a module the mapping does not know. The
            message names the file.
    """
    try:
        ckpt = read_yolov5_pickle(path)
        if not (isinstance(ckpt, dict)
                and isinstance(ckpt.get('model'), ModuleRecord)):
            raise YOLOv5CheckpointError(
                'it is not a YOLOv5 checkpoint (no pickled model under "model")')
        weights, record = choose_weights(ckpt, weights)
        if not record.qualname.startswith('models.yolo.'):
            raise YOLOv5CheckpointError(
                f'it is not a YOLOv5 checkpoint (its model is {record.qualname})')
        if record.type_name not in ('Model', 'DetectionModel'):
            raise YOLOv5CheckpointError(f'unmapped module {record.qualname} '
                                        '(only detection models are mapped)')
        layout = YOLOv5Layout(record)
        state_dict = layout.state_dict()
        meta = dict(
            source=str(path),
            converted_by='parkdet_mm.converters.yolov5_checkpoint',
            yolov5_version=layout.version(),
            yolov5_class=record.qualname,
            weights=weights,
            epoch=ckpt.get('epoch') if isinstance(ckpt.get('epoch'), int) else None,
            nc=layout.num_classes(),
            names=layout.names(),
            strides=layout.strides(),
            anchors=layout.anchors(),
            deepen_factor=float(layout.yaml.get('depth_multiple', 1.0)),
            widen_factor=float(layout.yaml.get('width_multiple', 1.0)),
            arch='P6' if layout.num_levels == 4 else 'P5',
            backbone='YOLOv5V50CSPDarknet' if layout.v50 else 'YOLOv5CSPDarknet',
        )
        if layout.v50:
            meta['spp_kernel_sizes'] = layout.spp_kernel_sizes
    except YOLOv5CheckpointError as err:
        raise YOLOv5CheckpointError(f'{path}: {err}') from None
    return dict(state_dict=state_dict, meta=meta)


def config_values(meta: Dict[str, Any]) -> 'OrderedDict[str, Any]':
    """The config values (dotted keys) a model needs to take these weights as is."""
    levels = len(meta['strides'])
    channels = NECK_CHANNELS[levels]
    values: 'OrderedDict[str, Any]' = OrderedDict()
    values['model.backbone.type'] = meta['backbone']
    values['model.backbone.arch'] = meta['arch']
    values['model.backbone.deepen_factor'] = meta['deepen_factor']
    values['model.backbone.widen_factor'] = meta['widen_factor']
    if (meta['backbone'] == 'YOLOv5V50CSPDarknet' and meta['spp_kernel_sizes']
            != list(V50_SPP_KERNEL_SIZES[meta['arch']])):
        values['model.backbone.spp_kernel_sizes'] = meta['spp_kernel_sizes']
    values['model.backbone.out_indices'] = list(range(2, 2 + levels))
    values['model.neck.deepen_factor'] = meta['deepen_factor']
    values['model.neck.widen_factor'] = meta['widen_factor']
    values['model.neck.in_channels'] = channels
    values['model.neck.out_channels'] = channels
    values['model.bbox_head.head_module.num_classes'] = meta['nc']
    values['model.bbox_head.head_module.in_channels'] = channels
    values['model.bbox_head.head_module.widen_factor'] = meta['widen_factor']
    values['model.bbox_head.head_module.featmap_strides'] = meta['strides']
    values['model.bbox_head.prior_generator.base_sizes'] = meta['anchors']
    values['model.bbox_head.prior_generator.strides'] = meta['strides']
    return values


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split('.'):
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            return _MISSING
    return node


_MISSING = object()
# Values a model gets by default when its config leaves them out.
_DEFAULTS = {'model.backbone.arch': 'P5', 'model.backbone.out_indices': [2, 3, 4]}


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_differences(meta: Dict[str, Any], cfg: Any) -> List[Tuple[str, Any, Any]]:
    """``(key, config value, checkpoint value)`` wherever ``cfg`` differs."""
    diffs = []
    for key, wanted in config_values(meta).items():
        have = _lookup(cfg, key)
        if have is _MISSING:
            have = _DEFAULTS.get(key, _MISSING)
        have_plain = '(not set)' if have is _MISSING else _plain(have)
        if isinstance(wanted, float) and isinstance(have_plain, (int, float)):
            same = abs(have_plain - wanted) < 1e-9
        else:
            same = have_plain == _plain(wanted)
        if not same:
            diffs.append((key, have_plain, _plain(wanted)))
    return diffs


def iter_summary(meta: Dict[str, Any]) -> Iterator[str]:
    """Lines describing the checkpoint and the config values it needs."""
    yield (f'YOLOv5 {meta["yolov5_version"]}, {meta["weights"]} weights, '
           f'{meta["arch"]}, {meta["nc"]} classes, strides {meta["strides"]}')
    names = meta['names']
    yield f'names: {names[:10]}{" ..." if len(names) > 10 else ""}'
    yield 'a config takes these weights as they are with:'
    for key, value in config_values(meta).items():
        yield f'  {key} = {value!r}'

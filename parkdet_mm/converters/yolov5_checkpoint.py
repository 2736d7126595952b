"""Read ultralytics YOLOv5 checkpoints (``.pt``) without YOLOv5's code.

A YOLOv5 checkpoint (releases v5.0 to v7.0) is ``torch.save`` of a dict whose ``model``
and, when training saved one, ``ema`` entries are the pickled ``nn.Module`` tree:
``models.yolo.Model`` (v5.0-v6.1) or ``models.yolo.DetectionModel`` (v6.2-v7.0) holding
``models.common`` blocks (``Conv``, ``C3``, ``Bottleneck``, ``SPPF``, ``Concat``; v5.0
``Focus`` and ``SPP``), ``models.yolo.Detect`` and torch's own layers. Unpickling it as
is needs the YOLOv5 repository importable and ``weights_only=False``, i.e. trusting
whatever the file asks to run.

:class:`YOLOv5Unpickler` runs nothing from the file. It rebuilds tensors from the
archive's storages, plain containers and numeric numpy values; every YOLOv5 or
``torch.nn`` module becomes a :class:`ModuleRecord`, an inert record of its class name
and attributes; any other global is refused, naming it. :func:`convert_yolov5_checkpoint`
maps such a record tree onto MMYOLO's key names (``YOLOv5CSPDarknet`` / parkdet_mm's
``YOLOv5V50CSPDarknet``, ``YOLOv5PAFPN``, ``YOLOv5Head``) and returns an mmengine
checkpoint dict (fp32 ``state_dict`` + ``meta``).
"""
import collections
import io
import pathlib
import pickle
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from parkdet_challenge.cli import InputError
from parkdet_mm.models.backbones.yolov5_v50_csp_darknet import V50_SPP_KERNEL_SIZES

try:  # numpy >= 2 moved numpy.core to numpy._core; files written by 1.x name the old
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover  (numpy 1.x)
    from numpy.core import multiarray as _np_multiarray


class YOLOv5CheckpointError(InputError):
    """The file is not a YOLOv5 checkpoint this reader can map, or is damaged."""


# --------------------------------------------------------------------------- reading
class ModuleRecord:
    """An inert stand-in for a pickled module: its class name and attribute dict.

    Unpickling builds it with ``__new__`` and hands it the module's ``__dict__``
    (``_parameters``, ``_buffers``, ``_modules`` and plain attributes); nothing of
    the original class runs.
    """
    qualname = '?'

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.attrs: Dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # (dict, slots) for classes with __slots__
            state = {k: v for part in state if isinstance(part, dict)
                     for k, v in part.items()}
        self.attrs = dict(state) if isinstance(state, dict) else {}

    @property
    def type_name(self) -> str:
        """The class name without its module, e.g. ``Conv``."""
        return self.qualname.rsplit('.', 1)[-1]

    def children(self) -> 'OrderedDict[str, ModuleRecord]':
        return self.attrs.get('_modules') or OrderedDict()

    def state_dict(self, prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
        """Parameters and persistent buffers by dotted name, as nn.Module names them."""
        out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
        skip = self.attrs.get('_non_persistent_buffers_set') or set()
        for name, value in (self.attrs.get('_parameters') or {}).items():
            if value is not None:
                out[prefix + name] = value
        for name, value in (self.attrs.get('_buffers') or {}).items():
            if value is not None and name not in skip:
                out[prefix + name] = value
        for name, child in self.children().items():
            if isinstance(child, ModuleRecord):
                out.update(child.state_dict(f'{prefix}{name}.'))
        return out

    def __repr__(self) -> str:
        return f'<record of {self.qualname}>'


class _StorageType:
    """What a storage class global (``torch.HalfStorage``) unpickles to: its dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


_STORAGE_DTYPES = {
    'DoubleStorage': torch.float64, 'FloatStorage': torch.float32,
    'HalfStorage': torch.float16, 'BFloat16Storage': torch.bfloat16,
    'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8,
    'ByteStorage': torch.uint8, 'BoolStorage': torch.bool,
}


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: Sequence[int],
                    stride: Sequence[int], *_: Any) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` for dense tensors: a view of the storage."""
    if not isinstance(storage, torch.Tensor):
        raise pickle.UnpicklingError('a tensor without a storage')
    return torch.as_strided(storage, tuple(size), tuple(stride), offset)


def _rebuild_parameter(data: torch.Tensor, *_: Any) -> torch.Tensor:
    """Parameters come back as plain tensors: a state dict needs no more."""
    return data


def _numeric_dtype(obj: Any, *args: Any) -> np.dtype:
    dtype = np.dtype(obj, *args[:2])
    if dtype.hasobject:
        raise pickle.UnpicklingError('numpy object arrays are refused')
    return dtype


def _numpy_scalar(dtype: np.dtype, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError('numpy object scalars are refused')
    return _np_multiarray.scalar(dtype, *args)


def _latin1_bytes(text: str, encoding: str = 'latin1') -> bytes:
    """Protocol 2 pickles ``bytes`` (numpy scalars' data) as ``_codecs.encode``."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError('_codecs.encode other than latin1 bytes')
    return text.encode('latin1')


def _path_as_text(*parts: str) -> str:
    """``pathlib`` paths in ``opt`` are kept as text: nothing needs them as paths."""
    return str(pathlib.PurePosixPath(*parts))


_SAFE_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('__builtin__', 'set'): set, ('builtins', 'set'): set,
    ('__builtin__', 'frozenset'): frozenset, ('builtins', 'frozenset'): frozenset,
    ('_codecs', 'encode'): _latin1_bytes,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('numpy', 'dtype'): _numeric_dtype,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy.core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy._core.multiarray', 'scalar'): _numpy_scalar,
    ('numpy.core.multiarray', '_reconstruct'): _np_multiarray._reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _np_multiarray._reconstruct,
    ('pathlib', 'PosixPath'): _path_as_text,
    ('pathlib', 'WindowsPath'): _path_as_text,
    ('pathlib', 'PurePosixPath'): _path_as_text,
}
for _name, _dtype in _STORAGE_DTYPES.items():
    _SAFE_GLOBALS[('torch', _name)] = _StorageType(_dtype)
for _dtype_class in {type(np.dtype(c)) for c in
                     np.typecodes['AllInteger'] + np.typecodes['AllFloat'] + '?'}:
    _SAFE_GLOBALS[('numpy.dtypes', _dtype_class.__name__)] = _dtype_class


def _is_module_class(module: str) -> bool:
    """YOLOv5's own modules and torch's layers: read as records, never imported."""
    return (module.split('.')[0] == 'models'
            or module.startswith('torch.nn.modules.'))


class YOLOv5Unpickler(pickle.Unpickler):
    """Unpickle a torch zip checkpoint's ``data.pkl`` with nothing from it executed."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._records: Dict[str, type] = {}
        self._storages: Dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if _is_module_class(module) and name.isidentifier():
            qualname = f'{module}.{name}'
            if qualname not in self._records:
                self._records[qualname] = type(name, (ModuleRecord, ),
                                               {'qualname': qualname})
            return self._records[qualname]
        raise YOLOv5CheckpointError(
            f'it holds the global {module}.{name}, which is neither YOLOv5\'s nor '
            'torch\'s; refusing to load it')

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f'unexpected persistent id {pid!r:.80}')
        _, storage_type, key, _location, numel = pid
        key = str(key)
        if key not in self._storages:
            dtype = storage_type.dtype
            try:
                raw = self._archive.read(f'{self._prefix}data/{key}')
            except KeyError:
                raise YOLOv5CheckpointError(
                    f'its storage {key} is missing (truncated or damaged file)'
                ) from None
            itemsize = torch.empty((), dtype=dtype).element_size()
            if len(raw) < numel * itemsize:
                raise YOLOv5CheckpointError(
                    f'its storage {key} is short (truncated or damaged file)')
            flat = (torch.frombuffer(bytearray(raw[:numel * itemsize]), dtype=dtype)
                    if numel else torch.empty(0, dtype=dtype))
            self._storages[key] = flat
        return self._storages[key]


def _open_archive(path: str) -> Tuple[zipfile.ZipFile, str]:
    """The zip archive torch.save writes and the folder name inside it."""
    try:
        with open(path, 'rb') as f:
            magic = f.read(4)
    except OSError as err:
        raise YOLOv5CheckpointError(f'cannot read it ({err.strerror})') from None
    if magic != b'PK\x03\x04':
        raise YOLOv5CheckpointError(
            'it is not a torch checkpoint of torch >= 1.6 (no zip archive), so not '
            'a YOLOv5 v5.0-v7.0 checkpoint')
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise YOLOv5CheckpointError(
            'its zip archive is cut short or damaged (truncated file?)') from None
    pickles = [n for n in archive.namelist() if n.endswith('data.pkl')
               and n.count('/') == 1]
    if not pickles:
        archive.close()
        raise YOLOv5CheckpointError('it is a zip archive but not a torch checkpoint')
    return archive, pickles[0][:-len('data.pkl')]


def looks_like_yolov5_checkpoint(path: str) -> bool:
    """Cheap test: a torch zip checkpoint whose pickle loads a ``models.yolo`` class.

    Used to route ``.pt`` files to :func:`convert_yolov5_checkpoint`; the
    conversion itself checks the whole structure.
    """
    try:
        archive, prefix = _open_archive(path)
    except YOLOv5CheckpointError:
        return False
    with archive:
        try:
            data = archive.read(prefix + 'data.pkl')
        except (KeyError, zipfile.BadZipFile, OSError):
            return False
    # GLOBAL opcode (protocol 2, torch.save's default) or the module name as a short
    # string for STACK_GLOBAL (protocol 4); a config text in an mmengine checkpoint's
    # meta that merely mentions models.yolo matches neither.
    return b'cmodels.yolo\n' in data or b'\x8c\x0bmodels.yolo\x94' in data


def read_yolov5_pickle(path: str) -> Any:
    """Unpickle a torch zip checkpoint with :class:`YOLOv5Unpickler`."""
    archive, prefix = _open_archive(path)
    with archive:
        try:
            byteorder = archive.read(prefix + 'byteorder')
        except KeyError:
            byteorder = b'little'
        if byteorder.strip() != b'little':
            raise YOLOv5CheckpointError('it was written big-endian; not supported')
        try:
            data = archive.read(prefix + 'data.pkl')
            return YOLOv5Unpickler(data, archive, prefix).load()
        except YOLOv5CheckpointError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise YOLOv5CheckpointError(
                f'it is damaged or truncated ({err})') from None
        except (pickle.UnpicklingError, ValueError, TypeError,
                RuntimeError) as err:
            raise YOLOv5CheckpointError(
                f'its pickle is not a YOLOv5 checkpoint\'s ({err})') from None


# --------------------------------------------------------------------------- mapping
# Inside blocks, YOLOv5's attribute names -> MMYOLO's.
_C3_NAMES = {'cv1': 'main_conv', 'cv2': 'short_conv', 'cv3': 'final_conv',
             'm': 'blocks'}
_BOTTLENECK_NAMES = {'cv1': 'conv1', 'cv2': 'conv2'}
_SPP_NAMES = {'cv1': 'conv1', 'cv2': 'conv2'}

# MMYOLO's YOLOv5 neck/head channels before widening, by number of levels.
_NECK_CHANNELS = {3: [256, 512, 1024], 4: [256, 512, 768, 1024]}


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
        if self.num_levels not in _NECK_CHANNELS:
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


# --------------------------------------------------------------------------- configs
def config_values(meta: Dict[str, Any]) -> 'OrderedDict[str, Any]':
    """The config values (dotted keys) a model needs to take these weights as is."""
    levels = len(meta['strides'])
    channels = _NECK_CHANNELS[levels]
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

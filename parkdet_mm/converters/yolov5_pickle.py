"""Read a YOLOv5 checkpoint's pickle (``.pt``) with nothing from the file executed.

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
and attributes; any other global is refused, naming it (:class:`YOLOv5CheckpointError`,
as for a damaged or truncated file). :func:`read_yolov5_pickle` returns the record
tree; :func:`looks_like_yolov5_checkpoint` tells such a file apart cheaply.
"""
import collections
import io
import pathlib
import pickle
import zipfile
from collections import OrderedDict
from typing import Any, Dict, Sequence, Tuple

import numpy as np
import torch

from parkdet_challenge.errors import InputError

try:  # numpy >= 2 moved numpy.core to numpy._core; files written by 1.x name the old
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover  (numpy 1.x)
    from numpy.core import multiarray as _np_multiarray


class YOLOv5CheckpointError(InputError):
    """The file is not a YOLOv5 checkpoint this reader can map, or is damaged."""


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

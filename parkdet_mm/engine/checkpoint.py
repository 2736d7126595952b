"""Read checkpoints safely and write them atomically.

Reading: mmengine checkpoints load with torch's ``weights_only=True`` kept on.

torch >= 2.6 unpickles checkpoints with ``weights_only=True``: only tensors, containers
and an allow-list of classes may appear. mmengine's checkpoints also hold its
``HistoryBuffer`` (the message hub's logged scalars) and numpy arrays, scalars and
dtypes, so ``resume``, ``load_from`` and testing fail out of the box. Rather than
switch the safety off, :func:`allow_mmengine_checkpoints` adds exactly those classes to
torch's allow-list, and :func:`load_local_checkpoint` (registered as mmengine's loader
for local paths) turns a refusal into one clear :class:`UnsafeCheckpointError`.

The same loader recognises an ultralytics YOLOv5 checkpoint (``.pt``, which holds
pickled YOLOv5 modules) and converts it in memory with
:func:`~parkdet_mm.converters.yolov5_checkpoint.convert_yolov5_checkpoint`, so
``load_from``, ``tools/test.py`` and ``tools/predict.py`` take it directly.

A checkpoint named by URL (``load_from = 'https://...'``, as MMYOLO's configs name their
weights) is downloaded once by torch's own ``download_url_to_file`` (its progress bar)
into torch's hub cache, ``$TORCH_HOME/hub/checkpoints/<file name>``, where MMEngine
puts ``load_from`` URLs, and then read as a local file is (a YOLOv5 ``.pt`` converted in
memory): :func:`fetch_checkpoint`. The next run reads the cache and needs no network;
without a network and without the cached file it is one :class:`CheckpointDownloadError`
naming the URL and what to do by hand.

A file that is missing, cut short, damaged or not a checkpoint at all is one
:class:`CheckpointFileError` naming it, never torch's traceback:
:func:`check_checkpoint_file` finds most of them cheaply (the zip directory only) before
a tool builds anything, and :func:`load_local_checkpoint` wraps the real load's errors.

Writing: the ``atomic_local`` file backend (:class:`AtomicLocalBackend`) is
mmengine's local backend whose ``put`` writes a temporary file in the same folder,
flushes it to disk and renames it over the target, so a kill or a full disk leaves
the previous file or the new complete one, never a part. Select it with
``backend_args=ATOMIC_BACKEND_ARGS`` wherever mmengine takes ``backend_args``
(``AtomicCheckpointHook`` does by default), or call :func:`save_checkpoint_atomic`.
"""
import os
import os.path as osp
import pickle
import re
import socket
import zipfile
from typing import Any, List, Optional
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader, save_checkpoint

from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError
from parkdet_mm.converters.yolov5_checkpoint import convert_yolov5_checkpoint
from parkdet_mm.converters.yolov5_pickle import looks_like_yolov5_checkpoint

#: The name of :class:`AtomicLocalBackend` among mmengine's file backends.
ATOMIC_BACKEND = 'atomic_local'
#: ``backend_args`` selecting it (mmengine copies them; the dict is not changed).
ATOMIC_BACKEND_ARGS = dict(backend=ATOMIC_BACKEND)

# torch.save's zip archive opens with a local file header; its legacy format (torch
# < 1.6, or _use_new_zipfile_serialization=False) with a pickled magic number:
# protocol 2, then the number as a 10-byte LONG1.
_ZIP_MAGIC = b'PK\x03\x04'
_LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19'


class UnsafeCheckpointError(InputError):
    """A checkpoint holds a class that is not on the allow-list."""


class CheckpointFileError(InputError):
    """A checkpoint file that is missing, cut short, damaged or not a checkpoint."""


class CheckpointDownloadError(InputError):
    """A checkpoint URL that cannot be downloaded and is not in torch's hub cache."""


#: URL schemes :func:`fetch_checkpoint` downloads (MMEngine's ``load_from_http``'s).
URL_SCHEMES = ('http://', 'https://')
# Seconds a download may wait on one socket operation before it counts as failed
# (urllib waits forever by default: a firewall that drops packets would hang a run).
DOWNLOAD_TIMEOUT_S = 60


def is_url(path: str) -> bool:
    """Whether ``path`` names a checkpoint by URL (http or https)."""
    return str(path).startswith(URL_SCHEMES)


def cached_checkpoint_path(url: str) -> str:
    """Where torch's hub cache keeps ``url``'s file:
    ``$TORCH_HOME/hub/checkpoints/<file name>`` (torch.hub's and MMEngine's place)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(urlparse(url).path))


def fetch_checkpoint(url: str, progress: bool = True) -> str:
    """The local path of ``url``'s checkpoint: the hub cache's copy, downloaded
    first (by torch's ``download_url_to_file``, to a temporary file renamed when
    complete) when it is not there yet.

    Raises:
        CheckpointDownloadError: the download failed and nothing is cached: one
            line naming the URL, the cache path and the commands that do it by hand.
    """
    cached = cached_checkpoint_path(url)
    if osp.isfile(cached):
        return cached
    os.makedirs(osp.dirname(cached), exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        print(f'Downloading {url} to {cached}', flush=True)
        torch.hub.download_url_to_file(url, cached, progress=progress)
    except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts
        raise CheckpointDownloadError(_download_failed(url, cached, err)) from None
    finally:
        socket.setdefaulttimeout(previous)
    return cached


def _download_failed(url: str, cached: str, err: BaseException) -> str:
    """The one line for a URL that could not be fetched: what happened, and the
    two commands that do it by hand."""
    # urllib's URLError says `<urlopen error ...>` around its reason; HTTPError's
    # own text has the status (`HTTP Error 404: Not Found`)
    plain = isinstance(err, URLError) and not isinstance(err, HTTPError)
    reason = err.reason if plain else _first_line(err)
    line = (f'checkpoint {url} cannot be downloaded ({reason}) and is not in '
            f"torch's hub cache ({cached}): download it there "
            f'(`curl -L --create-dirs -o {cached} {url}`, or copy the file there from '
            'a machine with a network)')
    name, stem = osp.basename(cached), osp.splitext(osp.basename(cached))[0]
    if name.endswith('.pt'):  # a YOLOv5 release file
        line += (f', or convert a copy (`python tools/convert_yolov5.py {name} '
                 f'checkpoints/{stem}.pth`) and set load_from=checkpoints/{stem}.pth')
    return line


def check_checkpoint_file(path: str) -> None:
    """Raise :class:`CheckpointFileError` unless ``path`` looks like a complete
    torch checkpoint; reads its first bytes and its zip directory, not its tensors.

    torch.save writes a zip archive whose directory is at its end, so a file cut
    short at any point has none, which is what is checked, with the ``data.pkl``
    every torch checkpoint holds. A file of torch's legacy format passes on its
    magic number alone (the load then reports its damage). Damage inside a
    complete archive shows only when the data is read: :func:`load_local_checkpoint`
    turns those errors into the same one line.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(len(_LEGACY_MAGIC))
    except FileNotFoundError:
        raise CheckpointFileError(f'checkpoint {path} does not exist') from None
    except OSError as err:
        raise CheckpointFileError(
            f'checkpoint {path} cannot be read: {err.strerror}') from None
    if head.startswith(_LEGACY_MAGIC):
        return
    if not head.startswith(_ZIP_MAGIC):
        raise CheckpointFileError(
            f'checkpoint {path} is not a checkpoint: torch.save writes a zip '
            f'archive, this file starts with {head[:8]!r}')
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CheckpointFileError(
            f'checkpoint {path} is cut short or damaged: its zip archive has no '
            'complete directory; was it written completely?') from None
    if not any(name.endswith('/data.pkl') and name.count('/') == 1
               for name in names):
        raise CheckpointFileError(
            f'checkpoint {path} is a zip archive but not a torch checkpoint '
            '(no data.pkl)')


def _first_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message, first line, at most ``limit`` characters."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    line = lines[0]
    return line if len(line) <= limit else line[:limit - 3] + '...'


def _history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stands in for ``getattr`` while unpickling, for HistoryBuffer alone.

    A pickled ``HistoryBuffer`` keeps its statistics methods as
    ``getattr(HistoryBuffer, 'mean')`` and so on. A general ``getattr`` would reach
    any attribute of any allowed class (``ndarray.tofile`` writes files), so only
    those methods are handed out.
    """
    # The built-in four are registered lazily by the first HistoryBuffer() call.
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL getattr({owner!r}, {name!r})')


def mmengine_checkpoint_globals() -> List[Any]:
    """The classes and functions an mmengine checkpoint may hold besides tensors."""
    # Numeric and bool dtypes only: object arrays would smuggle arbitrary pickles.
    codes = np.typecodes['AllInteger'] + np.typecodes['AllFloat'] + '?'
    numpy_dtypes = {type(np.dtype(code)) for code in codes}
    return [
        HistoryBuffer,
        # torch.save pickles with protocol 2, hence the Python 2 module name.
        (_history_buffer_statistic, '__builtin__.getattr'),
        (_history_buffer_statistic, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        *sorted(numpy_dtypes, key=lambda cls: cls.__name__),
    ]


def allow_mmengine_checkpoints() -> None:
    """Add mmengine's checkpoint classes to torch's ``weights_only`` allow-list."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None,
                          mmap: bool = False) -> Any:
    """Load a local checkpoint with ``weights_only=True``.

    A YOLOv5 checkpoint is converted to MMYOLO's layout instead (its ``ema``
    weights when it has them), nothing from it executed. ``mmap=True`` maps the
    tensors' storage instead of reading it (torch's ``mmap``): what reads only
    the meta stays cheap for a large file.

    Raises:
        CheckpointFileError: the file is missing, cut short, damaged or not a
            checkpoint (:func:`check_checkpoint_file`, then any error of the load
            itself), in one line naming it.
        UnsafeCheckpointError: the file holds an object outside the allow-list.
        YOLOv5CheckpointError: a YOLOv5 checkpoint that cannot be mapped.
    """
    check_checkpoint_file(filename)
    if looks_like_yolov5_checkpoint(filename):
        return convert_yolov5_checkpoint(filename)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True,
                          mmap=mmap)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL (.*?)(?: was not an allowed|$)', str(err),
                          re.MULTILINE)
        if not found:
            raise CheckpointFileError(
                f'checkpoint {filename} cannot be loaded, it is damaged: '
                f'{_first_line(err)}') from None
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: it holds {found.group(1)}, '
            'which is not on the allow-list of what mmengine checkpoints contain '
            '(torch weights_only=True)') from None
    except Exception as err:  # torch's reader: RuntimeError, EOFError, KeyError...
        raise CheckpointFileError(
            f'checkpoint {filename} cannot be loaded: {_first_line(err)}') from None


def load_url_checkpoint(filename: str, map_location: Optional[Any] = None,
                        progress: bool = True) -> Any:
    """MMEngine's loader for ``http(s)://`` checkpoints, replaced: the file is
    fetched into torch's hub cache (:func:`fetch_checkpoint`; under several
    processes rank 0 first, as MMEngine's ``load_from_http``) and read by
    :func:`load_local_checkpoint`, so ``weights_only=True`` and the in-memory
    YOLOv5 conversion apply to downloaded files too."""
    rank, world_size = get_dist_info()
    if rank == 0:
        path = fetch_checkpoint(filename, progress)
    if world_size > 1:
        barrier()
        if rank > 0:
            path = fetch_checkpoint(filename, progress)
    return load_local_checkpoint(path, map_location=map_location)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes replace a file atomically:
    a temporary file in the same folder, flushed to disk, renamed over the target
    (:mod:`parkdet_challenge.atomic`). A failed or killed write leaves the target
    as it was and, except after a kill, no temporary file."""

    def put(self, obj: bytes, filepath) -> None:
        write_bytes_atomic(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_bytes_atomic(filepath, obj.encode(encoding))


def save_checkpoint_atomic(checkpoint: dict, filename: str) -> None:
    """mmengine's ``save_checkpoint`` through :class:`AtomicLocalBackend`: the
    file named ``filename`` is the previous one or the complete new one."""
    save_checkpoint(checkpoint, filename, backend_args=ATOMIC_BACKEND_ARGS)


CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                 force=True)
CheckpointLoader.register_scheme(prefixes=URL_SCHEMES, loader=load_url_checkpoint,
                                 force=True)
register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
allow_mmengine_checkpoints()

"""Training images decoded once, in shared RAM or as arrays on disk (YOLOv5's --cache).

An image is stored as Mosaic would first see it: decoded, then, when the pipeline's
Mosaic always runs, resized the way Mosaic resizes it (keep ratio, long side to the
training size, bilinear), so the pipeline produces the same pixels and boxes from the
cache as from the file: the loading transform
(:class:`~parkdet_mm.datasets.transforms.LoadImageFromFileOrCache`) scales the boxes by
Mosaic's ratio, and Mosaic's own resize becomes a no-op.
"""
import json
import logging
import mmap
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine.logging import print_log
from tqdm import tqdm

from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError

CACHE_MODES = ('ram', 'disk')
# YOLOv5 keeps this share of the available memory free when it caches in RAM.
RAM_SAFETY_MARGIN = 0.1
DISK_CACHE_DIR = '.image_cache'
INDEX_FILE = 'index.json'


class CachedImage(NamedTuple):
    """A cached image (read-only), its file's (height, width), and the factor its
    boxes are scaled by (1.0 when the image is stored at the file's size)."""
    img: np.ndarray
    ori_shape: Tuple[int, int]
    box_scale: float


def mosaic_size(width: int, height: int,
                scale: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    """The (width, height) an image is cached at for a Mosaic of ``scale`` (w, h).

    Mosaic resizes a tile by ``r = min(h_s / h, w_s / w)`` to ``(int(w r), int(h r))``;
    so does the cache. Mosaic then computes ``r`` again on the cached tile; when float
    rounding put the long side one pixel short, that second ``r`` is not 1 and the
    tile would be resized twice, so such images (and every image when ``scale`` is
    None) are kept at the file's size instead.
    """
    if scale is None:
        return width, height
    ratio = min(scale[1] / height, scale[0] / width)
    size = int(width * ratio), int(height * ratio)
    if min(size) < 1 or min(scale[1] / size[1], scale[0] / size[0]) != 1.0:
        return width, height
    return size


def box_scale(ori_shape: Tuple[int, int], img_shape: Tuple[int, int],
              scale: Optional[Tuple[int, int]]) -> float:
    """Mosaic's ratio for a file of ``ori_shape`` (h, w) cached at ``img_shape``."""
    if tuple(img_shape) == tuple(ori_shape) or scale is None:
        return 1.0
    return min(scale[1] / ori_shape[0], scale[0] / ori_shape[1])


def available_memory() -> int:
    """Bytes of memory the kernel reports as available (``MemAvailable``)."""
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    raise OSError('MemAvailable missing from /proc/meminfo')


def _file_key(path: str) -> List[int]:
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def _gigabytes(num_bytes: int) -> str:
    return f'{num_bytes / 1e9:.2f} GB'


class ImageCache:
    """Cached training images by path: in one anonymous shared memory block (``ram``),
    which dataloader workers forked after it was built map rather than copy, or as
    one ``.npy`` per image read memory-mapped (``disk``).

    Build it with :meth:`build`; :meth:`get` returns None for images it does not
    hold (those that could not be read while it was built), which are then read
    from their files.
    """

    def __init__(self, mode: str, scale: Optional[Tuple[int, int]],
                 paths: Sequence[str], shapes: np.ndarray,
                 ori_shapes: np.ndarray) -> None:
        self.mode = mode
        self.scale = scale
        self.index: Dict[str, int] = {p: i for i, p in enumerate(paths)}
        self.shapes = shapes  # (n, 2) height, width as stored
        self.ori_shapes = ori_shapes  # (n, 2) height, width of the files
        self.present = np.zeros(len(paths), dtype=bool)
        sizes = shapes[:, 0].astype(np.int64) * shapes[:, 1] * 3
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.buffer: Optional[np.ndarray] = None
        self.files: List[str] = []
        if mode == 'ram':
            # MAP_SHARED | MAP_ANONYMOUS: forked workers see these pages, not copies.
            block = mmap.mmap(-1, max(int(self.offsets[-1]), 1))
            self.buffer = np.frombuffer(block, dtype=np.uint8)
        else:
            self.files = [disk_cache_file(p, scale) for p in paths]

    def __len__(self) -> int:
        """How many images the cache holds."""
        return int(self.present.sum())

    def get(self, path: str) -> Optional[CachedImage]:
        """The cached image of ``path``, or None when the cache does not hold it."""
        i = self.index.get(path)
        if i is None or not self.present[i]:
            return None
        height, width = self.shapes[i]
        if self.buffer is not None:
            img = self.buffer[self.offsets[i]:self.offsets[i + 1]].reshape(
                height, width, 3)
            img.flags.writeable = False
        else:
            img = np.load(self.files[i], mmap_mode='r')
        ori_shape = (int(self.ori_shapes[i][0]), int(self.ori_shapes[i][1]))
        return CachedImage(img, ori_shape,
                           box_scale(ori_shape, (height, width), self.scale))

    def _put(self, i: int, img: np.ndarray) -> None:
        self.buffer[self.offsets[i]:self.offsets[i + 1]] = img.reshape(-1)
        self.present[i] = True

    @classmethod
    def build(cls, mode: str, paths: Sequence[str],
              sizes: Sequence[Tuple[int, int]],
              scale: Optional[Tuple[int, int]],
              decode: Callable[[str], np.ndarray],
              progress: bool = True) -> 'ImageCache':
        """Decode every image of ``paths`` (whose annotated (width, height) are
        ``sizes``) with ``decode`` and cache it for a Mosaic of ``scale``.

        Logs the memory or disk it needs before it starts; raises InputError when
        ``ram`` needs more than the available memory (less a 10% margin). A file
        that cannot be decoded, or whose size differs from its annotation, is left
        out with a warning. ``disk`` reuses an image's array while the file keeps
        its size and modification time, and rewrites it otherwise.
        """
        if mode not in CACHE_MODES:
            raise InputError(f'image cache must be one of {CACHE_MODES}, '
                             f'not {mode!r}')
        planned = [mosaic_size(w, h, scale) for w, h in sizes]
        shapes = np.array([(h, w) for w, h in planned],
                          dtype=np.int64).reshape(-1, 2)
        ori_shapes = np.array([(h, w) for w, h in sizes],
                              dtype=np.int64).reshape(-1, 2)
        needed = int((shapes[:, 0] * shapes[:, 1] * 3).sum())
        at = (f'long side {max(scale)} as Mosaic resizes'
              if scale else 'file size')
        if mode == 'ram':
            available = available_memory()
            print_log(
                f'image cache (ram): {len(paths)} images at {at} need '
                f'{_gigabytes(needed)} of memory ({_gigabytes(available)} '
                'available)', logger='current')
            if needed * (1 + RAM_SAFETY_MARGIN) > available:
                raise InputError(
                    f'not enough free memory to cache {len(paths)} training '
                    f'images in RAM: they need {_gigabytes(needed)}, '
                    f'{_gigabytes(available)} is available; use --cache disk')
        cache = cls(mode, scale, paths, shapes, ori_shapes)
        if mode == 'ram':
            todo = list(range(len(paths)))
        else:
            todo = cache._reuse_disk(paths, needed)
        if todo:
            cache._fill(todo, paths, decode, progress)
        if mode == 'disk':
            cache._write_indexes(paths)
        return cache

    def _reuse_disk(self, paths: Sequence[str], needed: int) -> List[int]:
        """Mark the images whose arrays on disk are still current; return the rest."""
        indexes: Dict[str, dict] = {}
        todo = []
        for i, path in enumerate(paths):
            folder = osp.dirname(self.files[i])
            if folder not in indexes:
                indexes[folder] = _read_index(folder)
            entry = indexes[folder].get(osp.basename(path))
            try:
                current = entry is not None and entry == [
                    *_file_key(path), *map(int, self.ori_shapes[i])
                ] and _complete_array(self.files[i], self.shapes[i])
            except OSError:
                current = False
            if current:
                self.present[i] = True
            else:
                todo.append(i)
        write = int(sum(self.shapes[i][0] * self.shapes[i][1] * 3 for i in todo))
        print_log(
            f'image cache (disk): {len(paths)} images need {_gigabytes(needed)} '
            f'on disk beside them; {len(paths) - len(todo)} are cached already, '
            f'{len(todo)} to write ({_gigabytes(write)})', logger='current')
        return todo

    def _fill(self, todo: List[int], paths: Sequence[str],
              decode: Callable[[str], np.ndarray], progress: bool) -> None:

        def load(i: int):
            try:
                img = decode(paths[i])
            except Exception as err:  # unreadable: left to the loading transform
                return i, None, str(err)
            h, w = img.shape[:2]
            if (h, w) != tuple(self.ori_shapes[i]) or img.ndim != 3:
                return i, None, (f'decoded as {w}x{h}, annotated as '
                                 f'{self.ori_shapes[i][1]}x{self.ori_shapes[i][0]}')
            if tuple(self.shapes[i]) != (h, w):
                img = mmcv.imresize(img, (int(self.shapes[i][1]),
                                          int(self.shapes[i][0])))
            if self.mode == 'disk':
                _save_array(self.files[i], img)
                self.present[i] = True
                return i, None, None
            return i, img, None

        threads = min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(threads) as pool:
            results = pool.map(load, todo)
            for i, img, error in tqdm(results, total=len(todo),
                                      desc=f'caching images ({self.mode})',
                                      disable=not progress):
                if img is not None:
                    self._put(i, img)
                elif error is not None:
                    print_log(f'image cache: left out {paths[i]}: {error}',
                              logger='current', level=logging.WARNING)

    def _write_indexes(self, paths: Sequence[str]) -> None:
        by_folder: Dict[str, dict] = {}
        for i, path in enumerate(paths):
            if not self.present[i]:
                continue
            folder = osp.dirname(self.files[i])
            if folder not in by_folder:
                by_folder[folder] = _read_index(folder)
            by_folder[folder][osp.basename(path)] = [
                *_file_key(path), *map(int, self.ori_shapes[i])
            ]
        for folder, index in by_folder.items():
            write_bytes_atomic(
                osp.join(folder, INDEX_FILE),
                json.dumps(index, sort_keys=True).encode())


def disk_cache_file(path: str, scale: Optional[Tuple[int, int]]) -> str:
    """Where the disk cache keeps the array of image ``path`` for ``scale``:
    ``<image folder>/.image_cache/<w>x<h>/<file name>.npy`` (``full`` for no scale)."""
    size = f'{scale[0]}x{scale[1]}' if scale else 'full'
    return osp.join(
        osp.dirname(path), DISK_CACHE_DIR, size, osp.basename(path) + '.npy')


def _read_index(folder: str) -> dict:
    try:
        with open(osp.join(folder, INDEX_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


# np.save writes version 1.0 headers, 2.0 for headers over 64 KiB
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _complete_array(path: str, shape: np.ndarray) -> bool:
    """Whether ``path`` is a whole ``.npy`` of a uint8 (h, w, 3) image of
    ``shape`` (h, w): its header says so and the file is exactly that long.

    Arrays are renamed into place once written, so a killed run leaves none
    half-written; after a power cut, though, a renamed file may still lack its
    data, and the index entry alone would not show it. Reads only the header.
    """
    with open(path, 'rb') as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = _NPY_HEADER_READERS.get(version)
            if read_header is None:
                return False
            header = read_header(f)
        except ValueError:  # not an .npy, or its header is cut short
            return False
        data_start = f.tell()
        size = os.fstat(f.fileno()).st_size
    array_shape, fortran_order, dtype = header
    expected = (int(shape[0]), int(shape[1]), 3)
    return (array_shape == expected and dtype == np.uint8 and not fortran_order
            and size == data_start + int(np.prod(expected)))


def _save_array(path: str, img: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp'
    try:
        with open(tmp, 'wb') as f:
            np.save(f, np.ascontiguousarray(img))
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise

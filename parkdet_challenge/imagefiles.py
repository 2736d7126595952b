"""Image files on disk: find them by name whatever the Unicode normalization, read sizes,
verify their data.

Two facts of the challenge's data shape this module (docs/reference.md section 1): Hangul file names
may be NFC in the JSON and NFD on disk (or the reverse), and the JSON may lack image
sizes. Sizes come from the file header, never from decoding pixels: a PNG's size sits
in its first 24 bytes, so 25,000 images take a fraction of a second. A file cut short
(an interrupted unzip) has a good header, though, so :func:`verify_image` reads the
whole file and checks it the way YOLOv5 checked every image when it built its label
cache; :func:`read_image_sizes` runs either check over many files, verification in
parallel processes.
"""
import io
import multiprocessing
import os
import struct
import unicodedata
import zlib
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

# ISA-L's CRC-32 (same values as zlib's) runs at 3.5x zlib's speed, which decides
# whether checking every byte costs much more than reading it (benchmarks/bench_verify.py).
from isal.isal_zlib import crc32

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Signature (8) + IHDR length (4) + b'IHDR' (4) + width, height (8) + 5 header bytes
# + CRC (4): enough to check the chunk and read the size.
_PNG_HEAD = 33


class ImageFolder:
    """The listing of one image folder, searchable by NFC-normalized name: flat (a
    name's last path component counts) or ``recursive`` (names are paths below the
    folder, '/'-separated)."""

    def __init__(self, root: Path, recursive: bool = False) -> None:
        """List ``root``; raises ``FileNotFoundError``/``NotADirectoryError`` if absent."""
        self.root = Path(root)
        self.recursive = recursive
        if recursive:
            if not self.root.is_dir():
                raise NotADirectoryError(f'not a folder: {self.root}')
            names = sorted(
                os.path.relpath(os.path.join(folder, name), self.root).replace(
                    os.sep, '/')
                for folder, _, files in os.walk(self.root) for name in files)
        else:
            names = sorted(os.listdir(self.root))
        self._names = set(names)
        # Sorted, so that if two spellings of one name both exist the choice is fixed;
        # an exact match still wins over this map in resolve().
        self._by_nfc: Dict[str, str] = {}
        for name in names:
            self._by_nfc.setdefault(unicodedata.normalize('NFC', name), name)

    def names(self) -> List[str]:
        """The names of the folder's entries, sorted."""
        return sorted(self._names)

    def resolve(self, name: str) -> Optional[str]:
        """The name on disk of the file that ``name`` means, or ``None`` if absent.

        A flat folder looks at the last path component of ``name`` only.
        """
        base = name if self.recursive else name.rsplit('/', 1)[-1]
        if base in self._names:
            return base
        return self._by_nfc.get(unicodedata.normalize('NFC', base))


def read_image_size(path: Path) -> Tuple[int, int]:
    """``(width, height)`` from the image file's header, without decoding pixels.

    PNG headers are parsed directly (the common case, and 5x faster than PIL); other
    formats go through ``PIL.Image.open``, which is lazy. Raises ``ValueError`` if the
    file is not a readable image, ``OSError`` if it cannot be read at all.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.read(fd, _PNG_HEAD)
    finally:
        os.close(fd)
    if (len(head) == _PNG_HEAD and head.startswith(PNG_SIGNATURE)
            and head[12:16] == b'IHDR'
            and zlib.crc32(head[12:29]) == struct.unpack('>I', head[29:33])[0]):
        width, height = struct.unpack('>II', head[16:24])
    else:
        width, height = _pil_size(path)
    if width <= 0 or height <= 0:
        raise ValueError(f'header gives an empty size {width}x{height}')
    return width, height


def _pil_size(path: Path) -> Tuple[int, int]:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, SyntaxError, struct.error) as err:
        # PIL reports a broken header as any of these, depending on the format.
        raise ValueError(f'not a readable image ({err})') from None


def verify_image(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image whose whole data was read and checked.

    The check is YOLOv5's ``verify_image_label``: PIL's ``verify()`` (for a PNG,
    every chunk through IEND is present and matches its CRC, so a file cut short or
    garbled is caught) and, for a JPEG, the end-of-image marker as its last two
    bytes. Pixels are not decompressed. PNGs, the challenge's format, get the same
    chunk and CRC walk done here over the file mapped in memory (PIL copies every
    chunk out of its file object first: twice the time of reading the file). Raises
    ``ValueError`` naming what is wrong, ``OSError`` if the file cannot be read.
    """
    data = _read_whole(path)
    if data.startswith(PNG_SIGNATURE):
        return _verified_png_size(memoryview(data))
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            size, image_format = image.size, image.format
            image.verify()
    except UnidentifiedImageError:
        # (its message names the BytesIO object: not for a reproducible report)
        raise ValueError('broken image data (no image format recognized)') from None
    except (SyntaxError, struct.error, OSError, EOFError) as err:
        # PIL reports broken data as any of these, depending on the format and
        # where the damage is.
        raise ValueError(f'broken image data ({err or type(err).__name__})') from None
    if image_format == 'JPEG' and not data.endswith(b'\xff\xd9'):
        raise ValueError('broken image data (JPEG without its end-of-image marker: '
                         'file cut short)')
    return _nonempty(size)


def _read_whole(path: str) -> bytes:
    with open(path, 'rb', buffering=0) as f:
        return f.read()


def iter_png_chunks(view: memoryview) -> Iterator[Tuple[bytes, memoryview]]:
    """Each chunk of the PNG in ``view`` (signature included) as ``(kind, data)``,
    in file order through IEND, each checked whole and against its CRC first; the
    data is a view, not a copy. Raises ``ValueError`` naming what is wrong (a
    missing signature, a chunk cut short or failing its CRC, no IEND)."""
    if bytes(view[:len(PNG_SIGNATURE)]) != PNG_SIGNATURE:
        raise ValueError('broken image data (no PNG signature)')
    end, pos = len(view), len(PNG_SIGNATURE)
    while True:
        if pos + 12 > end:
            raise ValueError('broken image data (PNG ends before its IEND chunk: '
                             'cut short)')
        length, kind = struct.unpack_from('>I4s', view, pos)
        crc_at = pos + 8 + length
        name = kind.decode('ascii', 'backslashreplace')
        if crc_at + 4 > end:
            raise ValueError(f'broken image data (PNG ends inside its {name} chunk: '
                             'cut short or garbled)')
        if crc32(view[pos + 4:crc_at]) != struct.unpack_from('>I', view, crc_at)[0]:
            raise ValueError(f'broken image data (PNG {name} chunk fails its CRC)')
        yield kind, view[pos + 8:crc_at]
        if kind == b'IEND':
            return
        pos = crc_at + 4


def _verified_png_size(view: memoryview) -> Tuple[int, int]:
    """Walk a PNG's chunks as PIL's ``verify()`` does: IHDR first, each chunk whole
    and matching its CRC, through IEND; without copying the data."""
    size = None
    for kind, data in iter_png_chunks(view):
        if size is None:
            if kind != b'IHDR' or len(data) < 8:
                raise ValueError('broken image data (PNG without IHDR first)')
            size = struct.unpack_from('>II', data)
    return _nonempty(size)


def _nonempty(size: Tuple[int, int]) -> Tuple[int, int]:
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f'header gives an empty size {size[0]}x{size[1]}')
    return size


SizeOrError = Union[Tuple[int, int], str]


def _size_or_error(measure: Callable[[str], Tuple[int, int]], path: str) -> SizeOrError:
    try:
        return measure(path)
    except (OSError, ValueError) as err:
        return str(err)


def _header_size(path: str) -> SizeOrError:
    return _size_or_error(read_image_size, path)


def _verified_size(path: str) -> SizeOrError:
    return _size_or_error(verify_image, path)


def read_image_sizes(paths: Sequence[str], verify: bool, workers: int = 1,
                     desc: Optional[str] = None) -> List[SizeOrError]:
    """For each path, ``(width, height)`` or the reason it cannot be used (a str).

    ``verify`` False reads headers only (:func:`read_image_size`), in this process;
    True reads and checks every file's data (:func:`verify_image`) in ``workers``
    processes (1: in this process). ``desc`` shows a progress bar with that label.
    """
    measure = _verified_size if verify else _header_size
    pool = None
    if verify and workers > 1 and len(paths) > 1:
        pool = multiprocessing.Pool(min(workers, len(paths)))
        # Chunks amortize the round trips; small enough that the bar moves and the
        # processes finish together.
        chunk = max(1, min(64, len(paths) // (workers * 16)))
        results = pool.imap(measure, paths, chunksize=chunk)
    else:
        results = map(measure, paths)
    if desc:
        from tqdm import tqdm
        results = tqdm(results, total=len(paths), desc=desc, unit='img', leave=False)
    try:
        return list(results)
    finally:
        if pool is not None:
            pool.close()
            pool.join()

"""The converter's images: each listed image found on disk and measured.

:func:`check_images` finds every image of a list in its folder (NFC and NFD
spellings alike), reads its size from the file's header and, with ``verify``, reads
and checks its whole data (:func:`.imagefiles.read_image_sizes`). It promises an
:class:`ImageCheck` parallel to the list: which images are readable, their sizes as
the files give them (the header wins over the JSON, with a ``size_mismatch`` report
entry), the names as spelled on disk, and the rejected ones with why (reported by
:func:`report_rejected_images` once their boxes are counted). :func:`problem` is the
one shape of a report entry, for images and boxes alike.
"""
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .errors import InputError
from .imagefiles import ImageFolder, read_image_sizes
from .labels import ImageList

# What counts as an image when a test folder is listed (2021 data without test info).
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')


@dataclass
class ImageCheck:
    """What the files on disk say about a list of images (parallel to it)."""
    readable: np.ndarray  # bool
    widths: np.ndarray  # int64, 0 where unreadable
    heights: np.ndarray
    disk_names: List[Optional[str]]
    # (index, kind, detail) of each rejected image; reported once its boxes are counted.
    rejected: List[Tuple[int, str, str]] = field(default_factory=list)
    size_from_header: int = 0  # images whose JSON gave no size


def below(folder: str, name: str) -> str:
    """``name`` in ``folder``, a path relative to the data root ('.': the root)."""
    return name if folder in ('', '.') else f'{folder}/{name}'


def listed_images(folder: ImageFolder) -> ImageList:
    """The image files of a folder as an image list: ids 1..N in sorted NFC name
    order."""
    names = sorted((name for name in folder.names()
                    if name.lower().endswith(IMAGE_SUFFIXES)),
                   key=lambda name: unicodedata.normalize('NFC', name))
    return ImageList(list(range(1, len(names) + 1)), names, [None] * len(names))


def image_folder(root: Path, rel: str, recursive: bool = False) -> ImageFolder:
    """The listing of the image folder ``rel`` below ``root``; InputError when it
    cannot be listed."""
    try:
        return ImageFolder(root / rel, recursive)
    except OSError as err:
        raise InputError(f'{root / rel}: cannot list the image folder: '
                         f'{err.strerror or err}') from None


def check_images(images: ImageList, folder: ImageFolder, source: str,
                 problems: List[Dict[str, Any]], progress: bool, verify: bool,
                 workers: int) -> ImageCheck:
    """Find each image on disk and read its size from the header; with ``verify``,
    read and check its whole data too."""
    n = len(images.ids)
    check = ImageCheck(np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n, np.int64),
                       [None] * n)
    prefix = f'{folder.root}{os.sep}'  # str concatenation: Path('/') costs 2 us a file
    disk_names = [folder.resolve(name) for name in images.file_names]
    sizes = iter(read_image_sizes(
        [prefix + disk for disk in disk_names if disk is not None], verify, workers,
        desc=(f'{source} images' + (' (verifying)' if verify else '')) if progress
        else None))
    for i, disk in enumerate(disk_names):
        if disk is None:
            check.rejected.append((i, 'image_missing', f'no such file in {folder.root}'))
            continue
        size = next(sizes)
        if isinstance(size, str):
            check.rejected.append((i, 'image_unreadable', size))
            continue
        width, height = size
        check.readable[i] = True
        check.widths[i], check.heights[i] = width, height
        check.disk_names[i] = disk
        json_size = images.json_sizes[i]
        if json_size is None:
            check.size_from_header += 1
        elif json_size != (width, height):
            problems.append(problem(
                'size_mismatch', source, images, i,
                f'JSON says {json_size[0]!r}x{json_size[1]!r}, the file is {width}x{height}',
                'used the size from the file'))
    return check


def report_rejected_images(images: ImageList, check: ImageCheck,
                           box_counts: Optional[np.ndarray], source: str,
                           problems: List[Dict[str, Any]]) -> None:
    """Add a report entry for each rejected image, with its box count when
    ``box_counts`` (boxes listed per image) is given."""
    for i, kind, detail in check.rejected:
        action = 'rejected'
        if box_counts is not None:
            n = int(box_counts[i])
            action = f'rejected with its {n} box' + ('' if n == 1 else 'es')
        problems.append(problem(kind, source, images, i, detail, action))


def problem(kind: str, source: str, images: Optional[ImageList], index: int, detail: str,
            action: str, annotation: Optional[Dict[str, Any]] = None,
            image_id: Any = None) -> Dict[str, Any]:
    """One report entry: what is wrong, with which image or annotation, what was done."""
    if images is not None and index >= 0:
        image_id, file_name = images.ids[index], images.file_names[index]
    else:
        file_name = None
    entry = {'kind': kind, 'source': source, 'image_id': image_id, 'file_name': file_name}
    if annotation is not None:
        entry['annotation'] = annotation
    entry.update(detail=detail, action=action)
    return entry

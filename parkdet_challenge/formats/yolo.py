"""YOLOv5's own data sets: a data YAML, ``images/`` and ``labels/*.txt``.

Labels: a YOLOv5 data YAML (``path``, ``train``, ``val``, ``test``, ``names``; ``nc``
of older files is checked against ``names``). ``train``, ``val`` and ``test`` each
name a folder (every image below it), a text file listing images (one path a line,
``./`` meaning the list's own folder), or a list of those, relative to the data set's
root: ``path``, or ``--data-root`` when given. Each image's label file is found as
YOLOv5's ``img2label_paths`` finds it: the last ``/images/`` of its path replaced by
``/labels/`` and its suffix by ``.txt``. A label line is ``class cx cy w h``,
normalised to the image (or ``class x1 y1 x2 y2 ...``, a polygon, taken as its
bounding box as YOLOv5 does); an empty or missing label file means no objects. A
line that is none of these (not numbers, a class outside ``names``, coordinates
outside 0-1) is refused whole with its file and line number, nothing written, where
YOLOv5 would drop the image.

Splits: the data set's own. ``val`` is the validation split (without one, a tenth of
the ``train`` images is drawn, as for COCO); ``test`` is written as ``test.json``
with its labels, so that ``tools/test.py`` scores it as YOLOv5's ``val.py --task
test``. Classes: ``names`` in order, category id = YOLOv5's class index (0-based,
as YOLOv5's JSON results give them). Submission: a COCO results list, uncapped.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from ..errors import InputError
from ..labels import ImageList, LabelSet
from .base import CompetitionFormat, register_format

#: YOLOv5 v7.0's IMG_FORMATS: the files a folder or a list contributes.
IMAGE_SUFFIXES = ('bmp', 'dng', 'jpeg', 'jpg', 'mpo', 'png', 'tif', 'tiff', 'webp',
                  'pfm')
SPLITS = ('train', 'val', 'test')


@dataclass
class YoloDataSet:
    """A data YAML read and its images found: the images' paths relative to the
    root (sorted), which splits list each, and the class names."""
    yaml_path: Path
    root: Path
    names: Tuple[str, ...]
    images: List[str]
    splits: Dict[str, np.ndarray]  # split -> bool per image (absent: not named)


def read_data_yaml(path: Path) -> Dict[str, Any]:
    """The parsed data YAML; InputError when it is not a YOLOv5 data YAML."""
    import yaml
    try:
        data = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    except OSError as err:
        raise InputError(f'{path}: cannot read: {err.strerror or err}') from None
    except yaml.YAMLError as err:
        raise InputError(f'{path}: not YAML ({err})') from None
    if not isinstance(data, dict) or 'train' not in data or 'names' not in data:
        raise InputError(f'{path}: not a YOLOv5 data YAML (it needs "train" and '
                         '"names")')
    return data


def dataset_root(path: Path) -> Path:
    """The data set's root a data YAML names: ``path``, absolute or relative to
    the current folder (YOLOv5, run from its own folder, reads it against that
    folder); the current folder without one."""
    return Path(os.path.abspath(read_data_yaml(path).get('path') or '.'))


def class_names(data: Dict[str, Any], path: Path) -> Tuple[str, ...]:
    """``names`` as a list, or a dict of class index -> name with indices
    0..n-1; ``nc``, when given, must agree."""
    names = data['names']
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise InputError(f'{path}: names: the keys must be the class indices '
                             f'0 to {len(names) - 1}, got {sorted(names, key=str)}')
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not names or not all(
            isinstance(n, (str, int)) and str(n).strip() for n in names):
        raise InputError(f'{path}: names must be a non-empty list of class names '
                         'or a dict of class index -> name')
    names = tuple(str(n) for n in names)
    if len(set(names)) != len(names):
        raise InputError(f'{path}: names: duplicate class names')
    if 'nc' in data and data['nc'] != len(names):
        raise InputError(f'{path}: nc {data["nc"]} but {len(names)} names')
    return names


def _split_images(entry: Any, root: Path, where: str) -> List[Path]:
    """The image files one ``train``/``val``/``test`` entry names, as YOLOv5's
    LoadImagesAndLabels finds them."""
    files: List[Path] = []
    for item in entry if isinstance(entry, list) else [entry]:
        if not isinstance(item, str) or not item:
            raise InputError(f'{where}: {item!r} is not a path')
        p = root / item
        if not p.exists() and item.startswith('../'):  # YOLOv5's fallback
            p = root / item[3:]
        if p.is_dir():
            files += [Path(folder) / name for folder, _, names in os.walk(p)
                      for name in names]
        elif p.is_file():
            for line in p.read_text(encoding='utf-8').strip().splitlines():
                line = line.strip()
                if line:
                    listed = p.parent / line[2:] if line.startswith('./') else Path(
                        line)
                    files.append(listed)
        else:
            raise InputError(f'{where}: {p} does not exist')
    return [f for f in files if f.name.rsplit('.', 1)[-1].lower() in IMAGE_SUFFIXES]


def find_images(yaml_path: Path, root: Path) -> YoloDataSet:
    """Read a data YAML and find its splits' images below ``root``."""
    data = read_data_yaml(yaml_path)
    names = class_names(data, yaml_path)
    root = Path(os.path.abspath(root))
    listed: Dict[str, List[str]] = {}
    for split in SPLITS:
        if not data.get(split):
            continue
        relative = []
        for image in _split_images(data[split], root, f'{yaml_path}: {split}'):
            full = os.path.abspath(image)
            if os.path.commonpath([full, str(root)]) != str(root):
                raise InputError(f'{yaml_path}: {split}: {full} is not below the '
                                 f'data root {root} (--data-root)')
            relative.append(os.path.relpath(full, root).replace(os.sep, '/'))
        if not relative:
            raise InputError(f'{yaml_path}: {split}: no images ({", ".join(IMAGE_SUFFIXES)})')
        listed[split] = relative
    images = sorted(set().union(*listed.values()))
    position = {name: i for i, name in enumerate(images)}
    splits = {}
    for split, names_of_split in listed.items():
        mask = np.zeros(len(images), bool)
        mask[[position[n] for n in names_of_split]] = True
        splits[split] = mask
    return YoloDataSet(Path(yaml_path), root, names, images, splits)


def label_path(image: str) -> str:
    """YOLOv5's ``img2label_paths``: the last ``/images/`` becomes ``/labels/``,
    the suffix ``.txt``."""
    images, labels = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    return labels.join(image.rsplit(images, 1)).rsplit('.', 1)[0] + '.txt'


def read_label_file(path: str, num_classes: int) -> List[Tuple[int, List[float], int]]:
    """(class, [cx, cy, w, h] normalised, line number) of each object of a label
    file; none when the file is missing or empty. A broken line is an InputError
    naming the file and line."""
    try:
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f'{path}: cannot read: {err}') from None
    objects = []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        where = f'{path}:{number}: {line.strip()!r}'
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise InputError(f'{where}: not numbers') from None
        if len(values) != 5 and (len(values) < 7 or len(values) % 2 == 0):
            raise InputError(f'{where}: expected "class cx cy w h" (or a polygon, '
                             'class x1 y1 x2 y2 x3 y3 ...)')
        label, coords = values[0], np.asarray(values[1:])
        if not (label.is_integer() and 0 <= label < num_classes):
            raise InputError(f'{where}: class {fields[0]} is not one of 0 to '
                             f'{num_classes - 1} (names)')
        if not (np.isfinite(coords).all() and (coords >= 0).all()
                and (coords <= 1).all()):
            raise InputError(f'{where}: coordinates must be normalised, 0 to 1')
        if len(values) == 5:
            box = coords.tolist()
        else:  # a segment: its bounding box (YOLOv5's segments2boxes)
            xy = coords.reshape(-1, 2)
            (x1, y1), (x2, y2) = xy.min(0), xy.max(0)
            box = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        objects.append((int(label), [float(v) for v in box], number))
    return objects


@register_format
class Yolo(CompetitionFormat):
    name = 'yolo'
    match_order = 95

    def matches(self, data: Any) -> bool:
        return isinstance(data, YoloDataSet)

    def load(self, path: Path, root: Path) -> YoloDataSet:
        return find_images(path, root)

    def read_labels(self, data: YoloDataSet, path: Path) -> LabelSet:
        image_ids, categories, boxes, refs = [], [], [], []
        for index, image in enumerate(data.images):
            labels = label_path(str(data.root / image))
            shown = os.path.relpath(labels, data.root).replace(os.sep, '/')
            for label, box, line in read_label_file(labels, len(data.names)):
                image_ids.append(index + 1)
                categories.append(label)
                boxes.append(box)
                refs.append(f'{shown}:{line}')
        images = ImageList(list(range(1, len(data.images) + 1)), list(data.images),
                           [None] * len(data.images))
        return LabelSet(self.name, data.names, images, image_ids, categories, boxes,
                        refs, np.zeros(len(boxes), bool), box_format='cxcywhn',
                        refs_are_ids=False,
                        category_ids=tuple(range(len(data.names))),
                        own_splits=data.splits)



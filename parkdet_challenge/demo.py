"""A small synthetic data set in the challenge's own layout (docs/reference.md section 1), or in
the 2021 challenge's (docs/reference.md section 9) with ``data_format='2021'``.

Made for the CPU demo: a tiny YOLO must learn it in minutes, so each class is one
saturated colour and one simple shape with a dark outline, on a smooth low-contrast
background, 2-8 objects of 14-80 px per image with little overlap. Class frequencies
are long-tailed like the real set's, with a floor so that every class also lands in a
validation split and in the test images. The same seed gives the same bytes.

Layout written under the output folder::

    train/images/*.png               Korean names in the challenge's style
    train/label/Train.json           {"images", "annotations", "categories"}; some
                                     images lack width/height, as the real set may
    test/images/<uuid4>.png
    Test_Images_Information.json     {"images": [{id, file_name, width, height}]}
    sample_submission.json           a few records in the submission format
    test_ground_truth.json           demo only (the challenge keeps it secret): the
                                     test boxes as COCO, to score a submission
    .parkdet_demo                    marks the folder as safe to overwrite

The 2021 layout (its 7 classes, the first 7 shapes and colours)::

    train/images/<uuid4>.jpg
    train/label/Train.json           {"annotations": [{"file_name", "objects":
                                     [{"class": name, "position": [x1, y1, x2, y2]}]}]}
    test/images/<uuid4>.jpg          no information file, as that challenge had none
    sample_submission.json           {"annotations": [...]} in its submission format
    test_ground_truth.json           COCO, ids 1..N in sorted file-name order (as
                                     tools/prepare_data.py numbers a listed folder)
"""
import math
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .atomic import PathLike, write_json_atomic
from .classes import CLASS_NAMES_KO, CLASSES, coco_categories
from .demo_pictures import render_all
from .errors import InputError
from .formats.inattention2021 import CLASSES as INATTENTION_CLASSES

# Relative frequency of each class (sedan common, stroller and cart rare).
CLASS_WEIGHTS = (30, 15, 8, 5, 3, 10, 5, 12, 4, 3, 2, 2, 1, 1)
# 2021: eyes and faces common, phones and cigars rare, as in its data.
INATTENTION_CLASS_WEIGHTS = (20, 6, 4, 10, 16, 2, 2)
FORMATS = ('2022', '2021', 'coco')
IMAGE_SIZES = ((256, 192), (288, 176), (240, 240), (224, 160))
NEGATIVE_FRACTION = 0.06
MARKER = '.parkdet_demo'

# The coco demo's classes: the same shapes under other names.
COCO_CLASSES = ('car', 'suv', 'minivan', 'coach', 'shuttle', 'lorry', 'cab',
                'pedestrian', 'kid', 'motorbike', 'scooter', 'bike', 'buggy',
                'trolley')

_PROVINCES = ('경기도', '서울특별시', '부산광역시', '인천광역시', '대구광역시', '충청남도')
_WEATHER = ('맑음', '흐림', '비', '눈')
_TIME = ('주간', '야간')
_PLACE = ('실외', '실내')
_SIDE = ('right', 'left', 'front', 'rear')


@dataclass
class DemoSummary:
    """What :func:`make_demo_data` wrote."""
    root: Path
    train_images: int
    test_images: int
    train_boxes_per_class: Dict[str, int]
    test_boxes_per_class: Dict[str, int]

    def __str__(self) -> str:
        train = sum(self.train_boxes_per_class.values())
        test = sum(self.test_boxes_per_class.values())
        rarest = min(self.train_boxes_per_class.items(), key=lambda kv: kv[1])
        return (f'wrote {self.train_images} train images ({train} boxes) and '
                f'{self.test_images} test images ({test} boxes) to {self.root}\n'
                f'boxes per class (train): '
                + ', '.join(f'{k} {v}' for k, v in self.train_boxes_per_class.items())
                + f'\nrarest class in train: {rarest[0]} ({rarest[1]} boxes)')


def make_demo_data(out_root: PathLike, n_train: int = 400, n_test: int = 60,
                   seed: int = 0, data_format: str = '2022') -> DemoSummary:
    """Write the synthetic data set under ``out_root`` and return a summary.

    ``data_format``: '2022' (the parking challenge's layout), '2021' (the
    driver-inattention challenge's) or 'coco' (a plain COCO set, other class
    names and category ids). ``out_root`` must be absent, empty, or a folder
    this function wrote before (whose demo files are then replaced). Raises
    ``InputError`` otherwise or for bad counts.
    """
    if n_train < 1 or n_test < 1:
        raise InputError(f'need at least one train and one test image '
                         f'(got --train {n_train}, --test {n_test})')
    if data_format not in FORMATS:
        raise InputError(f'--format must be one of {", ".join(FORMATS)} '
                         f'(got {data_format})')
    root = Path(out_root)
    _prepare_folder(root)
    rng = np.random.default_rng(seed)
    if data_format == '2021':
        return _make_inattention(root, rng, n_train, n_test)
    if data_format == 'coco':
        return _make_coco(root, rng, n_train, n_test)

    train_names = _train_names(rng, n_train)
    train_objects = _layout(rng, n_train, CLASS_WEIGHTS)
    train_sizes = [IMAGE_SIZES[k] for k in rng.integers(len(IMAGE_SIZES), size=n_train)]
    # Roughly one image entry in seven without width/height, as the real set may have.
    no_size = rng.random(n_train) < 0.15
    test_names = [f'{uuid.UUID(bytes=rng.bytes(16), version=4)}.png' for _ in range(n_test)]
    test_objects = _layout(rng, n_test, CLASS_WEIGHTS)
    test_sizes = [IMAGE_SIZES[k] for k in rng.integers(len(IMAGE_SIZES), size=n_test)]

    train_boxes = render_all(rng, root / 'train/images', train_names, train_sizes,
                             train_objects)
    test_boxes = render_all(rng, root / 'test/images', test_names, test_sizes, test_objects)

    train_images = [{'id': i + 1, 'file_name': name}
                    | ({} if no_size[i] else {'width': w, 'height': h})
                    for i, (name, (w, h)) in enumerate(zip(train_names, train_sizes))]
    test_images = [{'id': i + 1, 'file_name': name, 'width': w, 'height': h}
                   for i, (name, (w, h)) in enumerate(zip(test_names, test_sizes))]
    categories = [{'id': i + 1, 'name': ko} for i, (_, ko) in enumerate(CLASS_NAMES_KO)]
    # UTF-8 with Hangul as is, like the challenge's own files.
    write_json_atomic(root / 'train/label/Train.json',
                      {'images': train_images, 'annotations': _annotations(train_boxes),
                       'categories': categories}, ensure_ascii=False)
    write_json_atomic(root / 'Test_Images_Information.json', {'images': test_images},
                      ensure_ascii=False)
    write_json_atomic(root / 'test_ground_truth.json',
                      {'images': test_images, 'annotations': _annotations(test_boxes),
                       'categories': coco_categories()})
    write_json_atomic(root / 'sample_submission.json', _sample_submission(rng, test_boxes))
    return DemoSummary(root, n_train, n_test, _per_class(train_boxes, CLASSES),
                       _per_class(test_boxes, CLASSES))


def _make_inattention(root: Path, rng: np.random.Generator, n_train: int,
                      n_test: int) -> DemoSummary:
    """The 2021 layout (see the module docstring); uuid names, JPEG images."""
    # A 2022 demo written here before must not leave its test list behind.
    (root / 'Test_Images_Information.json').unlink(missing_ok=True)
    def names(n: int) -> List[str]:
        return [f'{uuid.UUID(bytes=rng.bytes(16), version=4)}.jpg' for _ in range(n)]

    train_names, test_names = names(n_train), sorted(names(n_test))
    train_objects = _layout(rng, n_train, INATTENTION_CLASS_WEIGHTS)
    test_objects = _layout(rng, n_test, INATTENTION_CLASS_WEIGHTS)
    train_sizes = [IMAGE_SIZES[k] for k in rng.integers(len(IMAGE_SIZES), size=n_train)]
    test_sizes = [IMAGE_SIZES[k] for k in rng.integers(len(IMAGE_SIZES), size=n_test)]
    train_boxes = render_all(rng, root / 'train/images', train_names, train_sizes,
                             train_objects)
    test_boxes = render_all(rng, root / 'test/images', test_names, test_sizes,
                            test_objects)

    def objects(boxes: List[Tuple[int, List[int]]]) -> List[Dict[str, Any]]:
        return [{'class': INATTENTION_CLASSES[cls], 'position': [x, y, x + w, y + h]}
                for cls, (x, y, w, h) in boxes]

    write_json_atomic(root / 'train/label/Train.json', {'annotations': [
        {'file_name': name, 'objects': objects(boxes)}
        for name, boxes in zip(train_names, train_boxes)]})
    test_images = [{'id': i + 1, 'file_name': name, 'width': w, 'height': h}
                   for i, (name, (w, h)) in enumerate(zip(test_names, test_sizes))]
    write_json_atomic(root / 'test_ground_truth.json',
                      {'images': test_images, 'annotations': _annotations(test_boxes),
                       'categories': coco_categories(INATTENTION_CLASSES)})
    write_json_atomic(root / 'sample_submission.json', {'annotations': [
        {'file_name': Path(name).stem + '.jpg',
         'objects': [dict(o, confidence_score=round(float(rng.uniform(0.3, 1.0)), 4))
                     for o in objects(boxes)] or {}}
        for name, boxes in zip(test_names[:3], test_boxes[:3])]})
    return DemoSummary(root, n_train, n_test, _per_class(train_boxes, INATTENTION_CLASSES),
                       _per_class(test_boxes, INATTENTION_CLASSES))


def _make_coco(root: Path, rng: np.random.Generator, n_train: int,
               n_test: int) -> DemoSummary:
    """A plain COCO layout of the 2022 demo's pictures with other class names and
    category ids nobody here chose (5, 12, ..., 96): images/{train,test}/ and
    annotations/instances_{train,test}.json (the test file with its boxes, which
    tools/prepare_data.py --test-json leaves unused)."""
    categories = [{'id': 5 + 7 * i, 'name': name} for i, name in enumerate(COCO_CLASSES)]
    ids = [c['id'] for c in categories]
    summary = {}
    for split, count in (('train', n_train), ('test', n_test)):
        names = [f'{split}_{i:04d}.png' for i in range(count)]
        objects = _layout(rng, count, CLASS_WEIGHTS)
        sizes = [IMAGE_SIZES[k] for k in rng.integers(len(IMAGE_SIZES), size=count)]
        boxes = render_all(rng, root / 'images' / split, names, sizes, objects)
        images = [{'id': 1 + i, 'file_name': f'{split}/{name}', 'width': w,
                   'height': h} for i, (name, (w, h)) in enumerate(zip(names, sizes))]
        annotations = [dict(a, category_id=ids[a['category_id'] - 1],
                            area=a['bbox'][2] * a['bbox'][3], iscrowd=0)
                       for a in _annotations(boxes)]
        write_json_atomic(root / 'annotations' / f'instances_{split}.json',
                          {'images': images, 'annotations': annotations,
                           'categories': categories})
        summary[split] = _per_class(boxes, COCO_CLASSES)
    return DemoSummary(root, n_train, n_test, summary['train'], summary['test'])


def _prepare_folder(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f'{root}: exists and is not a folder')
    if root.is_dir() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise InputError(f'{root}: folder is not empty and was not made by this tool; '
                             f'choose a new folder')
        # Ours: drop the old images so that a smaller rerun leaves no strays.
        for sub in ('train/images', 'test/images'):
            shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text('written by parkdet_challenge.demo\n')


def _train_names(rng: np.random.Generator, n: int) -> List[str]:
    """Names like 20201102_경기도_-_-_맑음_주간_실외_right_000079_0088055.png, unique."""
    frames = np.sort(rng.choice(10 ** 7, size=n, replace=False))
    names = []
    for frame in frames.tolist():
        day = 20201001 + int(rng.integers(0, 60)) % 30 + 100 * int(rng.integers(0, 3))
        parts = (str(day), _pick(rng, _PROVINCES), '-', '-', _pick(rng, _WEATHER),
                 _pick(rng, _TIME), _pick(rng, _PLACE), _pick(rng, _SIDE),
                 f'{int(rng.integers(1, 400)):06d}', f'{frame:07d}')
        names.append('_'.join(parts) + '.png')
    return names


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _layout(rng: np.random.Generator, n_images: int,
            class_weights: Sequence[int]) -> List[List[int]]:
    """Class ids (0-based) of each image's objects.

    Counts per class follow ``class_weights``, except that each class gets at least
    ~8% of the number of images, so that a 20% validation draw still holds some of the
    rarest class (the expected count is then over 6, a miss less likely than 1 in 300).
    """
    counts = rng.integers(2, 9, size=n_images)
    counts[rng.random(n_images) < NEGATIVE_FRACTION] = 0
    total = int(counts.sum())
    floor = max(2, math.ceil(0.08 * n_images))
    num_classes = len(class_weights)
    if floor * num_classes > total:  # a very small set: as many of each as fit
        floor = total // num_classes
    weights = np.asarray(class_weights, np.float64) / sum(class_weights)
    quota = np.maximum(np.floor(weights * total).astype(np.int64), floor)
    while quota.sum() > total:  # trim the common classes to make room for the floor
        quota[int(np.argmax(quota))] -= 1
    rest = rng.choice(num_classes, size=total - int(quota.sum()), p=weights)
    labels = np.concatenate([np.repeat(np.arange(num_classes), quota), rest])
    rng.shuffle(labels)
    return [part.tolist() for part in np.split(labels, np.cumsum(counts)[:-1])]


def _annotations(boxes: List[List[Tuple[int, List[int]]]]) -> List[Dict[str, Any]]:
    """The challenge's annotation entries: ids 1.., image ids 1.., 1-based categories."""
    out = []
    for image_index, image_boxes in enumerate(boxes):
        for cls, box in image_boxes:
            out.append({'id': len(out) + 1, 'image_id': image_index + 1,
                        'category_id': cls + 1, 'bbox': box})
    return out


def _sample_submission(rng: np.random.Generator,
                       boxes: List[List[Tuple[int, List[int]]]]) -> List[Dict[str, Any]]:
    """A few records as a submission has them: the first test boxes, jittered, scored."""
    records = []
    for image_index, image_boxes in enumerate(boxes):
        for cls, box in image_boxes:
            jitter = rng.normal(0, 1.0, size=4)
            records.append({
                'image_id': image_index + 1, 'category_id': cls + 1,
                'bbox': [round(float(v + d), 1) for v, d in zip(box, jitter)],
                'score': round(float(rng.uniform(0.3, 1.0)), 4), 'segmentation': []})
        if len(records) >= 5:
            break
    return records


def _per_class(boxes: List[List[Tuple[int, List[int]]]],
               classes: Sequence[str]) -> Dict[str, int]:
    counts = np.bincount([cls for image_boxes in boxes for cls, _ in image_boxes],
                         minlength=len(classes))
    return dict(zip(classes, counts.tolist()))

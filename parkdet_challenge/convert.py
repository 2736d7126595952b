"""Convert the challenge's labels to checked COCO files for MMDetection / MMYOLO.

Reads, under a data root (docs/reference.md section 1)::

    train/label/Train.json          training labels, 2022 or 2021 format (see .labels)
    train/images/                   training images (flat folder)
    Test_Images_Information.json    test images {"images": [{id, file_name, ...}]}
    test/images/                    test images

The 2021 driver-inattention data (docs/reference.md section 9) is expected in the same places: its
labels file as ``train/label/Train.json``, its images in ``train/images/``. Its test
information file is optional (the 2022 one is required): without it, the test images
are the files of ``test/images/``, ids 1..N in sorted (NFC) name order.

Writes, under an output folder::

    annotations/train.json, annotations/val.json   COCO, categories in the reference's order
    annotations/test.json       test images with their challenge ids, no annotations
    annotations/train_diet.json 2021 "diet" subset of train.json (always for 2021)
    annotations/fold{k}/        with ``folds=K``: train.json / val.json (and 2021's
                                train_diet.json) of fold k = 0..K-1, val = fold k
    report.json                 counts, per-class boxes, and every problem found
    class_distribution.png      boxes per class, train vs val

``file_name`` in the COCO files is relative to the data root and spells the name as it
is on disk, so a config needs only ``data_root``. The output is a function of the input
content alone (no timestamps, fixed orders), so two runs write identical bytes.

Rules (each problem goes to the report with what was done):

- an image file is found by name in its folder, NFC and NFD spellings alike; every
  image's header is read for its size and, unless ``verify=False``, its whole data
  is read and checked as YOLOv5 did (see :func:`.imagefiles.verify_image`). Missing,
  unreadable or broken (cut short, garbled): the image is rejected with its boxes.
  JSON size disagreeing with the header: the header wins.
- a box partly outside its image is clipped to it; a box of zero or negative size,
  wholly outside, not four finite numbers, of a category outside the classes, or on an
  unknown or rejected image is rejected. Images without boxes are kept (negatives).
- validation images, 2022: ``val_size`` (3000) ids drawn with ``seed`` from the sorted
  ids of the readable images (``numpy.random.RandomState(seed).permutation``), so the
  split depends neither on the JSON's order nor on the machine. 2021, as its
  reference did (docs/reference.md section 9): positions in the labels file drawn by Python's
  ``random.seed(seed); random.sample(range(n), val_size)`` over all n entries (20000),
  an unreadable image dropping out of whichever split it was drawn for. ``val_size``
  must leave at least one training image (else ``InputError``; it is not clamped).
- k folds (``folds=K``): every readable image in exactly one fold, stratified by the
  classes each image holds (see :func:`stratified_folds`), a function of ``seed``.
- input that cannot be used at all raises ``InputError`` before anything is written;
  outputs are written all-or-nothing (temporary files, then renames).
"""
import contextlib
import gc
import json
import os
import unicodedata
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .atomic import PathLike, write_files_atomic
from .audit import AuditThresholds, audit_boxes, examples_png, findings
from .classes import coco_categories
from .cli import InputError
from .formats import CompetitionFormat, DataLayout, format_of_file, get_format
from .formats.base import CHALLENGE_LAYOUT
from .imagefiles import ImageFolder, read_image_sizes
from .labels import ImageList, LabelSet, json_safe, load_json, read_image_list

# What counts as an image when a test folder is listed (2021 data without test info).
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')

# Why a box was rejected, by priority: a box gets the first that applies.
_REJECT_KINDS = ('annotation_malformed', 'unknown_image', 'image_rejected', 'bad_category',
                 'box_malformed', 'box_empty', 'box_outside', 'box_suspicious')
_KEPT, _CLIPPED = 0, 1
_CODE = {kind: i + 2 for i, kind in enumerate(_REJECT_KINDS)}
_ACTION = {
    'annotation_malformed': 'rejected: not an object with image id, category and box',
    'unknown_image': 'rejected: no image has this id',
    'bad_category': 'rejected',
    'box_malformed': 'rejected: a box must be four finite numbers',
    'box_empty': 'rejected: zero or negative width or height',
    'box_outside': 'rejected: wholly outside the image',
    'box_clipped': 'kept, clipped to the image',
    'box_suspicious': 'dropped (--drop-suspicious): see "suspicious"',
}


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


@dataclass
class Conversion:
    """The outputs of a conversion, in memory: ``outputs`` maps a path relative to the
    output folder to its JSON content; ``report`` is also ``outputs['report.json']``."""
    outputs: Dict[str, Any]
    report: Dict[str, Any]
    classes: Tuple[str, ...]

    def summary(self) -> str:
        """A few lines for a terminal: counts, split and problem kinds."""
        r = self.report
        im, an, sp = r['images'], r['annotations'], r['split']
        lines = [
            f'format      {r["format"]}',
            f'images      {im["input"]} read, {im["kept"]} kept, {im["rejected"]} rejected',
            f'boxes       {an["input"]} read, {an["kept"]} kept ({an["clipped"]} clipped), '
            f'{an["rejected"]} rejected',
            f'split       train {sp["train_images"]} / val {sp["val_images"]} images '
            f'(seed {sp["seed"]})',
        ]
        if 'test_images' in r:
            ti = r['test_images']
            lines.append(f'test        {ti["kept"]} images ({ti["rejected"]} rejected)')
        if 'diet' in r:
            lines.append(f'diet        {r["diet"]["images"]} of {sp["train_images"]} '
                         f'train images, {r["diet"]["boxes"]} boxes')
        if 'folds' in r:
            lines.append(f'folds       {len(r["folds"])}: '
                         + ', '.join(str(f['images']) for f in r['folds'].values())
                         + ' images')
        counts = ', '.join(f'{k} {n}' for k, n in r['problem_counts'].items()) or 'none'
        lines.append(f'problems    {counts}')
        return '\n'.join(lines)


def convert(data_root: PathLike, val_size: Optional[int] = None, seed: int = 100,
            diet: bool = False, progress: bool = False, folds: int = 0,
            verify: bool = True, workers: int = 1, data_format: Optional[str] = None,
            layout: Optional[DataLayout] = None,
            extras_from: str = 'train',
            audit: AuditThresholds = AuditThresholds(),
            drop_suspicious: bool = False) -> Conversion:
    """Read and check the data under ``data_root``; return the COCO files and report.

    Writes nothing. Raises ``InputError`` (one line, naming the file) when the input
    cannot be used at all. ``data_format`` names the competition format
    (:mod:`.formats`; None: told apart by the label file's shape), ``layout``
    where its files are (None: the format's, the challenges' layout).
    ``val_size`` None: the format's default. A format's extra training subsets
    (2021's diet) are always written, drawn from the training split or, with
    ``extras_from='all'``, from every labelled image as the 2021 reference did;
    ``diet=True`` on a format without them is an error. ``folds`` >= 2 adds that
    many stratified train/val pairs. ``progress`` shows a progress bar on stderr
    while images are read. ``verify`` reads and checks every image's data
    (``workers`` processes); False reads headers only. The report lists the kept
    boxes the ground-truth audit finds suspicious (:mod:`.audit`, ``audit``'s
    thresholds); ``drop_suspicious`` leaves them out of the output files.
    """
    with _gc_paused():
        return _convert(Path(data_root), val_size, seed, diet, progress, folds,
                        verify, workers, data_format, layout, extras_from, audit,
                        drop_suspicious)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. A conversion allocates millions of
    containers (parsed JSON, output records) that hold no reference cycles; the
    collector would rescan them again and again, a third of the run, to free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _convert(root: Path, val_size: Optional[int], seed: int, diet: bool,
             progress: bool, folds: int, verify: bool, workers: int,
             data_format: Optional[str], layout: Optional[DataLayout],
             extras_from: str, audit: AuditThresholds,
             drop_suspicious: bool) -> Conversion:
    if not root.is_dir():
        raise InputError(f'{root}: data root is not a folder')
    if val_size is not None and val_size < 0:
        raise InputError(f'--val-size must be >= 0 (got {val_size})')
    if not 0 <= seed < 2 ** 32:
        raise InputError(f'--seed must be in [0, 2**32) (got {seed})')
    if workers < 1:
        raise InputError(f'--workers must be >= 1 (got {workers})')
    if folds < 0 or folds == 1:
        raise InputError(f'--folds must be 0 (none) or at least 2 (got {folds})')
    if extras_from not in ('train', 'all'):
        raise InputError(f'--diet-from must be train or all (got {extras_from})')
    fmt: Optional[CompetitionFormat] = (None if data_format is None
                                        else get_format(data_format))
    layout = layout or CHALLENGE_LAYOUT
    labels_file = root / layout.labels_file
    data = load_json(labels_file) if fmt is None else fmt.load(labels_file, root)
    fmt = fmt or format_of_file(data, labels_file)
    labels = fmt.read_labels(data, labels_file)
    del data
    if diet and not fmt.extra_subset_names:
        raise InputError(f'{labels_file}: --diet applies to the inattention2021 '
                         f'format only, this file is {fmt.name}')
    test: Optional[ImageList] = None
    if layout.test_info_file is not None:
        test_info = root / layout.test_info_file
        if fmt.test_info_required or test_info.exists():
            test = read_image_list(test_info)
        elif (root / layout.test_images).is_dir():
            test = _listed_images(_folder(root, layout.test_images))

    problems: List[Dict[str, Any]] = []
    read = dict(progress=progress, verify=verify, workers=workers)
    train_folder = _folder(root, layout.train_images, layout.recursive)
    train_check = _check_images(labels.images, train_folder, 'train', problems,
                                **read)
    own = labels.own_splits or {}
    # the images to train and validate on (YOLO's data YAML: those it lists so)
    in_train = train_check.readable & own.get('train', True)
    if 'val' in own and val_size is not None:
        raise InputError(f'--val-size: {labels_file} names its own val split')
    n_readable = int(in_train.sum())
    if 'val' in own:
        val_size = int((own['val'] & train_check.readable).sum())
    elif val_size is None:
        val_size = (fmt.default_val_size if fmt.default_val_size is not None
                    else max(1, n_readable // 10))
    if folds > n_readable:
        raise InputError(f'--folds {folds} is more than the {n_readable} readable images '
                         f'in {labels_file}')
    if val_size >= n_readable and 'val' not in own:
        raise InputError(f'--val-size {val_size} leaves no training images: '
                         f'{n_readable} readable images in {labels_file}')
    test_check = (_check_images(test, _folder(root, layout.test_images,
                                              layout.recursive),
                                'test', problems, **read)
                  if test is not None else None)

    boxes = _check_boxes(labels, train_check)
    suspicious = audit_boxes(boxes.xywh, boxes.image_index, boxes.categories,
                             train_check.widths, train_check.heights, boxes.kept,
                             audit)
    suspicious_report = findings(suspicious, _BoxRefs(labels, boxes, train_check,
                                                      layout.train_images), audit)
    if drop_suspicious:
        dropped = np.logical_or.reduce(list(suspicious.values()))
        boxes.codes[dropped] = _CODE['box_suspicious']
    _report_rejected_images(labels.images, train_check, boxes.per_image_count, 'train',
                            problems)
    if test is not None:
        _report_rejected_images(test, test_check, None, 'test', problems)
    problems.extend(_box_problems(labels, boxes))

    if 'val' in own:  # the data set's own, which may share images with train
        is_val = own['val'] & train_check.readable
        split_masks = {'train': in_train, 'val': is_val}
    else:
        is_val = fmt.val_mask(labels.images, in_train, val_size, seed)
        split_masks = {'train': in_train & ~is_val, 'val': is_val}
    if 'test' in own:  # labelled test images
        split_masks['test'] = own['test'] & train_check.readable
    # every image a fold may take
    labelled = split_masks['train'] | is_val
    categories = coco_categories(labels.classes, labels.ids())
    ann_ids = _annotation_ids(labels, boxes)
    outputs: Dict[str, Any] = {}
    extras = fmt.extra_subsets(labels, _classes_present(labels, boxes))
    for name, mask in extras.items():
        split_masks[name] = mask & (split_masks['train'] if extras_from == 'train'
                                    else train_check.readable)
    fold_masks: Dict[str, np.ndarray] = {}
    if folds:
        fold_of = _fold_of_images(labels, boxes, labelled, folds, seed)
        for k in range(folds):
            fold_masks[f'fold{k}/train'] = labelled & (fold_of != k)
            fold_masks[f'fold{k}/val'] = fold_of == k
            for name, mask in extras.items():
                fold_masks[f'fold{k}/{name}'] = mask & (
                    fold_masks[f'fold{k}/train'] if extras_from == 'train'
                    else train_check.readable)
    for name, mask in chain(split_masks.items(), fold_masks.items()):
        outputs[f'annotations/{name}.json'] = _coco(
            labels.images, train_check, mask, layout.train_images, boxes, ann_ids,
            categories, labels)
    if test is not None:
        outputs['annotations/test.json'] = _coco(
            test, test_check, test_check.readable, layout.test_images, None, None,
            categories)
    # the class list, for configs that take their classes from the data
    outputs['annotations/classes.json'] = {'format': fmt.name,
                                           'classes': list(labels.classes),
                                           'category_ids': list(labels.ids())}

    report = _report(labels, train_check, test_check, boxes, split_masks, val_size, seed,
                     problems)
    if 'test' in own:
        listed, kept = int(own['test'].sum()), int(split_masks['test'].sum())
        report['test_images'] = {'input': listed, 'kept': kept,
                                 'rejected': listed - kept}
    if folds:
        report['folds'] = _fold_report(labels, boxes, fold_masks, folds)
    report['suspicious'] = dict(suspicious_report, dropped=drop_suspicious)
    outputs['report.json'] = report
    return Conversion(outputs, report, labels.classes)


def prepare_data(data_root: PathLike, out_dir: PathLike, val_size: Optional[int] = None,
                 seed: int = 100, diet: bool = False, plot: bool = True,
                 progress: bool = False, folds: int = 0, verify: bool = True,
                 workers: int = 1, data_format: Optional[str] = None,
                 layout: Optional[DataLayout] = None,
                 extras_from: str = 'train',
                 audit: AuditThresholds = AuditThresholds(),
                 drop_suspicious: bool = False) -> Conversion:
    """:func:`convert`, then write its outputs (and, if ``plot``, the class chart
    and a page of the audit's suspicious boxes, suspicious_boxes.png) under
    ``out_dir``, all or nothing. Returns the conversion."""
    with _gc_paused():
        conversion = convert(data_root, val_size=val_size, seed=seed, diet=diet,
                             progress=progress, folds=folds, verify=verify,
                             workers=workers, data_format=data_format,
                             layout=layout, extras_from=extras_from, audit=audit,
                             drop_suspicious=drop_suspicious)
        files = {Path(out_dir) / rel: _encode(rel, obj)
                 for rel, obj in conversion.outputs.items()}
    if plot:
        from .plot import class_distribution_png
        files[Path(out_dir) / 'class_distribution.png'] = class_distribution_png(
            conversion.report['boxes_per_class'], conversion.classes,
            f'Boxes per class ({conversion.report["format"]})')
        examples = conversion.report['suspicious']['boxes']
        if examples:
            files[Path(out_dir) / 'suspicious_boxes.png'] = examples_png(
                examples, Path(data_root))
    try:
        write_files_atomic(files)
    except OSError as err:
        raise InputError(f'{out_dir}: cannot write the outputs: {err}') from None
    return conversion


def _encode(rel: str, obj: Any) -> bytes:
    if rel == 'report.json':
        # For people: indented, Korean file names legible.
        return (json.dumps(obj, indent=2, ensure_ascii=False) + '\n').encode('utf-8')
    # Compact and pure ASCII: readers such as pycocotools open files with the locale's
    # encoding, which is not always UTF-8; \u escapes read the same everywhere.
    return json.dumps(obj, separators=(',', ':')).encode('ascii')


def _below(folder: str, name: str) -> str:
    """``name`` in ``folder``, a path relative to the data root ('.': the root)."""
    return name if folder in ('', '.') else f'{folder}/{name}'


def _listed_images(folder: ImageFolder) -> ImageList:
    """The image files of a folder as an image list: ids 1..N in sorted NFC name
    order."""
    names = sorted((name for name in folder.names()
                    if name.lower().endswith(IMAGE_SUFFIXES)),
                   key=lambda name: unicodedata.normalize('NFC', name))
    return ImageList(list(range(1, len(names) + 1)), names, [None] * len(names))


def _folder(root: Path, rel: str, recursive: bool = False) -> ImageFolder:
    try:
        return ImageFolder(root / rel, recursive)
    except OSError as err:
        raise InputError(f'{root / rel}: cannot list the image folder: '
                         f'{err.strerror or err}') from None


# ---------------------------------------------------------------------------- images

def _check_images(images: ImageList, folder: ImageFolder, source: str,
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
            problems.append(_problem(
                'size_mismatch', source, images, i,
                f'JSON says {json_size[0]!r}x{json_size[1]!r}, the file is {width}x{height}',
                'used the size from the file'))
    return check


def _report_rejected_images(images: ImageList, check: ImageCheck,
                            box_counts: Optional[np.ndarray], source: str,
                            problems: List[Dict[str, Any]]) -> None:
    for i, kind, detail in check.rejected:
        action = 'rejected'
        if box_counts is not None:
            n = int(box_counts[i])
            action = f'rejected with its {n} box' + ('' if n == 1 else 'es')
        problems.append(_problem(kind, source, images, i, detail, action))


def _problem(kind: str, source: str, images: Optional[ImageList], index: int, detail: str,
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


# ----------------------------------------------------------------------------- boxes

@dataclass
class BoxCheck:
    """Every box's fate, as arrays parallel to the label set's ``ann_*`` lists."""
    codes: np.ndarray  # int8: _KEPT, _CLIPPED or a _CODE of _REJECT_KINDS
    image_index: np.ndarray  # index into the image list, -1 if unknown
    categories: np.ndarray  # 1-based category id, 0 if invalid
    xywh: np.ndarray  # (n, 4) float64, the box to write (clipped where needed)
    # Every box in the file was written with integers: write integers back (clipping
    # to integer image sizes keeps them integral).
    integral: bool
    per_image_count: np.ndarray  # boxes listed per image, whatever their fate

    @property
    def kept(self) -> np.ndarray:
        return self.codes <= _CLIPPED


def _check_boxes(labels: LabelSet, images: ImageCheck) -> BoxCheck:
    """Decide each box's fate with whole-array operations (no per-box Python work on
    well-formed input: 135,000 boxes take milliseconds)."""
    n_images = len(labels.images.ids)
    index = _image_index(labels.ann_image_ids, labels.images.ids)
    categories = _category_ids(labels)
    values, malformed_box, integral = _box_values(labels.ann_boxes)
    safe = np.where(index >= 0, index, 0)
    width = images.widths[safe].astype(np.float64)
    height = images.heights[safe].astype(np.float64)
    with np.errstate(invalid='ignore'):  # NaN rows of malformed boxes
        malformed_box |= ~np.isfinite(values).all(axis=1)
        x1, y1 = values[:, 0], values[:, 1]
        if labels.box_format == 'cxcywhn':  # YOLO's, normalised to the image
            w, h = values[:, 2] * width, values[:, 3] * height
            x1, y1 = values[:, 0] * width - w / 2, values[:, 1] * height - h / 2
            x2, y2 = x1 + w, y1 + h
        elif labels.box_format == 'xywh':
            w, h = values[:, 2], values[:, 3]
            x2, y2 = x1 + w, y1 + h
        else:
            x2, y2 = values[:, 2], values[:, 3]
            w, h = x2 - x1, y2 - y1
        empty = (w <= 0) | (h <= 0)
        cx1, cx2 = np.clip(x1, 0, width), np.clip(x2, 0, width)
        cy1, cy2 = np.clip(y1, 0, height), np.clip(y2, 0, height)
        outside = (cx2 <= cx1) | (cy2 <= cy1)
        clipped = (cx1 != x1) | (cx2 != x2) | (cy1 != y1) | (cy2 != y2)
    # Unclipped boxes keep their own w and h: x + w - x is not always w in floats.
    xywh = np.stack([cx1, cy1, np.where(clipped, cx2 - cx1, w),
                     np.where(clipped, cy2 - cy1, h)], axis=1)

    codes = np.full(len(index), _KEPT, np.int8)
    # Lowest priority first, so that a box ends with the first reason that applies.
    codes[clipped] = _CLIPPED
    for kind, mask in (('box_outside', outside), ('box_empty', empty),
                       ('box_malformed', malformed_box), ('bad_category', categories == 0),
                       ('image_rejected', (index >= 0) & ~images.readable[safe]),
                       ('unknown_image', index < 0),
                       ('annotation_malformed', labels.ann_malformed)):
        codes[mask] = _CODE[kind]
    per_image = np.bincount(index[index >= 0], minlength=n_images)
    return BoxCheck(codes, index, categories, xywh, integral, per_image)


def _image_index(ann_image_ids: List[Any], image_ids: List[int]) -> np.ndarray:
    lookup = {image_id: i for i, image_id in enumerate(image_ids)}
    n = len(ann_image_ids)
    if set(map(type, ann_image_ids)) <= {int}:
        return np.fromiter(map(lookup.get, ann_image_ids, repeat(-1)), np.int64, n)
    # A bool or float id must not match an int id that merely compares equal.
    return np.fromiter((lookup.get(v, -1) if type(v) is int else -1
                        for v in ann_image_ids), np.int64, n)


def _category_ids(labels: LabelSet) -> np.ndarray:
    """Each box's class as a 1-based index into ``labels.classes``; 0 where its
    category names no class (by name, or by the data set's category id)."""
    values = labels.ann_categories
    if labels.categories_by_name:
        lookup = {name: i + 1 for i, name in enumerate(labels.classes)}
        return np.fromiter((lookup.get(v, 0) if type(v) is str else 0 for v in values),
                           np.int64, len(values))
    by_id = {cat_id: i + 1 for i, cat_id in enumerate(labels.ids())}
    # type() rather than isinstance: true is not category 1.
    return np.fromiter((by_id.get(v, 0) if type(v) is int else 0 for v in values),
                       np.int64, len(values))


def _box_values(boxes: List[Any]) -> Tuple[np.ndarray, np.ndarray, bool]:
    """An (n, 4) float array of the boxes, a mask of those that are not four plain
    numbers (their rows are NaN; bools and numeric strings are not numbers here), and
    whether all boxes are well formed and written with integers."""
    n = len(boxes)
    if set(map(type, boxes)) <= {list} and set(map(len, boxes)) <= {4}:
        flat = list(chain.from_iterable(boxes))
        types = set(map(type, flat))
        if types <= {int, float}:
            try:
                values = np.array(flat, np.float64).reshape(n, 4)
                return values, np.zeros(n, bool), types == {int}
            except OverflowError:  # an int too large for a float: find it below
                pass
    values = np.full((n, 4), np.nan)
    malformed = np.zeros(n, bool)
    for i, box in enumerate(boxes):
        try:
            if (type(box) is list and len(box) == 4
                    and all(type(v) in (int, float) for v in box)):
                values[i] = box
                continue
        except OverflowError:
            values[i] = np.nan
        malformed[i] = True
    return values, malformed, False


def _box_problems(labels: LabelSet, boxes: BoxCheck) -> List[Dict[str, Any]]:
    """Report entries for boxes rejected or clipped; those on rejected images are
    reported with their image."""
    entries = []
    names = {v: k for k, v in _CODE.items()}
    names[_CLIPPED] = 'box_clipped'
    reported = (boxes.codes != _KEPT) & (boxes.codes != _CODE['image_rejected'])
    for i in np.flatnonzero(reported).tolist():
        kind = names[int(boxes.codes[i])]
        image_index = int(boxes.image_index[i])
        detail = _box_detail(kind, labels, i)
        if kind == 'box_clipped':
            detail += f' -> xywh {boxes.xywh[i].tolist()}'
        entries.append(_problem(
            kind, 'train', labels.images, image_index, detail, _ACTION[kind],
            annotation=labels.annotation_ref(i),
            image_id=json_safe(labels.ann_image_ids[i])))
    return entries


class _BoxRefs:
    """How the audit's findings name box ``i``: its annotation, image, file,
    class and box (a sequence, built per finding only)."""

    def __init__(self, labels: LabelSet, boxes: 'BoxCheck', check: ImageCheck,
                 folder: str) -> None:
        self.labels, self.boxes, self.check, self.folder = (labels, boxes, check,
                                                            folder)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        image = int(self.boxes.image_index[i])
        return dict(annotation=self.labels.annotation_ref(i),
                    image_id=self.labels.images.ids[image],
                    file_name=_below(self.folder, self.check.disk_names[image]),
                    category=self.labels.classes[int(self.boxes.categories[i]) - 1],
                    bbox=[round(v, 1) for v in self.boxes.xywh[i].tolist()])


def _box_detail(kind: str, labels: LabelSet, i: int) -> str:
    if kind == 'unknown_image':
        return f'image id {labels.ann_image_ids[i]!r}'
    if kind == 'bad_category':
        return f'category {labels.ann_categories[i]!r} is none of {len(labels.classes)} classes'
    if kind == 'annotation_malformed':
        return 'missing fields or not an object'
    return f'{labels.box_format} {labels.ann_boxes[i]!r}'


# ------------------------------------------------------------------ split and output

def _classes_present(labels: LabelSet, boxes: BoxCheck) -> np.ndarray:
    """(images, classes) bool: the image has a kept box of the class."""
    present = np.zeros((len(labels.images.ids), len(labels.classes)), bool)
    kept = boxes.kept
    present[boxes.image_index[kept], boxes.categories[kept] - 1] = True
    return present


def stratified_folds(present: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Assign each row (an image) of ``present`` (images x classes, bool) to one of
    ``folds`` folds so that every class is spread evenly over the folds.

    Iterative stratification (Sechidis et al., 2011), on the classes an image holds:
    images are placed rarest class first; each goes to the fold that still lacks the
    most images of its rarest class, ties to the fold lacking the most images, then
    to the lowest fold. Images without boxes go last, to the emptiest folds. Image
    order within a class is a permutation drawn with ``seed``, so the result is a
    function of (``present``, ``folds``, ``seed``).
    """
    n, num_classes = present.shape
    per_class = present.sum(axis=0)
    # The rarest class each image holds (num_classes: none), by class frequency.
    rank = np.empty(num_classes, np.int64)
    rank[np.argsort(per_class, kind='stable')] = np.arange(num_classes)
    image_rank = np.where(present, rank[None, :], num_classes).min(axis=1)
    rarest = np.argsort(rank)  # rank -> class
    shuffle = np.random.RandomState(seed).permutation(n)
    order = shuffle[np.argsort(image_rank[shuffle], kind='stable')]
    wanted = np.repeat(per_class[None, :] / folds, folds, axis=0)  # (folds, classes)
    wanted_images = np.full(folds, n / folds)
    fold_of = np.empty(n, np.int64)
    for i in order.tolist():
        r = image_rank[i]
        # Most wanted for the rarest class, then for images overall, then lowest index.
        key = wanted_images if r == num_classes else (
            wanted[:, rarest[r]] * (n + 1) + wanted_images)
        fold = int(np.argmax(key))
        fold_of[i] = fold
        wanted[fold] -= present[i]
        wanted_images[fold] -= 1
    return fold_of


def _fold_of_images(labels: LabelSet, boxes: BoxCheck, readable: np.ndarray, folds: int,
                    seed: int) -> np.ndarray:
    """Fold index of each image of the label list (-1: unreadable); images taken in
    id order so that the folds do not depend on the JSON's order."""
    ids = np.asarray(labels.images.ids, dtype=np.int64)
    rows = np.flatnonzero(readable)
    rows = rows[np.argsort(ids[rows], kind='stable')]
    fold_of = np.full(len(ids), -1, np.int64)
    fold_of[rows] = stratified_folds(_classes_present(labels, boxes)[rows], folds, seed)
    return fold_of


def _fold_report(labels: LabelSet, boxes: BoxCheck, fold_masks: Dict[str, np.ndarray],
                 folds: int) -> Dict[str, Any]:
    """Per fold: its (validation) images and boxes per class."""
    safe = np.maximum(boxes.image_index, 0)
    report = {}
    for k in range(folds):
        mask = fold_masks[f'fold{k}/val']
        in_fold = boxes.kept & mask[safe]
        counts = np.bincount(boxes.categories[in_fold], minlength=len(labels.classes) + 1)
        report[f'fold{k}'] = {'images': int(mask.sum()),
                              'boxes_per_class': dict(zip(labels.classes,
                                                          counts[1:].tolist()))}
    return report


def _annotation_ids(labels: LabelSet, boxes: BoxCheck) -> np.ndarray:
    """Kept boxes' output ids: 1.. in (image id, input order) order, unique across
    all output files; 0 for rejected boxes."""
    kept = np.flatnonzero(boxes.kept)
    image_ids = np.asarray(labels.images.ids, dtype=np.int64)[boxes.image_index[kept]]
    order = kept[np.argsort(image_ids, kind='stable')]
    ids = np.zeros(len(boxes.codes), np.int64)
    ids[order] = np.arange(1, len(order) + 1)
    return ids


def _coco(images: ImageList, check: ImageCheck, mask: np.ndarray, folder: str,
          boxes: Optional[BoxCheck], ann_ids: Optional[np.ndarray],
          categories: List[Dict[str, Any]],
          labels: Optional[LabelSet] = None) -> Dict[str, Any]:
    """A COCO dict of the images in ``mask`` (sorted by id) and their kept boxes
    (``labels``' boxes, with its category ids and crowd flags)."""
    ids = np.asarray(images.ids, dtype=np.int64)
    chosen = np.flatnonzero(mask)
    chosen = chosen[np.argsort(ids[chosen], kind='stable')].tolist()
    coco_images = [{'id': images.ids[i],
                    'file_name': _below(folder, check.disk_names[i]),
                    'width': int(check.widths[i]), 'height': int(check.heights[i])}
                   for i in chosen]
    annotations: List[Dict[str, Any]] = []
    if boxes is not None and labels is not None:
        selected = np.flatnonzero(boxes.kept & mask[np.maximum(boxes.image_index, 0)])
        selected = selected[np.argsort(ann_ids[selected])]
        xywh = boxes.xywh[selected]
        if boxes.integral:
            xywh = xywh.astype(np.int64)
        category_ids = np.asarray(labels.ids(), np.int64)[
            boxes.categories[selected] - 1]
        crowd = (np.zeros(len(selected), np.int64) if labels.ann_iscrowd is None
                 else labels.ann_iscrowd[selected].astype(np.int64))
        annotations = [
            {'id': a, 'image_id': im, 'category_id': c, 'bbox': b, 'area': area,
             'iscrowd': z}
            for a, im, c, b, area, z in zip(
                ann_ids[selected].tolist(), ids[boxes.image_index[selected]].tolist(),
                category_ids.tolist(), xywh.tolist(),
                (xywh[:, 2] * xywh[:, 3]).tolist(), crowd.tolist())]
    return {'images': coco_images, 'annotations': annotations, 'categories': categories}


def _report(labels: LabelSet, train: ImageCheck, test: Optional[ImageCheck],
            boxes: BoxCheck, split_masks: Dict[str, np.ndarray], val_size: int, seed: int,
            problems: List[Dict[str, Any]]) -> Dict[str, Any]:
    n_images, n_boxes = len(labels.images.ids), len(boxes.codes)
    n_kept_boxes = int(boxes.kept.sum())
    report: Dict[str, Any] = {
        'format': labels.format,
        'classes': list(labels.classes),
        'images': {'input': n_images, 'kept': int(train.readable.sum()),
                   'rejected': n_images - int(train.readable.sum())},
        'annotations': {'input': n_boxes, 'kept': n_kept_boxes,
                        'rejected': n_boxes - n_kept_boxes,
                        'clipped': int((boxes.codes == _CLIPPED).sum())},
        # Train and test images together.
        'sizes': {'from_header_only': train.size_from_header + (test.size_from_header
                                                                if test else 0),
                  'mismatch': sum(p['kind'] == 'size_mismatch' for p in problems)},
        'split': {'seed': seed, 'val_size': val_size,
                  'train_images': int(split_masks['train'].sum()),
                  'val_images': int(split_masks['val'].sum())},
    }
    if test is not None:
        n_test = len(test.readable)
        report['test_images'] = {'input': n_test, 'kept': int(test.readable.sum()),
                                 'rejected': n_test - int(test.readable.sum())}
    safe = np.maximum(boxes.image_index, 0)
    report['boxes_per_class'] = {}
    for name, mask in split_masks.items():
        in_split = boxes.kept & mask[safe]
        counts = np.bincount(boxes.categories[in_split], minlength=len(labels.classes) + 1)
        report['boxes_per_class'][name] = dict(zip(labels.classes, counts[1:].tolist()))
    if 'train_diet' in split_masks:
        report['diet'] = {'images': int(split_masks['train_diet'].sum()),
                          'boxes': sum(report['boxes_per_class']['train_diet'].values())}
    kinds: Dict[str, int] = {}
    for p in problems:
        kinds[p['kind']] = kinds.get(p['kind'], 0) + 1
    report['problem_counts'] = dict(sorted(kinds.items()))
    report['problems'] = problems
    return report

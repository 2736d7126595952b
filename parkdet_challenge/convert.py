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
  classes each image holds (see :func:`.splits.stratified_folds`), a function of ``seed``.
- input that cannot be used at all raises ``InputError`` before anything is written;
  outputs are written all-or-nothing (temporary files, then renames).

This module reads the inputs and runs the steps, each a module of its own: the images
found and measured (:mod:`.image_check`), each box's fate (:mod:`.box_check`), the
ground-truth audit (:mod:`.audit`), the splits, extra subsets and folds
(:mod:`.splits`), the COCO files and the report (:mod:`.coco_output`).
"""
import contextlib
import gc
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .atomic import PathLike, write_files_atomic
from .audit import AuditThresholds, audit_boxes, examples_png, findings
from .box_check import CODE, BoxRefs, box_problems, check_boxes
from .classes import coco_categories
from .coco_output import annotation_ids, coco, conversion_report, encode
from .errors import InputError
from .formats import CompetitionFormat, DataLayout, format_of_file, get_format
from .formats.base import CHALLENGE_LAYOUT
from .image_check import check_images, image_folder, listed_images, report_rejected_images
from .labels import ImageList, LabelSet, load_json, read_image_list
from .splits import fold_report, split_images


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
    collector would rescan them again and again, a third of the run, to free nothing.

    On resuming, what was made meanwhile joins the oldest generation unscanned
    (``gc.freeze`` then ``gc.unfreeze``, unless the program froze objects of its
    own): left young, the conversion still held would all be scanned by the next
    young collection. Garbage among it is collected by the next full collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _convert(root: Path, val_size: Optional[int], seed: int, diet: bool,
             progress: bool, folds: int, verify: bool, workers: int,
             data_format: Optional[str], layout: Optional[DataLayout],
             extras_from: str, audit: AuditThresholds,
             drop_suspicious: bool) -> Conversion:
    _check_arguments(root, val_size, seed, workers, folds, extras_from)
    layout = layout or CHALLENGE_LAYOUT
    labels_file = root / layout.labels_file
    fmt, labels = _read_labels(root, labels_file, data_format)
    if diet and not fmt.extra_subset_names:
        raise InputError(f'{labels_file}: --diet applies to the inattention2021 '
                         f'format only, this file is {fmt.name}')
    test = _test_images(root, layout, fmt)

    problems: List[Dict[str, Any]] = []
    read = dict(progress=progress, verify=verify, workers=workers)
    train_folder = image_folder(root, layout.train_images, layout.recursive)
    train_check = check_images(labels.images, train_folder, 'train', problems, **read)
    val_size = _val_size(fmt, labels, train_check.readable, val_size, folds,
                         labels_file)
    test_check = (check_images(test, image_folder(root, layout.test_images,
                                                  layout.recursive),
                               'test', problems, **read)
                  if test is not None else None)

    boxes = check_boxes(labels, train_check)
    suspicious = audit_boxes(boxes.xywh, boxes.image_index, boxes.categories,
                             train_check.widths, train_check.heights, boxes.kept,
                             audit)
    suspicious_report = findings(suspicious, BoxRefs(labels, boxes, train_check,
                                                     layout.train_images), audit)
    if drop_suspicious:
        dropped = np.logical_or.reduce(list(suspicious.values()))
        boxes.codes[dropped] = CODE['box_suspicious']
    report_rejected_images(labels.images, train_check, boxes.per_image_count, 'train',
                           problems)
    if test is not None:
        report_rejected_images(test, test_check, None, 'test', problems)
    problems.extend(box_problems(labels, boxes))

    splits = split_images(fmt, labels, boxes, train_check.readable, val_size, seed,
                          folds, extras_from)
    categories = coco_categories(labels.classes, labels.ids())
    ann_ids = annotation_ids(labels, boxes)
    outputs: Dict[str, Any] = {}
    for name, mask in chain(splits.masks.items(), splits.folds.items()):
        outputs[f'annotations/{name}.json'] = coco(
            labels.images, train_check, mask, layout.train_images, boxes, ann_ids,
            categories, labels)
    if test is not None:
        outputs['annotations/test.json'] = coco(
            test, test_check, test_check.readable, layout.test_images, None, None,
            categories)
    # the class list, for configs that take their classes from the data
    outputs['annotations/classes.json'] = {'format': fmt.name,
                                           'classes': list(labels.classes),
                                           'category_ids': list(labels.ids())}

    report = conversion_report(labels, train_check, test_check, boxes, splits.masks,
                               val_size, seed, problems)
    own = labels.own_splits or {}
    if 'test' in own:
        listed, kept = int(own['test'].sum()), int(splits.masks['test'].sum())
        report['test_images'] = {'input': listed, 'kept': kept,
                                 'rejected': listed - kept}
    if folds:
        report['folds'] = fold_report(labels, boxes, splits.folds, folds)
    report['suspicious'] = dict(suspicious_report, dropped=drop_suspicious)
    outputs['report.json'] = report
    return Conversion(outputs, report, labels.classes)


def _check_arguments(root: Path, val_size: Optional[int], seed: int, workers: int,
                     folds: int, extras_from: str) -> None:
    """InputError naming the first argument that cannot be used."""
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


def _read_labels(root: Path, labels_file: Path,
                 data_format: Optional[str]) -> Tuple[CompetitionFormat, LabelSet]:
    """The label file's format (``data_format``, or told apart by its shape) and
    its label set."""
    fmt: Optional[CompetitionFormat] = (None if data_format is None
                                        else get_format(data_format))
    data = load_json(labels_file) if fmt is None else fmt.load(labels_file, root)
    fmt = fmt or format_of_file(data, labels_file)
    return fmt, fmt.read_labels(data, labels_file)


def _test_images(root: Path, layout: DataLayout,
                 fmt: CompetitionFormat) -> Optional[ImageList]:
    """The test images: the test information file's list, or without one (where
    the format allows it) the files of the test folder; None when there are none."""
    if layout.test_info_file is None:
        return None
    test_info = root / layout.test_info_file
    if fmt.test_info_required or test_info.exists():
        return read_image_list(test_info)
    if (root / layout.test_images).is_dir():
        return listed_images(image_folder(root, layout.test_images))
    return None


def _val_size(fmt: CompetitionFormat, labels: LabelSet, readable: np.ndarray,
              val_size: Optional[int], folds: int, labels_file: Path) -> int:
    """The number of validation images: the data set's own val split's, else
    ``val_size``, else the format's default (a tenth of the training images when it
    has none). InputError when it or ``folds`` does not fit the readable images."""
    own = labels.own_splits or {}
    # the images to train and validate on (YOLO's data YAML: those it lists so)
    n_readable = int((readable & own.get('train', True)).sum())
    if 'val' in own and val_size is not None:
        raise InputError(f'--val-size: {labels_file} names its own val split')
    if 'val' in own:
        val_size = int((own['val'] & readable).sum())
    elif val_size is None:
        val_size = (fmt.default_val_size if fmt.default_val_size is not None
                    else max(1, n_readable // 10))
    if folds > n_readable:
        raise InputError(f'--folds {folds} is more than the {n_readable} readable images '
                         f'in {labels_file}')
    if val_size >= n_readable and 'val' not in own:
        raise InputError(f'--val-size {val_size} leaves no training images: '
                         f'{n_readable} readable images in {labels_file}')
    return val_size


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
    # The cyclic collector stays paused until the outputs are encoded and drawn: the
    # objects of the conversion, made while it was paused, would all be scanned again
    # by the first collections the charts set off.
    with _gc_paused():
        conversion = convert(data_root, val_size=val_size, seed=seed, diet=diet,
                             progress=progress, folds=folds, verify=verify,
                             workers=workers, data_format=data_format,
                             layout=layout, extras_from=extras_from, audit=audit,
                             drop_suspicious=drop_suspicious)
        files = {Path(out_dir) / rel: encode(rel, obj)
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

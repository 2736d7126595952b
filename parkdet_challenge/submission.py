"""The challenge's submission file (SPEC section 8): its records and its exact size cap.

A submission is one JSON list of records, each
``{"image_id": id, "category_id": 1..14, "bbox": [x, y, w, h], "score": s,
"segmentation": []}`` with the keys in that order, the box in original-image pixels
rounded to 1 decimal and the score rounded to 4, the whole list written as
``json.dumps(records)`` (Python's default separators ``', '`` and ``': '``).

The file must be strictly smaller than 20 x 1000 x 1000 bytes. :func:`cap_records`
keeps every record scoring at or above a cut-off (records tied on the cut-off score
are kept or dropped together) and picks the lowest cut-off whose file fits. Sizes are
read off the records' own serialization, so the cap is exact, and the file is written
once, unlike the reference's search that rewrote the whole file at every step.

Only the standard library and numpy: no torch, so the re-capping command starts fast.
"""
import json
import logging
import math
import numbers
import re
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .atomic import PathLike, atomic_write
from .classes import NUM_CLASSES

logger = logging.getLogger(__name__)

RECORD_KEYS: Tuple[str, ...] = ('image_id', 'category_id', 'bbox', 'score',
                                'segmentation')
MAX_BYTES = 20 * 1000 * 1000
CATEGORY_IDS = frozenset(range(1, NUM_CLASSES + 1))

ImageId = Union[int, str]
Record = Dict[str, Any]

# With ensure_ascii (the default) the text is pure ASCII, so characters are bytes.
# allow_nan=False only turns NaN/Infinity (which are not JSON) into an error; for any
# other record the text is byte-for-byte that of json.dumps with default arguments.
_ENCODER = json.JSONEncoder(allow_nan=False)

# How every serialized record ends. Its second '"' follows an 'n', and json escapes
# every '"' inside a string as '\"', so that quote closes a key or a string value; a
# string value is never followed by ':', and in a record with RECORD_KEYS the only
# key ending in 'n' whose value is [] and closes the object is 'segmentation'. So the
# pattern occurs exactly once per record, at its very end.
_RECORD_END = re.compile(re.escape('"segmentation": []}'))


class SubmissionError(ValueError):
    """A submission that is not a JSON list of well-formed records; one-line message."""


@dataclass(frozen=True)
class CapResult:
    """What :func:`cap_records` kept.

    ``cutoff`` is the lowest kept score (every record scoring at or above it was
    kept), or None when nothing was kept. ``size_bytes`` is the capped file's size.
    """

    cutoff: Optional[float]
    kept: int
    total: int
    size_bytes: int
    max_bytes: int

    def summary(self) -> str:
        """One line for logs: cut-off, kept of total, size against the cap."""
        cutoff = 'none' if self.cutoff is None else f'{self.cutoff:g}'
        return (f'kept {self.kept} of {self.total} records (score cut-off {cutoff}), '
                f'{self.size_bytes} bytes < cap {self.max_bytes}')


def _image_id(image_id: Any) -> ImageId:
    # numpy integers (e.g. from a data sample) become plain ints, which json accepts.
    if isinstance(image_id, numbers.Integral) and not isinstance(image_id, bool):
        return int(image_id)
    if isinstance(image_id, str):
        return image_id
    raise TypeError(f'image_id must be an int or a str, got {image_id!r}')


def make_record(image_id: ImageId, category_id: int,
                bbox_xyxy: Sequence[float], score: float) -> Record:
    """One submission record from a box in ``x1, y1, x2, y2`` original-image pixels.

    Width and height are taken from the unrounded corners, then every value is
    rounded with Python's ``round`` (1 decimal for the box, 4 for the score), whose
    floats print as the shortest decimal, e.g. ``12.3``.
    """
    if type(category_id) is not int or category_id not in CATEGORY_IDS:
        raise ValueError(f'category_id must be an int in 1..{NUM_CLASSES}, '
                         f'got {category_id!r}')
    x1, y1, x2, y2 = (float(v) for v in bbox_xyxy)
    return {
        'image_id': _image_id(image_id),
        'category_id': category_id,
        'bbox': [round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1)],
        'score': round(float(score), 4),
        'segmentation': [],
    }


def image_records(image_id: ImageId, bboxes_xyxy: Any, scores: Any,
                  category_ids: Any) -> List[Record]:
    """The records of one image: ``bboxes_xyxy`` (N, 4), ``scores`` (N,), ids (N,).

    Accepts numpy arrays or nested sequences. Raises ``ValueError`` on mismatched
    lengths, a non-finite box or score, or a category id outside 1..14.
    """
    bboxes = np.asarray(bboxes_xyxy, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    cats = np.asarray(category_ids).reshape(-1)
    if not len(bboxes) == len(scores) == len(cats):
        raise ValueError(f'image {image_id!r}: {len(bboxes)} boxes, {len(scores)} '
                         f'scores and {len(cats)} category ids')
    if not (np.isfinite(bboxes).all() and np.isfinite(scores).all()):
        raise ValueError(f'image {image_id!r}: non-finite box or score')
    image_id = _image_id(image_id)
    return [make_record(image_id, int(c), b, s)
            for b, s, c in zip(bboxes.tolist(), scores.tolist(), cats.tolist())]


def _is_number(value: Any) -> bool:
    # bool is an int subclass but not a number here; json writes it as true/false.
    return (type(value) is int
            or (type(value) is float and math.isfinite(value)))


def _check_record(index: int, record: Any) -> Record:
    """``record`` with its keys put in RECORD_KEYS order; SubmissionError if bad."""
    where = f'record {index}'
    if not isinstance(record, dict):
        raise SubmissionError(f'{where}: expected an object, got '
                              f'{type(record).__name__}')
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise SubmissionError(f'{where}: missing key(s) {", ".join(missing)}')
    extra = [k for k in record if k not in RECORD_KEYS]
    if extra:
        raise SubmissionError(f'{where}: unexpected key(s) {", ".join(extra)}')
    image_id, category_id, bbox, score, segmentation = (record[k] for k in RECORD_KEYS)
    if type(image_id) not in (int, str):
        raise SubmissionError(f'{where}: image_id must be an integer or a string, '
                              f'got {image_id!r}')
    if type(category_id) is not int or category_id not in CATEGORY_IDS:
        raise SubmissionError(f'{where}: category_id must be an integer in '
                              f'1..{NUM_CLASSES}, got {category_id!r}')
    if type(bbox) is not list or len(bbox) != 4 or not all(map(_is_number, bbox)):
        raise SubmissionError(f'{where}: bbox must be a list of 4 finite numbers, '
                              f'got {bbox!r}')
    if not _is_number(score):
        raise SubmissionError(f'{where}: score must be a finite number, got {score!r}')
    if type(segmentation) is not list or segmentation:
        raise SubmissionError(f'{where}: segmentation must be [], got '
                              f'{segmentation!r}')
    return {k: record[k] for k in RECORD_KEYS}


def _all_canonical(records: list) -> bool:
    """True if every record passes :func:`_check_record` with its keys already in order.

    The same checks as _check_record, as whole-column set/map passes that run in C:
    a million records take a fraction of a second instead of seconds.
    """
    if set(map(type, records)) - {dict} or set(map(tuple, records)) - {RECORD_KEYS}:
        return False
    ids, cats, bboxes, scores, segs = (list(map(itemgetter(k), records))
                                       for k in RECORD_KEYS)
    if set(map(type, ids)) - {int, str}:
        return False
    if set(map(type, cats)) - {int} or set(cats) - CATEGORY_IDS:
        return False
    if set(map(type, bboxes)) - {list} or set(map(len, bboxes)) - {4}:
        return False
    if set(map(type, segs)) - {list} or set(map(len, segs)) - {0}:
        return False
    values = list(chain(chain.from_iterable(bboxes), scores))
    if set(map(type, values)) - {int, float}:
        return False
    try:
        return all(map(math.isfinite, values))
    except OverflowError:  # an int too big for a float: finite, let the slow path say
        return False


def check_records(obj: Any) -> List[Record]:
    """Check that ``obj`` (e.g. a loaded JSON) is a list of submission records.

    Returns the records with each one's keys in RECORD_KEYS order (``obj`` itself
    when already so). Values are kept as they are: a file with more decimals than
    SPEC 8 asks for is not rounded. Raises :class:`SubmissionError` naming the first
    bad record: a non-object, a missing or extra key, an image_id that is neither an
    integer nor a string, a category_id outside 1..14, a bbox that is not 4 finite
    numbers, a score that is not a finite number, a segmentation other than [].
    """
    if not isinstance(obj, list):
        raise SubmissionError(f'expected a JSON list of records, got '
                              f'{type(obj).__name__}')
    if _all_canonical(obj):
        return obj
    return [_check_record(i, r) for i, r in enumerate(obj)]


def serialize(records: Sequence[Record]) -> str:
    """The submission text of ``records`` in the given order: ``json.dumps(records)``.

    Raises ``ValueError`` on NaN or infinite values, which are not JSON.
    """
    return _ENCODER.encode(list(records))


def cap_records(records: Sequence[Record],
                max_bytes: int = MAX_BYTES) -> Tuple[str, CapResult]:
    """The capped submission text of ``records`` and what it kept.

    ``records`` must be well formed (from :func:`make_record`, or checked by
    :func:`check_records`). The text holds every record scoring at or above a cut-off,
    sorted by score descending (ties in input order), and is the largest such file
    strictly smaller than ``max_bytes`` bytes; records tied on the cut-off score are
    kept or dropped together. If not even the top-scoring group fits, the text is
    ``[]`` and a warning is logged.
    """
    if max_bytes <= len('[]'):
        raise ValueError(f'max_bytes must exceed 2 (the size of "[]"), got {max_bytes}')
    total = len(records)
    if total == 0:
        return '[]', CapResult(None, 0, 0, 2, max_bytes)
    # Serialize once, in input order: the records were allocated in that order, and
    # walking them so is about twice as fast as in score order. json.dumps of a list
    # joins its items' own json.dumps with ', ', so each record's text can be cut out
    # of the whole; a record spans from after the previous ', ' (or '[') to its end.
    text = serialize(records)
    ends = np.fromiter((m.end() for m in _RECORD_END.finditer(text)),
                       dtype=np.int64)
    if len(ends) != total:  # e.g. keys out of order: sizes would be wrong
        raise ValueError('records are not in submission form (RECORD_KEYS in '
                         'order, segmentation []); pass them through check_records')
    starts = np.empty_like(ends)
    starts[0] = 1
    starts[1:] = ends[:-1] + 2

    scores = np.fromiter(map(itemgetter('score'), records), dtype=np.float64,
                         count=total)
    order = np.argsort(-scores, kind='stable')
    ranked = scores[order]
    # The file of the k best records is '[' + k records + (k - 1) * ', ' + ']':
    # cumulative record lengths + 2 * k bytes.
    sizes = np.cumsum(ends[order] - starts[order]) + 2 * np.arange(1, total + 1)
    kept = int(np.searchsorted(sizes, max_bytes, side='left'))  # sizes < max_bytes
    if 0 < kept < total and ranked[kept - 1] == ranked[kept]:
        # The cut falls inside a tie: drop the whole tied group (-ranked ascends, so
        # the left insertion point of its score is the group's first index).
        kept = int(np.searchsorted(-ranked, -ranked[kept - 1], side='left'))
    if kept == 0:
        logger.warning('no record fits under %d bytes (the best scoring group alone '
                       'is bigger); the capped submission is empty', max_bytes)
        return '[]', CapResult(None, 0, total, 2, max_bytes)
    pieces = [text[s:e] for s, e in zip(starts[order[:kept]].tolist(),
                                         ends[order[:kept]].tolist())]
    capped = '[' + ', '.join(pieces) + ']'
    return capped, CapResult(float(ranked[kept - 1]), kept, total, len(capped),
                             max_bytes)


def _write_text(path: PathLike, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text.encode('ascii'))


def write_predictions(path: PathLike, records: Sequence[Record]) -> int:
    """Write the uncapped ``records``, in their order, atomically; return its size."""
    text = serialize(records)
    _write_text(path, text)
    return len(text)


def write_submission(path: PathLike, records: Sequence[Record],
                     max_bytes: int = MAX_BYTES) -> CapResult:
    """Cap ``records`` (see :func:`cap_records`) and write the file once, atomically.

    The file is written to a temporary name in the same folder and renamed over
    ``path``, so a run killed while writing leaves the previous file (or none).
    """
    text, result = cap_records(records, max_bytes)
    _write_text(path, text)
    return result


def load_records(path: PathLike) -> List[Record]:
    """Read a submission-format JSON file and check it (see :func:`check_records`).

    Raises ``OSError`` if it cannot be read, :class:`SubmissionError` (its message
    starting with ``path``) if it is not UTF-8 JSON or not a list of well-formed
    records.
    """
    with open(path, encoding='utf-8') as f:
        try:
            obj = json.load(f)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise SubmissionError(f'{path}: not a JSON file ({err})') from None
    try:
        return check_records(obj)
    except SubmissionError as err:
        raise SubmissionError(f'{path}: {err}') from None


def recap_file(in_path: PathLike, out_path: PathLike,
               max_bytes: int = MAX_BYTES) -> CapResult:
    """Re-cap an existing prediction or submission file into ``out_path``.

    ``out_path`` is written only after the input was read and checked; errors are
    those of :func:`load_records`, ``out_path`` untouched.
    """
    return write_submission(out_path, load_records(in_path), max_bytes)


# ----------------------------------------------------------------- the 2021 format

# The 2021 challenge's submission (SPEC section 9) mirrors its labels file:
# {"annotations": [{"file_name": stem + ".jpg", "objects": [{"class": name,
# "position": [x1, y1, x2, y2], "confidence_score": s}, ...]}, ...]}, one entry per
# test image, and "objects": {} (an empty object, as its code wrote) for an image
# without predictions. SPEC 9 says nothing of a size cap; the same rule as SPEC 8 is
# applied (every object scoring at or above a cut-off, the largest file strictly
# under max_bytes, counted in the 2021 serialization); the uncapped file is written
# next to it (preds.json) as for 2022.
Entry2021 = Dict[str, Any]
_FILE_HEAD_2021 = '{"annotations": ['
_FILE_TAIL_2021 = ']}'


def entry_2021(file_name: str, bboxes_xyxy: Any, scores: Any,
               class_names: Sequence[str]) -> Entry2021:
    """One image's 2021 entry from boxes in original-image pixels ``(N, 4)``, scores
    ``(N,)`` and their class names, objects by score descending (as NMS leaves them).

    ``file_name`` is the image's; the entry names it by stem + ".jpg" as the
    reference did. Raises ``ValueError`` on mismatched lengths or non-finite values.
    """
    bboxes = np.asarray(bboxes_xyxy, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not len(bboxes) == len(scores) == len(class_names):
        raise ValueError(f'{file_name}: {len(bboxes)} boxes, {len(scores)} scores and '
                         f'{len(class_names)} class names')
    if not (np.isfinite(bboxes).all() and np.isfinite(scores).all()):
        raise ValueError(f'{file_name}: non-finite box or score')
    order = np.argsort(-scores, kind='stable').tolist()
    boxes, values = bboxes.tolist(), scores.tolist()
    objects = [{'class': str(class_names[i]),
                'position': [round(v, 1) for v in boxes[i]],
                'confidence_score': round(values[i], 4)} for i in order]
    stem = file_name.rsplit('/', 1)[-1].rsplit('.', 1)[0]
    return {'file_name': stem + '.jpg', 'objects': objects or {}}


def _entry_head(entry: Entry2021) -> str:
    """An entry's text up to its objects: '{"file_name": "...", "objects": '."""
    return _ENCODER.encode({'file_name': entry['file_name'], 'objects': 0})[:-2]


def serialize_2021(entries: Sequence[Entry2021]) -> str:
    """The 2021 submission text of ``entries``: ``json.dumps({"annotations": ...})``."""
    return _ENCODER.encode({'annotations': list(entries)})


def cap_entries_2021(entries: Sequence[Entry2021],
                     max_bytes: int = MAX_BYTES) -> Tuple[str, CapResult]:
    """The capped 2021 submission text of ``entries`` and what it kept.

    Every image keeps its entry; its objects scoring at or above a cut-off are kept
    (ties kept or dropped together), the cut-off being the lowest whose file is
    strictly smaller than ``max_bytes``. An image left without objects gets
    ``"objects": {}``. Each object is serialized once and the sizes added up, as
    :func:`cap_records` does. Raises ``ValueError`` when even the entries without
    objects do not fit.
    """
    objects = [(i, obj) for i, entry in enumerate(entries)
               for obj in (entry['objects'] or [])]
    total = len(objects)
    heads = [_entry_head(e) for e in entries]
    # Every image with "objects": {} and the separators between entries.
    empty_size = (len(_FILE_HEAD_2021) + len(_FILE_TAIL_2021)
                  + sum(len(h) + len('{}}') for h in heads) + 2 * max(len(heads) - 1, 0))
    if empty_size >= max_bytes:
        raise ValueError(f'max_bytes {max_bytes} is too small for one entry per image '
                         f'({empty_size} bytes without any object)')
    texts = [_ENCODER.encode(obj) for _, obj in objects]
    scores = np.fromiter((o['confidence_score'] for _, o in objects), np.float64, total)
    image = np.fromiter((i for i, _ in objects), np.int64, total)
    order = np.argsort(-scores, kind='stable')
    ranked = scores[order]
    lengths = np.fromiter(map(len, texts), np.int64, total)[order]
    # An image's first object turns '{}' into '[obj]' (+len); each later one adds
    # ', obj' (+len + 2).
    first = np.zeros(total, bool)
    first[np.unique(image[order], return_index=True)[1]] = True
    sizes = empty_size + np.cumsum(lengths + np.where(first, 0, 2))
    kept = int(np.searchsorted(sizes, max_bytes, side='left'))
    if 0 < kept < total and ranked[kept - 1] == ranked[kept]:
        kept = int(np.searchsorted(-ranked, -ranked[kept - 1], side='left'))
    keep = np.zeros(total, bool)
    keep[order[:kept]] = True
    per_image: List[List[str]] = [[] for _ in entries]
    for k in np.flatnonzero(keep).tolist():  # entry order, objects in their order
        per_image[objects[k][0]].append(texts[k])
    body = ', '.join(head + ('[' + ', '.join(objs) + ']' if objs else '{}') + '}'
                     for head, objs in zip(heads, per_image))
    text = _FILE_HEAD_2021 + body + _FILE_TAIL_2021
    cutoff = float(ranked[kept - 1]) if kept else None
    return text, CapResult(cutoff, kept, total, len(text), max_bytes)


def write_predictions_2021(path: PathLike, entries: Sequence[Entry2021]) -> int:
    """Write the uncapped 2021 ``entries`` atomically; return the file's size."""
    text = serialize_2021(entries)
    _write_text(path, text)
    return len(text)


def write_submission_2021(path: PathLike, entries: Sequence[Entry2021],
                          max_bytes: int = MAX_BYTES) -> CapResult:
    """Cap ``entries`` (see :func:`cap_entries_2021`) and write the file atomically."""
    text, result = cap_entries_2021(entries, max_bytes)
    _write_text(path, text)
    return result

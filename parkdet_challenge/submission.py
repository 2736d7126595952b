"""The challenge's submission file (docs/reference.md section 8): its records and its
exact size cap.

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
ENCODER = json.JSONEncoder(allow_nan=False)

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
    max_bytes: Optional[int]  # None: uncapped

    def summary(self) -> str:
        """One line for logs: cut-off, kept of total, size against the cap."""
        cutoff = 'none' if self.cutoff is None else f'{self.cutoff:g}'
        cap = ('no cap' if self.max_bytes is None
               else f'< cap {self.max_bytes}')
        return (f'kept {self.kept} of {self.total} records (score cut-off {cutoff}), '
                f'{self.size_bytes} bytes {cap}')


def _image_id(image_id: Any) -> ImageId:
    # numpy integers (e.g. from a data sample) become plain ints, which json accepts.
    if isinstance(image_id, numbers.Integral) and not isinstance(image_id, bool):
        return int(image_id)
    if isinstance(image_id, str):
        return image_id
    raise TypeError(f'image_id must be an int or a str, got {image_id!r}')


def make_record(image_id: ImageId, category_id: int,
                bbox_xyxy: Sequence[float], score: float,
                allowed_ids: Optional[frozenset] = CATEGORY_IDS) -> Record:
    """One submission record from a box in ``x1, y1, x2, y2`` original-image pixels.

    Width and height are taken from the unrounded corners, then every value is
    rounded with Python's ``round`` (1 decimal for the box, 4 for the score), whose
    floats print as the shortest decimal, e.g. ``12.3``. ``category_id`` must be
    one of ``allowed_ids`` (the challenge's 1..14; None: any int).
    """
    if type(category_id) is not int or (allowed_ids is not None
                                        and category_id not in allowed_ids):
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
                  category_ids: Any,
                  allowed_ids: Optional[frozenset] = CATEGORY_IDS) -> List[Record]:
    """The records of one image: ``bboxes_xyxy`` (N, 4), ``scores`` (N,), ids (N,).

    Accepts numpy arrays or nested sequences. Raises ``ValueError`` on mismatched
    lengths, a non-finite box or score, or a category id not in ``allowed_ids``
    (the challenge's 1..14; None: any).
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
    return [make_record(image_id, int(c), b, s, allowed_ids)
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
    docs/reference.md section 8 asks for is not rounded. Raises
    :class:`SubmissionError` naming the first bad record: a non-object, a missing or
    extra key, an image_id that is neither an integer nor a string, a category_id
    outside 1..14, a bbox that is not 4 finite numbers, a score that is not a finite
    number, a segmentation other than [].
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
    return ENCODER.encode(list(records))


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


def write_text(path: PathLike, text: str) -> None:
    """Write the ASCII ``text`` to ``path`` atomically."""
    with atomic_write(path) as f:
        f.write(text.encode('ascii'))


def write_predictions(path: PathLike, records: Sequence[Record]) -> int:
    """Write the uncapped ``records``, in their order, atomically; return its size."""
    text = serialize(records)
    write_text(path, text)
    return len(text)


def write_submission(path: PathLike, records: Sequence[Record],
                     max_bytes: Optional[int] = MAX_BYTES) -> CapResult:
    """Cap ``records`` (see :func:`cap_records`; None: keep them all, in their
    order) and write the file once, atomically.

    The file is written to a temporary name in the same folder and renamed over
    ``path``, so a run killed while writing leaves the previous file (or none).
    """
    if max_bytes is None:
        text = serialize(records)
        write_text(path, text)
        lowest = min((r['score'] for r in records), default=None)
        return CapResult(lowest, len(records), len(records), len(text), None)
    text, result = cap_records(records, max_bytes)
    write_text(path, text)
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

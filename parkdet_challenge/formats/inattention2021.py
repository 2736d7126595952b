"""The 2021 challenge, driver inattention (docs/reference.md section 9).

Labels: ``{"annotations": [{file_name, objects: [{class: <name>, position: [x1, y1,
x2, y2]}]}]}`` with 7 named classes and no image ids (ids 1..N in sorted NFC name
order). Validation: 20,000 entries drawn as its reference did (``random.sample``
over the file's positions). Extra subset: the reference's "diet". Submission:
``{"annotations": [{"file_name", "objects": [{"class", "position",
"confidence_score"}]}]}``, one entry per image, capped below 20 MB by the same rule
as the 2022 records.
"""
import random
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..labels import ImageList, LabelSet
from ..submission import ENCODER, MAX_BYTES, CapResult, write_text
from .base import CompetitionFormat, register_format

CLASSES: Tuple[str, ...] = (
    'eye_opened', 'eye_closed', 'mouth_opened', 'mouth_closed', 'face', 'phone',
    'cigar')

# One image's entry: {"file_name": STEM.jpg, "objects": [...] or {}} (an image
# without predictions has "objects": {}, as the reference wrote it).
Entry = Dict[str, Any]
_FILE_HEAD = '{"annotations": ['
_FILE_TAIL = ']}'


@register_format
class Inattention2021(CompetitionFormat):
    name = 'inattention2021'
    match_order = 20
    default_val_size = 20000
    max_bytes = MAX_BYTES
    extra_subset_names = ('train_diet', )

    def matches(self, data: Dict[str, Any]) -> bool:
        entries = data.get('annotations')
        return 'images' not in data and isinstance(entries, list) and (
            not entries or (isinstance(entries[0], dict)
                            and 'file_name' in entries[0]))

    def read_labels(self, data: Dict[str, Any], path: Path) -> LabelSet:
        return read_entries(data['annotations'], path)

    def val_mask(self, images: ImageList, readable: np.ndarray, val_size: int,
                 seed: int) -> np.ndarray:
        """The reference's validation images: ``random.seed(seed)`` then
        ``random.sample(range(n), val_size)`` over the n entries of the labels
        file, by position in the file; unreadable images are in neither split."""
        chosen = random.Random(seed).sample(range(len(images.ids)), val_size)
        return np.isin(images.positions(), chosen) & readable

    def extra_subsets(self, labels: LabelSet,
                      present: np.ndarray) -> Dict[str, np.ndarray]:
        return {'train_diet': diet_mask(labels, present)}

    def image_entry(self, image_id, file_name, bboxes_xyxy, scores, category_ids,
                    class_names) -> Entry:
        return entry(file_name, bboxes_xyxy, scores, class_names)

    def write_predictions(self, path: str, entries: Sequence[Entry]) -> int:
        text = serialize(entries)
        write_text(path, text)
        return len(text)

    def write_submission(self, path: str, entries: Sequence[Entry],
                         max_bytes) -> CapResult:
        text, result = cap_entries(entries, max_bytes or MAX_BYTES)
        write_text(path, text)
        return result


def read_entries(entries: List[Any], path: Path) -> LabelSet:
    """The label set of the 2021 ``annotations`` list."""
    names, objects_of = [], []
    for i, item in enumerate(entries):
        if not isinstance(item, dict) or not isinstance(item.get('file_name'), str):
            raise InputError(f'{path}: annotations[{i}] has no "file_name"')
        objects = item.get('objects', [])
        if not isinstance(objects, list):
            raise InputError(f'{path}: annotations[{i}] "objects" is not a list')
        names.append(item['file_name'])
        objects_of.append(objects)
    # Ids from sorted NFC names: independent of the file's order and of the system
    # that wrote the names.
    nfc = [unicodedata.normalize('NFC', name) for name in names]
    order = sorted(range(len(names)), key=nfc.__getitem__)
    for a, b in zip(order, order[1:]):
        if nfc[a] == nfc[b]:
            raise InputError(f'{path}: file name {names[b]!r} is listed twice '
                             f'(annotations[{a}] and annotations[{b}])')
    ids = [0] * len(names)
    for new_id, i in enumerate(order, start=1):
        ids[i] = new_id
    image_ids, categories, boxes, refs, malformed = [], [], [], [], []
    for i in order:
        for j, obj in enumerate(objects_of[i]):
            if not isinstance(obj, dict):
                obj = {}
            image_ids.append(ids[i])
            categories.append(obj.get('class'))
            boxes.append(obj.get('position'))
            refs.append(j)
            malformed.append(not {'class', 'position'} <= obj.keys())
    images = ImageList([ids[i] for i in order], [names[i] for i in order],
                       [None] * len(order), file_positions=order)
    return LabelSet(Inattention2021.name, CLASSES, images, image_ids, categories,
                    boxes, refs, np.array(malformed, dtype=bool), box_format='xyxy',
                    categories_by_name=True, refs_are_ids=False)


def diet_mask(labels: LabelSet, present: np.ndarray) -> np.ndarray:
    """The reference's "diet" subset (docs/reference.md section 9), judged by the classes of the
    images' kept boxes (``present``: images x classes).

    Kept: an image with a cigar or a phone; else one with eye_closed and mouth_closed
    or mouth_opened; else every third image with mouth_opened: the 3rd, 6th, ... of
    those in the labels file's order, counted over all its images as the reference
    counted (it then trained on the diet of all images, validation ones included).
    """
    has = {name: column for name, column in zip(labels.classes, present.T)}
    first = has['cigar'] | has['phone']
    second = ~first & has['eye_closed'] & (has['mouth_closed'] | has['mouth_opened'])
    third = ~first & ~second & has['mouth_opened']
    in_file_order = np.argsort(labels.images.positions())
    count = np.empty(len(third), np.int64)
    count[in_file_order] = np.cumsum(third[in_file_order])
    return first | second | (third & (count % 3 == 0))


def entry(file_name: str, bboxes_xyxy: Any, scores: Any,
               class_names: Sequence[str]) -> Entry:
    """One image's entry from boxes in original-image pixels ``(N, 4)``, scores
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


def _entry_head(entry: Entry) -> str:
    """An entry's text up to its objects: '{"file_name": "...", "objects": '."""
    return ENCODER.encode({'file_name': entry['file_name'], 'objects': 0})[:-2]


def serialize(entries: Sequence[Entry]) -> str:
    """The submission text of ``entries``: ``json.dumps({"annotations": ...})``."""
    return ENCODER.encode({'annotations': list(entries)})


def cap_entries(entries: Sequence[Entry],
                     max_bytes: int = MAX_BYTES) -> Tuple[str, CapResult]:
    """The capped submission text of ``entries`` and what it kept.

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
    empty_size = (len(_FILE_HEAD) + len(_FILE_TAIL)
                  + sum(len(h) + len('{}}') for h in heads) + 2 * max(len(heads) - 1, 0))
    if empty_size >= max_bytes:
        raise ValueError(f'max_bytes {max_bytes} is too small for one entry per image '
                         f'({empty_size} bytes without any object)')
    texts = [ENCODER.encode(obj) for _, obj in objects]
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
    text = _FILE_HEAD + body + _FILE_TAIL
    cutoff = float(ranked[kept - 1]) if kept else None
    return text, CapResult(cutoff, kept, total, len(text), max_bytes)

"""What every competition format knows, and the registry of formats by name."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import numpy as np

from ..errors import InputError
from ..labels import ImageList, LabelSet, load_json
from ..submission import CapResult, Record, image_records, write_predictions, write_submission


@dataclass(frozen=True)
class DataLayout:
    """Where a data set's files are, relative to its data root: the labelled
    images' label file and image folder, and the test images' information file
    (None: none) and folder. ``recursive`` folders find images by their path below
    the folder, not only by name."""
    labels_file: str
    train_images: str
    test_info_file: Optional[str]
    test_images: str
    recursive: bool = False


#: The challenges' layout (docs/reference.md section 1).
CHALLENGE_LAYOUT = DataLayout('train/label/Train.json', 'train/images',
                              'Test_Images_Information.json', 'test/images')


class CompetitionFormat:
    """A competition's data and submission formats. Subclasses set the class
    attributes and implement :meth:`matches` and :meth:`read_labels`; the rest has
    the defaults of a COCO-like competition."""
    #: The name it is registered and chosen by (``--format``, ``data_format``).
    name: str = ''
    #: A label file's shape is matched against the formats in this order (lowest
    #: first): a specific format before a general one.
    match_order: int = 50
    #: Validation images when ``--val-size`` is not given; None: a tenth.
    default_val_size: Optional[int] = None
    #: The submission's size cap in bytes; None: uncapped.
    max_bytes: Optional[int] = None
    #: The test images' information file must exist (else the test folder's files
    #: are the test images).
    test_info_required: bool = False
    #: The names of :meth:`extra_subsets`' subsets.
    extra_subset_names: Tuple[str, ...] = ()

    def matches(self, data: Any) -> bool:
        """Whether a parsed label file has this format's shape."""
        raise NotImplementedError

    def load(self, path: Path, root: Path) -> Any:
        """The label file at ``path`` parsed (``root``: the data root): JSON by
        default."""
        return load_json(path)

    def read_labels(self, data: Any, path: Path) -> LabelSet:
        """The label set of a parsed label file of this format; InputError for a
        file that cannot be used at all."""
        raise NotImplementedError

    def val_mask(self, images: ImageList, readable: np.ndarray, val_size: int,
                 seed: int) -> np.ndarray:
        """The validation images among ``images``: by default
        :func:`seeded_val_mask`."""
        return seeded_val_mask(images.ids, readable, val_size, seed)

    def extra_subsets(self, labels: LabelSet,
                      present: np.ndarray) -> Dict[str, np.ndarray]:
        """Extra training subsets, name -> mask over the images (callers intersect
        them with a split); ``present`` is (images, classes): the image has a kept
        box of the class. None by default."""
        return {}

    # ------------------------------------------------------------- submission
    def image_entry(self, image_id: Any, file_name: str, bboxes_xyxy: Any,
                    scores: Any, category_ids: Sequence[int],
                    class_names: Sequence[str]) -> Any:
        """One image's part of the submission, from its detections in original
        pixels: by default its COCO result records."""
        return image_records(image_id, bboxes_xyxy, scores, category_ids,
                             allowed_ids=None)

    def write_predictions(self, path: str, entries: Sequence[Any]) -> int:
        """Write every image's entry, uncapped, atomically; the file's size."""
        return write_predictions(path, [r for entry in entries for r in entry])

    def write_submission(self, path: str, entries: Sequence[Any],
                         max_bytes: Optional[int]) -> CapResult:
        """Write the submission, capped below ``max_bytes`` (None: uncapped)."""
        records: List[Record] = [r for entry in entries for r in entry]
        return write_submission(path, records, max_bytes)


FORMATS: Dict[str, CompetitionFormat] = {}


def register_format(cls: Type[CompetitionFormat]) -> Type[CompetitionFormat]:
    """Register an instance of ``cls`` under its ``name``."""
    if not cls.name or cls.name in FORMATS:
        raise ValueError(f'format name {cls.name!r} is empty or taken')
    FORMATS[cls.name] = cls()
    return cls


def get_format(name: str) -> CompetitionFormat:
    """The format registered as ``name``; InputError naming the known ones."""
    if name not in FORMATS:
        raise InputError(f'format {name!r}: not one of {", ".join(FORMATS)}')
    return FORMATS[name]


def format_of_file(data: Any, path: Path) -> CompetitionFormat:
    """The format whose shape a parsed label file has, by ``match_order``: the
    challenges' before COCO (a COCO file with the 2022 classes is the 2022
    challenge's)."""
    if not isinstance(data, dict):
        raise InputError(f'{path}: top level is a {type(data).__name__}, expected '
                         'an object')
    for fmt in sorted(FORMATS.values(), key=lambda f: f.match_order):
        if fmt.matches(data):
            return fmt
    raise InputError(
        f'{path}: none of the known layouts ({", ".join(FORMATS)}): COCO "images" '
        'and "annotations" lists, or the 2021 "annotations" list of '
        '{"file_name", "objects"}')


def seeded_val_mask(image_ids: List[int], readable: np.ndarray, val_size: int,
                    seed: int) -> np.ndarray:
    """Validation images: ``val_size`` of the sorted readable ids, drawn with
    ``seed`` (``numpy.random.RandomState(seed).permutation``), so the split depends
    neither on the file's order nor on the machine."""
    ids = np.asarray(image_ids, dtype=np.int64)
    candidates = np.sort(ids[readable])
    # RandomState: its streams are frozen across numpy versions, unlike default_rng's.
    chosen = candidates[np.random.RandomState(seed).permutation(
        len(candidates))[:val_size]]
    return np.isin(ids, chosen) & readable


def class_order(categories: Sequence[Tuple[int, str]]) -> Tuple[Tuple[str, ...],
                                                               Tuple[int, ...]]:
    """Class names and their category ids, by category id."""
    ordered = sorted(categories)
    return tuple(n for _, n in ordered), tuple(i for i, _ in ordered)

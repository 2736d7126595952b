"""Detections to the competition's files: the one writer of ``preds.json`` and the
capped ``submission.json``.

``tools/predict.py`` (through :func:`parkdet_mm.apis.predict_submission`) and
``tools/test.py`` (through :class:`~parkdet_mm.evaluation.metrics.ChallengeSubmissionMetric`)
both write their files here. An image's detections (boxes ``x1, y1, x2, y2`` in
original pixels, scores, labels) become its entry in the data format of
``parkdet_challenge.formats`` (the 2022 challenge's records, the 2021 challenge's
per-image entry, or COCO results) and its COCO result records, on which AP is
computed; the format writes the uncapped and the capped file.
"""
import os.path as osp
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import MMLogger

from parkdet_challenge.formats import FORMATS
from parkdet_challenge.submission import CapResult, Record, image_records
from parkdet_mm.datasets import merge_into_one_class


def label_category_ids(coco: COCO, classes: Sequence[str]) -> np.ndarray:
    """Label -> category id, as MMDetection's CocoDataset orders them: the ids of
    the categories named in ``classes``, in the annotation file's order. Raises
    ValueError naming the classes that are no category of the file."""
    cat_ids = coco.get_cat_ids(cat_names=classes)
    if len(cat_ids) != len(classes):
        known = {c['name'] for c in coco.dataset['categories']}
        missing = [c for c in classes if c not in known]
        raise ValueError(f'classes {missing} are not categories of the '
                         'annotation file')
    return np.asarray(cat_ids, dtype=np.int64)


def _numpy(values: Any) -> np.ndarray:
    return values.cpu().numpy() if hasattr(values, 'cpu') else np.asarray(values)


class SubmissionWriter:
    """Turns each image's detections into the format's entry and writes the files.

    Args:
        coco: The evaluated set's annotation file (image ids and file names,
            categories).
        classes: The model's class names; label ``i`` is ``classes[i]``, whose
            category id is taken from ``coco`` (:func:`label_category_ids`).
        data_format: A name of ``parkdet_challenge.formats``: 'parking2022',
            'inattention2021' or 'coco'.
        max_bytes: ``submission.json`` stays strictly below this many bytes;
            None: the format's cap (the challenges' 20 MB; COCO: none).
    """

    def __init__(self, coco: COCO, classes: Sequence[str],
                 data_format: str = 'parking2022',
                 max_bytes: Optional[int] = None) -> None:
        if data_format not in FORMATS:
            raise ValueError(f'data_format must be one of {", ".join(FORMATS)}, '
                             f'got {data_format!r}')
        self.format = FORMATS[data_format]
        self.max_bytes = self.format.max_bytes if max_bytes is None else int(max_bytes)
        self.coco = coco
        self.classes = tuple(classes)
        self.category_ids = label_category_ids(coco, self.classes)

    @classmethod
    def from_file(cls, ann_file: str, classes: Sequence[str],
                  data_format: str = 'parking2022', max_bytes: Optional[int] = None,
                  single_cls: bool = False) -> 'SubmissionWriter':
        """The writer of the set in the COCO file ``ann_file`` (with ``single_cls``,
        its boxes under one category, as the metric reads it)."""
        coco = COCO(ann_file)
        if single_cls:
            merge_into_one_class(coco)
        return cls(coco, classes, data_format, max_bytes)

    def convert(self, img_id: Any, pred: Mapping[str, Any]) -> Tuple[List[Record], Any]:
        """One image's COCO result records (what AP is computed on) and its entry
        in the data format (the same list for the formats made of records).

        ``pred`` holds ``bboxes`` (N, 4) xyxy in original pixels, ``scores`` and
        ``labels`` (N,): an ``InstanceData`` or a dict, of tensors or arrays.
        """
        bboxes, scores = _numpy(pred['bboxes']), _numpy(pred['scores'])
        labels = _numpy(pred['labels'])
        cat_ids = self.category_ids[labels]
        entry = self.format.image_entry(
            img_id, self.coco.imgs[img_id]['file_name'], bboxes, scores, cat_ids,
            [self.classes[k] for k in labels.tolist()])
        records = entry if isinstance(entry, list) else image_records(
            img_id, bboxes, scores, cat_ids, allowed_ids=None)
        return records, entry

    def write(self, out_dir: str, entries: Sequence[Any],
              logger: Optional[MMLogger] = None) -> CapResult:
        """Write ``OUT_DIR/preds.json`` (every entry, in order) and
        ``OUT_DIR/submission.json`` (capped below ``max_bytes``), each atomically,
        and log what each holds."""
        logger = logger or MMLogger.get_current_instance()
        preds_path = osp.join(out_dir, 'preds.json')
        size = self.format.write_predictions(preds_path, entries)
        boxes = sum(self._boxes(entry) for entry in entries)
        logger.info(f'{preds_path}: {boxes} boxes, {size} bytes')
        sub_path = osp.join(out_dir, 'submission.json')
        capped = self.format.write_submission(sub_path, entries, self.max_bytes)
        logger.info(f'{sub_path}: {capped.summary()}')
        if capped.total and not capped.kept:
            logger.warning(f'{sub_path} is empty: not even the best-scoring '
                           f'records fit under {self.max_bytes} bytes')
        return capped

    @staticmethod
    def _boxes(entry: Any) -> int:
        """The boxes of one entry: a list of records, or the 2021 entry's objects."""
        return len(entry if isinstance(entry, list) else entry['objects'])

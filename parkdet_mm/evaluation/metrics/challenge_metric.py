"""The challenge submission as an MMEngine metric, with COCO bbox AP when labels exist.

Every process turns its images' predictions into challenge records (SPEC section 8)
in ``process()``; MMEngine's ``collect_results`` gathers them on rank 0 once, in
dataset order, dropping the samples a distributed sampler padded. Rank 0 then writes
``preds.json`` (uncapped, in dataset order) and ``submission.json`` (capped below
``max_bytes``, by score descending) when an ``out_dir`` is given, and evaluates COCO
bbox AP when the annotation file has boxes.
"""
import contextlib
import io
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmengine.logging import MMLogger
from mmyolo.registry import METRICS
from terminaltables import AsciiTable

from parkdet_challenge.submission import (MAX_BYTES, Record, image_records,
                                          write_predictions, write_submission)


@METRICS.register_module()
class ChallengeSubmissionMetric(CocoMetric):
    """Write the challenge submission and, on labelled data, report COCO bbox AP.

    Args:
        ann_file: COCO-format annotation file of the evaluated set. Its image ids
            are the challenge's (they become each record's ``image_id``) and its
            categories map label ``i`` to ``category_id`` the way mmdet's
            CocoDataset does (for the 14 challenge classes: ``i + 1``). With no
            annotations (the test set) only the files are written.
        out_dir: Folder for ``preds.json`` and ``submission.json``; None writes no
            file (validation during training).
        max_bytes: ``submission.json`` is strictly smaller than this many bytes.
        backend_args: Passed to mmengine's file backend to read ``ann_file``.
        collect_device: 'cpu' or 'gpu', how ranks send results to rank 0.
        prefix: Metric name prefix; defaults to 'challenge'.

    Returned keys, each prefixed with ``{prefix}/``, only when ``ann_file`` has
    annotations: ``mAP`` (AP@[.5:.95]), ``mAP_50``, ``mAP_75``, and per class
    ``{name}_AP``, ``{name}_AP50``, ``{name}_AP75`` with the class names of
    ``dataset_meta`` (e.g. ``school bus_AP75``); a class with no ground-truth box
    gets NaN. AP counts up to 1000 detections per image, so that raising a model's
    ``max_per_img`` above COCO's usual 100 is measured, not truncated.
    """

    default_prefix: Optional[str] = 'challenge'

    def __init__(self,
                 ann_file: str,
                 out_dir: Optional[str] = None,
                 max_bytes: int = MAX_BYTES,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if ann_file is None:
            raise ValueError('ChallengeSubmissionMetric needs ann_file: it gives the '
                             'challenge category ids and image ids')
        super().__init__(ann_file=ann_file, metric='bbox', backend_args=backend_args,
                         collect_device=collect_device, prefix=prefix)
        self.out_dir = out_dir
        self.max_bytes = int(max_bytes)
        self._label_to_cat: Optional[np.ndarray] = None

    def _category_ids(self) -> np.ndarray:
        """Label -> category id, as mmdet's CocoDataset orders them (lazily: the
        Evaluator sets ``dataset_meta`` after construction)."""
        if self._label_to_cat is None:
            classes = self.dataset_meta['classes']
            self.cat_ids = self._coco_api.get_cat_ids(cat_names=classes)
            if len(self.cat_ids) != len(classes):
                known = {c['name'] for c in self._coco_api.dataset['categories']}
                missing = [c for c in classes if c not in known]
                raise ValueError(f'classes {missing} are not categories of the '
                                 'annotation file')
            self._label_to_cat = np.asarray(self.cat_ids, dtype=np.int64)
        return self._label_to_cat

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append one entry per image: the list of its challenge records.

        One entry per sample (not per record) because ``collect_results`` keeps the
        first ``size`` entries to drop the samples a sampler padded.
        """
        cat_ids = self._category_ids()
        for sample in data_samples:
            pred = sample['pred_instances']
            labels = pred['labels'].cpu().numpy()
            self.results.append(image_records(
                sample['img_id'], pred['bboxes'].cpu().numpy(),
                pred['scores'].cpu().numpy(), cat_ids[labels]))

    def compute_metrics(self, results: List[List[Record]]) -> Dict[str, float]:
        """Write the files (if ``out_dir``), then AP if the annotations have boxes."""
        logger: MMLogger = MMLogger.get_current_instance()
        records = [record for image in results for record in image]
        if self.out_dir is not None:
            preds_path = osp.join(self.out_dir, 'preds.json')
            size = write_predictions(preds_path, records)
            logger.info(f'{preds_path}: {len(records)} records, {size} bytes')
            sub_path = osp.join(self.out_dir, 'submission.json')
            capped = write_submission(sub_path, records, self.max_bytes)
            logger.info(f'{sub_path}: {capped.summary()}')
            if capped.total and not capped.kept:
                logger.warning(f'{sub_path} is empty: not even the best-scoring '
                               f'records fit under {self.max_bytes} bytes')
        if not self._coco_api.dataset.get('annotations'):
            return {}
        return self._bbox_ap(records, logger)

    def _detections(self, records: List[Record]) -> COCO:
        if records:
            # loadRes adds keys (area, id, iscrowd) to the dicts it gets: give copies.
            return self._coco_api.loadRes([dict(r) for r in records])
        # loadRes cannot take an empty list; no detection is an AP of 0, not an error.
        empty = COCO()
        empty.dataset = dict(images=self._coco_api.dataset['images'],
                             categories=self._coco_api.dataset['categories'],
                             annotations=[])
        empty.createIndex()
        return empty

    def _bbox_ap(self, records: List[Record], logger: MMLogger) -> Dict[str, float]:
        """COCO bbox AP of ``records`` against the annotation file."""
        self._category_ids()
        coco_eval = COCOeval(self._coco_api, self._detections(records), 'bbox')
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self._coco_api.get_img_ids()
        coco_eval.params.maxDets = list(self.proposal_nums)
        coco_eval.params.iouThrs = self.iou_thrs
        # pycocotools prints its summary; send it to the log file as well.
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        logger.info('\n' + printed.getvalue())

        # precision: (IoU threshold, recall, class, area range, max detections);
        # area range 0 is 'all', max detections -1 the largest (1000).
        precision = coco_eval.eval['precision'][:, :, :, 0, -1]
        iou_50 = int(np.flatnonzero(np.isclose(self.iou_thrs, 0.5))[0])
        iou_75 = int(np.flatnonzero(np.isclose(self.iou_thrs, 0.75))[0])

        def ap(p: np.ndarray) -> float:
            valid = p[p > -1]  # -1: the class has no ground truth
            return float(valid.mean()) if valid.size else float('nan')

        metrics = {'mAP': ap(precision), 'mAP_50': ap(precision[iou_50]),
                   'mAP_75': ap(precision[iou_75])}
        table = [['category', 'AP', 'AP50', 'AP75']]
        for k, name in enumerate(self.dataset_meta['classes']):
            row = (ap(precision[:, :, k]), ap(precision[iou_50, :, k]),
                   ap(precision[iou_75, :, k]))
            metrics.update({f'{name}_AP': row[0], f'{name}_AP50': row[1],
                            f'{name}_AP75': row[2]})
            table.append([name] + [f'{v:.3f}' for v in row])
        table.append(['all'] + [f'{metrics[k]:.3f}'
                                for k in ('mAP', 'mAP_50', 'mAP_75')])
        logger.info('bbox AP per class\n' + AsciiTable(table).table)
        return metrics

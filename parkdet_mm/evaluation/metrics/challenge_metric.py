"""COCO bbox AP of the challenge's records, and the submission files through the
writer.

Every process turns its images' predictions into COCO result records (and their
entries in the data format) in ``process()``; MMEngine's ``collect_results`` gathers
them on rank 0 once, in dataset order, dropping the samples a distributed sampler
padded. Rank 0 then hands the entries to the
:class:`~parkdet_mm.evaluation.submission_writer.SubmissionWriter` when an
``out_dir`` is given (``preds.json`` and the capped ``submission.json``) and scores
the records when the annotation file has boxes (:meth:`ChallengeSubmissionMetric.score`):
COCO bbox AP, YOLOv5's fitness and diagnostics (P and R at the confidence of best
mean F1; the PR/P/R/F1 curves and the confusion matrix kept for the pictures, see
:mod:`parkdet_mm.evaluation.diagnostics`). It draws nothing:
:class:`~parkdet_mm.engine.hooks.DiagnosticsVisualizationHook` does.
"""
import contextlib
import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.datasets.api_wrappers import COCO, COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from mmyolo.registry import METRICS
from parkdet_challenge.formats import FORMATS
from parkdet_challenge.submission import Record
from parkdet_mm.datasets import merge_into_one_class
from parkdet_mm.evaluation import diagnostics
from parkdet_mm.evaluation.submission_writer import SubmissionWriter


@METRICS.register_module()
class ChallengeSubmissionMetric(CocoMetric):
    """Report COCO bbox AP on labelled data and, with ``out_dir``, write the
    challenge submission (:class:`SubmissionWriter`).

    Args:
        ann_file: COCO-format annotation file of the evaluated set. Its image ids
            are the challenge's (they become each record's ``image_id``) and its
            categories map label ``i`` to ``category_id`` the way mmdet's
            CocoDataset does (for the 14 challenge classes: ``i + 1``). With no
            annotations (the test set) only the files are written.
        out_dir: Folder for ``preds.json`` and ``submission.json``; None writes no
            file (validation during training).
        max_bytes: ``submission.json`` is strictly smaller than this many bytes;
            None: the format's cap (the challenges' 20 MB; COCO: none).
        backend_args: Passed to mmengine's file backend to read ``ann_file``.
        collect_device: 'cpu' or 'gpu', how ranks send results to rank 0.
        collect_dir: With 'cpu' and several processes, the folder (on a file
            system every rank sees) through which they do, removed afterwards;
            None: MMEngine's, a ``.dist_test`` folder in the current directory
            that stays behind (the configs name one in the work dir).
        prefix: Metric name prefix; defaults to 'challenge'.
        diagnostics: On labelled data, also compute P and R and draw the pictures
            (False: AP only).
        confusion_score_thr: Detections scoring at least this enter the
            confusion matrix (the configs pass their ``score_thr``).
        data_format: The competition format (``parkdet_challenge.formats``) that
            writes the files: 'parking2022' (docs/reference.md section 8: a list of records),
            'inattention2021' (docs/reference.md section 9: ``{"annotations": [{"file_name",
            "objects"}]}``, one entry per image, capped the same way) or 'coco' (a
            COCO results list with the data set's own category ids).
        single_cls: Read ``ann_file`` with every box under one category, as
            YOLOv5's ``--single-cls`` (:func:`merge_into_one_class`); the
            records then carry that category's id.

    Returned keys, each prefixed with ``{prefix}/``, only when ``ann_file`` has
    annotations: ``mAP`` (AP@[.5:.95]), ``mAP_50``, ``mAP_75``, and per class
    ``{name}_AP``, ``{name}_AP50``, ``{name}_AP75`` with the class names of
    ``dataset_meta`` (e.g. ``school bus_AP75``); a class with no ground-truth box
    gets NaN. AP counts up to 1000 detections per image, so that raising a model's
    ``max_per_img`` above COCO's usual 100 is measured, not truncated. Also
    ``fitness``, YOLOv5's: 0.1 x mAP@.5 + 0.9 x mAP@.5:.95. With ``diagnostics``,
    also ``P`` and ``R``: the mean over classes with ground truth of precision and
    recall at IoU 0.5 at the confidence of best mean F1 (YOLOv5's val.py); the
    curves and the confusion matrix (IoU 0.5) stay in :attr:`last_diagnostics`
    for the pictures (None without annotations or diagnostics).
    """

    default_prefix: Optional[str] = 'challenge'

    def __init__(self,
                 ann_file: str,
                 out_dir: Optional[str] = None,
                 max_bytes: Optional[int] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None,
                 prefix: Optional[str] = None,
                 diagnostics: bool = True,
                 confusion_score_thr: float = 0.25,
                 data_format: str = 'parking2022',
                 single_cls: bool = False) -> None:
        if data_format not in FORMATS:
            raise ValueError(f'data_format must be one of {", ".join(FORMATS)}, '
                             f'got {data_format!r}')
        if ann_file is None:
            raise ValueError('ChallengeSubmissionMetric needs ann_file: it gives the '
                             'challenge category ids and image ids')
        super().__init__(ann_file=ann_file, metric='bbox', backend_args=backend_args,
                         collect_device=collect_device, prefix=prefix)
        # mmdet's CocoMetric does not pass collect_dir on to MMEngine's BaseMetric
        self.collect_dir = collect_dir
        if single_cls:
            merge_into_one_class(self._coco_api)
        self.out_dir = out_dir
        self.data_format = data_format
        self.max_bytes = max_bytes
        self.diagnostics = diagnostics
        self.confusion_score_thr = float(confusion_score_thr)
        self.last_diagnostics: Optional[diagnostics.Diagnostics] = None
        self._writer: Optional[SubmissionWriter] = None

    @property
    def writer(self) -> SubmissionWriter:
        """The writer of this set's files (made at first use: the Evaluator sets
        ``dataset_meta`` after construction)."""
        if self._writer is None:
            self._writer = SubmissionWriter(self._coco_api, self.dataset_meta['classes'],
                                            self.data_format, self.max_bytes)
        return self._writer

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append one entry per image: its COCO records (for AP) and its part of
        the submission in the data format (the same records, or e.g. 2021's entry).

        One entry per sample (not per record) because ``collect_results`` keeps the
        first ``size`` entries to drop the samples a sampler padded.
        """
        for sample in data_samples:
            self.results.append(self.writer.convert(sample['img_id'],
                                                    sample['pred_instances']))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        """Write the files (if ``out_dir``), then score the records."""
        per_image, entries = zip(*results) if results else ((), ())
        if self.out_dir is not None:
            self.writer.write(self.out_dir, entries)
        return self.score([record for image in per_image for record in image])

    def score(self, records: List[Record]) -> Dict[str, float]:
        """COCO bbox AP (and the rest, see the class) of COCO result ``records``
        against the annotation file; ``{}`` when it has no boxes (a test set)."""
        self.last_diagnostics = None
        if not self._coco_api.dataset.get('annotations'):
            return {}
        return self._bbox_ap(records, MMLogger.get_current_instance())

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

    def coco_evaluation(self, records: List[Record]) -> COCOeval:
        """pycocotools' bbox evaluation of ``records`` against the annotation file,
        evaluated, accumulated and summarized (its printout in ``.printed``)."""
        coco_eval = COCOeval(self._coco_api, self._detections(records), 'bbox')
        coco_eval.params.catIds = self.writer.category_ids.tolist()
        coco_eval.params.imgIds = self._coco_api.get_img_ids()
        coco_eval.params.maxDets = list(self.proposal_nums)
        coco_eval.params.iouThrs = self.iou_thrs
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        coco_eval.printed = printed.getvalue()
        return coco_eval

    def _bbox_ap(self, records: List[Record], logger: MMLogger) -> Dict[str, float]:
        """COCO bbox AP of ``records`` against the annotation file."""
        coco_eval = self.coco_evaluation(records)
        # pycocotools prints its summary; send it to the log file as well.
        logger.info('\n' + coco_eval.printed)

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
        # YOLOv5's fitness, what its best.pt and EarlyStopping follow
        metrics['fitness'] = 0.1 * metrics['mAP_50'] + 0.9 * metrics['mAP']
        names = self.dataset_meta['classes']
        per_class = []
        for k, name in enumerate(names):
            row = (ap(precision[:, :, k]), ap(precision[iou_50, :, k]),
                   ap(precision[iou_75, :, k]))
            metrics.update({f'{name}_AP': row[0], f'{name}_AP50': row[1],
                            f'{name}_AP75': row[2]})
            per_class.append(row)
        if not self.diagnostics:
            table = [['category', 'AP', 'AP50', 'AP75']]
            table += [[name] + [f'{v:.3f}' for v in row]
                      for name, row in zip(names, per_class)]
            table.append(['all'] + [f'{metrics[k]:.3f}'
                                    for k in ('mAP', 'mAP_50', 'mAP_75')])
            logger.info('bbox AP per class\n' + AsciiTable(table).table)
            return metrics

        curves = diagnostics.confidence_curves(
            *diagnostics.matched_detections(coco_eval, iou=0.5))
        class_p, class_r = curves.at_best()
        metrics['P'] = float(class_p.mean()) if len(class_p) else float('nan')
        metrics['R'] = float(class_r.mean()) if len(class_r) else float('nan')
        row_of = {int(k): row for row, k in enumerate(curves.labels)}
        table = [['category', 'boxes', 'P', 'R', 'mAP@.5', 'mAP@.75',
                  'mAP@.5:.95']]
        for k, name in enumerate(names):
            row = row_of.get(k)
            table.append([name, f'{curves.instances[row] if row is not None else 0}',
                          f'{class_p[row]:.3f}' if row is not None else 'nan',
                          f'{class_r[row]:.3f}' if row is not None else 'nan',
                          *(f'{v:.3f}' for v in per_class[k][1:]),
                          f'{per_class[k][0]:.3f}'])
        table.append(['all', f'{int(curves.instances.sum())}',
                      f'{metrics["P"]:.3f}', f'{metrics["R"]:.3f}',
                      *(f'{metrics[k]:.3f}' for k in ('mAP_50', 'mAP_75', 'mAP'))])
        logger.info(f'bbox AP per class; P and R at IoU 0.5 and confidence '
                    f'{curves.best_confidence:.3f} (best mean F1)\n'
                    + AsciiTable(table).table)
        recall, pr_precision = diagnostics.pr_curves(coco_eval, iou=0.5)
        self.last_diagnostics = diagnostics.Diagnostics(
            names=names, pr_recall=recall, pr_precision=pr_precision,
            curves=curves, confusion_matrix=self.confusion_matrix(records),
            confusion_score_thr=self.confusion_score_thr, iou_thr=0.5)
        return metrics

    def confusion_matrix(self, records: List[Record]) -> np.ndarray:
        """The confusion matrix at IoU 0.5 of ``records`` against the annotations
        (crowd boxes left out)."""
        cat_ids = self.writer.category_ids
        cat_to_label = {int(c): k for k, c in enumerate(cat_ids)}
        anns = [a for a in self._coco_api.dataset['annotations']
                if not a.get('iscrowd', 0) and a['category_id'] in cat_to_label]
        gts = diagnostics.group_by_image(
            np.array([a['image_id'] for a in anns], dtype=np.int64),
            diagnostics.xywh_to_xyxy([a['bbox'] for a in anns]),
            np.array([cat_to_label[a['category_id']] for a in anns],
                     dtype=np.int64))
        kept = [r for r in records if r['score'] >= self.confusion_score_thr]
        dets = diagnostics.group_by_image(
            np.array([r['image_id'] for r in kept], dtype=np.int64),
            diagnostics.xywh_to_xyxy([r['bbox'] for r in kept]),
            np.array([r['score'] for r in kept], dtype=np.float64),
            np.array([cat_to_label[r['category_id']] for r in kept],
                     dtype=np.int64))
        return diagnostics.confusion_matrix(gts, dets, len(cat_ids),
                                            self.confusion_score_thr, iou_thr=0.5)

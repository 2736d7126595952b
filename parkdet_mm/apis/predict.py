"""The submission route: the test set through the inferencer, then the writer.

:func:`predict_from_paths` is ``tools/predict.py``: the config and checkpoints its
paths name (:func:`predict_target`, or the fold models), then
:func:`predict_submission`: the config's test loader through
a :class:`~parkdet_mm.apis.YOLOv5Inferencer` (one checkpoint, or several fused per
image), the detections gathered on rank 0, written by the
:class:`~parkdet_mm.evaluation.SubmissionWriter` (``preds.json``, the capped
``submission.json``) and, on labelled data, scored by the challenge metric.

Under several processes (torchrun, Slurm) each reads whole batches of the test set
(:class:`~parkdet_mm.datasets.BatchShareSampler`), runs every model and the fusion
on them, and :func:`gather_predictions` hands rank 0 all images in the one-process
order, so the files are written once and are the same bytes as with one process.
"""
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.runner import Runner

from mmyolo.registry import DATASETS
from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.errors import InputError
from parkdet_challenge.yolo_txt import label_lines, write_label_file
from parkdet_mm.config import (
    finished_checkpoint,
    finished_run_in,
    last_finished_stage,
    load_config,
)
from parkdet_mm.config.folds import fold_models
from parkdet_mm.datasets import BatchShareSampler
from parkdet_mm.engine.checkpoint import check_checkpoint_file
from parkdet_mm.engine.inference_timer import InferenceTimer
from parkdet_mm.evaluation.metrics import ChallengeSubmissionMetric
from parkdet_mm.evaluation.submission_writer import SubmissionWriter
from parkdet_mm.visualization.detections import draw_predictions

from .inferencer import Predictions, YOLOv5Inferencer
from .sliced import enable_sliced_inference


def share_test_batches(cfg: Config) -> None:
    """Have the config's test loader hand whole batches to each process
    (:class:`BatchShareSampler`), so several processes predict exactly what one
    would. Size, batch and data come from the config's primaries."""
    loader = cfg.test_dataloader
    loader.sampler = dict(type='BatchShareSampler', batch_size=loader.batch_size)
    if loader.dataset.get('batch_shapes_cfg'):
        loader.dataset.batch_shapes_cfg.type = 'BatchShareShapePolicy'


def check_test_images(data_root: str, ann_file: str) -> int:
    """Return the number of test images; raise InputError for a missing one."""
    if not osp.isfile(ann_file):
        raise InputError(f'annotation file {ann_file} does not exist '
                         '(run tools/prepare_data.py)')
    try:
        with open(ann_file, encoding='utf-8') as f:
            images = json.load(f)['images']
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f'{ann_file} is not a COCO annotation file: {err}') \
            from None
    for image in images:
        path = osp.join(data_root, image['file_name'])
        if not osp.isfile(path):
            raise InputError(f'test image {path} (id {image["id"]}) is missing')
    return len(images)


def predict_target(paths: Sequence[str], default_config: str,
                   default_stages: Sequence[str], cfg_options: Optional[dict] = None,
                   primaries: Optional[dict] = None) -> Tuple[Config, List[str]]:
    """The config and checkpoints of ``tools/predict.py [CONFIG | WORK_DIR]
    [CHECKPOINT ...]``: a leading .py file is the config (``default_config`` when
    only checkpoints are given); a leading folder, a finished run's work dir (its
    config and final checkpoint first); nothing, the last of ``default_stages``
    to finish and its final checkpoint (one line says which). Without a
    checkpoint, the config's final one; a config that asks for it
    (``predict_with_load_from``: the 2021 fine-tune) also the one it started
    from, as the 2021 reference's predict ensembled its baseline and fine-tuned
    models."""
    checkpoints, run_dir = list(paths[1:]), None
    if paths and paths[0].endswith('.py'):
        config = paths[0]
    elif paths and osp.isdir(paths[0]):
        config, final, run_dir = finished_run_in(paths[0])
        checkpoints.insert(0, final)
        print(f'predicting with {final}: the final checkpoint of {config}, the last '
              f'run to finish in {paths[0]}', flush=True)
    elif paths:
        config, checkpoints = default_config, list(paths)
    else:
        cfg, final = last_finished_stage(default_stages, cfg_options, primaries)
        print(f'predicting with {final}: the final checkpoint of {cfg.filename}, '
              'the last training stage to finish', flush=True)
        return cfg, [final]
    cfg = load_config(config, cfg_options, dict(primaries or {}, work_dir=run_dir))
    if not checkpoints:
        checkpoints = ([cfg.load_from] if cfg.get('predict_with_load_from')
                       else []) + [finished_checkpoint(cfg)]
    return cfg, checkpoints


def gather_predictions(predictions: Predictions,
                       batch_size: int) -> Optional[Predictions]:
    """All processes' predictions on rank 0, in the order one process makes them;
    ``None`` on the other ranks. ``predictions`` are this rank's, read through
    :class:`BatchShareSampler` with ``batch_size``. One process: returned as is."""
    if get_world_size() == 1:
        return predictions
    parts = all_gather_object(list(predictions.items()))
    if get_rank() != 0:
        return None
    return dict(BatchShareSampler.merge(parts, batch_size))


def predict_submission(cfg: Config, checkpoints: Sequence[str],
                       out_dir: Optional[str] = None,
                       max_bytes: Optional[int] = None,
                       save_txt: bool = False, save_conf: bool = False,
                       show_dir: Optional[str] = None, show_num: int = 8,
                       show_score_thr: float = 0.3,
                       slice_size: Optional[int] = None, overlap: float = 0.2,
                       **inferencer_kwargs) -> Optional[Dict[str, float]]:
    """Predict the config's test set with ``checkpoints`` and write the submission.

    Writes ``OUT_DIR/preds.json`` (every record), ``OUT_DIR/submission.json``
    (below ``max_bytes``; None: the data format's cap) and, when the annotation
    file has boxes, ``OUT_DIR/scores.json`` (mAP and the rest, also returned);
    ``out_dir`` defaults to ``WORK_DIR/submission``. With ``save_txt``, YOLOv5's
    ``OUT_DIR/labels/STEM.txt`` per image (``save_conf``: with the scores). With
    ``show_dir``, the first
    ``show_num`` images are drawn there with their boxes scoring above
    ``show_score_thr``. With ``slice_size``, each model also runs on tiles of that
    size overlapping by ``overlap`` (:func:`~.sliced.enable_sliced_inference`).
    ``inferencer_kwargs`` go to :class:`YOLOv5Inferencer` (``tta``, ``device``,
    ``half``, ``ensemble``, ``wbf_iou``, ``model_weights``). A missing checkpoint, test
    image or annotation file is an InputError before anything runs. On ranks other
    than 0 nothing is written and None returned.
    """
    for checkpoint in checkpoints:
        check_checkpoint_file(checkpoint)
    ann_file = cfg.test_evaluator.ann_file
    check_test_images(cfg.data_root, ann_file)
    share_test_batches(cfg)
    out_dir = out_dir or osp.join(cfg.work_dir, 'submission')
    if slice_size:
        enable_sliced_inference(cfg, slice_size, overlap,
                                inferencer_kwargs.get('tta', False))
        inferencer_kwargs['tta'] = True  # the sliced model takes the TTA model's place
    inferencer = YOLOv5Inferencer(cfg, checkpoints, **inferencer_kwargs)
    timer = InferenceTimer()
    predictions = gather_predictions(
        inferencer.predict_loader(Runner.build_dataloader(cfg.test_dataloader), timer),
        cfg.test_dataloader.batch_size)
    if predictions is None:
        return None  # not rank 0: rank 0 writes the files
    print(f'{inferencer.names}: {timer.line()}')

    classes = cfg.metainfo['classes']
    single_cls = bool(cfg.test_evaluator.get('single_cls', False))
    writer = SubmissionWriter.from_file(osp.abspath(ann_file), classes, cfg.data_format,
                                        max_bytes, single_cls)
    converted = [writer.convert(img_id, pred) for img_id, pred in predictions.items()]
    writer.write(out_dir, [entry for _, entry in converted])
    scores = None
    if writer.coco.dataset.get('annotations'):  # e.g. val.json as test.json
        metric = ChallengeSubmissionMetric(ann_file=osp.abspath(ann_file),
                                           data_format=cfg.data_format,
                                           single_cls=single_cls)
        metric.dataset_meta = dict(classes=classes)
        scores = metric.score([record for records, _ in converted for record in records])
        write_json_atomic(osp.join(out_dir, 'scores.json'), scores, indent=1)
        print(f"mAP {scores['mAP']:.4f}  mAP@.5 {scores['mAP_50']:.4f}  "
              f"mAP@.75 {scores['mAP_75']:.4f} (all in scores.json)")
    if save_txt:
        for pred in predictions.values():
            height, width = pred.ori_shape[:2]
            write_label_file(osp.join(out_dir, 'labels'), Path(pred.img_path).stem,
                             label_lines(pred.bboxes, pred.labels, width, height,
                                         pred.scores if save_conf else None))
    print(f'wrote {osp.join(out_dir, "submission.json")}')

    if show_dir:
        dataset_cfg = dict(cfg.test_dataloader.dataset, lazy_init=True)
        drawn = draw_predictions(predictions, DATASETS.build(dataset_cfg).metainfo,
                                 show_dir, show_num, show_score_thr)
        print(f'drew {drawn} images in {show_dir}')
    return scores


def predict_from_paths(paths: Sequence[str], default_config: str,
                       default_stages: Sequence[str],
                       folds: Optional[int] = None, fold_weights: Optional[str] = None,
                       cfg_options: Optional[dict] = None,
                       primaries: Optional[dict] = None,
                       **kwargs) -> Optional[Dict[str, float]]:
    """``tools/predict.py [CONFIG | WORK_DIR] [CHECKPOINT ...]``: predict the test
    set with the config and checkpoints ``paths`` name (:func:`predict_target`;
    with ``folds`` K, CONFIG's K fold models, weighted with ``fold_weights`` as
    :func:`~parkdet_mm.config.folds.fold_models` says) and write the submission
    (:func:`predict_submission`, which takes ``kwargs``); its scores, if any."""
    if folds:
        cfg, checkpoints, kwargs['model_weights'] = fold_models(
            paths, folds, fold_weights, cfg_options, primaries)
    elif fold_weights is not None:
        raise InputError('--fold-weights goes with --folds')
    else:
        cfg, checkpoints = predict_target(paths, default_config, default_stages,
                                          cfg_options, primaries)
    return predict_submission(cfg, checkpoints, **kwargs)

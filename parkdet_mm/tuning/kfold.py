"""k-fold training with out-of-fold (OOF) scores (the fold models for an ensemble:
:mod:`parkdet_mm.config.folds`).

``tools/prepare_data.py --folds K`` writes ``ANN_DIR/fold{k}/{train,val}.json``, every
labelled image in exactly one fold's ``val.json``; a config trains fold k with its
primary ``fold = k`` (``FOLD=k`` in the environment for the configs it reads, such as
a fine-tune's baseline), into ``WORK_DIR_fold{k}``. :func:`run_fold` trains a fold's
stages (resuming one that was interrupted, skipping one that finished) and predicts
the fold's held-out images with its final model; :func:`score_folds` scores all
folds' held-out predictions together against their labels (pycocotools, through the
challenge metric): the OOF estimate of what the recipe scores on unseen images, and
each fold's own score, from which a fold ensemble may take its weights.
"""
import json
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config

from mmyolo.registry import METRICS
from parkdet_challenge.atomic import write_bytes_atomic, write_json_atomic
from parkdet_challenge.errors import InputError
from parkdet_mm.apis.training import train_config
from parkdet_mm.config import final_checkpoint
from parkdet_mm.config.folds import OOF_SCORES, fold_config, fold_environment
from parkdet_mm.engine.checkpoint import CheckpointFileError, check_checkpoint_file

from .prediction import predict_set

OOF_PER_CLASS, OOF_LABELS = 'oof_per_class.png', 'oof_gt.json'
#: a fold's held-out predictions, in its work dir
FOLD_PREDICTIONS = 'oof_predictions.pth'


def finished(cfg: Config) -> bool:
    """Whether the config's training has its final checkpoint, complete."""
    try:
        check_checkpoint_file(final_checkpoint(cfg))
    except CheckpointFileError:
        return False
    return True


def run_fold(configs: Sequence[str], fold: int, tta: bool, device: str,
             cfg_options: Optional[Dict[str, Any]] = None,
             primaries: Optional[Dict[str, Any]] = None) -> str:
    """Train fold ``fold`` of each config in turn (a recipe's stages; a finished one
    is skipped, an interrupted one resumes), then predict the fold's held-out
    images with the last one's final model; return the predictions' file (kept in
    that work dir, made again only when the checkpoint is newer)."""
    for config in configs:
        cfg = fold_config(config, fold, cfg_options, primaries)
        if finished(cfg):
            print(f'fold {fold}: {config} done ({final_checkpoint(cfg)})')
            continue
        print(f'fold {fold}: training {config} into {cfg.work_dir}')
        cfg.visualizer.name = f'kfold_{fold}_{osp.basename(config)}'
        with fold_environment(fold):
            train_config(cfg, resume='auto')
    cfg = fold_config(configs[-1], fold, cfg_options, primaries)
    checkpoint = final_checkpoint(cfg)
    path = osp.join(cfg.work_dir, FOLD_PREDICTIONS)
    if osp.isfile(path) and osp.getmtime(path) >= osp.getmtime(checkpoint):
        return path
    held_out = held_out_config(cfg)
    predictions = predict_set(held_out, checkpoint, tta, device)
    buffer = _serialize(dict(fold=fold, checkpoint=checkpoint, tta=tta,
                             ann_file=held_out.test_evaluator.ann_file,
                             predictions=predictions))
    write_bytes_atomic(path, buffer)
    return path


def held_out_config(cfg: Config) -> Config:
    """``cfg`` whose test loader and evaluator read the fold's held-out images."""
    held_out = cfg.copy()
    held_out.test_dataloader.dataset.ann_file = cfg.val_ann_file
    held_out.test_evaluator.ann_file = osp.join(cfg.data_root, cfg.val_ann_file)
    return held_out


def _serialize(obj: Any) -> bytes:
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def merged_labels(ann_files: Sequence[str]) -> dict:
    """One COCO file of the folds' held-out files (their images are disjoint)."""
    merged: Dict[str, Any] = dict(images=[], annotations=[])
    for path in ann_files:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
        merged['images'] += coco['images']
        merged['annotations'] += coco.get('annotations', [])
        merged.setdefault('categories', coco['categories'])
    ids = [image['id'] for image in merged['images']]
    if len(set(ids)) != len(ids):
        raise InputError('the folds\' held-out files share images: were they written '
                         'by one tools/prepare_data.py --folds run?')
    for index, annotation in enumerate(merged['annotations']):
        annotation['id'] = index + 1
    return merged


def _score(ann_file: str, predictions: dict, classes: Sequence[str],
           data_format: str) -> Dict[str, float]:
    metric = METRICS.build(dict(type='ChallengeSubmissionMetric', ann_file=ann_file,
                                out_dir=None, data_format=data_format))
    metric.dataset_meta = dict(classes=tuple(classes))
    metric.process({}, [dict(img_id=img_id, pred_instances=pred)
                        for img_id, pred in predictions.items()])
    return metric.compute_metrics(metric.results)


def score_folds(config: str, folds: int, out_dir: str,
                cfg_options: Optional[Dict[str, Any]] = None,
                primaries: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Score every fold's held-out predictions, each alone and all together; write
    ``oof_scores.json``, ``oof_gt.json`` (the labels scored against) and
    ``oof_per_class.png`` into ``out_dir``; return the scores."""
    parts, per_fold = [], []
    cfg = None
    for fold in range(folds):
        cfg = fold_config(config, fold, cfg_options, primaries)
        path = osp.join(cfg.work_dir, FOLD_PREDICTIONS)
        if not osp.isfile(path):
            raise InputError(f'fold {fold} has no held-out predictions yet ({path}): '
                             'train it first')
        part = torch.load(path, map_location='cpu', weights_only=False)
        parts.append(part)
        scores = _score(part['ann_file'], part['predictions'], cfg.metainfo['classes'],
                        cfg.data_format)
        per_fold.append(dict(fold=fold, checkpoint=part['checkpoint'],
                             images=len(part['predictions']),
                             **{k: scores[k] for k in ('mAP', 'mAP_50', 'fitness')}))
    labels_path = osp.join(out_dir, OOF_LABELS)
    write_json_atomic(labels_path, merged_labels([p['ann_file'] for p in parts]))
    predictions = {k: v for part in parts for k, v in part['predictions'].items()}
    scores = _score(labels_path, predictions, cfg.metainfo['classes'], cfg.data_format)
    classes = list(cfg.metainfo['classes'])
    result = dict(
        folds=folds, images=len(predictions), tta=parts[0]['tta'],
        **{k: scores[k] for k in ('mAP', 'mAP_50', 'mAP_75', 'fitness', 'P', 'R')
           if k in scores},
        per_class={name: dict(AP=scores[f'{name}_AP'], AP50=scores[f'{name}_AP50'])
                   for name in classes},
        per_fold=per_fold)
    write_json_atomic(osp.join(out_dir, OOF_SCORES), _json_safe(result), indent=1)
    plot_per_class(osp.join(out_dir, OOF_PER_CLASS), result)
    return result


def _json_safe(value: Any) -> Any:
    """NaN (a class without boxes) as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def plot_per_class(path: str, result: Dict[str, Any]) -> None:
    """Bars of each class's OOF AP@.5 and AP@.5:.95, the overall ones in the title."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    names = list(result['per_class'])
    ap50 = [np.nan_to_num(result['per_class'][n]['AP50']) for n in names]
    ap = [np.nan_to_num(result['per_class'][n]['AP']) for n in names]
    fig = Figure(figsize=(9, 1.2 + 0.4 * len(names)), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = np.arange(len(names))
    for offset, values, label in ((-0.2, ap50, 'AP@.5'), (0.2, ap, 'AP@.5:.95')):
        bars = ax.barh(positions + offset, values, height=0.4, label=label)
        ax.bar_label(bars, fmt='%.3f', padding=2, fontsize=7)
    ax.set_yticks(positions, labels=names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_title(f"out-of-fold, {result['folds']} folds, {result['images']} images: "
                 f"mAP@.5 {result['mAP_50']:.3f}, mAP@.5:.95 {result['mAP']:.3f}")
    ax.legend(loc='lower right')
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100)
    write_bytes_atomic(path, buffer.getvalue())

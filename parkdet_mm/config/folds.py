"""Where a config's k-fold runs are: fold k's config (its primary ``fold = k``, with
``FOLD=k`` in the environment for the configs it reads), the fold models (each
fold's final checkpoint) and their weights from the out-of-fold scores that
``tools/kfold.py`` (:mod:`parkdet_mm.tuning.kfold`) writes.
"""
import contextlib
import json
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config

from parkdet_challenge.errors import InputError

from .derivation import default_work_dir
from .loading import final_checkpoint, load_config

#: The out-of-fold scores, in :func:`kfold_dir`
OOF_SCORES = 'oof_scores.json'


@contextlib.contextmanager
def fold_environment(fold: int) -> Iterator[None]:
    """``FOLD=fold`` in the environment, for the configs a config reads (a fine-tune's
    ``load_from`` is its baseline's final checkpoint of the same fold)."""
    before = os.environ.get('FOLD')
    os.environ['FOLD'] = str(fold)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop('FOLD', None)
        else:
            os.environ['FOLD'] = before


def fold_config(config: str, fold: int, cfg_options: Optional[Dict[str, Any]] = None,
                primaries: Optional[Dict[str, Any]] = None) -> Config:
    """``config`` for ``fold``; its split files must exist."""
    with fold_environment(fold):
        cfg = load_config(config, cfg_options, dict(primaries or {}, fold=fold))
    for name in ('train_ann_file', 'val_ann_file'):
        path = osp.join(cfg.data_root, cfg[name])
        if not osp.isfile(path):
            raise InputError(f'fold {fold}: {path} does not exist (run '
                             'tools/prepare_data.py --folds K)')
    return cfg


def fold_checkpoints(config: str, folds: int,
                     cfg_options: Optional[Dict[str, Any]] = None,
                     primaries: Optional[Dict[str, Any]] = None) -> List[str]:
    """The final checkpoint of each fold's training of ``config`` (the fold models)."""
    checkpoints = []
    for fold in range(folds):
        with fold_environment(fold):
            cfg = load_config(config, cfg_options, dict(primaries or {}, fold=fold))
        checkpoints.append(final_checkpoint(cfg))
    return checkpoints


def fold_models(paths: Sequence[str], folds: int, fold_weights: Optional[str],
                cfg_options: Optional[Dict[str, Any]] = None,
                primaries: Optional[Dict[str, Any]] = None
                ) -> Tuple[Config, List[str], Optional[List[float]]]:
    """``tools/predict.py CONFIG --folds K [--fold-weights [OOF_SCORES]]``: the
    config, its K fold models (:func:`fold_checkpoints`) and, with
    ``fold_weights`` ('' for the config's own ``oof_scores.json``), each one's
    weight in weighted boxes fusion (:func:`oof_weights`)."""
    if len(paths) != 1 or not paths[0].endswith('.py'):
        raise InputError('--folds takes a CONFIG, whose fold models it uses: '
                         'give no CHECKPOINT')
    config = paths[0]
    checkpoints = fold_checkpoints(config, folds, cfg_options, primaries)
    weights = None
    if fold_weights is not None:
        weights = oof_weights(fold_weights or osp.join(kfold_dir(config), OOF_SCORES),
                              folds)
    return load_config(config, cfg_options, primaries), checkpoints, weights


def kfold_dir(config: str) -> str:
    """Where the OOF scores of ``config``'s folds go: its work dir + ``_kfold``."""
    return default_work_dir(config) + '_kfold'


def oof_weights(scores_file: str, folds: int) -> List[float]:
    """Each fold model's weight in an ensemble: its held-out fitness (YOLOv5's),
    from ``oof_scores.json``."""
    if not osp.isfile(scores_file):
        raise InputError(f'{scores_file} does not exist: run tools/kfold.py first')
    with open(scores_file, encoding='utf-8') as f:
        per_fold = json.load(f)['per_fold']
    if len(per_fold) != folds:
        raise InputError(f'{scores_file} scores {len(per_fold)} folds, not {folds}')
    weights = [float(entry['fitness'] or 0.0) for entry in per_fold]
    if not any(weights):
        raise InputError(f'{scores_file}: every fold scored 0; no weights to take')
    return weights

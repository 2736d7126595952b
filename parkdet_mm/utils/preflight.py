"""Check a config's input files before any work starts.

A run that dies after minutes of model building because an annotation file or a
``load_from`` checkpoint is missing wastes a GPU slot; the tools call
:func:`check_config_inputs` first, which fails with one line naming the key and path.
"""
import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.config import Config

from parkdet_challenge.cli import InputError


def _dataset_ann_files(dataset: dict) -> Iterator[str]:
    """Annotation files a dataset config reads, through wrapper datasets too."""
    if 'ann_file' in dataset and dataset['ann_file']:
        root = dataset.get('data_root') or ''
        yield osp.join(root, dataset['ann_file'])
    if isinstance(dataset.get('dataset'), dict):
        yield from _dataset_ann_files(dataset['dataset'])
    for child in dataset.get('datasets') or ():
        yield from _dataset_ann_files(child)


def _evaluator_ann_files(evaluator) -> Iterator[str]:
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    for metric in metrics:
        if isinstance(metric, dict) and metric.get('ann_file'):
            yield metric['ann_file']


def required_files(cfg: Config,
                   stages: Sequence[str]) -> Iterator[Tuple[str, str]]:
    """Yield ``(config key, path)`` for every input file the given stages read.

    ``stages`` holds any of ``'train'``, ``'val'``, ``'test'``.
    """
    for stage in stages:
        loader = cfg.get(f'{stage}_dataloader')
        if loader and stage != 'train' and not cfg.get(f'{stage}_cfg'):
            continue  # a val loader with no val loop is never used
        if loader:
            for path in _dataset_ann_files(loader['dataset']):
                yield f'{stage}_dataloader.dataset.ann_file', path
        if stage != 'train' and cfg.get(f'{stage}_evaluator'):
            for path in _evaluator_ann_files(cfg[f'{stage}_evaluator']):
                yield f'{stage}_evaluator.ann_file', path


def check_config_inputs(cfg: Config,
                        stages: Sequence[str],
                        checkpoint: Optional[str] = None) -> None:
    """Raise :class:`InputError` naming the first missing input file.

    ``checkpoint`` is the checkpoint the run will load (``load_from``, the resume
    file, or the one given to the test tool); ``None`` means none.
    """
    for key, path in required_files(cfg, stages):
        if not osp.isfile(path):
            raise InputError(f'{key}: {path} does not exist (config data_root '
                             f'{cfg.get("data_root")!r}; run tools/prepare_data.py '
                             'or set data_root)')
    if checkpoint and '://' not in checkpoint and not osp.isfile(checkpoint):
        raise InputError(f'checkpoint {checkpoint} does not exist')

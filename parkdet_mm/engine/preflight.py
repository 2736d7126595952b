"""Check a run's inputs and its machine before any work starts.

A run that dies after minutes of model building because an annotation file is
missing or a ``load_from`` checkpoint is missing or cut short wastes a GPU slot; the
tools call :func:`check_config_inputs` first, which fails with one line naming the key
and path. A ``load_from`` URL is fetched into torch's hub cache there, so a machine
without a network and without the cached file stops before anything is built, with
one line naming the URL.
One that dies at its first validation because mmcv has no CUDA ops wastes the whole
run; the tools call :func:`check_cuda_ops` first too.
"""
import os
import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from parkdet_challenge.errors import InputError

from .checkpoint import check_checkpoint_file, fetch_checkpoint, is_url


def _dataset_ann_files(dataset: dict) -> Iterator[Tuple[str, str]]:
    """``(key, path)`` of the annotation files a dataset config reads, through
    wrapper datasets too."""
    root = dataset.get('data_root') or ''
    for key in ('ann_file', 'pseudo_label_file'):  # (YOLOv5PseudoLabelCocoDataset)
        if dataset.get(key):
            yield key, osp.join(root, dataset[key])
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
            for key, path in _dataset_ann_files(loader['dataset']):
                yield f'{stage}_dataloader.dataset.{key}', path
        if stage != 'train' and cfg.get(f'{stage}_evaluator'):
            for path in _evaluator_ann_files(cfg[f'{stage}_evaluator']):
                yield f'{stage}_evaluator.ann_file', path


def check_config_inputs(cfg: Config,
                        stages: Sequence[str],
                        checkpoint: Optional[str] = None) -> None:
    """Raise :class:`InputError` naming the first missing input file, or the
    checkpoint when it is missing, cut short or not a checkpoint
    (:func:`~parkdet_mm.engine.checkpoint.check_checkpoint_file`).

    ``checkpoint`` is the checkpoint the run will load (``load_from``, the resume
    file, or the one given to the test tool); ``None`` means none. An ``http(s)``
    URL is downloaded into torch's hub cache unless it is there
    (:func:`~parkdet_mm.engine.checkpoint.fetch_checkpoint`; by each machine's first
    process only: the others' loader reads the cache or fetches it itself); one
    with another scheme (``open-mmlab://``) is left to its loader.
    """
    for key, path in required_files(cfg, stages):
        if not osp.isfile(path):
            raise InputError(f'{key}: {path} does not exist (config data_root '
                             f'{cfg.get("data_root")!r}; run tools/prepare_data.py '
                             'or set data_root)')
    if checkpoint and is_url(checkpoint):
        if os.environ.get('LOCAL_RANK', '0') == '0':
            check_checkpoint_file(fetch_checkpoint(checkpoint))
    elif checkpoint and '://' not in checkpoint:
        check_checkpoint_file(checkpoint)


def mmcv_cuda_ops_problem() -> Optional[str]:
    """Why mmcv's compiled ops cannot run on this machine's GPU, or None if they can.

    mmcv built without CUDA (the CPU wheel, or a build that found no CUDA compiler)
    imports and runs on the CPU, and fails only at the first NMS on a GPU tensor:
    ``nms_impl: implementation for device cuda:0 not found``, after a whole training
    run. Checked: mmcv was compiled with CUDA, the same major.minor as torch's, and
    NMS runs on a CUDA tensor.
    """
    import mmcv
    from mmcv.ops import get_compiling_cuda_version, nms

    compiled = get_compiling_cuda_version()
    if compiled == 'not available':
        return f'mmcv {mmcv.__version__} is installed without CUDA ops'
    if compiled.split('.')[:2] != str(torch.version.cuda).split('.')[:2]:
        return (f'mmcv {mmcv.__version__} was built for CUDA {compiled}, torch '
                f'{torch.__version__} uses CUDA {torch.version.cuda}')
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device='cuda')
    try:
        _, keep = nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)
    except RuntimeError as err:
        return f'mmcv {mmcv.__version__} NMS fails on the GPU: {err}'
    if keep.tolist() != [0]:
        return f'mmcv {mmcv.__version__} NMS on the GPU kept {keep.tolist()}, not [0]'
    return None


def check_cuda_ops(device: Optional[str] = None) -> None:
    """Raise :class:`InputError` when the run uses CUDA and mmcv's ops cannot.

    ``device`` is the one the run uses; None means mmengine's choice (CUDA when
    torch sees a GPU). Nothing is checked on the CPU.
    """
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if not str(device).startswith('cuda'):
        return
    problem = mmcv_cuda_ops_problem()
    if problem:
        raise InputError(f'{problem}: the first NMS on the GPU would fail. Run '
                         '`make install` on this GPU machine (it builds mmcv with '
                         'CUDA ops; needs the CUDA toolkit matching torch) or use '
                         'docker/Dockerfile')

"""What tools/train.py, tools/test.py and tools/predict.py share in preparing a config."""
import argparse
import os
import os.path as osp
import subprocess
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.config import Config, DictAction

from parkdet_challenge.cli import InputError

CONFIGS_DIR = 'configs'


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The flags every runner tool takes, as MMYOLO's tools name them."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_data_args(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """``--data-root DIR`` and ``--ann-dir DIR``: read the data from another copy
    (see :func:`point_at_data`)."""
    parser.add_argument(
        '--data-root',
        required=required,
        help="the data folder every dataloader reads (default: the config's "
        'data_root)')
    parser.add_argument(
        '--ann-dir',
        required=required,
        help='the folder holding the annotation files (tools/prepare_data.py '
        "--out-dir's annotations/; default: where the config has them, below "
        'the data root)')


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    """The config of a runner tool's ``args``: read, overridden, pointed at
    ``--data-root``/``--ann-dir`` when given, launcher and work dir set (see
    :func:`add_runner_args`, :func:`add_data_args`), with denormals flushed on
    the CPU."""
    flush_denormals_on_cpu()
    cfg = load_config(args.config, args.cfg_options,
                      getattr(args, 'data_root', None),
                      getattr(args, 'ann_dir', None))
    set_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)
    return cfg


def build_runner(cfg: Config):
    """The config's ``runner_type`` if it names one, else mmengine's Runner."""
    from mmengine.runner import Runner

    from mmyolo.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def load_config(path: str, cfg_options: Optional[dict] = None,
                data_root: Optional[str] = None,
                ann_dir: Optional[str] = None) -> Config:
    """Read a config file, apply ``--cfg-options`` and point every dataloader and
    evaluator at the data (:func:`point_at_data`); bad files are an InputError."""
    if not osp.isfile(path):
        raise InputError(f'config {path} does not exist')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # syntax errors, bad _base_ paths, ...
        raise InputError(f'config {path} cannot be read: {err}') from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    point_at_data(cfg, data_root, ann_dir)
    return cfg


def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """The datasets that read files, through wrappers (``dataset``, ``datasets``)."""
    if isinstance(dataset.get('dataset'), dict):
        yield from _leaf_datasets(dataset['dataset'])
    elif dataset.get('datasets'):
        for child in dataset['datasets']:
            yield from _leaf_datasets(child)
    else:
        yield dataset


def _metric_cfgs(evaluator) -> List[dict]:
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return [m for m in metrics if isinstance(m, dict) and m.get('ann_file')]


def _below(ann_file: str, config_ann_dir: Optional[str]) -> str:
    """``ann_file``'s path below the config's ``ann_dir`` (``fold2/train.json``
    for ``annotations/fold2/train.json``), else its file name."""
    if config_ann_dir and not osp.isabs(ann_file):
        rel = osp.relpath(osp.normpath(ann_file), osp.normpath(config_ann_dir))
        if not rel.startswith(os.pardir):
            return rel
    return osp.basename(ann_file)


def point_at_data(cfg: Config, data_root: Optional[str] = None,
                  ann_dir: Optional[str] = None) -> None:
    """Make every dataloader read below ``data_root`` and every evaluator score
    against the annotation file its dataloader reads.

    ``data_root`` defaults to the config's own top-level ``data_root``: a config
    (or ``--cfg-options data_root=...``) changes one value and every path follows,
    where MMEngine would have computed the dataloaders' and evaluators' paths from
    the base config's value when it read that file. A config without a top-level
    ``data_root`` is left as it is. Each dataset (wrapped ones included) gets
    ``data_root``; its ``ann_file``, relative to it, stays, unless ``ann_dir`` is
    given: then ``ann_file`` is its path below the config's top-level ``ann_dir``
    (or its file name) in ``ann_dir``, an absolute path (tools/prepare_data.py
    writes ``train.json``, ``val.json``, ``test.json`` and ``fold{k}/`` there). Each ``{val,test}_evaluator``'s ``ann_file`` becomes its dataloader's
    annotation file, or, where the loader reads several, is moved from the old
    data root to the new one. Given folders that do not exist are an InputError.
    """
    if data_root is not None and not osp.isdir(data_root):
        raise InputError(f'--data-root {data_root} is not a folder')
    if ann_dir is not None:
        if not osp.isdir(ann_dir):
            raise InputError(f'--ann-dir {ann_dir} is not a folder')
        ann_dir = osp.abspath(ann_dir)
    root = data_root if data_root is not None else cfg.get('data_root')
    if root is None:
        return
    if not root.endswith(('/', os.sep)):
        root += '/'  # configs concatenate data_root + relative paths
    cfg.data_root = root
    for stage in ('train', 'val', 'test'):
        loader = cfg.get(f'{stage}_dataloader')
        if not loader or not isinstance(loader.get('dataset'), dict):
            continue
        moved: Dict[str, str] = {}  # old annotation path -> new one
        for dataset in _leaf_datasets(loader['dataset']):
            old_root = dataset.get('data_root') or ''
            old_ann = dataset.get('ann_file')
            dataset['data_root'] = root
            if old_ann and ann_dir is not None:
                dataset['ann_file'] = osp.join(
                    ann_dir, _below(old_ann, cfg.get('ann_dir')))
            if old_ann:
                moved[osp.normpath(osp.join(old_root, old_ann))] = osp.join(
                    root, dataset['ann_file'])
        evaluator = cfg.get(f'{stage}_evaluator')
        if stage == 'train' or not evaluator:
            continue
        for metric in _metric_cfgs(evaluator):
            if len(moved) == 1:
                metric['ann_file'] = next(iter(moved.values()))
            else:
                metric['ann_file'] = moved.get(osp.normpath(metric['ann_file']),
                                               metric['ann_file'])


def default_work_dir(config_path: str) -> str:
    """``work_dirs/`` + the config's path below ``configs/``, without ``.py``.

    ``configs/baseline.py`` -> ``work_dirs/baseline`` and ``configs/demo/baseline.py``
    -> ``work_dirs/demo/baseline``, so two configs of one name never share a folder.
    """
    path = osp.splitext(osp.normpath(config_path))[0]
    parts = path.split(os.sep)
    if CONFIGS_DIR in parts:
        parts = parts[len(parts) - 1 - parts[::-1].index(CONFIGS_DIR) + 1:]
    else:
        parts = parts[-1:]
    return osp.join('work_dirs', *parts)


def set_work_dir(cfg: Config, config_path: str,
                 work_dir: Optional[str] = None) -> None:
    """``--work-dir`` wins, then the config's own ``work_dir``, then the default."""
    if work_dir:
        cfg.work_dir = work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = default_work_dir(config_path)


def set_launcher(cfg: Config, launcher: str) -> None:
    """Set the launcher; without CUDA, run distributed on the CPU with gloo.

    mmengine's configs default to NCCL, wrap the model with ``device_ids=[rank]`` and
    start the process group through ``init_dist``, which calls
    ``torch.cuda.set_device``, and MMYOLO's detector turns BatchNorm into SyncBN
    when distributed: all GPU-only. On a CPU machine the gloo process group is
    started here (mmengine then skips its own) and BatchNorm stays per process, so
    ``tools/dist_train.sh`` still works.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if str(cfg.model.get('type', '')).endswith('YOLODetector'):
        cfg.model.use_syncbn = False
    init_process_group(launcher)


def init_process_group(launcher: str) -> None:
    """Start the process group of ``launcher`` ('pytorch': torchrun's variables;
    'slurm': srun's) unless there is one, or nothing for 'none'.

    With CUDA this is mmengine's ``init_dist`` on NCCL, which also selects each
    process's GPU. Without CUDA it is gloo, and for Slurm the variables mmengine's
    slurm launcher would derive (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR from
    ``scontrol show hostname``, MASTER_PORT, default 29500) are derived here, since
    mmengine's own path selects a GPU.
    """
    if launcher == 'none' or torch.distributed.is_initialized():
        return
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist(launcher, backend='nccl')
        return
    if launcher == 'slurm':
        _torch_env_from_slurm()
    elif launcher != 'pytorch':
        raise InputError(f'--launcher {launcher} needs CUDA; on the CPU use '
                         'pytorch (torchrun) or slurm')
    torch.distributed.init_process_group(backend='gloo')


def _torch_env_from_slurm() -> None:
    """Export torch's env:// variables from Slurm's, as mmengine's slurm launcher."""
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.run(
            ['scontrol', 'show', 'hostname', nodes], capture_output=True,
            text=True, check=True).stdout.split()[0]


def flush_denormals_on_cpu() -> None:
    """Treat denormal floats as zero when running on the CPU.

    Training from scratch produces many tiny gradients and activations; x86 math
    on denormals is several times slower, and it measurably slowed the demo's CPU
    training. GPUs are unaffected, so this only acts without CUDA.
    """
    if not torch.cuda.is_available():
        torch.set_flush_denormal(True)

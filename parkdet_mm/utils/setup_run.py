"""What tools/train.py, tools/test.py and tools/predict.py share in preparing a config."""
import argparse
import os
import os.path as osp
from typing import Optional

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


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    """The config of a runner tool's ``args``: read, overridden, launcher and work dir
    set (see :func:`add_runner_args`), with denormals flushed on the CPU."""
    flush_denormals_on_cpu()
    cfg = load_config(args.config, args.cfg_options)
    set_launcher(cfg, args.launcher)
    set_work_dir(cfg, args.config, args.work_dir)
    return cfg


def build_runner(cfg: Config):
    """The config's ``runner_type`` if it names one, else mmengine's Runner."""
    from mmengine.runner import Runner

    from mmyolo.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options``; bad files are an InputError."""
    if not osp.isfile(path):
        raise InputError(f'config {path} does not exist')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # syntax errors, bad _base_ paths, ...
        raise InputError(f'config {path} cannot be read: {err}') from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


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
    if launcher == 'pytorch' and not torch.distributed.is_initialized():
        # torchrun's RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (env://)
        torch.distributed.init_process_group(backend='gloo')


def flush_denormals_on_cpu() -> None:
    """Treat denormal floats as zero when running on the CPU.

    Training from scratch produces many tiny gradients and activations; x86 math
    on denormals is several times slower, and it measurably slowed the demo's CPU
    training. GPUs are unaffected, so this only acts without CUDA.
    """
    if not torch.cuda.is_available():
        torch.set_flush_denormal(True)

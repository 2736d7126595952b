"""What the tools share in starting a run: flags, config, launcher, work dir."""
import argparse
import os
import os.path as osp
import subprocess
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.config import Config, DictAction

from parkdet_challenge.errors import InputError
from parkdet_mm.config import load_config
from parkdet_mm.deploy import BACKENDS, check_backend


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
    """``--data-root DIR`` and ``--ann-dir DIR``: set the config's primaries
    ``data_root`` and ``ann_dir``, so every dataloader and evaluator reads that copy
    (:func:`data_primaries`)."""
    parser.add_argument(
        '--data-root',
        required=required,
        help="the data folder every dataloader reads (the config's data_root)")
    parser.add_argument(
        '--ann-dir',
        required=required,
        help='the folder holding the annotation files (tools/prepare_data.py '
        "--out-dir's annotations/; the config's ann_dir, below the data root)")


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """What tools/test.py and tools/predict.py share: ``--img-size N``,
    ``--batch-size N`` and ``--nms nms|soft`` (:func:`inference_primaries`),
    ``--ensemble`` and ``--wbf-iou`` (several checkpoints), and YOLOv5 val.py's
    ``--save-txt`` and ``--save-conf``."""
    parser.add_argument(
        '--img-size', type=int, help='test size N: test_img_scale (N, N)')
    parser.add_argument(
        '--batch-size', type=int, help='test_batch_size_per_gpu')
    parser.add_argument(
        '--nms', choices=('nms', 'soft'),
        help="how boxes are merged (nms_type): NMS, or mmcv's soft-NMS "
        '(linear decay), in the test, TTA and the NMS ensemble')
    add_ensemble_args(parser)
    parser.add_argument(
        '--save-txt', action='store_true',
        help="YOLOv5's labels/STEM.txt per image: class cx cy w h, normalized")
    parser.add_argument(
        '--save-conf', action='store_true',
        help='with --save-txt, the score after each box')


def add_ensemble_args(parser: argparse.ArgumentParser) -> None:
    """``--ensemble wbf|nms`` and ``--wbf-iou``: how several checkpoints fuse."""
    parser.add_argument(
        '--ensemble', choices=('wbf', 'nms'),
        help='how several checkpoints are fused: wbf (weighted boxes fusion) or '
        "nms (YOLOv5's Ensemble); default: the config's predict_ensemble, else wbf")
    parser.add_argument(
        '--wbf-iou', type=float, default=0.55,
        help='IoU at which weighted boxes fusion merges boxes')


def add_fold_args(parser: argparse.ArgumentParser) -> None:
    """``--folds K`` and ``--fold-weights [OOF_SCORES]``: predict with a config's
    fold models (:func:`parkdet_mm.config.folds.fold_models`)."""
    parser.add_argument('--folds', type=int, metavar='K',
                        help="the K fold models of tools/kfold.py (each fold's final "
                        'checkpoint of CONFIG), fused as --ensemble says')
    parser.add_argument('--fold-weights', nargs='?', const='', metavar='OOF_SCORES',
                        help='with --folds and wbf: weigh each fold model by its '
                        "held-out fitness in tools/kfold.py's oof_scores.json")


def add_device_args(parser: argparse.ArgumentParser) -> None:
    """``--device``, YOLOv5's ``--half`` and ``--backend``
    (:func:`check_device_args`)."""
    parser.add_argument(
        '--device', help='cpu, cuda or cuda:N (default: cuda when there is one, '
        'and the pytorch backend)')
    parser.add_argument(
        '--half', action='store_true',
        help="FP16 inference (YOLOv5's --half): CUDA only")
    parser.add_argument(
        '--backend', choices=BACKENDS, default='pytorch',
        help='run the network with PyTorch, or on the CPU with ONNX Runtime or '
        'OpenVINO (exported on demand, cached beside the checkpoint)')


def check_device_args(args: argparse.Namespace) -> str:
    """The device of ``--device`` (default: CUDA when there is one and the backend
    is PyTorch's), after checking ``--half`` (CUDA only) and ``--backend`` (the
    CPU; OpenVINO installed): an InputError otherwise."""
    backend = getattr(args, 'backend', 'pytorch')
    device = getattr(args, 'device', None) or (
        'cuda' if torch.cuda.is_available() and backend == 'pytorch' else 'cpu')
    if args.half and not device.startswith('cuda') and backend == 'pytorch':
        raise InputError(f'--half runs FP16 on a CUDA device; this run is on {device} '
                         '(leave --half out on the CPU)')
    check_backend(backend, device, args.half)
    return device


def inference_primaries(args: argparse.Namespace) -> Dict[str, Any]:
    """The primaries of :func:`add_inference_args`' flags (None: not given)."""
    return dict(
        test_img_scale=None if args.img_size is None else (args.img_size,
                                                           args.img_size),
        test_batch_size_per_gpu=args.batch_size,
        nms_type=None if args.nms is None else dict(nms='nms',
                                                    soft='soft_nms')[args.nms])


def set_test_model(cfg: Config, checkpoints: Sequence[str], tta: bool = False,
                   half: bool = False, ensemble: Optional[str] = None,
                   wbf_iou: float = 0.55) -> None:
    """Have the config's test loop run ``checkpoints``: one is the runner's
    ``load_from``, several are fused as one
    :class:`~parkdet_mm.apis.ensemble.DetectorEnsemble` (as predict fuses them;
    ``ensemble``: 'wbf' or 'nms', default the config's ``predict_ensemble``). With
    ``tta`` each runs in the config's ``tta_model`` (YOLOv5's TTA on the normal,
    letterboxed batch); with ``half`` in FP16 (:class:`HalfPrecisionHook`)."""
    from .ensemble import ensemble_config
    if len(checkpoints) == 1:
        cfg.load_from = checkpoints[0]
        if tta:
            cfg.model = dict(**cfg.tta_model, module=cfg.model)
    else:
        cfg.model = ensemble_config(cfg, checkpoints, tta, ensemble, wbf_iou)
        cfg.load_from = None
    if half:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='HalfPrecisionHook')]


def data_primaries(args: argparse.Namespace) -> Dict[str, Optional[str]]:
    """The ``data_root`` and ``ann_dir`` of ``--data-root``/``--ann-dir`` (None
    where not given); a folder that does not exist is an InputError. ``ann_dir``
    becomes absolute, since the config reads it relative to the data root."""
    data_root = getattr(args, 'data_root', None)
    ann_dir = getattr(args, 'ann_dir', None)
    if data_root is not None and not osp.isdir(data_root):
        raise InputError(f'--data-root {data_root} is not a folder')
    if ann_dir is not None:
        if not osp.isdir(ann_dir):
            raise InputError(f'--ann-dir {ann_dir} is not a folder')
        ann_dir = osp.abspath(ann_dir)
    return dict(data_root=data_root, ann_dir=ann_dir)


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def config_from_args(args: argparse.Namespace,
                     primaries: Optional[Dict[str, Any]] = None,
                     base_primaries: Optional[Dict[str, Any]] = None) -> Config:
    """The config of a runner tool's ``args``: read, ``base_primaries`` (e.g. a
    ``--hyp`` file's) applied, then ``--cfg-options``, then ``--data-root``,
    ``--ann-dir``, ``--work-dir`` and ``primaries`` (the tool's own flags; None
    values skipped), derived values set (:func:`parkdet_mm.config.load_config`),
    launcher set, with denormals flushed on the CPU."""
    flush_denormals_on_cpu()
    cfg = load_config(
        args.config, args.cfg_options, {
            **data_primaries(args), 'work_dir': getattr(args, 'work_dir', None),
            **(primaries or {})
        }, base_primaries)
    set_launcher(cfg, args.launcher)
    return cfg


def build_runner(cfg: Config):
    """The config's ``runner_type`` if it names one, else mmengine's Runner."""
    from mmengine.runner import Runner

    from mmyolo.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


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

"""Train a detector from a config.

    python tools/train.py configs/baseline.py [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--epochs N] [--img-size N] [--batch-size N] [--workers N] [--hyp HYP.yaml]
        [--deterministic] [--single-cls] [--compile] [--channels-last]
        [--cache [ram|disk]] [--data-root DIR] [--ann-dir DIR]
        [--cfg-options key=value ...]
        [--launcher none|pytorch|slurm|mpi]

The flags set the config's primaries as YOLOv5's train.py flags do: --hyp every
hyper-parameter of a YOLOv5 hyp.*.yaml, or a primary by its own name, as
tools/evolve.py's best_hyp.yaml may hold (before --cfg-options, which may change one
of them), then --epochs (max_epochs), --img-size N (img_scale (N, N)), --batch-size
(train_batch_size_per_gpu) and --workers (train_num_workers); everything derived from
them follows.

``--resume`` alone continues from the latest checkpoint in the work dir, and starts
the run normally (``load_from`` included) when there is none yet, so an interrupted
stage and a new one are started by the same command. ``--cache`` decodes the
training images once, into RAM (``--cache`` alone) or beside them on disk, as YOLOv5's
``--cache``. ``--compile`` compiles the network and the loss with ``torch.compile``
for the training steps (the primary compile_model); ``--channels-last`` trains in
channels-last memory format (channels_last).
"""
import argparse

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import run_cli
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_runner_args,
    config_from_args,
    parse_runner_args,
)
from parkdet_mm.apis.training import train_config
from parkdet_mm.config import read_hyp_file
from parkdet_mm.engine.preflight import check_cuda_ops


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a parkdet_mm detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: float16 on a GPU, bfloat16 on a CPU that computes '
        'it (AVX512-BF16 or AMX)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from this checkpoint, or, alone, from the latest one in '
        'the work dir when there is one')
    parser.add_argument(
        '--cache',
        nargs='?',
        const='ram',
        choices=['ram', 'disk'],
        help='decode the training images once and keep them in RAM (the '
        'default) or as arrays beside them on disk (ImageCacheHook)')
    parser.add_argument('--epochs', type=int, help='max_epochs')
    parser.add_argument(
        '--img-size', type=int, help='training size N: img_scale (N, N)')
    parser.add_argument(
        '--batch-size', type=int, help='images per batch per GPU')
    parser.add_argument(
        '--workers', type=int, help='dataloader workers per GPU')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        default=None,
        help="deterministic torch algorithms (slower; the primary deterministic)")
    parser.add_argument(
        '--compile',
        action='store_true',
        default=None,
        help='torch.compile the network and the loss for training (the primary '
        'compile_model; the first iteration compiles)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        default=None,
        help='train in channels-last memory format (the primary channels_last)')
    parser.add_argument(
        '--val-interval', type=int, metavar='N',
        help='validate every N epochs, keeping the best as best.pth '
        '(default: once, after the last epoch)')
    parser.add_argument(
        '--patience', type=int, metavar='N',
        help="YOLOv5's --patience: stop when fitness has not improved for N "
        'validations (validating every epoch unless --val-interval)')
    parser.add_argument(
        '--logger', action='append', choices=('tensorboard', 'mlflow', 'wandb'),
        help='an experiment logger besides the local logs (repeatable)')
    parser.add_argument(
        '--multi-scale', action='store_true', default=None,
        help="YOLOv5's --multi-scale: each batch at a random size, 0.5-1.5 x "
        'the image size')
    parser.add_argument(
        '--label-smoothing', type=float, metavar='EPS',
        help="YOLOv5's --label-smoothing: classification targets 1 - EPS/2, EPS/2")
    parser.add_argument(
        '--single-cls', action='store_true', default=None,
        help="YOLOv5's --single-cls: train every class as one, 'item'")
    parser.add_argument(
        '--hyp',
        help="a YOLOv5 hyperparameter file (YOLOv5's layout and names, e.g. "
        'hyp.scratch-low.yaml): its values replace the config\'s')
    add_data_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def flag_primaries(args: argparse.Namespace) -> dict:
    """The primaries this tool's flags set (None: not given)."""
    return dict(
        max_epochs=args.epochs,
        img_scale=None if args.img_size is None else (args.img_size,
                                                      args.img_size),
        train_batch_size_per_gpu=args.batch_size,
        train_num_workers=args.workers,
        image_cache=args.cache,
        deterministic=args.deterministic,
        compile_model=args.compile,
        channels_last=args.channels_last,
        val_interval=args.val_interval,
        patience=args.patience,
        loggers=args.logger,
        multi_scale=args.multi_scale,
        label_smoothing=args.label_smoothing,
        single_cls=args.single_cls)


def hyp_primaries(args: argparse.Namespace) -> dict:
    """The primaries ``--hyp`` sets; its keys without counterpart are printed."""
    if not args.hyp:
        return {}
    hyps, notes = read_hyp_file(args.hyp)
    for note in notes:
        print(f'--hyp {args.hyp}: {note}')
    return hyps


def main() -> None:
    args = parse_args()
    check_cuda_ops()  # on a GPU, mmcv without CUDA ops would fail at the first NMS
    cfg = config_from_args(args, flag_primaries(args), hyp_primaries(args))
    train_config(cfg, resume=args.resume, amp=args.amp)


if __name__ == '__main__':
    run_cli(main)

"""Train every fold of a k-fold split and score the out-of-fold predictions.

    python tools/kfold.py CONFIG [CONFIG ...] --folds K [--fold k] [--no-tta]
        [--out-dir DIR] [--data-root DIR] [--ann-dir DIR] [--cfg-options ...]

The folds are tools/prepare_data.py --folds K's (ANN_DIR/fold{k}/). For each fold
the configs train in turn (a recipe's stages, e.g. configs/baseline.py
configs/finetune.py) into their WORK_DIR_fold{k}: a finished stage is skipped, an
interrupted one resumes, so the same command continues a run that stopped. The last
config's final model then predicts the fold's held-out images (with YOLOv5's TTA
unless --no-tta, as tools/predict.py). Once every fold has its predictions, they are
scored together against their labels (pycocotools; the out-of-fold, OOF, estimate)
and each fold alone: OUT_DIR (default WORK_DIR_kfold of the last config) gets
oof_scores.json (mAP@.5, mAP, fitness, per class and per fold) and
oof_per_class.png. --fold k (or a Slurm array task's SLURM_ARRAY_TASK_ID) does fold
k only, so the folds can train in parallel:
    sbatch --array=0-4 --gres=gpu:1 --wrap "python tools/kfold.py CONFIG --folds 5"
The fold models' ensemble: tools/predict.py CONFIG --folds K [--fold-weights].
"""
import argparse
import os
import os.path as osp

import torch

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_runner_args,
    data_primaries,
    flush_denormals_on_cpu,
    parse_runner_args,
)
from parkdet_mm.config.folds import OOF_SCORES, fold_config, kfold_dir
from parkdet_mm.engine.preflight import check_cuda_ops
from parkdet_mm.tuning.kfold import FOLD_PREDICTIONS, OOF_PER_CLASS, run_fold, score_folds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG',
                        help='the training config, or a recipe\'s stages in order')
    parser.add_argument('--folds', type=int, required=True, metavar='K',
                        help='the folds tools/prepare_data.py --folds K wrote')
    parser.add_argument('--fold', type=int, metavar='k',
                        help='this fold only (default: a Slurm array task\'s '
                        'SLURM_ARRAY_TASK_ID, else every fold)')
    parser.add_argument('--tta', action=argparse.BooleanOptionalAction, default=True,
                        help="YOLOv5's test-time augmentation for the held-out "
                        'predictions (as tools/predict.py)')
    parser.add_argument('--out-dir', help='default: WORK_DIR_kfold of the last config')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    add_data_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    check_cuda_ops(args.device)
    flush_denormals_on_cpu()
    if args.folds < 2:
        raise InputError(f'--folds {args.folds}: at least 2')
    fold = args.fold
    if fold is None and os.environ.get('SLURM_ARRAY_TASK_ID'):
        fold = int(os.environ['SLURM_ARRAY_TASK_ID'])
    if fold is not None and not 0 <= fold < args.folds:
        raise InputError(f'fold {fold} is not one of 0..{args.folds - 1}')
    primaries = data_primaries(args)
    folds = range(args.folds) if fold is None else [fold]
    for config in args.configs:  # every fold's split exists before any work
        work_dirs = {fold_config(config, k, args.cfg_options, primaries).work_dir
                     for k in range(args.folds)}
        if len(work_dirs) < args.folds:
            raise InputError(f'{config} sets one work_dir for every fold; leave it None '
                             '(each fold then trains in WORK_DIR_fold{k})')
    for k in folds:
        print(f'fold {k}: held-out predictions in '
              f'{run_fold(args.configs, k, args.tta, args.device, args.cfg_options, primaries)}')
    missing = [k for k in range(args.folds) if not osp.isfile(osp.join(
        fold_config(args.configs[-1], k, args.cfg_options, primaries).work_dir,
        FOLD_PREDICTIONS))]
    if missing:
        print(f'folds {missing} have no held-out predictions yet: the scores come '
              'when they have')
        return
    out_dir = args.out_dir or kfold_dir(args.configs[-1])
    result = score_folds(args.configs[-1], args.folds, out_dir, args.cfg_options,
                         primaries)
    for entry in result['per_fold']:
        print(f"fold {entry['fold']}: {entry['images']} held-out images, mAP@.5 "
              f"{entry['mAP_50']:.4f}, mAP {entry['mAP']:.4f}")
    print(f"out-of-fold ({result['images']} images): mAP@.5 {result['mAP_50']:.4f}, "
          f"mAP {result['mAP']:.4f}, fitness {result['fitness']:.4f}; wrote "
          f'{osp.join(out_dir, OOF_SCORES)} and {OOF_PER_CLASS}\n'
          f'fold ensemble: python tools/predict.py {args.configs[-1]} --folds '
          f'{args.folds} --data-root DATA --ann-dir ANN_DIR [--fold-weights]')


if __name__ == '__main__':
    run_cli(main)

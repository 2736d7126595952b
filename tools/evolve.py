"""Search a config's hyper-parameters on Optuna, as YOLOv5's ``train.py --evolve``.

    python tools/evolve.py CONFIG [--trials 300] [--epochs E] [--space yolov5,...]
        [--sampler tpe|yolov5] [--prune [median|hyperband]] [--seed N]
        [--storage URL] [--study-name NAME] [--work-dir DIR] [--hyp HYP.yaml]
        [--data-root DIR] [--ann-dir DIR] [--cfg-options key=value ...]

Each trial trains CONFIG for E epochs (default: its max_epochs) with the trial's
values in WORK_DIR/trial_{n}/ (its hyp.yaml beside the run), and its value is
YOLOv5's fitness, 0.1 x mAP@.5 + 0.9 x mAP@.5:.95 on val. The space (--space) is
YOLOv5's by default: every hyp of its hyp files with a counterpart here, within
YOLOv5 v7.0's limits; or a comma-separated list of YOLOv5 hyps (lr0, mosaic) and
primaries (label_smoothing, or name=LOW:HIGH), "yolov5" naming YOLOv5's whole space.
--sampler tpe (Optuna's TPE, the default) or yolov5 (YOLOv5's mutation of the
fittest trials); --prune validates every epoch and stops the trials Optuna's
pruner (median by default) finds behind.

The study is kept in --storage (default: sqlite:///WORK_DIR/evolve.db): run the
same command again and a killed search resumes; run it in several processes,
machines or Slurm array tasks with one database URL (e.g. postgresql://...) and
they share the search (tools/slurm_evolve.sh). --trials counts the study's
finished trials, all workers together. WORK_DIR (default
work_dirs/CONFIG_PATH_evolve) gets evolve.csv (YOLOv5's columns), evolve.png
(fitness against each hyp) and best_hyp.yaml, which tools/train.py --hyp takes.
``optuna-dashboard STORAGE_URL`` shows the study in a browser.
"""
import argparse
import os
import os.path as osp

from optuna.trial import TrialState

import parkdet_mm  # noqa: F401  (registers modules, allow-lists checkpoints)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.run_setup import (
    add_data_args,
    add_runner_args,
    config_from_args,
    parse_runner_args,
)
from parkdet_mm.config import default_work_dir, read_hyp_file
from parkdet_mm.engine.preflight import check_config_inputs, check_cuda_ops
from parkdet_mm.tuning.outputs import BEST_HYP, EVOLVE_CSV, EVOLVE_PNG
from parkdet_mm.tuning.search import (
    SearchSpec,
    default_storage,
    make_pruner,
    make_sampler,
    open_storage,
    open_study,
    run_search,
)
from parkdet_mm.tuning.space import parse_space


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the training config searched')
    parser.add_argument('--trials', type=int, default=300,
                        help="finished trials the study ends with (YOLOv5's --evolve "
                        'default: 300 generations)')
    parser.add_argument('--epochs', type=int,
                        help="epochs per trial (default: the config's max_epochs)")
    parser.add_argument('--space',
                        help='what is searched: yolov5 (the default), YOLOv5 hyps and '
                        'primaries, comma-separated, e.g. lr0,mosaic,'
                        'label_smoothing=0:0.2')
    parser.add_argument('--sampler', choices=('tpe', 'yolov5'), default='tpe',
                        help="Optuna's TPE, or YOLOv5's mutation of the best trials")
    parser.add_argument('--prune', nargs='?', const='median',
                        choices=('median', 'hyperband'),
                        help='validate every epoch and stop trials behind the others '
                        "(Optuna's median or hyperband pruner)")
    parser.add_argument('--seed', type=int, help="the sampler's seed")
    parser.add_argument('--storage',
                        help='Optuna storage URL (default: sqlite:///WORK_DIR/evolve.db)')
    parser.add_argument('--study-name', help='default: the work dir\'s name')
    parser.add_argument('--work-dir',
                        help='default: work_dirs/CONFIG_PATH_evolve')
    parser.add_argument('--hyp', help='a YOLOv5 hyp file: the values the search '
                        'starts from (else the config\'s)')
    parser.add_argument('--heartbeat', type=int, default=60, metavar='SECONDS',
                        help="a trial whose worker's heartbeat stopped twice this "
                        'long ago is run again by another worker')
    add_data_args(parser)
    add_runner_args(parser)
    return parse_runner_args(parser)


def main() -> None:
    args = parse_args()
    check_cuda_ops()
    if args.trials < 1 or (args.epochs is not None and args.epochs < 1):
        raise InputError('--trials and --epochs must be at least 1')
    hyps = {}
    if args.hyp:
        hyps, _ = read_hyp_file(args.hyp)
    base = config_from_args(args, base_primaries=hyps)
    check_config_inputs(base, ('train', 'val'), checkpoint=base.get('load_from'))
    params = parse_space(args.space, base)
    searched = {p.primary for p in params}
    for key in args.cfg_options or {}:
        if key in searched:
            raise InputError(f'--cfg-options {key}: it is searched; set where the '
                             'search starts with --hyp, or leave it out of --space')
    work_dir = args.work_dir or default_work_dir(args.config) + '_evolve'
    spec = SearchSpec(
        config=args.config, work_dir=work_dir, params=params, base=dict(base),
        epochs=args.epochs or base.train_cfg.max_epochs, prune=bool(args.prune),
        cfg_options=args.cfg_options,
        primaries=dict(data_root=args.data_root,
                       ann_dir=args.ann_dir and osp.abspath(args.ann_dir)))
    spec.base.update(hyps)
    url = args.storage or default_storage(work_dir)
    if url.startswith('sqlite:///'):
        parent = osp.dirname(url[len('sqlite:///'):])
        if parent:
            os.makedirs(parent, exist_ok=True)
    storage = open_storage(url, args.heartbeat)
    study_name = args.study_name or osp.basename(osp.normpath(work_dir))
    study = open_study(spec, storage, study_name,
                       make_sampler(args.sampler, spec, args.seed),
                       make_pruner(args.prune))
    print(f'study {study_name} in {url}: {len(params)} values searched '
          f'({", ".join(p.name for p in params)}), {args.trials} trials of '
          f'{spec.epochs} epochs')
    run_search(spec, study, storage, args.trials)
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, )):
        print('no trial completed (all pruned or failed)')
        return
    best = study.best_trial
    print(f'best: trial {best.number}, fitness {best.value:.5f}; wrote '
          f'{osp.join(work_dir, EVOLVE_CSV)}, {EVOLVE_PNG}, {BEST_HYP}\n'
          f'train it: python tools/train.py {args.config} --hyp '
          f'{osp.join(work_dir, BEST_HYP)}\n'
          f'look at the study: optuna-dashboard {url}')


if __name__ == '__main__':
    run_cli(main)

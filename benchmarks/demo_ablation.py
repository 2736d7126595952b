"""What the reference's loop features do to what the demo learns: the demo baseline
at the reference's loop, then with each feature switched back alone, at several
seeds each, side by side.

    python benchmarks/demo_ablation.py [--seeds 0 1 2] [--variants reference ...]
        [--jobs 2] [--threads 1] [--data-seed 0] [--reference-checkout DIR]
        [--out work_dirs/demo_ablation]

Each run is a child of configs/demo/baseline.py (100 epochs of 160 images from
scratch on the demo data, made first when missing) trained by tools/train.py in a
fresh work dir (a finished one is read, not run again), OMP_NUM_THREADS=--threads,
--jobs runs at a time (at a fixed thread count a run's result does not depend on
what else runs, only its time does); its score is the val mAP@.5 and mAP@.5:.95
the run logged after its last epoch. Variants (each: lines of a child config):

- demo: configs/demo/baseline.py as it is: the reference's loop, one optimizer
  step per batch of 8 (the demo's nominal batch), class loss gain 2.0; every other
  variant starts from it:
- reference_cls_gain: scratch-low's class loss gain, 0.5 (the reference's);
- nominal_64: the reference's nominal batch of 64, one step per 8 batches (EMA
  and weight decay per step);
- ema_per_iteration: mmengine's EMAHook with MMYOLO's ExpMomentumEMA, updated every
  iteration and copying the model at its first update (the code before the loop
  was matched: the same as per step where every batch steps, bar that update);
- bias_group: warmup_bias_lr on the biases (YOLOv5 v6.1 upstream), not the
  BatchNorm weights (the reference's fork);
- lagged_schedule: MMYOLO's YOLOv5ParamSchedulerHook (epoch e at lf(e - 1) after
  warmup, warmup_bias_lr on the biases), as before the loop was matched;
- uniform_partners: mosaic partner tiles drawn uniformly (MMYOLO's Mosaic), not by
  the image weights;
- no_image_weights: every image drawn alike (and the partners uniformly);
- no_epoch_parts: epochs of all 320 images, 50 of them (the same iterations);
- no_autoanchor: AutoAnchor off (the P6 anchors scaled to 256 px);
- perspective_warp: MMYOLO's YOLOv5RandomAffine (cv2.warpPerspective);
- all_undone: lagged_schedule, ema_per_iteration, uniform_partners,
  no_autoanchor and perspective_warp at once: the loop before it was matched.

--reference-checkout DIR also trains an older checkout's own
configs/demo/baseline.py (e.g. `git archive ec1138d`, the commit before the loop
changes) on the same data. --data-seed S trains on the demo generator's data at
seed S (data/demo_seed{S}: a set no setting here was tuned to) instead of the
demo's. Prints one line per run (a run that fails is named with its log, and
the others run on), then a table of median and range per variant,
also written to OUT/ablation.md with every run's figures in OUT/ablation.json.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Optional, Tuple

from parkdet_challenge.errors import InputError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/demo/baseline.py'

# MMYOLO's schedule hook in place of the recipe's (a component of one's own: the
# primaries derive nothing into it), given the recipe's schedule values; its minimum
# warmup is the recipe's warmup_min_iters, and it warms the biases itself.
LAGGED_SCHEDULE = (
    "_schedule = {k: v for k, v in _base_.default_hooks.param_scheduler.items()\n"
    "             if k not in ('type', '_scope_', 'warmup_min_iters',\n"
    "                          'warmup_bias_lr_group')}\n")
LAGGED_HOOK = ("param_scheduler=dict(_delete_=True, "
               "type='mmyolo.YOLOv5ParamSchedulerHook', "
               "warmup_mim_iter=_base_.warmup_min_iters, **_schedule)")
NO_AUTOANCHOR = 'auto_anchor=dict(check=False)'
UNIFORM_PARTNERS = 'train_dataloader = dict(sampler=dict(mosaic_partners=0))\n'
# the recipe's pipeline with MMYOLO's affine (a pipeline of one's own: derived no
# more, with a warning)
PERSPECTIVE_WARP = (
    "train_pipeline = [dict(t, type='YOLOv5RandomAffine')\n"
    "                  if t['type'] == 'YOLOv5RandomAffineWarp' else t\n"
    "                  for t in _base_.train_pipeline]\n")
# (image_weights adds ClassBalanceHook after it)
EMA_PER_ITERATION = (
    "custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA',\n"
    "                     momentum=0.0001, update_buffers=True, strict_load=False,\n"
    "                     priority=49)]\n")
# Each variant: lines added to a child of configs/demo/baseline.py, which is the
# reference's loop at the demo's own nominal batch (8: a step every batch).
VARIANTS: Dict[str, str] = {
    'demo': '',
    'reference_cls_gain': 'loss_cls_weight = 0.5\n',
    'nominal_64': 'nominal_batch_size = 64\n',
    'ema_per_iteration': EMA_PER_ITERATION,
    'bias_group': "warmup_bias_lr_group = 'bias'\n",
    'lagged_schedule': LAGGED_SCHEDULE + f'default_hooks = dict({LAGGED_HOOK})\n',
    'uniform_partners': UNIFORM_PARTNERS,
    'no_image_weights': 'image_weights = False\n',
    'no_epoch_parts': 'epoch_parts = 1\nmax_epochs = 50\n',
    'no_autoanchor': f'default_hooks = dict({NO_AUTOANCHOR})\n',
    'perspective_warp': PERSPECTIVE_WARP,
    'all_undone': (LAGGED_SCHEDULE
                   + f'default_hooks = dict({LAGGED_HOOK},\n'
                   f'                     {NO_AUTOANCHOR})\n'
                   + UNIFORM_PARTNERS + PERSPECTIVE_WARP + EMA_PER_ITERATION),
}


def make_demo_data(python: str, data: str, seed: int) -> None:
    """The demo data (generator seed ``seed``) in ``data``, converted, unless
    it is there."""
    if osp.isfile(osp.join(REPO, data, 'annotations', 'val.json')):
        return
    for args in (['tools/make_demo_data.py', data, '--seed', str(seed)],
                 ['tools/prepare_data.py', '--data-root', data, '--out-dir', data,
                  '--val-size', '80', '--no-plot']):
        subprocess.run([python, *args], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)


def last_val(work_dir: str) -> Dict[str, float]:
    """The last validation's mAP@.5 and mAP of the run in ``work_dir`` ({} when
    it has none yet)."""
    from parkdet_mm.visualization.training_curves import read_scalars
    try:
        _, val = read_scalars(work_dir)
    except InputError:  # no run there yet
        return {}
    last = next((r for r in reversed(val) if 'challenge/mAP_50' in r), None)
    return {} if last is None else dict(mAP_50=last['challenge/mAP_50'],
                                        mAP=last['challenge/mAP'])


def train(python: str, checkout: str, config: str, seed: int, work_dir: str,
          threads: int) -> Tuple[Dict[str, float], Optional[float]]:
    """Train ``config`` with ``checkout``'s tools/train.py (unless ``work_dir``
    holds a finished run); its last validation's scores and its minutes (None
    when it had finished before)."""
    if last_val(work_dir):
        return last_val(work_dir), None
    start = time.time()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=checkout,
               PYTHONWARNINGS='ignore')
    # the seed primary; a checkout from before the derived configs sets
    # mmengine's randomness.seed itself
    derived = osp.isfile(osp.join(checkout, 'parkdet_mm', 'config', 'derivation.py'))
    seed_key = 'seed' if derived else 'randomness.seed'
    with open(work_dir + '.log', 'w') as log:
        subprocess.run(
            [python, 'tools/train.py', config, '--work-dir', work_dir,
             '--cfg-options', f'{seed_key}={seed}'],
            cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
            check=True)
    return last_val(work_dir), (time.time() - start) / 60


def table(results: Dict[str, Dict[int, Dict[str, float]]], threads: int,
          data: str) -> str:
    """A markdown table: variant, median and range of val mAP@.5 and mAP."""
    lines = ['| variant | val mAP@.5 median (range) | val mAP median (range) | '
             'seeds | threads | data |', '|---|---|---|---|---|---|']
    for name, by_seed in results.items():
        cells = []
        for key in ('mAP_50', 'mAP'):
            values = [s[key] for s in by_seed.values()]
            cells.append(f'{statistics.median(values):.3f} '
                         f'({min(values):.3f}-{max(values):.3f})')
        lines.append(f'| {name} | {cells[0]} | {cells[1]} | '
                     f'{" ".join(str(s) for s in by_seed)} | {threads} | {data} |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--reference-checkout',
                        help='another checkout whose own demo baseline also runs')
    parser.add_argument('--threads', type=int, default=1,
                        help='OMP_NUM_THREADS of each run (1)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs at a time (2)')
    parser.add_argument('--data-seed', type=int, default=0,
                        help='the demo generator\'s seed: 0 is the demo\'s data, '
                        'another a held-back set (data/demo_seedN)')
    parser.add_argument('--out', default='work_dirs/demo_ablation')
    args = parser.parse_args()
    python = sys.executable
    data = 'data/demo' if args.data_seed == 0 else f'data/demo_seed{args.data_seed}'
    make_demo_data(python, data, args.data_seed)
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    runs = []
    for name in args.variants:
        config = osp.join(out, f'{name}.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = {osp.join(REPO, CONFIG)!r}\n"
                    f"data_root = {osp.join(REPO, data) + '/'!r}\n{VARIANTS[name]}")
        runs.append((name, REPO, config))
    if args.reference_checkout:
        ref = osp.abspath(args.reference_checkout)
        link = osp.join(ref, 'data', 'demo')
        if not osp.exists(link):
            os.makedirs(osp.dirname(link), exist_ok=True)
            os.symlink(osp.join(REPO, data), link)
        runs.append((f'checkout_{osp.basename(ref)}', ref, CONFIG))
    print(f'demo baseline on {data}, {args.threads} thread(s) per run, {args.jobs} '
          f'at a time, seeds {args.seeds}', flush=True)
    jobs = [(name, checkout, config, seed) for seed in args.seeds
            for name, checkout, config in runs]

    def run(job):
        name, checkout, config, seed = job
        work_dir = osp.join(out, f'{name}_seed{seed}')
        try:
            scores, minutes = train(python, checkout, config, seed, work_dir,
                                    args.threads)
        except subprocess.CalledProcessError:  # the others run on
            print(f'{name:24s} seed {seed}: failed, see {work_dir}.log', flush=True)
            return job, None
        took = 'done before' if minutes is None else f'{minutes:.1f} min'
        print(f'{name:24s} seed {seed}: val mAP@.5 {scores["mAP_50"]:.3f}  '
              f'mAP {scores["mAP"]:.3f}  ({took})', flush=True)
        return job, scores

    results: Dict[str, Dict[int, Dict[str, float]]] = {name: {} for name, *_ in runs}
    with ThreadPoolExecutor(args.jobs) as pool:
        for (name, _, _, seed), scores in pool.map(run, jobs):
            if scores is not None:
                results[name][seed] = scores
    results = {name: by_seed for name, by_seed in results.items() if by_seed}
    text = table(results, args.threads, data)
    print('\n' + text)
    with open(osp.join(out, 'ablation.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(out, 'ablation.json'), 'w') as f:
        json.dump(dict(threads=args.threads, data=data, results=results), f,
                  indent=1)


if __name__ == '__main__':
    main()

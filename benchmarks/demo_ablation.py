"""What the reference-loop changes do to what the demo learns: the demo baseline
trained with each change undone alone, side by side at the same seeds and threads.

    python benchmarks/demo_ablation.py [--seeds 0 1 2] [--variants main bias_group ...]
        [--reference-checkout DIR] [--threads 2] [--out work_dirs/demo_ablation]

Each run is configs/demo/baseline.py (100 epochs from scratch on the demo data, made
first when missing) through tools/train.py, one at a time, OMP_NUM_THREADS=--threads;
its score is the val mAP@.5 and mAP@.5:.95 the run itself logged after its last epoch
(vis_data/scalars.json). Variants, each the current recipe with one change undone:

- main: the recipe as it is;
- bias_group: warmup_bias_lr on the biases (YOLOv5 v6.1 upstream), not the BatchNorm
  weights (the reference's fork);
- lagged_schedule: MMYOLO's YOLOv5ParamSchedulerHook (epoch e at lf(e - 1) after
  warmup, warmup_bias_lr on the biases), as before the loop was matched;
- uniform_partners: mosaic partner tiles drawn uniformly (MMYOLO's Mosaic), not by the
  image weights;
- no_autoanchor: AutoAnchor off;
- perspective_warp: MMYOLO's YOLOv5RandomAffine (cv2.warpPerspective);
- mmengine_ema: mmengine's EMAHook with mmdet's ExpMomentumEMA per iteration;
- all_undone: all of the above at once.

--reference-checkout DIR also trains an older checkout's own configs/demo/baseline.py
(e.g. a git worktree of ec1138d, the commit before the loop changes), with
data/demo linked into it. Prints one line per run and a table of medians.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = 'data/demo'
CONFIG = 'configs/demo/baseline.py'

# Each variant: lines added to a child of configs/demo/baseline.py.
LAGGED_SCHEDULE = (
    "param_scheduler=dict(\n"
    "    _delete_=True, type='YOLOv5ParamSchedulerHook', scheduler_type='linear',\n"
    "    lr_factor='${lr_factor}', max_epochs='${max_epochs}',\n"
    "    warmup_epochs='${warmup_epochs}', warmup_momentum='${warmup_momentum}',\n"
    "    warmup_bias_lr='${warmup_bias_lr}', warmup_mim_iter='${warmup_min_iters}')")
NO_AUTOANCHOR = 'auto_anchor=dict(check=False)'
UNIFORM_PARTNERS = (
    "mosaic_steps = [dict(type='Mosaic', img_scale='${img_scale}', pad_val=114.0,\n"
    "                     prob=1.0, pre_transform='${pre_transform}'),\n"
    "                '${random_affine}']\n")
PERSPECTIVE_WARP = "random_affine = dict(type='YOLOv5RandomAffine')\n"
MMENGINE_EMA = (
    "ema_hook = dict(_delete_=True, type='EMAHook', ema_type='ExpMomentumEMA',\n"
    "                momentum=0.0001, update_buffers=True, strict_load=False,\n"
    "                priority=49)\n")
# Each variant: lines added to a child of configs/demo/baseline.py.
VARIANTS: Dict[str, str] = {
    'main': '',
    'bias_group': "warmup_bias_lr_group = 'bias'\n",
    'lagged_schedule': f'default_hooks = dict({LAGGED_SCHEDULE})\n',
    'uniform_partners': UNIFORM_PARTNERS,
    'no_autoanchor': f'default_hooks = dict({NO_AUTOANCHOR})\n',
    'perspective_warp': PERSPECTIVE_WARP,
    'mmengine_ema': MMENGINE_EMA,
    # (MMYOLO's schedule hook gives warmup_bias_lr to the biases itself)
    'all_undone': (f'default_hooks = dict({LAGGED_SCHEDULE},\n'
                   f'                     {NO_AUTOANCHOR})\n'
                   + UNIFORM_PARTNERS + PERSPECTIVE_WARP + MMENGINE_EMA),
}


def make_demo_data(python: str) -> None:
    if osp.isfile(osp.join(REPO, DATA, 'annotations', 'val.json')):
        return
    for args in (['tools/make_demo_data.py', DATA],
                 ['tools/prepare_data.py', '--data-root', DATA, '--out-dir', DATA,
                  '--val-size', '80', '--no-plot']):
        subprocess.run([python, *args], cwd=REPO, check=True)


def last_val(work_dir: str) -> Dict[str, float]:
    """The last validation's mAP@.5 and mAP of the run in ``work_dir``."""
    scores: Dict[str, float] = {}
    for stamp in sorted(os.listdir(work_dir)):
        scalars = osp.join(work_dir, stamp, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):
            with open(scalars) as f:
                for line in f:
                    record = json.loads(line)
                    if 'challenge/mAP_50' in record:
                        scores = dict(mAP_50=record['challenge/mAP_50'],
                                      mAP=record['challenge/mAP'])
    return scores


def train(python: str, checkout: str, config: str, seed: int, work_dir: str,
          threads: int) -> Dict[str, float]:
    """Train ``config`` with ``checkout``'s tools/train.py (unless ``work_dir``
    holds a finished run) and return its last validation's scores."""
    if not (osp.isdir(work_dir) and last_val(work_dir)):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=checkout)
        with open(work_dir + '.log', 'w') as log:
            subprocess.run(
                [python, 'tools/train.py', config, '--work-dir', work_dir,
                 '--cfg-options', f'randomness.seed={seed}'],
                cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT,
                check=True)
    return last_val(work_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--reference-checkout',
                        help='another checkout whose own demo baseline also runs')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--out', default='work_dirs/demo_ablation')
    args = parser.parse_args()
    python = sys.executable
    make_demo_data(python)
    out = osp.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    runs = []
    for name in args.variants:
        config = osp.join(out, f'{name}.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = {osp.join(REPO, CONFIG)!r}\n"
                    f"data_root = {osp.join(REPO, DATA)!r}\n{VARIANTS[name]}")
        runs.append((name, REPO, config))
    if args.reference_checkout:
        ref = osp.abspath(args.reference_checkout)
        link = osp.join(ref, DATA)
        if not osp.exists(link):
            os.makedirs(osp.dirname(link), exist_ok=True)
            os.symlink(osp.join(REPO, DATA), link)
        runs.append((f'checkout:{osp.basename(ref)}', ref, CONFIG))
    print(f'demo baseline, {args.threads} threads, seeds {args.seeds}', flush=True)
    results: Dict[str, List[Dict[str, float]]] = {}
    for seed in args.seeds:
        for name, checkout, config in runs:
            start = time.time()
            work_dir = osp.join(out, f'{name.replace(":", "_")}_seed{seed}')
            scores = train(python, checkout, config, seed, work_dir, args.threads)
            results.setdefault(name, []).append(scores)
            print(f'{name:24s} seed {seed}: val mAP@.5 {scores["mAP_50"]:.3f}  '
                  f'mAP {scores["mAP"]:.3f}  ({(time.time() - start) / 60:.1f} min)',
                  flush=True)
    print(f'\n{"variant":24s} median mAP@.5 (range)      median mAP')
    for name, scores in results.items():
        m50 = [s['mAP_50'] for s in scores]
        print(f'{name:24s} {statistics.median(m50):.3f} ({min(m50):.3f}-'
              f'{max(m50):.3f})   {statistics.median(s["mAP"] for s in scores):.3f}')


if __name__ == '__main__':
    main()

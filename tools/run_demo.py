"""`make demo` (and demo2021, demo-coco): a recipe end to end on synthetic data, on a CPU.

    python tools/run_demo.py [--recipe 2022|2021|coco] [--fresh] [--docs DIR]
        [--seeds S [S ...]] [--jobs N] [--no-data] [--data-seed N]

--recipe 2022 (default, `make demo`): make the demo data (tools/make_demo_data.py),
convert it (tools/prepare_data.py), draw a grid of augmented training inputs
(tools/browse_dataset.py), train the demo baseline then the demo finetune
(tools/train_pipeline.sh, which resumes an interrupted stage), draw each stage's
training curves (tools/plot_results.py), evaluate the final checkpoint on val (with
the PR/F1/P/R curves and the confusion matrix), predict the test set with TTA and
write the capped submission (tools/predict.py), detect on a few test images
(tools/detect.py) and export the model to ONNX (tools/export_onnx.py).

--recipe 2021 (`make demo2021`): the 2021 recipe on data in that challenge's layout:
the baseline (from scratch, on the diet), then the frozen finetune; the baseline,
the finetune and their NMS ensemble (YOLOv5's Ensemble, TTA on) scored on val; the
2021-format submission of the test set by the ensemble.

--recipe coco (`make demo-coco`): the demo pictures as a plain COCO set with other
class names and category ids (images/, annotations/instances_*.json), converted with
--train-json/--images/--test-json and trained with configs/coco/demo.py (classes
from the data); scored on val, the test set predicted as COCO results.

Every score comes from the evaluation's own results (the 2022 stages' own
validation after their last epoch, tools/predict.py's scores.json), and each run
ends with a summary, also written to WORK/summary.json with the torch thread count
it ran with, and with how its figure compares with the recipe's bar and with the
median and range over seeds that docs/demo.md quotes (docs/demo_seeds.json).

--seeds S [S ...]: the recipe once per seed (the config's `seed`, which seeds the
model's initialization, the sampler and the augmentations), each from a fresh work
dir WORK/seedS (data made once), then a table of each stage's val mAP@.5 and mAP
per seed with their median and range, the thread count and wall time of each run,
also written to WORK/seeds.json; --jobs N runs N seeds side by side (each run's
figures do not depend on it, its time does); with --docs DIR the figures go to
DIR/demo_seeds.json, which later runs compare with.

--data-seed N: the same recipe on the demo generator's data at seed N
(tools/make_demo_data.py --seed N, into DATA_seedN; work in WORK_data_seedN): a draw
of the same kind that no setting here was tuned to, to check that what learns the
demo's data learns another draw as well.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.demo_report import (
    comparison_lines,
    figures_key,
    read_docs_figures,
    seed_runs,
    seed_summary,
    seed_table,
    seeds_line,
    write_docs_figures,
)
from parkdet_challenge.errors import InputError, run_cli
from parkdet_mm.apis.demo_runs import (
    Demo,
    coco_test_scores,
    copy_pictures,
    data_seed_demo,
    evaluate_on_val,
    inattention_submission_counts,
    parking_summary,
    seed_demo,
    val_as_test,
    work_dir_of,
)
from parkdet_mm.config import final_checkpoint_of

#: The seed figures docs/demo.md quotes, per recipe (--seeds --docs docs).
DOCS_FIGURES = 'docs/demo_seeds.json'
# A few test images for tools/detect.py (the demo's test names are uuids).
DETECT_IMAGES = 'test/images/[0-3]*.png'


def step(title: str, args) -> None:
    """Run one step (a tool, in a process of its own); stop the demo if it
    fails."""
    print(f'\n==> {title}\n    {" ".join(args)}', flush=True)
    if subprocess.run(args).returncode != 0:
        raise InputError(f'demo step failed: {title}')


def make_parking_data(demo: Demo, python: str) -> None:
    step('demo data', [python, 'tools/make_demo_data.py', demo.data, '--seed',
                       str(demo.data_seed)])
    step('convert to COCO', [python, 'tools/prepare_data.py', '--data-root',
                             demo.data, '--out-dir', demo.data, '--val-size', '80'])


def run_parking(demo: Demo, python: str) -> dict:
    """The 2022 recipe's demo (see the module docstring); its summary."""
    work, data = demo.work, demo.data
    baseline_cfg, finetune_cfg = demo.stages
    step('a grid of augmented training inputs (mosaic, affine, HSV, flip)',
         [python, 'tools/browse_dataset.py', baseline_cfg, '--out',
          osp.join(work, 'train_batch.png')])
    step('train baseline, then finetune',
         ['bash', 'tools/train_pipeline.sh', baseline_cfg, finetune_cfg])
    for stage, config in zip(('baseline', 'finetune'), demo.stages):
        step(f'training curves of the {stage}',
             [python, 'tools/plot_results.py', work_dir_of(config)])
    final = final_checkpoint_of(finetune_cfg)
    print('\n==> evaluate on val', flush=True)
    metrics = evaluate_on_val(demo, finetune_cfg, final)
    submission_dir = osp.join(work, 'submission')
    step('predict the test set (TTA) and write the capped submission',
         [python, 'tools/predict.py', finetune_cfg, final, '--data-root', data,
          '--ann-dir', osp.join(data, 'annotations'), '--out-dir',
          submission_dir, '--batch-size', '8', '--show-dir',
          osp.join(work, 'show'), '--show-num', '4'])
    step('detect on a few test images',
         [python, 'tools/detect.py', finetune_cfg, final,
          osp.join(data, DETECT_IMAGES), '--out-dir', osp.join(work, 'detect')])
    step('export to ONNX (with NMS)',
         [python, 'tools/export_onnx.py', finetune_cfg, final,
          osp.join(work, 'finetune.onnx'), '--nms'])

    summary = parking_summary(demo, metrics, submission_dir, final)
    print(f"pictures under {work}: {', '.join(summary['pictures'])}")
    return summary


def predict_scores(title: str, config: str, checkpoints: List[str], data: str,
                   ann_dir: str, out_dir: str, *flags: str) -> Dict[str, float]:
    """Run tools/predict.py and return its scores.json (mAP, mAP_50, mAP_75, ...);
    ``ann_dir`` must hold a labelled test.json (:func:`val_as_test`)."""
    step(title, [sys.executable, 'tools/predict.py', config, *checkpoints,
                 '--data-root', data, '--ann-dir', ann_dir, '--out-dir', out_dir,
                 *flags])
    with open(osp.join(out_dir, 'scores.json')) as f:
        return json.load(f)


def make_inattention_data(demo: Demo, python: str) -> None:
    step('2021-format demo data', [python, 'tools/make_demo_data.py', demo.data,
                                   '--format', '2021', '--train', '400', '--test',
                                   '40', '--seed', str(demo.data_seed)])
    step('convert: val split, diet subset, test list',
         [python, 'tools/prepare_data.py', '--data-root', demo.data, '--out-dir',
          demo.data, '--val-size', '80', '--no-plot'])


def run_inattention(demo: Demo, python: str) -> dict:
    """The 2021 recipe's demo (see the module docstring); its summary."""
    data, work = demo.data, demo.work
    baseline_cfg, finetune_cfg = demo.stages
    step('train the baseline (diet, from scratch), then the frozen finetune',
         ['bash', 'tools/train_pipeline.sh', baseline_cfg, finetune_cfg])
    baseline, finetune = final_checkpoint_of(baseline_cfg), \
        final_checkpoint_of(finetune_cfg)
    val_dir = val_as_test(data, work)
    scores = {}
    for name, checkpoints in (('baseline', [baseline]), ('finetune', [finetune]),
                              ('ensemble_nms', [baseline, finetune])):
        scores[name] = predict_scores(
            f'{name} on val (TTA)', finetune_cfg, checkpoints, data, val_dir,
            osp.join(work, 'val', name), '--ensemble', 'nms')
    submission_dir = osp.join(work, 'submission')
    # no checkpoint named: the 2021 fine-tune config's default, the NMS ensemble
    step('predict the test set: NMS ensemble, TTA, 2021 submission',
         [python, 'tools/predict.py', finetune_cfg, '--data-root', data,
          '--ann-dir', osp.join(data, 'annotations'), '--out-dir', submission_dir])
    return dict(
        stages={name: {k: s[k] for k in ('mAP', 'mAP_50', 'mAP_75')}
                for name, s in scores.items()},
        **inattention_submission_counts(osp.join(submission_dir, 'submission.json')),
        checkpoints=[baseline, finetune])


def make_coco_data(demo: Demo, python: str) -> None:
    step('demo data as a plain COCO set (other class names and ids)',
         [python, 'tools/make_demo_data.py', demo.data, '--format', 'coco',
          '--seed', str(demo.data_seed)])
    step('convert: the COCO layout, classes from the data',
         [python, 'tools/prepare_data.py', '--data-root', demo.data, '--out-dir',
          demo.data, '--train-json', 'annotations/instances_train.json',
          '--images', 'images', '--test-json', 'annotations/instances_test.json',
          '--val-size', '80', '--no-plot'])


def run_coco(demo: Demo, python: str) -> dict:
    """The recipe on a plain COCO data set (see the module docstring); its
    summary."""
    data, work = demo.data, demo.work
    (config, ) = demo.stages
    step('train (from scratch)', [python, 'tools/train.py', config, '--resume'])
    final = final_checkpoint_of(config)
    scores = predict_scores('score on val (TTA)', config, [final], data,
                            val_as_test(data, work), osp.join(work, 'val'))
    submission_dir = osp.join(work, 'submission')
    step('predict the test set: COCO results with the data set\'s ids',
         [python, 'tools/predict.py', config, final, '--data-root', data,
          '--ann-dir', osp.join(data, 'annotations'), '--out-dir', submission_dir])
    results = osp.join(submission_dir, 'submission.json')
    # the test images' own boxes (instances_test.json) score the results
    return dict(stages=dict(baseline={k: scores[k]
                                      for k in ('mAP', 'mAP_50', 'mAP_75')}),
                test_by_pycocotools=coco_test_scores(
                    osp.join(data, 'annotations', 'instances_test.json'), results),
                results=results, checkpoint=final)


def run_once(demo: Demo, seed: Optional[int]) -> dict:
    """Run ``demo`` (its data made) and return its summary, also written to
    WORK/summary.json."""
    import torch
    start = time.time()
    summary = RECIPES[demo.recipe]['run'](demo, sys.executable)
    summary.update(recipe=demo.recipe, seed=seed, data_seed=demo.data_seed,
                   torch_threads=torch.get_num_threads(),
                   minutes=round((time.time() - start) / 60, 1))
    path = osp.join(demo.work, 'summary.json')
    write_json_atomic(path, summary, indent=2)
    print(f'\n==> summary ({path})')
    print(json.dumps({k: v for k, v in summary.items()
                      if k not in ('pictures', 'checkpoints')}, indent=1))
    print(f"took {summary['minutes']} min with {summary['torch_threads']} torch "
          'threads')
    return summary


def run_seeds(demo: Demo, seeds: List[int], jobs: int,
              data_seed: int) -> List[dict]:
    """The demo once per seed from fresh work dirs, ``jobs`` at a time (each in
    a process of its own, its output in WORK/seedS.log); their summaries."""
    if jobs <= 1:
        return [run_once(seed_demo(demo, seed), seed) for seed in seeds]

    def one(seed: int) -> dict:
        log = osp.join(demo.work, f'seed{seed}.log')
        print(f'seed {seed}: running, output in {log}', flush=True)
        with open(log, 'w') as f:
            status = subprocess.run(
                [sys.executable, 'tools/run_demo.py', '--recipe', demo.recipe,
                 '--seeds', str(seed), '--no-data', '--data-seed',
                 str(data_seed)], stdout=f,
                stderr=subprocess.STDOUT).returncode
        if status != 0:
            raise InputError(f'the demo at seed {seed} failed: see {log}')
        with open(osp.join(demo.work, f'seed{seed}', 'summary.json')) as f:
            return json.load(f)

    os.makedirs(demo.work, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, seeds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--recipe', choices=tuple(RECIPES), default='2022',
                        help='which recipe on which data (default 2022)')
    parser.add_argument('--fresh', action='store_true',
                        help='delete earlier demo checkpoints and start over')
    parser.add_argument('--docs', metavar='DIR',
                        help="copy one of each picture (2022) into DIR under the "
                        "names docs/demo.md shows; with --seeds, also write the "
                        "figures to DIR/demo_seeds.json")
    parser.add_argument('--seeds', type=int, nargs='+', metavar='S',
                        help='run the demo once per seed, each in a fresh work '
                        'dir WORK/seedS, and report the median and range')
    parser.add_argument('--jobs', type=int, default=1,
                        help='with --seeds: seeds run side by side (1)')
    parser.add_argument('--no-data', action='store_true',
                        help='use the demo data already made and converted')
    parser.add_argument('--data-seed', type=int, default=0, metavar='N',
                        help="the demo data generator's seed: another than 0 "
                        "trains on a draw no setting was tuned to (DATA_seedN, "
                        "WORK_data_seedN)")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    demo = Demo(args.recipe, recipe['data'], recipe['work'], recipe['stages'])
    if args.jobs < 1:
        raise InputError(f'--jobs must be at least 1 (got {args.jobs})')
    fresh = args.fresh and not args.seeds  # --seeds: every seed's dir is fresh
    if args.data_seed:
        demo = data_seed_demo(demo, args.data_seed, fresh)
    elif fresh and osp.isdir(demo.work):
        shutil.rmtree(demo.work)
    if not args.no_data:
        recipe['make_data'](demo, sys.executable)
    if not args.seeds:
        summary = run_once(demo, None)
        report(summary, recipe)
        if args.docs and args.recipe == '2022' and not args.data_seed:
            copy_pictures(demo.work, args.docs)
        return
    summaries = run_seeds(demo, args.seeds, args.jobs, args.data_seed)
    if len(args.seeds) == 1:
        report(summaries[0], recipe)
        return
    report_seeds(demo, summaries, recipe, args)


def report(summary: dict, recipe: dict) -> None:
    """The last lines: this run's figure against its bar and the docs' seeds."""
    print('\n==> how this run compares')
    docs = read_docs_figures(DOCS_FIGURES).get(
        figures_key(summary['recipe'], summary['data_seed']))
    for line in comparison_lines(
            {name: s for name, s in summary['stages'].items()},
            summary['torch_threads'], recipe['bar'], docs, DOCS_FIGURES):
        print(line)


def report_seeds(demo: Demo, summaries: List[dict], recipe: dict,
                 args: argparse.Namespace) -> None:
    """The seeds' table, median and range, against the bar; written to
    WORK/seeds.json (and DIR/demo_seeds.json with --docs)."""
    runs = seed_runs(summaries)
    summary = seed_summary(runs)
    path = osp.join(demo.work, 'seeds.json')
    write_json_atomic(path, summary, indent=1)
    print(f'\n==> {demo.recipe} demo over seeds ({path}; val mAP@.5 and mAP of '
          'each stage, torch threads, minutes of each run'
          f'{", side by side" if args.jobs > 1 else ""})')
    print(seed_table(summary))
    print(seeds_line(summary, recipe['bar']))
    if args.docs:
        command = ' '.join(['python tools/run_demo.py', '--recipe', demo.recipe,
                            '--seeds', *map(str, args.seeds)]
                           + (['--data-seed', str(args.data_seed)]
                              if args.data_seed else []))
        target = osp.join(args.docs, osp.basename(DOCS_FIGURES))
        write_docs_figures(target, figures_key(demo.recipe, args.data_seed),
                           summary, command, time.strftime('%Y-%m-%d'))
        print(f'wrote the figures to {target}')
        if demo.recipe == '2022' and not args.data_seed:
            copy_pictures(osp.join(demo.work, f'seed{args.seeds[0]}'), args.docs)


# Each recipe: its data and work folders, its training configs, how its data is
# made, its run, and the bar its final stage's val mAP@.5 is meant to reach (None:
# the docs promise none).
RECIPES = {
    '2022': dict(data='data/demo', work='work_dirs/demo',
                 stages=('configs/demo/baseline.py', 'configs/demo/finetune.py'),
                 make_data=make_parking_data, run=run_parking, bar=0.50),
    '2021': dict(data='data/demo2021', work='work_dirs/demo2021',
                 stages=('configs/challenge2021/demo/baseline.py',
                         'configs/challenge2021/demo/finetune.py'),
                 make_data=make_inattention_data, run=run_inattention, bar=None),
    'coco': dict(data='data/demo_coco', work='work_dirs/coco/demo',
                 stages=('configs/coco/demo.py', ),
                 make_data=make_coco_data, run=run_coco, bar=None),
}


if __name__ == '__main__':
    run_cli(main)

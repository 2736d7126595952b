"""`make demo` (and demo2021, demo-coco): a recipe end to end on synthetic data, on a CPU.

    python tools/run_demo.py [--recipe 2022|2021|coco] [--fresh] [--docs DIR]

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

Every score comes from the evaluation's own results (tools/predict.py's
scores.json, the test loop's metrics), and each run ends with a summary, also
written to WORK/summary.json with the torch thread count it ran with.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Dict, List

from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.cli import InputError, run_cli

DATA = 'data/demo'
WORK = 'work_dirs/demo'
BASELINE = 'configs/demo/baseline.py'
FINETUNE = 'configs/demo/finetune.py'
# A few test images for tools/detect.py (the demo's test names are uuids).
DETECT_SOURCE = DATA + '/test/images/[0-3]*.png'
# One of each picture the demo draws, below WORK, and its name in docs/demo.md's
# docs/ (--docs copies them there; of a folder, its first picture).
PICTURES = {
    'train_batch.png': 'demo_train_batch.png',
    'baseline/results.png': None,
    'finetune/results.png': 'demo_results.png',
    'val/PR_curve.png': 'demo_PR_curve.png',
    'val/F1_curve.png': 'demo_F1_curve.png',
    'val/P_curve.png': 'demo_P_curve.png',
    'val/R_curve.png': 'demo_R_curve.png',
    'val/confusion_matrix.png': 'demo_confusion_matrix.png',
    'show/': 'demo_prediction.png',
    'detect/': 'demo_detect.png',
}


def step(title: str, args) -> None:
    print(f'\n==> {title}\n    {" ".join(args)}', flush=True)
    if subprocess.run(args).returncode != 0:
        raise InputError(f'demo step failed: {title}')


def evaluate_on_val(config: str, checkpoint: str) -> dict:
    """COCO mAP of ``checkpoint`` on the val split, through the test loop."""
    from mmengine.runner import Runner

    import parkdet_mm  # noqa: F401
    from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
    from parkdet_mm.config import load_config
    flush_denormals_on_cpu()
    cfg = load_config(config)
    cfg.work_dir = osp.join(WORK, 'val')
    cfg.load_from = checkpoint
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    # PR_curve.png, F1_curve.png, P_curve.png, R_curve.png, confusion_matrix.png
    cfg.default_hooks.diagnostics.out_dir = cfg.work_dir
    return Runner.from_cfg(cfg).test()


def run_parking(python: str) -> dict:
    """The 2022 recipe's demo (see the module docstring); its summary."""
    step('demo data', [python, 'tools/make_demo_data.py', DATA])
    step('convert to COCO', [python, 'tools/prepare_data.py', '--data-root',
                             DATA, '--out-dir', DATA, '--val-size', '80'])
    step('a grid of augmented training inputs (mosaic, affine, HSV, flip)',
         [python, 'tools/browse_dataset.py', BASELINE, '--out',
          osp.join(WORK, 'train_batch.png')])
    step('train baseline, then finetune',
         ['bash', 'tools/train_pipeline.sh', BASELINE, FINETUNE])
    for stage in ('baseline', 'finetune'):
        step(f'training curves of the {stage}',
             [python, 'tools/plot_results.py', osp.join(WORK, stage)])
    final = final_checkpoint_of(FINETUNE)
    print('\n==> evaluate on val', flush=True)
    metrics = evaluate_on_val(FINETUNE, final)
    submission_dir = osp.join(WORK, 'submission')
    step('predict the test set (TTA) and write the capped submission',
         [python, 'tools/predict.py', FINETUNE, final, '--data-root', DATA,
          '--ann-dir', osp.join(DATA, 'annotations'), '--out-dir',
          submission_dir, '--batch-size', '8', '--show-dir',
          osp.join(WORK, 'show'), '--show-num', '4'])
    step('detect on a few test images',
         [python, 'tools/detect.py', FINETUNE, final, DETECT_SOURCE,
          '--out-dir', osp.join(WORK, 'detect')])
    step('export to ONNX (with NMS)',
         [python, 'tools/export_onnx.py', FINETUNE, final,
          osp.join(WORK, 'finetune.onnx'), '--nms'])

    submission = osp.join(submission_dir, 'submission.json')
    with open(submission) as f:
        kept = json.load(f)
    with open(osp.join(submission_dir, 'preds.json')) as f:
        total = len(json.load(f))
    prefix = 'challenge/'
    per_class_ap75 = {
        key[len(prefix):-len('_AP75')]: value
        for key, value in metrics.items() if key.endswith('_AP75')
    }
    summary = dict(
        val=dict(mAP=metrics[prefix + 'mAP'],
                 mAP_50=metrics[prefix + 'mAP_50'],
                 mAP_75=metrics[prefix + 'mAP_75'],
                 per_class_AP75=per_class_ap75),
        submission=submission,
        records_kept=len(kept),
        records_total=total,
        cutoff=min((r['score'] for r in kept), default=None),
        submission_bytes=os.path.getsize(submission),
        checkpoint=final,
        pictures=[p for p in PICTURES if osp.exists(osp.join(WORK, p))])
    print(f"pictures under {WORK}: {', '.join(summary['pictures'])}")
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


def val_as_test(data: str, work: str) -> str:
    """A folder whose test.json is the val split (tools/predict.py reads
    ANN_DIR/test.json; the class list comes along)."""
    folder = osp.join(work, 'val_as_test')
    os.makedirs(folder, exist_ok=True)
    annotations = osp.join(data, 'annotations')
    shutil.copyfile(osp.join(annotations, 'val.json'), osp.join(folder, 'test.json'))
    shutil.copyfile(osp.join(annotations, 'classes.json'),
                    osp.join(folder, 'classes.json'))
    return folder


def final_checkpoint_of(config: str) -> str:
    """The checkpoint a training config's last finished run ended with (the
    record its work dir holds, parkdet_mm.config.final_checkpoint_of)."""
    from parkdet_mm.config import final_checkpoint_of as recorded
    return recorded(config)


def run_inattention(python: str) -> dict:
    """The 2021 recipe's demo (see the module docstring); its summary."""
    data, work = RECIPES['2021']['data'], RECIPES['2021']['work']
    baseline_cfg, finetune_cfg = RECIPES['2021']['stages']
    step('2021-format demo data', [python, 'tools/make_demo_data.py', data,
                                   '--format', '2021', '--train', '400', '--test',
                                   '40'])
    step('convert: val split, diet subset, test list',
         [python, 'tools/prepare_data.py', '--data-root', data, '--out-dir', data,
          '--val-size', '80', '--no-plot'])
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
    submission = osp.join(submission_dir, 'submission.json')
    with open(submission) as f:
        entries = json.load(f)['annotations']
    return dict(
        val={name: {k: s[k] for k in ('mAP', 'mAP_50', 'mAP_75')}
             for name, s in scores.items()},
        submission=submission, submission_images=len(entries),
        submission_objects=sum(len(e['objects']) for e in entries),
        submission_bytes=os.path.getsize(submission),
        checkpoints=[baseline, finetune])


def run_coco(python: str) -> dict:
    """The recipe on a plain COCO data set (see the module docstring); its
    summary."""
    data, work = RECIPES['coco']['data'], RECIPES['coco']['work']
    (config, ) = RECIPES['coco']['stages']
    step('demo data as a plain COCO set (other class names and ids)',
         [python, 'tools/make_demo_data.py', data, '--format', 'coco'])
    step('convert: the COCO layout, classes from the data',
         [python, 'tools/prepare_data.py', '--data-root', data, '--out-dir', data,
          '--train-json', 'annotations/instances_train.json', '--images', 'images',
          '--test-json', 'annotations/instances_test.json', '--val-size', '80',
          '--no-plot'])
    step('train (from scratch)', [python, 'tools/train.py', config, '--resume'])
    final = final_checkpoint_of(config)
    scores = predict_scores('score on val (TTA)', config, [final], data,
                            val_as_test(data, work), osp.join(work, 'val'))
    submission_dir = osp.join(work, 'submission')
    step('predict the test set: COCO results with the data set\'s ids',
         [python, 'tools/predict.py', config, final, '--data-root', data,
          '--ann-dir', osp.join(data, 'annotations'), '--out-dir', submission_dir])
    # the test images' own boxes (instances_test.json) score the results
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    truth = COCO(osp.join(data, 'annotations', 'instances_test.json'))
    results = osp.join(submission_dir, 'submission.json')
    evaluation = COCOeval(truth, truth.loadRes(results), 'bbox')
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return dict(val={k: scores[k] for k in ('mAP', 'mAP_50', 'mAP_75')},
                test_by_pycocotools=dict(mAP=float(evaluation.stats[0]),
                                         mAP_50=float(evaluation.stats[1])),
                results=results, checkpoint=final)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--recipe', choices=tuple(RECIPES), default='2022',
                        help='which recipe on which data (default 2022)')
    parser.add_argument('--fresh', action='store_true',
                        help='delete earlier demo checkpoints and start over')
    parser.add_argument('--docs', metavar='DIR',
                        help="2022: at the end, copy one of each picture into DIR "
                        "under the names docs/demo.md shows (docs)")
    args = parser.parse_args()
    import torch
    recipe = RECIPES[args.recipe]
    start = time.time()
    if args.fresh and osp.isdir(recipe['work']):
        shutil.rmtree(recipe['work'])
    summary = recipe['run'](sys.executable)
    summary.update(recipe=args.recipe, torch_threads=torch.get_num_threads(),
                   minutes=round((time.time() - start) / 60, 1))
    path = osp.join(recipe['work'], 'summary.json')
    write_json_atomic(path, summary, indent=2)
    print(f'\n==> summary ({path})')
    print(json.dumps({k: v for k, v in summary.items()
                      if k not in ('pictures', 'checkpoints')}, indent=1))
    print(f"took {summary['minutes']} min with {summary['torch_threads']} torch "
          'threads')
    if args.docs and args.recipe == '2022':
        copy_pictures(args.docs)


def copy_pictures(docs: str) -> None:
    """Copy one of each picture in :data:`PICTURES` to ``docs`` under its name."""
    os.makedirs(docs, exist_ok=True)
    for source, name in PICTURES.items():
        path = osp.join(WORK, source)
        if source.endswith('/') and osp.isdir(path):
            pngs = sorted(f for f in os.listdir(path) if f.endswith('.png'))
            path = osp.join(path, pngs[0]) if pngs else path
        if name and osp.isfile(path):
            shutil.copyfile(path, osp.join(docs, name))
            print(f'copied {path} to {osp.join(docs, name)}')


# Each recipe: its data and work folders, its training configs, its run.
RECIPES = {
    '2022': dict(data=DATA, work=WORK, stages=(BASELINE, FINETUNE), run=run_parking),
    '2021': dict(data='data/demo2021', work='work_dirs/demo2021',
                 stages=('configs/challenge2021/demo/baseline.py',
                         'configs/challenge2021/demo/finetune.py'), run=run_inattention),
    'coco': dict(data='data/demo_coco', work='work_dirs/coco/demo',
                 stages=('configs/coco/demo.py', ), run=run_coco),
}


if __name__ == '__main__':
    run_cli(main)

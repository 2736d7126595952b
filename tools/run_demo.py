"""`make demo`: the whole pipeline on the synthetic demo data set, on a CPU.

Steps: make the demo data (tools/make_demo_data.py), convert it
(tools/prepare_data.py), draw a grid of augmented training inputs
(tools/browse_dataset.py), train the demo baseline then the demo finetune
(tools/train_pipeline.sh, which resumes an interrupted stage), draw each stage's
training curves (tools/plot_results.py), evaluate the final checkpoint on val (with
the PR/F1/P/R curves and the confusion matrix), predict the test set with TTA and
write the capped submission (tools/predict.py), detect on a few test images
(tools/detect.py) and export the model to ONNX (tools/export_onnx.py). Ends with a
summary, also written to work_dirs/demo/summary.json; every picture is under
work_dirs/demo (listed in the summary).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

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
    import parkdet_mm  # noqa: F401
    from mmengine.runner import Runner

    from parkdet_mm.config import load_config
    from parkdet_mm.utils import flush_denormals_on_cpu
    flush_denormals_on_cpu()
    cfg = load_config(config)
    cfg.work_dir = osp.join(WORK, 'val')
    cfg.load_from = checkpoint
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    # PR_curve.png, F1_curve.png, P_curve.png, R_curve.png, confusion_matrix.png
    cfg.default_hooks.diagnostics.out_dir = cfg.work_dir
    return Runner.from_cfg(cfg).test()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fresh', action='store_true',
                        help='delete earlier demo checkpoints and start over')
    parser.add_argument('--docs', metavar='DIR',
                        help="at the end, copy one of each picture into DIR under "
                        "the names docs/demo.md shows (docs)")
    args = parser.parse_args()
    python = sys.executable
    start = time.time()
    if args.fresh and osp.isdir(WORK):
        import shutil
        shutil.rmtree(WORK)

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
    final = subprocess.run([python, 'tools/stage_status.py', FINETUNE],
                           capture_output=True, text=True,
                           check=True).stdout.strip()
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
        pictures=[p for p in PICTURES if osp.exists(osp.join(WORK, p))],
        minutes=round((time.time() - start) / 60, 1))
    write_json_atomic(osp.join(WORK, 'summary.json'), summary, indent=2)

    print('\n==> summary (work_dirs/demo/summary.json)')
    print(f"val mAP {summary['val']['mAP']:.3f}  mAP@.5 "
          f"{summary['val']['mAP_50']:.3f}  mAP@.75 {summary['val']['mAP_75']:.3f}")
    print('per-class AP@.75: ' + ', '.join(
        f'{name} {ap:.3f}' for name, ap in per_class_ap75.items()))
    print(f"submission {submission}: {summary['records_kept']} of "
          f"{summary['records_total']} records kept, cut-off "
          f"{summary['cutoff']}, {summary['submission_bytes']} bytes")
    print(f"pictures under {WORK}: {', '.join(summary['pictures'])}")
    print(f"took {summary['minutes']} min")
    if args.docs:
        copy_pictures(args.docs)


def copy_pictures(docs: str) -> None:
    """Copy one of each picture in :data:`PICTURES` to ``docs`` under its name."""
    import shutil
    os.makedirs(docs, exist_ok=True)
    for source, name in PICTURES.items():
        path = osp.join(WORK, source)
        if source.endswith('/') and osp.isdir(path):
            pngs = sorted(f for f in os.listdir(path) if f.endswith('.png'))
            path = osp.join(path, pngs[0]) if pngs else path
        if name and osp.isfile(path):
            shutil.copyfile(path, osp.join(docs, name))
            print(f'copied {path} to {osp.join(docs, name)}')


if __name__ == '__main__':
    run_cli(main)

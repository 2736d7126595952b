"""`make demo2021`: the 2021 recipe end to end on synthetic 2021-format data, on a CPU.

Steps: make the demo data in the 2021 challenge's layout (tools/make_demo_data.py
--format 2021), convert it (tools/prepare_data.py: val split, diet subset, listed test
images), train the demo baseline (from scratch, on the diet) then the demo finetune
(frozen layers, full split) through tools/train_pipeline.sh (resumable), score the
baseline, the finetune and their NMS ensemble (YOLOv5's Ensemble, TTA on) on val,
and write the 2021-format submission of the test set with the ensemble. Ends with a
summary, also written to work_dirs/demo2021/summary.json.
"""
import argparse
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from typing import Dict, List

from parkdet_challenge.atomic import write_json_atomic
from parkdet_challenge.cli import InputError, run_cli

DATA = 'data/demo2021'
WORK = 'work_dirs/demo2021'
BASELINE = 'configs/challenge2021/demo/baseline.py'
FINETUNE = 'configs/challenge2021/demo/finetune.py'
_SCORES = re.compile(r'mAP ([\d.]+)  mAP@\.5 ([\d.]+)  mAP@\.75 ([\d.]+)')


def step(title: str, args: List[str], capture: bool = False) -> str:
    print(f'\n==> {title}\n    {" ".join(args)}', flush=True)
    proc = subprocess.run(args, stdout=subprocess.PIPE if capture else None, text=True)
    if capture:
        print(proc.stdout, end='', flush=True)
    if proc.returncode != 0:
        raise InputError(f'demo step failed: {title}')
    return proc.stdout or ''


def final_checkpoint(config: str) -> str:
    out = subprocess.run([sys.executable, 'tools/stage_status.py', config],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def predict(title: str, checkpoints: List[str], ann_dir: str, out_dir: str,
            ensemble: str = 'nms') -> str:
    return step(title, [sys.executable, 'tools/predict.py', FINETUNE, *checkpoints,
                        '--data-root', DATA, '--ann-dir', ann_dir, '--out-dir', out_dir,
                        '--ensemble', ensemble], capture=True)


def val_scores(title: str, checkpoints: List[str], val_dir: str) -> Dict[str, float]:
    """mAP, mAP@.5, mAP@.75 on val, as tools/predict.py prints them."""
    out = predict(title, checkpoints, val_dir, osp.join(WORK, 'val', title.split()[0]))
    found = _SCORES.search(out)
    if found is None:
        raise InputError(f'demo step {title}: predict.py printed no scores')
    return dict(zip(('mAP', 'mAP_50', 'mAP_75'), map(float, found.groups())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fresh', action='store_true',
                        help='delete earlier 2021 demo checkpoints and start over')
    args = parser.parse_args()
    python = sys.executable
    start = time.time()
    if args.fresh and osp.isdir(WORK):
        shutil.rmtree(WORK)

    step('2021-format demo data', [python, 'tools/make_demo_data.py', DATA,
                                   '--format', '2021', '--train', '400', '--test', '40'])
    step('convert: val split, diet subset, test list',
         [python, 'tools/prepare_data.py', '--data-root', DATA, '--out-dir', DATA,
          '--val-size', '80', '--no-plot'])
    step('train the baseline (diet, from scratch), then the frozen finetune',
         ['bash', 'tools/train_pipeline.sh', BASELINE, FINETUNE])
    baseline, finetune = final_checkpoint(BASELINE), final_checkpoint(FINETUNE)

    # predict.py reads ANN_DIR/test.json: val.json under that name scores the val set.
    val_dir = osp.join(WORK, 'val_as_test')
    os.makedirs(val_dir, exist_ok=True)
    shutil.copyfile(osp.join(DATA, 'annotations', 'val.json'),
                    osp.join(val_dir, 'test.json'))
    scores = {
        'baseline': val_scores('baseline on val (TTA)', [baseline], val_dir),
        'finetune': val_scores('finetune on val (TTA)', [finetune], val_dir),
        'ensemble_nms': val_scores('ensemble (NMS) on val (TTA)',
                                   [baseline, finetune], val_dir),
    }
    submission_dir = osp.join(WORK, 'submission')
    predict('predict the test set: NMS ensemble, TTA, 2021 submission',
            [baseline, finetune], osp.join(DATA, 'annotations'), submission_dir)
    submission = osp.join(submission_dir, 'submission.json')
    with open(submission) as f:
        entries = json.load(f)['annotations']
    summary = dict(
        val=scores,
        submission=submission,
        submission_images=len(entries),
        submission_objects=sum(len(e['objects']) for e in entries),
        submission_bytes=os.path.getsize(submission),
        checkpoints=[baseline, finetune],
        minutes=round((time.time() - start) / 60, 1))
    write_json_atomic(osp.join(WORK, 'summary.json'), summary, indent=2)

    print(f'\n==> summary ({WORK}/summary.json)')
    for name, s in scores.items():
        print(f"val {name:13s} mAP {s['mAP']:.3f}  mAP@.5 {s['mAP_50']:.3f}  "
              f"mAP@.75 {s['mAP_75']:.3f}")
    print(f"submission {submission}: {summary['submission_images']} images, "
          f"{summary['submission_objects']} objects, "
          f"{summary['submission_bytes']} bytes")
    print(f"took {summary['minutes']} min")


if __name__ == '__main__':
    run_cli(main)

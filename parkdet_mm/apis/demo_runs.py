"""What ``tools/run_demo.py`` reads and writes around the tools it runs: a demo's
folders and stage configs (:class:`Demo`, one per seed or data draw), its scores
(the val evaluation, a training's logged validation, pycocotools on the COCO
demo's test boxes) and the 2022 demo's summary.

The tool runs the recipe's steps (the project's tools, one process each); this
module holds the rest, so that the command stays a list of steps.
"""
import json
import os
import os.path as osp
import shutil
from dataclasses import dataclass, replace
from typing import Dict, List, Tuple

from parkdet_challenge.errors import InputError
from parkdet_mm.config import final_checkpoint_of

#: One of each picture the demo draws, below WORK, and its name in docs/demo.md's
#: docs/ (``--docs`` copies them there; of a folder, its first picture).
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


@dataclass(frozen=True)
class Demo:
    """One run of a recipe's demo: its data, work folder and training configs
    (in order; each after the first starts from the one before)."""
    recipe: str
    data: str
    work: str
    stages: Tuple[str, ...]
    #: the demo data generator's seed (tools/make_demo_data.py --seed)
    data_seed: int = 0


def work_dir_of(config: str) -> str:
    """The work dir of a training config (its final checkpoint's folder)."""
    return osp.dirname(final_checkpoint_of(config))


def evaluate_on_val(demo: Demo, config: str, checkpoint: str) -> dict:
    """COCO mAP of ``checkpoint`` on the val split, through the test loop; the
    PR, F1, P and R curves and the confusion matrix drawn in WORK/val."""
    from mmengine.runner import Runner

    import parkdet_mm  # noqa: F401
    from parkdet_mm.apis.run_setup import flush_denormals_on_cpu
    from parkdet_mm.config import load_config
    flush_denormals_on_cpu()
    cfg = load_config(config)
    cfg.work_dir = osp.join(demo.work, 'val')
    cfg.load_from = checkpoint
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    # PR_curve.png, F1_curve.png, P_curve.png, R_curve.png, confusion_matrix.png
    cfg.default_hooks.diagnostics.out_dir = cfg.work_dir
    return Runner.from_cfg(cfg).test()


def logged_val(work_dir: str) -> Dict[str, float]:
    """The val mAP@.5, mAP and mAP@.75 a training logged after its last epoch
    (MMEngine's scalar logs in its work dir)."""
    from parkdet_mm.visualization.training_curves import read_scalars
    _, val = read_scalars(work_dir)
    last = next((r for r in reversed(val) if 'challenge/mAP_50' in r), None)
    if last is None:
        raise InputError(f'{work_dir}: the training logged no validation')
    return {key: last[f'challenge/{key}'] for key in ('mAP', 'mAP_50', 'mAP_75')}


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


def parking_summary(demo: Demo, metrics: dict, submission_dir: str,
                    final: str) -> dict:
    """The 2022 demo's summary: the final checkpoint's val scores (``metrics``,
    :func:`evaluate_on_val`'s), each stage's own last validation, what the capped
    submission in ``submission_dir`` kept of the predictions, and the pictures
    drawn."""
    work = demo.work
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
    return dict(
        val=dict(mAP=metrics[prefix + 'mAP'],
                 mAP_50=metrics[prefix + 'mAP_50'],
                 mAP_75=metrics[prefix + 'mAP_75'],
                 per_class_AP75=per_class_ap75),
        # each stage's own validation after its last epoch
        stages={stage: logged_val(work_dir_of(config))
                for stage, config in zip(('baseline', 'finetune'), demo.stages)},
        submission=submission,
        records_kept=len(kept),
        records_total=total,
        cutoff=min((r['score'] for r in kept), default=None),
        submission_bytes=os.path.getsize(submission),
        checkpoint=final,
        pictures=[p for p in PICTURES if osp.exists(osp.join(work, p))])


def inattention_submission_counts(submission: str) -> dict:
    """A 2021-format submission's images and objects, and its size."""
    with open(submission) as f:
        entries = json.load(f)['annotations']
    return dict(submission=submission, submission_images=len(entries),
                submission_objects=sum(len(e['objects']) for e in entries),
                submission_bytes=os.path.getsize(submission))


def coco_test_scores(truth_file: str, results: str) -> Dict[str, float]:
    """pycocotools' mAP and mAP@.5 of the COCO results file ``results`` against
    the boxes of ``truth_file`` (its summary printed)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    truth = COCO(truth_file)
    evaluation = COCOeval(truth, truth.loadRes(results), 'bbox')
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return dict(mAP=float(evaluation.stats[0]), mAP_50=float(evaluation.stats[1]))


def child_configs(demo: Demo, work: str, fresh: bool, **primaries) -> Demo:
    """``demo`` in the work dir ``work`` (emptied first when ``fresh``): a child
    config per stage (these primaries, the stage's work dir there, and the stage
    before as the one it starts from), written into WORK/configs."""
    if fresh and osp.isdir(work):
        shutil.rmtree(work)
    folder = osp.join(work, 'configs')
    os.makedirs(folder, exist_ok=True)
    stages: List[str] = []
    for config in demo.stages:
        name = osp.splitext(osp.basename(config))[0]
        lines = [f'_base_ = {osp.abspath(config)!r}',
                 *(f'{key} = {value!r}' for key, value in primaries.items()),
                 f'work_dir = {osp.join(work, name)!r}']
        if stages:  # load_from follows: that stage's final checkpoint
            lines.append(f'previous_stage = {stages[-1]!r}')
        child = osp.join(folder, f'{name}.py')
        with open(child, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        stages.append(child)
    return replace(demo, work=work, stages=tuple(stages))


def seed_demo(demo: Demo, seed: int) -> Demo:
    """``demo`` at ``seed`` (the config's ``seed`` primary) in the fresh work
    dir WORK/seedS."""
    return child_configs(demo, osp.join(demo.work, f'seed{seed}'), True,
                         seed=seed)


def data_seed_demo(demo: Demo, data_seed: int, fresh: bool) -> Demo:
    """``demo`` on the demo generator's data at ``data_seed`` (DATA_seedN), a
    draw no setting was tuned to, in WORK_data_seedN."""
    data = f'{demo.data}_seed{data_seed}'
    return replace(child_configs(demo, f'{demo.work}_data_seed{data_seed}', fresh,
                                 data_root=data + '/'),
                   data=data, data_seed=data_seed)


def copy_pictures(work: str, docs: str) -> None:
    """Copy one of each picture in :data:`PICTURES` under ``work`` to ``docs``
    under its name."""
    os.makedirs(docs, exist_ok=True)
    for source, name in PICTURES.items():
        path = osp.join(work, source)
        if source.endswith('/') and osp.isdir(path):
            pngs = sorted(f for f in os.listdir(path) if f.endswith('.png'))
            path = osp.join(path, pngs[0]) if pngs else path
        if name and osp.isfile(path):
            shutil.copyfile(path, osp.join(docs, name))
            print(f'copied {path} to {osp.join(docs, name)}')

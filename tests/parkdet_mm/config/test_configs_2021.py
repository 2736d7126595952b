"""Every docs/reference.md section 9 value, read back from configs/challenge2021/."""
from typing import Optional

import pytest
from conftest import REPO
from helpers.recipe_hyps import read_hyps
from mmengine.config import Config

from parkdet_challenge.formats.inattention2021 import CLASSES as CLASSES_2021
from parkdet_mm.config import load_config

# docs/reference.md section 9 in YOLOv5's names: hyp.scratch-p6 as the team shipped it, and
# hyp.finetune-simple (2022's hyp.finetune with hsv_v, scale and mosaic 0).
REFERENCE_HYPS = {
    'scratch-p6': dict(
        lr0=0.01, lrf=0.2, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
        warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.3, cls_pw=1.0,
        obj=0.7, obj_pw=1.0, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.0, hsv_s=0.0,
        hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.9, shear=0.0,
        perspective=0.0, flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0),
    'finetune-simple': dict(
        lr0=0.0032, lrf=0.12, momentum=0.843, weight_decay=0.00036,
        warmup_epochs=2.0, warmup_momentum=0.5, warmup_bias_lr=0.05, box=0.0296,
        cls=0.243, cls_pw=0.631, obj=0.301, obj_pw=0.911, anchor_t=2.91,
        fl_gamma=0.0, hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, degrees=0.0, translate=0.1,
        scale=0.0, shear=0.0, perspective=0.0, flipud=0.0, fliplr=0.5, mosaic=0.0,
        mixup=0.0),
}
REFERENCE_STAGES = {
    'baseline': dict(hyps='scratch-p6', epochs=300, epoch_parts=15,
                     train_ann='annotations/train_diet.json', load_from=None),
    'finetune': dict(hyps='finetune-simple', epochs=50, epoch_parts=50,
                     train_ann='annotations/train.json',
                     load_from='work_dirs/challenge2021/baseline/epoch_300.pth'),
}
# docs/reference.md section 4's P6 anchors, which v5.0's yolov5l6.yaml shares (section 9).
P6_ANCHORS = [[(19, 27), (44, 40), (38, 94)], [(96, 68), (86, 152), (180, 137)],
              [(140, 301), (303, 264), (238, 542)],
              [(436, 615), (739, 380), (925, 792)]]
# The reference's freeze list with its missing comma: '6' '7' -> '67'.
REFERENCE_FROZEN = [1, 2, 3, 4, 5, 67, 8, 9, 10, 11]


def load(stage: str) -> Config:
    return load_config(str(REPO / f'configs/challenge2021/{stage}.py'))


def find(cfg: Config, name: str) -> Optional[dict]:
    """The training transform whose type ends with ``name`` (subclasses keep it)."""
    found = [t for t in cfg.train_dataloader.dataset.pipeline
             if t['type'].endswith(name)]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.parametrize('stage, hyps_name', [
    ('demo/baseline', 'scratch-p6'),
    # the demo fine-tunes with the baseline's hyper-parameters (the reference's
    # lowered the baseline's score on the demo data; its config says why)
    ('demo/finetune', 'scratch-p6'),
])
def test_the_demos_hyper_parameters(stage: str, hyps_name: str) -> None:
    # the demos' own class loss gain (configs/demo/baseline.py says why)
    hyps, spec = read_hyps(load(stage)), dict(REFERENCE_HYPS[hyps_name], cls=2.0)
    assert {name: hyps[name] for name in spec} == pytest.approx(spec)
    assert load(stage).frozen_layers == (REFERENCE_FROZEN if 'finetune' in stage
                                         else None)


@pytest.mark.parametrize('stage', sorted(REFERENCE_STAGES))
def test_hyper_parameters_are_speced(stage: str) -> None:
    hyps, spec = read_hyps(load(stage)), REFERENCE_HYPS[REFERENCE_STAGES[stage]['hyps']]
    assert {name: hyps[name] for name in spec} == pytest.approx(spec)


@pytest.mark.parametrize('stage', sorted(REFERENCE_STAGES))
def test_stage_values(stage: str) -> None:
    spec, cfg = REFERENCE_STAGES[stage], load(stage)
    assert cfg.train_cfg.max_epochs == spec['epochs']
    assert cfg.default_hooks.param_scheduler.max_epochs == spec['epochs']
    # validated once, after the last epoch
    assert cfg.train_cfg.val_interval == spec['epochs']
    assert cfg.train_dataloader.sampler.parts == spec['epoch_parts']
    assert cfg.train_dataloader.dataset.ann_file == spec['train_ann']
    assert cfg.load_from == spec['load_from']
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.img_scale == (1280, 1280)
    # v5.0's loop: cosine lf, max(3 epochs, 1000 iterations) of warmup, nominal
    # batch 64 stepping at multiples of accumulate, warmup_bias_lr on its third
    # group (the biases).
    scheduler = cfg.default_hooks.param_scheduler
    assert scheduler.scheduler_type == 'cosine'
    assert scheduler.warmup_min_iters == 1000
    assert scheduler.warmup_bias_lr_group == 'bias'
    assert cfg.optim_wrapper.nominal_batch_size == 64
    assert cfg.optim_wrapper.step_rule == 'multiple_of_accumulate'
    # no image weights
    assert [h['type'] for h in cfg.custom_hooks if 'ClassBalance' in h['type']] == []
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/val.json'


@pytest.mark.parametrize('stage', sorted(REFERENCE_STAGES))
def test_model_is_v50_l6_for_the_seven_classes(stage: str) -> None:
    cfg = load(stage)
    model = cfg.model
    assert model.backbone.type == 'YOLOv5V50CSPDarknet'
    assert model.backbone.arch == 'P6'
    for part in (model.backbone, model.neck):
        assert (part.deepen_factor, part.widen_factor) == (1.0, 1.0)
    assert model.bbox_head.head_module.num_classes == 7
    assert tuple(cfg.metainfo['classes']) == CLASSES_2021
    assert [[tuple(a) for a in level]
            for level in model.bbox_head.prior_generator.base_sizes] == P6_ANCHORS
    assert model.bbox_head.prior_generator.strides == [8, 16, 32, 64]


def test_finetune_freezes_exactly_the_references_layers() -> None:
    hooks = [h for h in load('finetune').custom_hooks if h['type'] == 'FreezeLayersHook']
    assert len(hooks) == 1 and hooks[0]['layers'] == REFERENCE_FROZEN
    assert not [h for h in load('baseline').custom_hooks
                if h['type'] == 'FreezeLayersHook']


def test_finetune_without_mosaic_trains_on_one_letterboxed_image() -> None:
    cfg = load('finetune')
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert not any(t.endswith('Mosaic') for t in types)
    resize = find(cfg, 'KeepRatioResize')
    letter = find(cfg, 'LetterResize')
    assert resize['scale'] == letter['scale'] == (1280, 1280)
    assert types.index(resize['type']) < types.index(letter['type'])
    affine = find(cfg, 'RandomAffineWarp') or find(cfg, 'RandomAffine')
    assert tuple(affine['border']) == (0, 0)


@pytest.mark.parametrize('stage', sorted(REFERENCE_STAGES))
def test_predict_defaults(stage: str) -> None:
    cfg = load(stage)
    test_cfg = cfg.model.test_cfg
    assert cfg.test_img_scale == (1536, 1536)
    assert test_cfg.score_thr == 0.006
    assert test_cfg.nms.iou_threshold == 0.7
    assert test_cfg.multi_label is True
    assert test_cfg.max_per_img == 300
    assert cfg.test_dataloader.batch_size == 4
    assert cfg.test_dataloader.dataset.batch_shapes_cfg.batch_size == 4  # rect batches
    assert all(t['scale'] == (1536, 1536) for t in cfg.test_dataloader.dataset.pipeline
               if 'scale' in t)
    assert cfg.predict_ensemble == 'nms'
    assert cfg.test_evaluator.data_format == 'inattention2021'


def test_fold_is_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('FOLD', '3')
    base, fine = load('baseline'), load('finetune')
    assert base.fold == fine.fold == 3
    assert base.train_dataloader.dataset.ann_file == 'annotations/fold3/train_diet.json'
    assert fine.train_dataloader.dataset.ann_file == 'annotations/fold3/train.json'
    for cfg in (base, fine):
        assert cfg.val_dataloader.dataset.ann_file == 'annotations/fold3/val.json'
        assert cfg.test_dataloader.dataset.ann_file == 'annotations/test.json'
    assert base.work_dir == 'work_dirs/challenge2021/baseline_fold3'
    assert fine.work_dir == 'work_dirs/challenge2021/finetune_fold3'
    assert fine.load_from == 'work_dirs/challenge2021/baseline_fold3/epoch_300.pth'

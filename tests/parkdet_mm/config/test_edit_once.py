"""Edit once: a primary set in a child config, by --cfg-options or by a tools/train.py
flag reaches everything derived from it, in the built runner and in a real run."""
import json
import math
import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO, assert_one_line_error, draw_tiny_splits, run_tool, write_tiny_config
from helpers.train_flags import config_from_train_flags

from parkdet_mm.config import final_checkpoint, load_config

DEMO = str(REPO / 'configs/demo/baseline.py')
# The eleven edits of a child of configs/demo/baseline.py, as a new user makes them.
EDITS = dict(img_scale=(320, 320), max_epochs=3, train_batch_size_per_gpu=4,
             epoch_parts=4, base_lr=0.02, loss_obj_weight=0.7, loss_bbox_weight=0.04,
             affine_scale=0.2, hsv_v=0.1, warmup_epochs=0.0, warmup_min_iters=5)
# docs/reference.md section 5's hyp.scratch-low in YOLOv5's layout (all its keys).
SCRATCH_LOW = dict(
    lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005, warmup_epochs=3.0,
    warmup_momentum=0.8, warmup_bias_lr=0.1, box=0.05, cls=0.5, cls_pw=1.0,
    obj=1.0, obj_pw=1.0, iou_t=0.2, anchor_t=4.0, fl_gamma=0.0, hsv_h=0.015,
    hsv_s=0.7, hsv_v=0.4, degrees=0.0, translate=0.1, scale=0.5, shear=0.0,
    perspective=0.0, flipud=0.0, fliplr=0.5, mosaic=1.0, mixup=0.0, copy_paste=0.0)
FINETUNE = dict(
    SCRATCH_LOW, lr0=0.0032, lrf=0.12, momentum=0.843, weight_decay=0.00036,
    warmup_epochs=2.0, warmup_momentum=0.5, warmup_bias_lr=0.05, box=0.0296,
    cls=0.243, cls_pw=0.631, obj=0.301, obj_pw=0.911, anchor_t=2.91, hsv_h=0.0,
    hsv_s=0.0, scale=0.9)
# The demo's hyper-parameters (hyp.scratch-low with its class gain, 2.0) with the eleven
# edits': what `--hyp FILE` reads.
DEMO_CLS = 2.0
EDITED_HYP = dict(SCRATCH_LOW, cls=DEMO_CLS, lr0=0.02, obj=0.7, box=0.04, scale=0.2,
                  hsv_v=0.1, warmup_epochs=0.0)


def yolov5_loss_gains(hyp: dict, nc: int, nl: int, imgsz: int) -> dict:
    """YOLOv5 v6.1 train.py's scaling of the loss gains, transcribed."""
    hyp = dict(hyp)
    hyp['box'] *= 3 / nl  # scale to layers
    hyp['cls'] *= nc / 80 * 3 / nl  # scale to classes and layers
    hyp['obj'] *= (imgsz / 640) ** 2 * 3 / nl  # scale to image size and layers
    return hyp


def write_hyp(path: Path, hyp: dict) -> str:
    path.write_text(yaml.safe_dump(hyp, sort_keys=False))
    return str(path)


def assert_dumped_config_is_final(work: Path, img_scale, max_epochs) -> None:
    """The config the run dumped into its work dir holds final values only."""
    from mmengine.config import Config
    dumped = work / 'tiny.py'
    assert '${' not in dumped.read_text()
    cfg = Config.fromfile(str(dumped), import_custom_modules=False)
    assert (cfg.img_scale, cfg.train_cfg.max_epochs) == (img_scale, max_epochs)
    mosaic = cfg.train_dataloader.dataset.pipeline[2]
    assert tuple(mosaic.img_scale) == img_scale






@pytest.fixture(scope='module')
def data_48(tmp_path_factory) -> Path:
    """48 training images: 4 epoch parts of 12, three 4-image batches each."""
    return draw_tiny_splits(tmp_path_factory.mktemp('data_48'), train=48)


def edited_config(way: str, tmp_path: Path, data: Path, monkeypatch):
    if way == 'child config':
        child = tmp_path / 'child.py'
        child.write_text(f'_base_ = {DEMO!r}\n' + ''.join(
            f'{key} = {value!r}\n' for key, value in EDITS.items()))
        return load_config(str(child), None, dict(data_root=str(data)))
    if way == '--cfg-options':
        return load_config(DEMO, dict(EDITS, data_root=str(data)))
    assert way == 'flags'
    return config_from_train_flags(monkeypatch, [
        DEMO, '--epochs', '3', '--img-size', '320', '--batch-size', '4',
        '--hyp', write_hyp(tmp_path / 'hyp.yaml', EDITED_HYP), '--data-root',
        str(data), '--cfg-options', 'epoch_parts=4', 'warmup_min_iters=5'])


@pytest.mark.parametrize('way', ['child config', '--cfg-options', 'flags'])
def test_the_eleven_edits_reach_the_built_runner(way, tmp_path, data_48,
                                                monkeypatch):
    from parkdet_mm.engine import DerivingRunner
    cfg = edited_config(way, tmp_path, data_48, monkeypatch)
    cfg.work_dir = str(tmp_path / 'work')
    runner = DerivingRunner.from_cfg(cfg)

    head = runner.model.bbox_head
    gains = yolov5_loss_gains(dict(box=0.04, cls=DEMO_CLS, obj=0.7), nc=14, nl=4,
                              imgsz=320)
    assert head.loss_bbox.loss_weight == gains['box']
    assert head.loss_cls.loss_weight == gains['cls']
    assert head.loss_obj.loss_weight == gains['obj']
    # the demo's anchors follow its image size
    assert runner.model.bbox_head.prior_generator.base_sizes[0][0] == \
        (round(19 * 320 / 1280), round(27 * 320 / 1280))

    loop = runner.build_train_loop(cfg.train_cfg)
    assert (loop.max_epochs, loop.val_interval) == (3, 3)
    loader = loop.dataloader
    assert loader.batch_size == 4 and loader.sampler.parts == 4
    transforms = {type(t).__name__: t for t in loader.dataset.pipeline.transforms}
    assert transforms['WeightedMosaic'].img_scale == (320, 320)
    affine = transforms['YOLOv5RandomAffineWarp']
    assert affine.scaling_ratio_range == pytest.approx((0.8, 1.2))
    assert tuple(affine.border) == (-160, -160)
    assert transforms['YOLOv5HSVRandomAug'].value_delta == 0.1

    # rectangular validation batches shaped for 320: 96x64 images, long side
    # ceil(320 / 64 + 0.5) x 64
    val = runner.build_dataloader(cfg.val_dataloader).dataset
    assert {tuple(val.get_data_info(i)['batch_shape']) for i in range(len(val))} \
        == {(math.ceil(64 / 96 * 320 / 64 + 0.5) * 64,
             math.ceil(320 / 64 + 0.5) * 64)}

    scheduler = next(h for h in runner.hooks
                     if type(h).__name__ == 'YOLOv5LoopSchedulerHook')
    # lf over 3 epochs: linear from 1 to lrf
    assert scheduler.scheduler_fn(2) == pytest.approx((1 - 2 / 3) * 0.99 + 0.01)
    assert (scheduler.warmup_epochs, scheduler.warmup_mim_iter) == (0.0, 5)
    optimizer = runner.build_optim_wrapper(cfg.optim_wrapper).optimizer
    assert {group['lr'] for group in optimizer.param_groups} == {0.02}
    assert final_checkpoint(cfg) == str(tmp_path / 'work' / 'epoch_3.pth')


def test_a_real_run_follows_the_edits_made_with_flags(tmp_path, data_48):
    """The issue's command: 4-image batches at 320 x 320 for exactly 3 epochs,
    validated after the last on batches shaped for 320, at lr0 x lf(2) in the last
    epoch; the dumped config holds the final values."""
    config = write_tiny_config(tmp_path / 'tiny.py', data_48)
    with config.open('a') as f:
        f.write("custom_imports = dict(imports=['parkdet_mm', 'loop_recorder'])\n"
                "extra_hooks = [dict(type='LoopRecorderHook'), "
                "dict(type='BatchRecorderHook')]\n"
                "val_dataloader = dict(dataset=dict(batch_shapes_cfg=dict("
                "type='BatchShapePolicy', extra_pad_ratio=0.5)))\n")
    work = tmp_path / 'work'
    hyp = write_hyp(tmp_path / 'hyp.yaml', EDITED_HYP)
    env_path = os.environ.get('PYTHONPATH')
    os.environ['PYTHONPATH'] = os.pathsep.join(
        filter(None, [str(REPO), str(REPO / 'tests'), env_path]))
    try:
        proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                         '--epochs', '3', '--img-size', '320', '--batch-size', '4',
                         '--hyp', hyp, '--cfg-options', 'epoch_parts=4',
                         'warmup_min_iters=5'])
    finally:
        if env_path is None:
            del os.environ['PYTHONPATH']
        else:
            os.environ['PYTHONPATH'] = env_path
    assert 'iou_t 0.2: no counterpart' in proc.stdout

    batches = [json.loads(line) for line in (work / 'batches.jsonl').open()]
    train = [b for b in batches if b['mode'] == 'train']
    assert {b['epoch'] for b in train} == {0, 1, 2}
    assert all(b['shapes'] == [[3, 320, 320]] * 4 for b in train)
    assert len(train) == 3 * 3  # 48 / 4 parts / 4 per batch, 3 epochs
    val = [b for b in batches if b['mode'] == 'val']
    assert val and {b['epoch'] for b in val} == {3}
    assert {tuple(s) for b in val for s in b['shapes']} == {(3, 256, 384)}

    def lf(x, epochs=3, lrf=0.01):
        return (1 - x / epochs) * (1 - lrf) + lrf
    loop = [json.loads(line) for line in (work / 'loop_rank0.jsonl').open()]
    last_epoch = [r for r in loop if r['epoch'] == 2]
    assert last_epoch and all(
        r['lr'][group] == pytest.approx(0.02 * lf(2))
        for r in last_epoch for group in r['lr'])
    assert (work / 'epoch_3.pth').is_file()

    assert_dumped_config_is_final(work, img_scale=(320, 320), max_epochs=3)


@pytest.mark.parametrize('hyp, stage, other', [
    (SCRATCH_LOW, 'configs/baseline.py', 'configs/finetune.py'),
    (FINETUNE, 'configs/finetune.py', 'configs/baseline.py'),
])
def test_a_yolov5_hyp_file_gives_the_stage_configs_runner(hyp, stage, other,
                                                         tmp_path, monkeypatch):
    """--hyp with YOLOv5's own values turns the other stage's config into this
    stage's in everything the hyper-parameters drive."""
    hyp_file = write_hyp(tmp_path / 'hyp.yaml', hyp)
    from_hyp = config_from_train_flags(monkeypatch, [str(REPO / other),
                                                     '--hyp', hyp_file])
    wanted = load_config(str(REPO / stage))
    for key in ('model', 'optim_wrapper'):
        assert from_hyp[key] == wanted[key], key
    assert from_hyp.train_dataloader.dataset.pipeline == \
        wanted.train_dataloader.dataset.pipeline
    scheduler = dict(from_hyp.default_hooks.param_scheduler)
    assert scheduler.pop('max_epochs') != wanted.default_hooks.param_scheduler.max_epochs
    assert scheduler == {k: v for k, v in wanted.default_hooks.param_scheduler.items()
                         if k != 'max_epochs'}


@pytest.mark.parametrize('argv, message', [
    (['--img-size', '300'], 'img_scale = (300, 300): must be (width, height), '
     'two whole multiples of 64'),
    (['--epochs', '0'], 'max_epochs = 0: must be a whole number > 0'),
    (['--batch-size', '-1'], 'train_batch_size_per_gpu = -1'),
    (['--cfg-options', 'base_lr=fast'], "base_lr = 'fast': must be a number > 0"),
    (['--cfg-options', 'base_lrr=0.02'], '--cfg-options base_lrr: the config has '
     'no such key (did you mean base_lr?)'),
    (['--hyp', 'HYP'], 'lr00 is not a YOLOv5 hyperparameter'),
])
def test_a_bad_primary_stops_train_before_any_work(argv, message, tmp_path,
                                                   tiny_coco):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    hyp = write_hyp(tmp_path / 'bad.yaml', dict(lr00=0.01))
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     *[hyp if a == 'HYP' else a for a in argv]], check=False)
    assert_one_line_error(proc, message)
    assert not work.exists()


def test_mmyolos_own_train_tool_derives_the_values(tmp_path, tiny_coco):
    """MMYOLO's tools/train.py builds the runner the config names (DerivingRunner),
    so its --cfg-options reach the derived values too."""
    import mmyolo
    mmyolo_train = Path(mmyolo.__file__).parent / '.mim/tools/train.py'
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=2)
    work = tmp_path / 'work'
    run_tool([str(mmyolo_train), str(config), '--work-dir', str(work),
              '--cfg-options', 'max_epochs=1', 'img_scale=(128,128)'])
    assert (work / 'epoch_1.pth').is_file() and not (work / 'epoch_2.pth').exists()
    assert_dumped_config_is_final(work, img_scale=(128, 128), max_epochs=1)


def test_deterministic_reaches_torch(tmp_path, tiny_coco, monkeypatch):
    """Every config sets cuDNN's determinism (the reference's init_seeds(0));
    --deterministic turns on torch's deterministic algorithms as well."""
    import torch

    from parkdet_mm.engine import DerivingRunner
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    cfg = config_from_train_flags(monkeypatch, [DEMO, '--deterministic',
                                                '--data-root', str(tiny_coco)])
    assert cfg.randomness == dict(seed=0, deterministic=True)
    assert cfg.env_cfg.cudnn_deterministic and not cfg.env_cfg.cudnn_benchmark
    cfg.work_dir = str(tmp_path / 'work')
    try:
        DerivingRunner.from_cfg(cfg)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
        assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False


def test_two_deterministic_runs_give_identical_checkpoints(tmp_path, tiny_coco,
                                                           monkeypatch):
    """tools/train.py CONFIG --deterministic twice (one epoch, in this process):
    the same weights, EMA and optimizer state, bit for bit."""
    import torch
    from helpers.quick_training import quick_training

    from parkdet_mm.engine import DerivingRunner
    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    runs = []
    try:
        for name in ('first', 'second'):
            cfg = config_from_train_flags(monkeypatch, [
                str(config), '--deterministic', '--work-dir', str(tmp_path / name)])
            DerivingRunner.from_cfg(quick_training(cfg, monkeypatch)).train()
            runs.append(load_local_checkpoint(str(tmp_path / name / 'epoch_1.pth')))
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
    first, second = runs
    for key in ('state_dict', 'ema_state_dict'):
        assert first[key].keys() == second[key].keys()
        for name, tensor in first[key].items():
            assert torch.equal(tensor, second[key][name]), (key, name)
    # the optimizer stepped (momentum buffers), alike in both
    momenta = [[state['momentum_buffer'] for state in run['optimizer']['state'].values()]
               for run in runs]
    assert momenta[0] and len(momenta[0]) == len(momenta[1])
    assert all(torch.equal(a, b) for a, b in zip(*momenta))

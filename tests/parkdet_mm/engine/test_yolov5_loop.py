"""The training loop steps like the reference's train.py (docs/reference.md section 5).

Real training runs at a total batch of 2 on tiny data record, per iteration, whether
the optimizer stepped, each group's lr, momentum and weight decay, and the EMA's
updates (tests/loop_recorder.py); they must equal `reference_loop`, a transcription
of the reference's loop written here. The nominal batch is 7 (not 64) so that a few
iterations show the warmup ramp of `accumulate` (1 -> round(7 / 2) = 4, rounding
half to even on the way) and a weight-decay scale that is not 1 (2 x 4 / 7).
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_tiny_config

EPOCHS = 4
ITERS_PER_EPOCH = 4  # 8 tiny training images, total batch 2
TOTAL_BATCH = 2
NOMINAL_BATCH = 7
WARMUP_MIN_ITERS = 10  # > warmup_epochs (1.0) x 4 iterations, so it decides nw
# configs/demo/baseline.py's hyper-parameters (scratch-low) with a 1-epoch warmup
HYP = dict(lr0=0.01, lrf=0.01, momentum=0.937, weight_decay=0.0005,
           warmup_epochs=1.0, warmup_momentum=0.8, warmup_bias_lr=0.1)

LOOP_CONFIG = f'''
_base_ = './tiny.py'
custom_imports = dict(imports=['parkdet_mm', 'loop_recorder'],
                      allow_failed_imports=False)
train_batch_size_per_gpu = {TOTAL_BATCH}
nominal_batch_size = {NOMINAL_BATCH}
warmup_epochs = {HYP['warmup_epochs']}
warmup_min_iters = {WARMUP_MIN_ITERS}
default_hooks = dict(checkpoint=dict(max_keep_ckpts=-1))
extra_hooks = [dict(type='LoopRecorderHook')]
val_interval = {EPOCHS + 1}  # no validation: faster
'''


def reference_loop(epochs, nb, batch_size, nbs, hyp, warmup_min_iters):
    """The reference's train.py loop, transcribed: per iteration, whether it
    steps, and each group's lr, momentum and weight decay, the EMA's updates.

    Its groups are SGD(biases), then weights with decay, then BatchNorm weights,
    and its warmup gives warmup_bias_lr to group j == 2: the BatchNorm weights.
    """
    accumulate = max(round(nbs / batch_size), 1)
    weight_decay = hyp['weight_decay'] * batch_size * accumulate / nbs
    decays = [0.0, weight_decay, 0.0]
    names = ['bias', 'weight', 'norm']

    def lf(x):
        return (1 - x / epochs) * (1.0 - hyp['lrf']) + hyp['lrf']

    lrs = [hyp['lr0'] * lf(0)] * 3  # LambdaLR at construction
    initial_lr = [hyp['lr0']] * 3
    momenta = [hyp['momentum']] * 3
    nw = max(round(hyp['warmup_epochs'] * nb), warmup_min_iters)
    last_opt_step = -1
    updates = 0
    rows = []
    for epoch in range(epochs):
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:
                xi = [0, nw]
                accumulate = max(1, np.interp(ni, xi, [1, nbs / batch_size]).round())
                for j in range(3):
                    lrs[j] = np.interp(ni, xi, [
                        hyp['warmup_bias_lr'] if j == 2 else 0.0,
                        initial_lr[j] * lf(epoch)
                    ])
                    momenta[j] = np.interp(
                        ni, xi, [hyp['warmup_momentum'], hyp['momentum']])
            stepped = ni - last_opt_step >= accumulate
            if stepped:
                last_opt_step = ni
                updates += 1  # ema.update(model)
            rows.append(dict(
                iter=ni, stepped=bool(stepped),
                lr=dict(zip(names, map(float, lrs))),
                momentum=dict(zip(names, map(float, momenta))),
                weight_decay=dict(zip(names, decays)),
                ema_updates=updates))
        lrs = [lr0 * lf(epoch + 1) for lr0 in initial_lr]  # scheduler.step()
    return rows


EXPECTED = reference_loop(EPOCHS, ITERS_PER_EPOCH, TOTAL_BATCH, NOMINAL_BATCH,
                          HYP, WARMUP_MIN_ITERS)


def test_the_transcription_covers_warmup_accumulation_and_decay():
    """The chosen sizes exercise what the runs must reproduce."""
    steps = [row['iter'] for row in EXPECTED if row['stepped']]
    assert steps == [0, 1, 3, 5, 8, 12]  # accumulate 1, 1, 2, 2, 3, 4
    assert EXPECTED[0]['lr']['norm'] == HYP['warmup_bias_lr']
    assert EXPECTED[-1]['lr']['bias'] == pytest.approx(
        HYP['lr0'] *
        ((1 - (EPOCHS - 1) / EPOCHS) * (1 - HYP['lrf']) + HYP['lrf']))
    assert EXPECTED[0]['weight_decay']['weight'] == pytest.approx(
        HYP['weight_decay'] * 8 / 7)


def loop_config(tmp_path: Path, data_root: Path) -> Path:
    write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=EPOCHS)
    config = tmp_path / 'loop.py'
    config.write_text(LOOP_CONFIG)
    return config


def train(args, nproc: int = 1) -> None:
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(REPO), str(REPO / 'tests'), os.environ.get('PYTHONPATH', '')]),
               PORT='29531', PYTHON=sys.executable)
    command = ([sys.executable, 'tools/train.py', *args] if nproc == 1 else
               ['bash', 'tools/dist_train.sh', args[0], str(nproc), *args[1:]])
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-3000:])


def read_records(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_matches_reference(records, expected):
    assert [r['iter'] for r in records] == [e['iter'] for e in expected]
    for got, want in zip(records, expected):
        where = f"iteration {got['iter']}"
        assert got['stepped'] == want['stepped'], where
        # the EMA moves exactly when the optimizer steps, counting its steps
        assert got['ema_moved'] == want['stepped'], where
        assert got['ema_updates'] == want['ema_updates'], where
        for key in ('lr', 'momentum', 'weight_decay'):
            assert got[key].keys() == want[key].keys()
            for group, value in want[key].items():
                assert got[key][group] == pytest.approx(value, rel=1e-12), \
                    f'{where} {key} {group}'


@pytest.fixture(scope='module')
def single_run(tiny_coco, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('loop')
    config = loop_config(tmp_path, tiny_coco)
    work = tmp_path / 'run'
    train([str(config), '--work-dir', str(work)])
    return config, work


def test_one_process_steps_like_the_reference(single_run):
    _, work = single_run
    assert_matches_reference(read_records(work / 'loop_rank0.jsonl'), EXPECTED)


def test_resume_mid_warmup_continues_the_same_sequence(single_run, tmp_path):
    config, work = single_run
    # After epoch 1 (iteration 4) warmup is still on, accumulate is 2 and the last
    # step was at 3: iteration 4 must not step, which only the restored
    # accumulation state knows.
    resumed = tmp_path / 'resumed'
    train([str(config), '--work-dir', str(resumed), '--resume',
           str(work / 'epoch_1.pth')])
    records = read_records(resumed / 'loop_rank0.jsonl')
    assert records[0]['iter'] == ITERS_PER_EPOCH and not records[0]['stepped']
    assert_matches_reference(records, EXPECTED[ITERS_PER_EPOCH:])


def test_two_processes_step_like_the_reference_and_sync_only_on_steps(
        tiny_coco, tmp_path):
    # 2 images per process (one would meet BatchNorm with a single value per
    # channel at the tiny model's stride-64 level): a total batch of 4, 2
    # iterations per epoch; nominal batch 14 keeps accumulate's ramp 1 -> 4 and
    # the decay scale 4 x 4 / 14 = 8 / 7.
    expected = reference_loop(EPOCHS, ITERS_PER_EPOCH // 2, TOTAL_BATCH * 2,
                              NOMINAL_BATCH * 2, HYP, WARMUP_MIN_ITERS)
    assert [row['stepped'] for row in expected].count(False) >= 3
    config = loop_config(tmp_path, tiny_coco)
    work = tmp_path / 'dist'
    train([str(config), '--work-dir', str(work), '--cfg-options',
           f'nominal_batch_size={NOMINAL_BATCH * 2}'], nproc=2)
    for rank in (0, 1):
        records = read_records(work / f'loop_rank{rank}.jsonl')
        assert_matches_reference(records, expected)
        # DDP all-reduces the gradients on the iterations that step, only
        for record in records:
            assert (record['allreduced_buckets'] > 0) == record['stepped'], \
                record['iter']


def v50_reference_loop(epochs, nb, batch_size, nbs, hyp, warmup_min_iters):
    """YOLOv5 v5.0's train.py loop (the 2021 solution, docs/reference.md section 9), transcribed:
    cosine lf, warmup_bias_lr on group 2 (its biases), a step when
    ni % accumulate == 0."""
    accumulate = max(round(nbs / batch_size), 1)
    names = ['norm', 'weight', 'bias']  # pg0 BN weights, pg1 decay, pg2 biases

    def lf(x):
        return ((1 - math.cos(x * math.pi / epochs)) / 2) * (hyp['lrf'] - 1) + 1

    lrs = [hyp['lr0'] * lf(0)] * 3
    momenta = [hyp['momentum']] * 3
    nw = max(round(hyp['warmup_epochs'] * nb), warmup_min_iters)
    rows = []
    for epoch in range(epochs):
        for i in range(nb):
            ni = i + nb * epoch
            if ni <= nw:
                xi = [0, nw]
                accumulate = max(1, np.interp(ni, xi, [1, nbs / batch_size]).round())
                for j in range(3):
                    lrs[j] = np.interp(ni, xi, [
                        hyp['warmup_bias_lr'] if j == 2 else 0.0,
                        hyp['lr0'] * lf(epoch)
                    ])
                    momenta[j] = np.interp(
                        ni, xi, [hyp['warmup_momentum'], hyp['momentum']])
            rows.append(dict(stepped=bool(ni % accumulate == 0),
                             lr=dict(zip(names, map(float, lrs))),
                             momentum=dict(zip(names, map(float, momenta)))))
        lrs = [hyp['lr0'] * lf(epoch + 1)] * 3
    return rows


def test_2021_settings_step_like_yolov5_v50():
    """The hook and the wrapper driven directly (no training run) with the 2021
    configs' settings: cosine, at least 1000 warmup iterations, biases first at
    warmup_bias_lr, v5.0's step rule."""
    from types import SimpleNamespace

    import torch

    from parkdet_mm.engine.hooks import YOLOv5LoopSchedulerHook
    from parkdet_mm.engine.optimizers import NominalBatchOptimWrapper

    epochs, nb, batch, hyp = 6, 250, 4, dict(HYP, lrf=0.2, warmup_epochs=3.0)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD(
        [dict(params=[param], weight_decay=hyp['weight_decay']),
         dict(params=[torch.nn.Parameter(torch.zeros(1))]),
         dict(params=[torch.nn.Parameter(torch.zeros(1))])],
        lr=hyp['lr0'], momentum=hyp['momentum'], nesterov=True)
    wrapper = NominalBatchOptimWrapper(
        optimizer=optimizer, step_rule='multiple_of_accumulate')
    steps = []
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    loader = type('Loader', (list, ), dict(batch_size=batch))([None] * nb)
    runner = SimpleNamespace(optim_wrapper=wrapper, iter=0, epoch=0,
                             train_dataloader=loader)
    hook = YOLOv5LoopSchedulerHook(
        scheduler_type='cosine', lr_factor=hyp['lrf'], max_epochs=epochs,
        warmup_epochs=hyp['warmup_epochs'], warmup_min_iters=1000,
        warmup_momentum=hyp['warmup_momentum'],
        warmup_bias_lr=hyp['warmup_bias_lr'], warmup_bias_lr_group='bias')
    hook.before_train(runner)
    expected = v50_reference_loop(epochs, nb, batch, 64, hyp, 1000)
    assert sum(row['stepped'] for row in expected) < epochs * nb / 4
    for ni, want in enumerate(expected):
        runner.iter, runner.epoch = ni, ni // nb
        if ni % nb == 0:
            hook.before_train_epoch(runner)
        hook.before_train_iter(runner, ni % nb)
        before = len(steps)
        wrapper.update_params((param * 0).sum())
        assert (len(steps) > before) == want['stepped'], ni
        for index, name in enumerate(('weight', 'norm', 'bias')):
            group = optimizer.param_groups[index]
            assert group['lr'] == pytest.approx(want['lr'][name], rel=1e-12), \
                (ni, name)
            assert group['momentum'] == pytest.approx(
                want['momentum'][name], rel=1e-12), (ni, name)

"""A training run that goes wrong says so in one line and loses nothing.

Real tiny trainings (8 images, batches of 2: 4 iterations per epoch, 3 epochs) with
the project's NonFiniteLossHook, AtomicCheckpointHook and
InterruptibleEpochBasedTrainLoop; tests/reliability_faults.py injects the faults (a
NaN loss, infinite gradients under a real loss scaler, a signal at a chosen
iteration) and records what each iteration did.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import write_tiny_config
from helpers.fault_runs import train_with_faults

from parkdet_mm.engine.checkpoint import load_local_checkpoint

EPOCHS = 3
ITERS_PER_EPOCH = 4

CONFIG = '''
_base_ = './tiny.py'
custom_imports = dict(imports=['parkdet_mm', 'reliability_faults'],
                      allow_failed_imports=False)
train_batch_size_per_gpu = 2
nominal_batch_size = 8
# accumulate reaches 4 (8 / 2) after 2 warmup iterations: gradients add up over
# iterations that do not step
warmup_epochs = 0.5
warmup_min_iters = 2
max_skipped_steps = {max_skipped}
extra_hooks = [dict(type='TrainingRecorderHook')] + {faults}
val_interval = 100
'''


def make_config(tmp_path: Path, data_root: Path, name: str, faults: str = '[]',
                max_skipped: int = 100, extra: str = '') -> Path:
    write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=EPOCHS)
    config = tmp_path / f'{name}.py'
    config.write_text(CONFIG.format(faults=faults, max_skipped=max_skipped)
                      + extra)
    return config


def one_line(proc: subprocess.CompletedProcess, status: int) -> str:
    assert proc.returncode == status, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def records(work: Path):
    lines = (work / 'record_rank0.jsonl').read_text().splitlines()
    return [json.loads(line) for line in lines]


def iterations(work: Path):
    return [r for r in records(work) if 'iter' in r]


def checkpoints(work: Path):
    return sorted(p.name for p in work.glob('*.pth'))


def assert_finite(path: Path) -> None:
    state = load_local_checkpoint(str(path))['state_dict']
    assert all(torch.isfinite(t).all() for t in state.values()
               if t.is_floating_point())


# ------------------------------------------------------------------ divergence
def test_a_nan_loss_stops_training_at_once_and_resume_continues(tiny_coco,
                                                                tmp_path):
    config = make_config(
        tmp_path, tiny_coco, 'nan',
        "[dict(type='NonFiniteLossAtIterationHook', iteration=5)]")
    work = tmp_path / 'work'
    line = one_line(train_with_faults(config, work), 3)
    assert line.startswith('error: loss not finite at iteration 6 (epoch 2, '
                           'batch 2 of 4): loss=nan, loss_obj=nan; training '
                           'stopped and nothing was saved'), line
    assert line.endswith(f'tools/train.py --resume continues from '
                         f'{work}/epoch_1.pth'), line
    # stopped before any later hook saw the iteration; nothing saved after
    assert [r['iter'] for r in iterations(work)] == [0, 1, 2, 3, 4]
    assert checkpoints(work) == ['epoch_1.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert_finite(work / 'epoch_1.pth')

    clean = make_config(tmp_path, tiny_coco, 'clean')
    proc = train_with_faults(clean, work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 4' in proc.stdout + proc.stderr
    assert_finite(work / f'epoch_{EPOCHS}.pth')


def test_weights_gone_nan_with_a_finite_loss_are_not_saved(tiny_coco, tmp_path):
    # the last iteration of epoch 2: its checkpoint would hold the NaN
    config = make_config(
        tmp_path, tiny_coco, 'nan_weights',
        "[dict(type='NonFiniteWeightsAtIterationHook', iteration=7)]")
    work = tmp_path / 'work'
    line = one_line(train_with_faults(config, work), 3)
    assert line.startswith('error: weights not finite after iteration 8 (epoch 2): '
                           "NaN or inf in 1 of the model's tensors,"), line
    assert line.endswith(f'--resume continues from {work}/epoch_1.pth'), line
    assert checkpoints(work) == ['epoch_1.pth']


# --amp: mmengine's AmpOptimWrapper with torch's GradScaler (its CPU device,
# reliability_faults), a step every iteration (nominal batch = batch)
AMP = '''
nominal_batch_size = 2
'''


def test_skipped_loss_scaler_steps_stop_training_only_when_they_persist(
        tiny_coco, tmp_path):
    few = make_config(tmp_path, tiny_coco, 'few',
                      "[dict(type='InfiniteGradientsHook', start=5, stop=7)]",
                      max_skipped=3, extra=AMP)
    proc = train_with_faults(few, tmp_path / 'few', '--amp')
    assert proc.returncode == 0, proc.stderr[-3000:]
    stepped = [r['stepped'] for r in iterations(tmp_path / 'few')]
    assert stepped == [i not in (5, 6) for i in range(EPOCHS * ITERS_PER_EPOCH)]

    persisting = make_config(tmp_path, tiny_coco, 'persisting',
                             "[dict(type='InfiniteGradientsHook', start=5)]",
                             max_skipped=3, extra=AMP)
    work = tmp_path / 'persisting'
    line = one_line(train_with_faults(persisting, work, '--amp'), 3)
    # 65536 halved three times
    assert line.startswith(
        'error: 3 optimizer steps in a row skipped at iteration 8 (epoch 2, '
        'batch 4 of 4): the loss scaler found inf or NaN gradients every time '
        '(loss scale now 8192); training stopped'), line
    assert checkpoints(work) == ['epoch_1.pth']


# --------------------------------------------------------------------- signals
@pytest.fixture(scope='module')
def uninterrupted_run(tiny_coco, tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp('uninterrupted')
    work = tmp_path / 'work'
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'plain'), work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


@pytest.fixture(scope='module')
def uninterrupted(uninterrupted_run):
    return iterations(uninterrupted_run)


def assert_bit_identical(first_path: Path, second_path: Path) -> None:
    """Two checkpoints hold the same weights, EMA weights and momentum buffers,
    bit for bit."""
    first, second = (load_local_checkpoint(str(p))
                     for p in (first_path, second_path))
    for key in ('state_dict', 'ema_state_dict'):
        assert first[key].keys() == second[key].keys()
        for name, tensor in first[key].items():
            assert torch.equal(tensor, second[key][name]), (key, name)
    states = [c['optimizer']['state'] for c in (first, second)]
    assert states[0].keys() == states[1].keys() and states[0]
    for index, state in states[0].items():
        assert torch.equal(state['momentum_buffer'],
                           states[1][index]['momentum_buffer'])


def test_the_same_command_twice_gives_bit_identical_checkpoints(
        uninterrupted_run, tiny_coco, tmp_path):
    work = tmp_path / 'work'
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'plain'), work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_bit_identical(uninterrupted_run / f'epoch_{EPOCHS}.pth',
                         work / f'epoch_{EPOCHS}.pth')


SAME_AS_UNINTERRUPTED = ('iter', 'epoch', 'batch', 'samples', 'lr',
                         'group_momentum', 'stepped', 'accumulate',
                         'last_step_iter', 'ema_updates')
STATE = ('weights', 'momentum', 'ema', 'ema_updates', 'grads', 'has_grads')


def test_sigterm_then_resume_trains_the_rest_of_the_epoch_as_without_it(
        uninterrupted, uninterrupted_run, tiny_coco, tmp_path):
    # the signal arrives during an iteration of epoch 2 that does not step, so
    # gradients of several batches are waiting for the next step
    stop = next(r['iter'] for r in uninterrupted
                if r['epoch'] == 1 and not r['stepped'])
    assert 0 < stop % ITERS_PER_EPOCH < ITERS_PER_EPOCH - 1
    config = make_config(
        tmp_path, tiny_coco, 'sigterm',
        f"[dict(type='SignalAtIterationHook', iteration={stop})]")
    work = tmp_path / 'work'
    saved = work / f'iter_{stop + 1}_interrupted.pth'
    line = one_line(train_with_faults(config, work), 143)
    assert line == (f'interrupted: SIGTERM after iteration {stop + 1} (epoch 2, '
                    f'batch {stop % ITERS_PER_EPOCH + 1} of {ITERS_PER_EPOCH}): '
                    f'saved {saved}; run the same command with --resume to '
                    'continue from there')
    assert (work / 'last_checkpoint').read_text() == str(saved)
    before = iterations(work)
    assert [r['iter'] for r in before] == list(range(stop + 1))
    assert before[-1]['has_grads']  # accumulated, not yet stepped

    resume = make_config(tmp_path, tiny_coco, 'resume')
    proc = train_with_faults(resume, work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (f'continuing epoch 2 after its batch {stop % ITERS_PER_EPOCH + 1} '
            f'of {ITERS_PER_EPOCH} with the accumulated gradients'
            ) in proc.stdout + proc.stderr
    all_records = records(work)
    start = next(r for r in all_records if r.get('start') == stop + 1)
    # the state it continues with is the state it stopped with: weights,
    # momentum buffers, EMA and its update count, the accumulated gradients
    assert {k: start[k] for k in STATE} == {k: before[-1][k] for k in STATE}
    after = [r for r in all_records if 'iter' in r][stop + 1:]
    # the rest of the run: the same images in the same order (with the same
    # mosaic partners, drawn by the class-balanced weights), the same schedule,
    # steps, accumulation and EMA updates as the uninterrupted run
    assert len(after) == len(uninterrupted) - stop - 1
    for got, want in zip(after, uninterrupted[stop + 1:]):
        assert {k: got[k] for k in SAME_AS_UNINTERRUPTED} == \
            {k: want[k] for k in SAME_AS_UNINTERRUPTED}, got['iter']
    assert not saved.exists()  # removed once epoch_2.pth superseded it
    # the augmentations (drawn in this process: no data workers) too, so the
    # run ends where the uninterrupted one does
    assert_bit_identical(uninterrupted_run / f'epoch_{EPOCHS}.pth',
                         work / f'epoch_{EPOCHS}.pth')


WORKERS = '''
train_num_workers = 2
'''


def test_sigterm_to_the_process_group_with_data_workers(tiny_coco, tmp_path):
    """As Slurm signals a job step: the data workers get SIGTERM too and die."""
    config = make_config(
        tmp_path, tiny_coco, 'group',
        "[dict(type='SignalAtIterationHook', iteration=5, group=True)]",
        extra=WORKERS)
    work = tmp_path / 'work'
    line = one_line(train_with_faults(config, work), 143)
    assert line.startswith('interrupted: SIGTERM after iteration 6 (epoch 2, '
                           'batch 2 of 4): saved'), line
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'resume', extra=WORKERS),
                 work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r['iter'] for r in iterations(work)] == list(
        range(EPOCHS * ITERS_PER_EPOCH))


@pytest.fixture(scope='module')
def uninterrupted_with_workers(tiny_coco, tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp('uninterrupted_workers')
    work = tmp_path / 'work'
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'plain', extra=WORKERS), work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_resumed_from_an_epoch_checkpoint_ends_bit_identical(
        uninterrupted_with_workers, tiny_coco, tmp_path):
    """Killed after epoch 1's checkpoint: the two persistent data workers'
    generators (and the main process's) continue where they were."""
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(uninterrupted_with_workers / 'epoch_1.pth', work)
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'resume', extra=WORKERS), work,
                 '--resume', str(work / 'epoch_1.pth'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'random generator' not in proc.stdout + proc.stderr  # no warning
    assert_bit_identical(uninterrupted_with_workers / f'epoch_{EPOCHS}.pth',
                         work / f'epoch_{EPOCHS}.pth')


def test_sigterm_inside_an_epoch_with_workers_then_resume_ends_bit_identical(
        uninterrupted_with_workers, tiny_coco, tmp_path):
    """Stopped after epoch 2's first batch: the next is the second worker's, so
    the resumed workers start over at the epoch's first batch, make it again
    and drop it."""
    config = make_config(
        tmp_path, tiny_coco, 'sigterm',
        "[dict(type='SignalAtIterationHook', iteration=4)]", extra=WORKERS)
    work = tmp_path / 'work'
    line = one_line(train_with_faults(config, work), 143)
    assert 'after iteration 5 (epoch 2, batch 1 of 4)' in line, line
    proc = train_with_faults(make_config(tmp_path, tiny_coco, 'resume', extra=WORKERS), work,
                 '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_bit_identical(uninterrupted_with_workers / f'epoch_{EPOCHS}.pth',
                         work / f'epoch_{EPOCHS}.pth')


def test_sigint_saves_and_a_second_one_stops_at_once(tiny_coco, tmp_path):
    config = make_config(
        tmp_path, tiny_coco, 'sigint',
        "[dict(type='SignalAtIterationHook', iteration=2, signal_name='SIGINT')]")
    line = one_line(train_with_faults(config, tmp_path / 'once'), 130)
    assert line.startswith('interrupted: SIGINT after iteration 3 (epoch 1, '
                           'batch 3 of 4): saved'), line
    assert checkpoints(tmp_path / 'once') == ['iter_3_interrupted.pth']

    twice = make_config(
        tmp_path, tiny_coco, 'twice',
        "[dict(type='SignalAtIterationHook', iteration=2, signal_name='SIGINT',"
        " count=2)]")
    line = one_line(train_with_faults(twice, tmp_path / 'twice'), 130)
    assert line == 'interrupted'
    assert checkpoints(tmp_path / 'twice') == []


# ------------------------------------------------------- skipping done batches
class CountingDataset(torch.utils.data.Dataset):
    def __init__(self, size: int) -> None:
        self.size = size
        self.loaded = []

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        self.loaded.append(index)
        return index


def test_batches_from_skips_done_batches_without_loading_them():
    from parkdet_mm.engine.runner import batches_from
    dataset = CountingDataset(10)
    sampler = torch.utils.data.SequentialSampler(range(10))
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, sampler=sampler)
    with batches_from(loader, 2) as batches:
        assert len(loader) == 4  # what schedules read stays the epoch's
        assert [b.tolist() for b in batches] == [[6, 7, 8], [9]]
    assert dataset.loaded == [6, 7, 8, 9]
    assert loader.batch_sampler.sampler is sampler  # the next epoch reads all
    assert [b.tolist() for b in loader][0] == [0, 1, 2]


def test_batches_from_loads_and_drops_with_another_batch_sampler():
    from parkdet_mm.engine.runner import batches_from
    dataset = CountingDataset(6)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=[[4, 5], [0, 1], [2, 3]])
    with batches_from(loader, 1) as batches:
        assert [b.tolist() for b in batches] == [[0, 1], [2, 3]]
    assert dataset.loaded == [4, 5, 0, 1, 2, 3]

"""Checkpoints that a kill or a full disk cannot leave half-written, and checkpoints
that are cut short, damaged or not checkpoints at all: one line in every tool.

Faults are injected into real tiny trainings (tests/reliability_faults.py): the
atomic writer's write dies half-way (the process exits at once, as under SIGKILL)
or finds the disk full; a full disk for real is a small tmpfs, mounted in a user
namespace where the machine allows it.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import REPO, assert_one_line_error, run_tool, write_tiny_config
from helpers.checkpoints import _random_checkpoint
from helpers.fault_runs import train_with_faults

from parkdet_mm.engine.checkpoint import (
    CheckpointFileError,
    check_checkpoint_file,
    load_local_checkpoint,
    save_checkpoint_atomic,
)

FAULT_CONFIG = '''
_base_ = './tiny.py'
custom_imports = dict(imports=['parkdet_mm', 'reliability_faults'],
                      allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(max_keep_ckpts={keep}))
extra_hooks = {faults}
'''


def fault_config(tmp_path: Path, data_root: Path, name: str, faults: str = '[]',
                 keep: int = -1, epochs: int = 2) -> Path:
    write_tiny_config(tmp_path / 'tiny.py', data_root, epochs=epochs)
    config = tmp_path / f'{name}.py'
    config.write_text(FAULT_CONFIG.format(faults=faults, keep=keep))
    return config


def assert_good_checkpoint(path: Path, epoch: int) -> None:
    checkpoint = load_local_checkpoint(str(path))
    assert checkpoint['meta']['epoch'] == epoch
    assert all(torch.isfinite(t).all() for t in checkpoint['state_dict'].values()
               if t.is_floating_point())


def temporary_files(folder: Path):
    return sorted(p.name for p in folder.glob('.*.tmp'))


def test_atomic_save_writes_a_loadable_checkpoint_and_nothing_else(tmp_path):
    path = tmp_path / 'deep' / 'a.pth'
    save_checkpoint_atomic({'meta': {'epoch': 3}, 'state_dict': {}}, str(path))
    assert load_local_checkpoint(str(path))['meta']['epoch'] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ['a.pth']


def test_a_kill_during_a_checkpoint_write_keeps_the_previous_one(tiny_coco,
                                                                  tmp_path):
    # max_keep_ckpts=1: mmengine's CheckpointHook would remove epoch_1.pth
    # before writing epoch_2.pth, leaving no checkpoint after this kill.
    config = fault_config(
        tmp_path, tiny_coco, 'kill', keep=1,
        faults="[dict(type='FailingCheckpointWriteHook', name='epoch_2.pth', "
        "how='kill')]")
    work = tmp_path / 'work'
    proc = train_with_faults(config, work)
    assert proc.returncode == 137, proc.stderr[-3000:]
    assert not (work / 'epoch_2.pth').exists()
    assert_good_checkpoint(work / 'epoch_1.pth', 1)
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    left = temporary_files(work)
    assert len(left) == 1 and left[0].startswith('.epoch_2.pth.'), left

    # --resume continues from epoch_1.pth and clears the half-written file
    clean = fault_config(tmp_path, tiny_coco, 'clean', keep=1)
    proc = train_with_faults(clean, work, '--resume')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert_good_checkpoint(work / 'epoch_2.pth', 2)
    assert not (work / 'epoch_1.pth').exists()  # retired once epoch 2 was whole
    assert temporary_files(work) == []


def assert_full_disk_line(proc: subprocess.CompletedProcess, work: Path) -> None:
    assert proc.returncode == 3, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(
        f'error: cannot write checkpoint {work}/epoch_2.pth: No space left on '
        'device;'), lines[0]
    assert f'--resume continues from {work}/epoch_1.pth' in lines[0]


def test_a_full_disk_during_a_checkpoint_write_is_one_line(tiny_coco, tmp_path):
    config = fault_config(
        tmp_path, tiny_coco, 'full',
        faults="[dict(type='FailingCheckpointWriteHook', name='epoch_2.pth', "
        "how='full')]")
    work = tmp_path / 'work'
    assert_full_disk_line(train_with_faults(config, work), work)
    assert not (work / 'epoch_2.pth').exists()
    assert_good_checkpoint(work / 'epoch_1.pth', 1)
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert temporary_files(work) == []


VERIFY = '''
import json, sys
from pathlib import Path
import torch
work = Path(sys.argv[1])
ckpt = torch.load(work / 'epoch_1.pth', weights_only=False)
print(json.dumps(dict(
    files=sorted(p.name for p in work.iterdir()),
    last=(work / 'last_checkpoint').read_text(),
    epoch=ckpt['meta']['epoch'])))
'''


def test_a_full_tmpfs_during_a_checkpoint_write(tiny_coco, tmp_path):
    """The same on a real file system that fills up: a 60 MB tmpfs holds one
    38 MB checkpoint but not the next one's temporary file beside it."""
    work = tmp_path / 'work'
    work.mkdir()
    probe = subprocess.run(
        ['unshare', '-rm', 'sh', '-c',
         f'mount -t tmpfs -o size=1m tmpfs {work} && touch {work}/x'],
        capture_output=True)
    if probe.returncode != 0 or (work / 'x').exists():
        pytest.skip('this machine does not let a user namespace mount a tmpfs')
    config = fault_config(tmp_path, tiny_coco, 'plain')
    (tmp_path / 'verify.py').write_text(VERIFY)
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'tests')]))
    script = (f'mount -t tmpfs -o size=60m tmpfs {work} || exit 99; '
              f'"{sys.executable}" tools/train.py {config} --work-dir {work}; '
              f'echo "train exited $?" >&2; '
              f'"{sys.executable}" {tmp_path}/verify.py {work}')
    proc = subprocess.run(['unshare', '-rm', 'sh', '-c', script], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    stderr = proc.stderr.splitlines()
    assert stderr[-1] == 'train exited 3', proc.stderr[-3000:]
    assert_full_disk_line(subprocess.CompletedProcess(
        [], 3, '', '\n'.join(stderr[:-1])), work)
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert 'epoch_1.pth' in seen['files'] and 'epoch_2.pth' not in seen['files']
    assert not any(name.endswith('.tmp') for name in seen['files']), seen
    assert seen['last'] == str(work / 'epoch_1.pth') and seen['epoch'] == 1


# ------------------------------------------------------------- damaged checkpoints
@pytest.fixture(scope='module')
def checkpoints(tiny_coco, tmp_path_factory):
    """A config, its real checkpoint, and three broken files: the checkpoint cut
    in half, random bytes, and the checkpoint with its pickle overwritten
    (complete zip directory, damaged content)."""
    folder = tmp_path_factory.mktemp('checkpoints')
    config = write_tiny_config(folder / 'tiny.py', tiny_coco)
    good = _random_checkpoint(config, folder / 'good.pth')
    data = good.read_bytes()
    (folder / 'truncated.pth').write_bytes(data[:len(data) // 2])
    (folder / 'garbage.pth').write_bytes(os.urandom(4096))
    damaged = bytearray(data)
    with zipfile.ZipFile(good) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith('data.pkl'))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged[start:start + info.compress_size] = b'\x00' * info.compress_size
    (folder / 'damaged.pth').write_bytes(bytes(damaged))
    return config, folder


def test_the_check_and_the_loader_name_the_file(checkpoints):
    _, folder = checkpoints
    check_checkpoint_file(str(folder / 'good.pth'))
    for name, words in (('truncated', 'is cut short'),
                        ('garbage', 'is not a checkpoint'),
                        ('missing', 'does not exist')):
        path = str(folder / f'{name}.pth')
        with pytest.raises(CheckpointFileError, match=words) as err:
            check_checkpoint_file(path)
        assert path in str(err.value)
        with pytest.raises(CheckpointFileError, match=words):
            load_local_checkpoint(path)
    # its zip directory is whole: only the load finds the damage
    damaged = str(folder / 'damaged.pth')
    check_checkpoint_file(damaged)
    with pytest.raises(CheckpointFileError,
                       match=f'checkpoint {damaged} cannot be loaded'):
        load_local_checkpoint(damaged)


def tool_args(tool: str, config: Path, checkpoint: Path, root: Path,
              out: Path) -> list:
    return {
        'train --resume': ['tools/train.py', str(config), '--work-dir', str(out),
                           '--resume', str(checkpoint)],
        'train load_from': ['tools/train.py', str(config), '--work-dir', str(out),
                            '--cfg-options', f'load_from={checkpoint}'],
        'test': ['tools/test.py', str(config), str(checkpoint), '--work-dir',
                 str(out)],
        'predict': ['tools/predict.py', str(config), str(checkpoint),
                    '--data-root', str(root), '--ann-dir',
                    str(root / 'annotations'), '--out-dir', str(out)],
        'detect': ['tools/detect.py', str(config), str(checkpoint),
                   str(root / 'images'), '--out-dir', str(out)],
        'export': ['tools/export_onnx.py', str(config), str(checkpoint),
                   str(out / 'model.onnx'), '--img-size', '64'],
        'convert': ['tools/convert_yolov5.py', str(checkpoint),
                    str(out / 'converted.pth')],
        'check_anchors': ['tools/check_anchors.py', str(config), '--cfg-options',
                          f'load_from={checkpoint}'],
    }[tool]


TOOLS = ('train --resume', 'train load_from', 'test', 'predict', 'detect',
         'export', 'convert', 'check_anchors')


@pytest.mark.parametrize('tool', TOOLS)
@pytest.mark.parametrize('broken', ['truncated', 'garbage'])
def test_every_tool_says_a_broken_checkpoint_in_one_line(checkpoints, tiny_coco,
                                                         tmp_path, tool, broken):
    config, folder = checkpoints
    checkpoint = folder / f'{broken}.pth'
    out = tmp_path / 'out'
    proc = run_tool(tool_args(tool, config, checkpoint, tiny_coco, out),
                    check=False)
    words = 'is cut short' if broken == 'truncated' else 'is not a checkpoint'
    assert_one_line_error(proc, f'checkpoint {checkpoint} {words}')
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize('tool', ['test', 'predict'])
def test_damage_found_by_the_load_is_one_line_too(checkpoints, tiny_coco,
                                                  tmp_path, tool):
    """Past the cheap check: the load of the runner (test) and of the tools'
    own loader (predict) fails, in one line naming the file."""
    config, folder = checkpoints
    checkpoint = folder / 'damaged.pth'
    proc = run_tool(tool_args(tool, config, checkpoint, tiny_coco,
                              tmp_path / 'out'), check=False)
    assert_one_line_error(proc, f'checkpoint {checkpoint} cannot be loaded')


# ------------------------------------------------------------ the stage pipeline
def stage_config(config: Path, work: Path) -> Path:
    path = work.parent / 'stage.py'
    path.write_text(f"_base_ = '{config}'\nwork_dir = '{work}'\n")
    return path


def test_stage_status_counts_only_a_complete_final_checkpoint(checkpoints,
                                                              tmp_path):
    config, folder = checkpoints
    work = tmp_path / 'work'
    final = work / 'epoch_2.pth'  # the tiny config trains 2 epochs
    stage = stage_config(config, work)
    for content, status, words in ((None, 1, 'does not exist'),
                                   ('truncated', 1, 'is cut short'),
                                   ('good', 0, '')):
        if content:
            work.mkdir(exist_ok=True)
            shutil.copy(folder / f'{content}.pth', final)
        proc = run_tool(['tools/stage_status.py', str(stage)], check=False)
        assert (proc.returncode, proc.stdout.strip()) == (status, str(final))
        assert words in proc.stderr


def test_pipeline_resumes_a_stage_whose_final_checkpoint_is_cut_short(
        checkpoints, tmp_path):
    config, folder = checkpoints
    work = tmp_path / 'work'
    work.mkdir()
    final = work / 'epoch_2.pth'
    shutil.copy(folder / 'truncated.pth', final)  # killed while writing it
    stage = str(stage_config(config, work))
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1',
               PYTHON=sys.executable)
    # the same stage twice: trained the first time, found finished the second
    proc = subprocess.run(['bash', 'tools/train_pipeline.sh', stage, stage],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'== {stage}: training (resuming if it was interrupted)' in proc.stdout
    assert f'== {stage}: done ({final})' in proc.stdout
    assert_good_checkpoint(final, 2)

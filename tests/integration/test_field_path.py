"""The README's real-data commands, run as written (issue 26), small.

A workspace laid out as the repository's root is for a user: ``configs/baseline.py``
and ``configs/finetune.py`` (the real stage configs, shrunk to yolov5n6's depth and
width; the baseline keeps its ``load_from`` URL of ultralytics' yolov5x6.pt), a
challenge-layout DATA folder (tools/make_demo_data.py), and torch's hub cache
holding ``yolov5x6.pt`` as an earlier download leaves it (a YOLOv5 pickle of that
small size, 80 classes, random weights): no network is used. The commands then run
from there with only shrink flags, as the README says they run: prepare_data, the
two stages (train.py twice, or train_pipeline.sh with a --work-dir), predict.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from conftest import REPO, assert_one_line_error
from yolov5_pickle_layout import YAML_V6_P6, build_yolov5, save_yolov5_checkpoint

SHRINK = ['--epochs', '1', '--img-size', '64', '--batch-size', '4']
STAGE = '''_base_ = {base!r}
deepen_factor = 0.33
widen_factor = 0.25
anchors = None  # YOLOv5's P6 anchors scaled to the image size
train_num_workers = 0
val_num_workers = 0
test_num_workers = 0
val_batch_size_per_gpu = 4
test_batch_size_per_gpu = 4
epoch_parts = 1  # 20 training images: batches of 4, never 1 at 1 x 1 pixels
log_interval = 1
'''
URL = 'https://github.com/ultralytics/yolov5/releases/download/v6.1/yolov5x6.pt'


def run(args: List[str], cwd: Path, check: bool = True,
        **env: str) -> subprocess.CompletedProcess:
    """``args`` in ``cwd`` as a user runs them (tools by their repository path),
    with this interpreter and the workspace's torch home."""
    environment = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1',
                       PYTHON=sys.executable, TORCH_HOME=str(cwd / 'torch_home'),
                       PYTHONPATH=str(REPO), **env)
    if args[0] == 'python':
        args = [sys.executable, str(REPO / args[1]), *args[2:]]
    elif args[0] == 'bash':
        args = ['bash', str(REPO / args[1]), *args[2:]]
    proc = subprocess.run(args, cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}:\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """The user's root: stage configs, DATA converted, yolov5x6.pt cached."""
    root = tmp_path_factory.mktemp('field')
    (root / 'configs').mkdir()
    for stage in ('baseline', 'finetune'):
        (root / 'configs' / f'{stage}.py').write_text(
            STAGE.format(base=str(REPO / 'configs' / f'{stage}.py')))
    cached = root / 'torch_home' / 'hub' / 'checkpoints' / 'yolov5x6.pt'
    cached.parent.mkdir(parents=True)
    save_yolov5_checkpoint(cached, build_yolov5(YAML_V6_P6, 80, 0.33, 0.25),
                           stripped=True)
    run(['python', 'tools/make_demo_data.py', 'DATA', '--train', '24', '--test',
         '4'], root)
    run(['python', 'tools/prepare_data.py', '--data-root', 'DATA', '--out-dir',
         'DATA', '--val-size', '4', '--no-plot'], root)
    return root


def record(work_dir: Path) -> dict:
    return json.loads((work_dir / 'finished.json').read_text())


def test_readme_commands_train_both_stages_and_predict(workspace):
    """train.py twice, shortened by --epochs 1: the fine-tune finds the
    baseline's epoch_1.pth (not the config's epoch_50.pth); predict without a
    config takes the fine-tune's, says so, and writes the capped submission
    (tests/tools/test_finished_runs.py: a baseline-only user gets the baseline's)."""
    baseline = run(['python', 'tools/train.py', 'configs/baseline.py',
                    '--data-root', 'DATA', *SHRINK], workspace)
    log = baseline.stdout + baseline.stderr
    assert f'Load checkpoint from {URL}' in log  # the cached file, no network
    assert record(workspace / 'work_dirs/baseline')['final_checkpoint'] == \
        'epoch_1.pth'
    finetune = run(['python', 'tools/train.py', 'configs/finetune.py',
                    '--data-root', 'DATA', *SHRINK], workspace)
    assert 'Load checkpoint from work_dirs/baseline/epoch_1.pth' in \
        finetune.stdout + finetune.stderr
    proc = run(['python', 'tools/predict.py', '--data-root', 'DATA',
                '--img-size', '64', '--no-tta', '--max-bytes', '100'], workspace)
    assert ('predicting with work_dirs/finetune/epoch_1.pth: the final checkpoint '
            'of configs/finetune.py') in proc.stdout
    submission = workspace / 'work_dirs/finetune/submission/submission.json'
    assert submission.stat().st_size < 100
    assert isinstance(json.loads(submission.read_text()), list)


def test_pipeline_passes_the_flags_and_keeps_stages_below_its_work_dir(workspace):
    args = ['bash', 'tools/train_pipeline.sh', '--data-root', 'DATA', *SHRINK,
            '--work-dir', 'runs/pipe']
    first = run(args, workspace)
    assert '== configs/baseline.py: training' in first.stdout
    assert '== configs/finetune.py: training' in first.stdout
    assert 'Load checkpoint from runs/pipe/baseline/epoch_1.pth' in \
        first.stdout + first.stderr
    for stage in ('baseline', 'finetune'):
        assert record(workspace / 'runs/pipe' / stage)['final_checkpoint'] == \
            'epoch_1.pth'
    # the same command again: both stages found finished with the same flags
    again = run(args, workspace)
    assert again.stdout.splitlines() == [
        '== configs/baseline.py: done (runs/pipe/baseline/epoch_1.pth)',
        '== configs/finetune.py: done (runs/pipe/finetune/epoch_1.pth)']
    # predict finds the pipeline's last stage from its folder
    proc = run(['python', 'tools/predict.py', 'runs/pipe', '--data-root', 'DATA',
                '--img-size', '64', '--no-tta'], workspace)
    assert ('predicting with runs/pipe/finetune/epoch_1.pth: the final checkpoint '
            f"of {workspace / 'configs/finetune.py'}") in proc.stdout
    assert (workspace / 'runs/pipe/finetune/submission/submission.json').is_file()


def test_without_network_and_cache_the_train_command_names_the_url(workspace,
                                                                   tmp_path):
    """yolov5x6.pt absent from torch's hub cache and its URL unreachable (a
    port on 127.0.0.1 where nothing listens stands in for the missing network):
    one line naming the URL and the manual commands, status 2, nothing trained."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        url = f'http://127.0.0.1:{sock.getsockname()[1]}/yolov5x6.pt'
    shutil.copytree(workspace / 'configs', tmp_path / 'configs')
    shutil.copytree(workspace / 'DATA' / 'annotations',
                    tmp_path / 'DATA' / 'annotations')
    proc = run(['python', 'tools/train.py', 'configs/baseline.py', '--data-root',
                'DATA', *SHRINK, '--cfg-options', f'load_from={url}'], tmp_path,
               check=False)
    assert_one_line_error(proc, f'checkpoint {url} cannot be downloaded',
                          'curl -L', 'python tools/convert_yolov5.py yolov5x6.pt')
    assert not (tmp_path / 'work_dirs').exists()

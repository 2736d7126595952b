"""Training survives SIGKILL (resume to the same final epoch) and runs distributed
on the CPU through tools/dist_train.sh."""
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, run_tool, write_tiny_config


def test_killed_run_resumes_to_the_same_final_epoch(tiny_coco, tmp_path):
    epochs = 6
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=epochs)
    work = tmp_path / 'run'
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # mmengine names the checkpoint in last_checkpoint once it is completely written
    while not (work / 'last_checkpoint').exists():
        assert proc.poll() is None, 'training ended before its first checkpoint'
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (work / f'epoch_{epochs}.pth').exists()

    from parkdet_mm.engine.checkpoint import load_local_checkpoint
    latest = (work / 'last_checkpoint').read_text().strip()
    resumed_from = load_local_checkpoint(latest)['meta']['epoch']
    result = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                       '--resume'])
    assert f'resumed epoch: {resumed_from}' in result.stdout + result.stderr
    final = load_local_checkpoint(str(work / f'epoch_{epochs}.pth'))
    assert final['meta']['epoch'] == epochs


def test_dist_train_runs_two_processes_on_cpu(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work = tmp_path / 'dist'
    env = dict(os.environ, PYTHONWARNINGS='ignore', PORT='29517',
               PYTHON=sys.executable)
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert 'Distributed training: True' in output, output[-3000:]
    assert 'GPU number: 2' in output  # mmengine's name for the world size
    assert "'backend': 'gloo'" in output
    assert (work / 'epoch_1.pth').is_file()

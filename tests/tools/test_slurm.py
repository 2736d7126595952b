"""tools/slurm_{train,test,predict}.sh through stand-ins for srun and scontrol.

The stand-in srun records its arguments and starts ``--ntasks`` local processes of
the command with the variables Slurm sets (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS,
SLURM_NODELIST) and forwards SIGTERM to them; the stand-in scontrol resolves any node
list to localhost and logs its calls. The tools run with ``--launcher slurm`` on the
CPU (gloo).
"""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, write_tiny_config
from helpers.checkpoints import _random_checkpoint


def _run(script, args, env):
    proc = subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    runs = [json.loads(line) for line in open(env['SRUN_LOG'])]
    assert len(runs) == 1
    return proc.stdout + proc.stderr, runs[0]


def _assert_srun(run, tool, *args):
    assert run['opts'] == {
        'partition': 'part', 'job-name': 'job', 'gres': 'gpu:2', 'ntasks': '2',
        'ntasks-per-node': '2', 'cpus-per-task': '1', 'kill-on-bad-exit': '1'}
    assert run['command'] == [sys.executable, '-u', str(REPO / 'tools' / tool),
                              *args, '--launcher', 'slurm']


def test_slurm_train_starts_two_gloo_processes(tiny_coco, tmp_path, slurm):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work = tmp_path / 'work'
    output, run = _run('slurm_train.sh', ['part', 'job', str(config), str(work)],
                       dict(slurm, MASTER_PORT='29561'))
    _assert_srun(run, 'train.py', str(config), '--resume', '--work-dir', str(work))
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # mmengine's name for the world size
    assert "'backend': 'gloo'" in output
    assert (work / 'epoch_1.pth').is_file()
    # each task found the master through scontrol, as MMEngine's slurm launcher does
    assert open(slurm['SCONTROL_LOG']).read().splitlines() == \
        ['show hostname node[001]'] * 2


def test_slurm_predict_writes_once_and_slurm_test_runs_test(tiny_coco, tmp_path,
                                                            slurm):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco)
    checkpoint = _random_checkpoint(config, tmp_path / 'a.pth')
    out = tmp_path / 'out'
    options = ['--data-root', str(tiny_coco), '--ann-dir',
               str(tiny_coco / 'annotations'), '--no-tta', '--img-size', '64',
               '--out-dir', str(out),
               '--cfg-options', 'score_thr=0.001']
    output, run = _run('slurm_predict.sh',
                       ['part', 'job', str(config), str(checkpoint), *options],
                       dict(slurm, MASTER_PORT='29562'))
    _assert_srun(run, 'predict.py', str(config), str(checkpoint), *options)
    assert output.count('wrote ') == 1
    test = json.loads((tiny_coco / 'annotations' / 'test.json').read_text())
    preds = json.loads((out / 'preds.json').read_text())
    assert {r['image_id'] for r in preds} == {im['id'] for im in test['images']}

    # slurm_test.sh: the same srun line for tools/test.py (its processes start
    # the way tools/train.py's do, through the runner: see the test above)
    os.remove(slurm['SRUN_LOG'])
    _, run = _run('slurm_test.sh', ['part', 'job', str(config), str(checkpoint),
                                    '--out-dir', str(out)],
                  dict(slurm, SRUN_DRY='1'))
    _assert_srun(run, 'test.py', str(config), str(checkpoint), '--out-dir', str(out))


REQUEUE_CONFIG = '''
_base_ = './tiny.py'
custom_imports = dict(imports=['parkdet_mm', 'reliability_faults'],
                      allow_failed_imports=False)
train_batch_size_per_gpu = 2  # 2 processes: 2 iterations per epoch
extra_hooks = [dict(type='TrainingRecorderHook')]
val_interval = 100
'''


def test_slurm_train_requeues_a_job_stopped_by_sigterm(tiny_coco, tmp_path, slurm):
    """SIGTERM to the batch script (sbatch --signal=B:TERM, or preemption): srun
    forwards it, both tasks stop after the same iteration with a checkpoint and
    exit 143, the script requeues the job; the requeued job's command continues
    from that checkpoint to the end."""
    epochs = 6
    write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=epochs)
    config = tmp_path / 'requeue.py'
    config.write_text(REQUEUE_CONFIG)
    work = tmp_path / 'work'
    env = dict(slurm, MASTER_PORT='29563', SLURM_JOB_ID='4242',
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'tests'),
                                           os.environ.get('PYTHONPATH', '')]))
    command = ['bash', 'tools/slurm_train.sh', 'part', 'job', str(config),
               str(work)]
    batch_job = subprocess.Popen(command, cwd=REPO, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    deadline = time.time() + 300
    while not (work / 'record_rank0.jsonl').exists():  # an iteration is done
        assert batch_job.poll() is None, batch_job.stdout.read()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    batch_job.send_signal(signal.SIGTERM)
    output = batch_job.communicate(timeout=300)[0]
    assert batch_job.returncode == 143, output[-3000:]
    assert 'requeue 4242' in open(slurm['SCONTROL_LOG']).read().splitlines()
    interrupted = (work / 'last_checkpoint').read_text()
    assert interrupted.endswith('_interrupted.pth') and os.path.isfile(interrupted)
    stops = [line for line in output.splitlines()
             if line.startswith('interrupted: SIGTERM after iteration')]
    assert len(stops) == 2 and stops[0] == stops[1], output[-3000:]  # both ranks

    # the requeued job runs the same command
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    iteration = int(interrupted.rsplit('iter_', 1)[1].split('_')[0])
    assert f'iter: {iteration}' in proc.stdout + proc.stderr  # resumed there
    assert (work / f'epoch_{epochs}.pth').is_file()
    assert not os.path.exists(interrupted)  # superseded, removed
    for rank in (0, 1):
        records = [json.loads(line) for line in
                   (work / f'record_rank{rank}.jsonl').read_text().splitlines()]
        iterations = [r['iter'] for r in records if 'iter' in r]
        assert iterations == list(range(epochs * 2)), iterations

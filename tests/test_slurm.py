"""tools/slurm_{train,test,predict}.sh through stand-ins for srun and scontrol.

The stand-in srun records its arguments and starts ``--ntasks`` local processes of
the command with the variables Slurm sets (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS,
SLURM_NODELIST); the stand-in scontrol resolves any node list to localhost. The tools
run with ``--launcher slurm`` on the CPU (gloo).
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, write_tiny_config
from test_distributed_inference import _random_checkpoint

SRUN = '''#!{python}
"""Stand-in for srun: record argv, start --ntasks local tasks, fail if one fails."""
import json, os, subprocess, sys
args, opts = sys.argv[1:], {{}}
while args and args[0].startswith('-'):
    if args[0] == '-p':
        opts['partition'] = args[1]
        args = args[2:]
        continue
    key, _, value = args.pop(0).lstrip('-').partition('=')
    opts[key] = value
with open(os.environ['SRUN_LOG'], 'a') as log:
    log.write(json.dumps(dict(opts=opts, command=args)) + '\\n')
if os.environ.get('SRUN_DRY'):
    sys.exit(0)
ntasks, per_node = int(opts['ntasks']), int(opts['ntasks-per-node'])
procs = [subprocess.Popen(args, env=dict(
    os.environ, SLURM_PROCID=str(i), SLURM_LOCALID=str(i % per_node),
    SLURM_NTASKS=str(ntasks), SLURM_NODELIST='node[001]',
    SLURM_JOB_NAME=opts['job-name'])) for i in range(ntasks)]
sys.exit(max(p.wait() for p in procs))
'''

SCONTROL = '''#!/usr/bin/env bash
# Stand-in for scontrol: `scontrol show hostname LIST` -> localhost
echo "$*" >> "$SCONTROL_LOG"
[ "$1 $2" = "show hostname" ] && echo localhost
'''


@pytest.fixture
def slurm(tmp_path):
    """Environment whose PATH starts with the stand-ins; their logs."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(SRUN.format(python=sys.executable))
    (bin_dir / 'scontrol').write_text(SCONTROL)
    for name in ('srun', 'scontrol'):
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
               SRUN_LOG=str(tmp_path / 'srun.log'),
               SCONTROL_LOG=str(tmp_path / 'scontrol.log'),
               GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
               PYTHON=sys.executable, PYTHONWARNINGS='ignore',
               OMP_NUM_THREADS='1')
    env.pop('MASTER_ADDR', None)
    return env


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
    _assert_srun(run, 'train.py', str(config), '--work-dir', str(work))
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
               '--cfg-options', 'model.test_cfg.score_thr=0.001']
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

"""A stand-in Slurm (srun, scontrol on PATH) that runs the ranks locally, and its fixture."""
import os
import sys

import pytest

SRUN = '''#!{python}
"""Stand-in for srun: record argv, start --ntasks local tasks, forward SIGTERM and
SIGINT to them (as srun does), exit with the highest task status."""
import json, os, signal, subprocess, sys
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
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda signum, frame: [p.send_signal(signum) for p in procs])
sys.exit(max(p.wait() for p in procs))
'''


SCONTROL = '''#!/usr/bin/env bash
# Stand-in for scontrol: `scontrol show hostname LIST` -> localhost; logs every call
# (`scontrol requeue JOB` included)
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

"""tools/train.py run on a config that injects faults (tests/reliability_faults.py)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def train_with_faults(config: Path, work: Path, *args: str) -> subprocess.CompletedProcess:
    """Train ``config`` into ``work`` in one thread, with tests/ importable (the
    configs' ``custom_imports``), in a session of its own: a fault may signal the
    training's process group, which must not reach pytest."""
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / 'tests')]))
    return subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work),
         *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        start_new_session=True)

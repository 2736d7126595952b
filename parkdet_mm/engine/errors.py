"""How a training run that stops itself says so: one line each, resumable state kept.

Each is a :class:`~parkdet_challenge.errors.RunStopped`: tools/train.py prints
``{label}: {message}`` and exits with ``status``.
"""
import os.path as osp
from typing import Optional

from parkdet_challenge.errors import RunStopped


class TrainingDiverged(RunStopped):
    """The loss (or every gradient, under AMP) stopped being finite; status 3."""


class CheckpointWriteError(RunStopped):
    """A checkpoint could not be written (a full disk, a lost mount); status 3."""


class TrainingInterrupted(RunStopped):
    """A signal stopped training after an iteration, with a checkpoint to resume
    from; status ``128 + signal number`` (143 for SIGTERM, 130 for SIGINT), as
    for a process the signal ended."""

    label = 'interrupted'

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.status = 128 + int(signum)


def last_good_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names (mmengine's pointer to
    the latest one, what ``--resume`` reads) if both files exist."""
    try:
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            latest = f.read().strip()
    except OSError:
        return None
    return latest if latest and osp.isfile(latest) else None


def resume_hint(work_dir: str) -> str:
    """Where ``tools/train.py --resume`` continues from, as words for a message."""
    latest = last_good_checkpoint(work_dir)
    if latest is None:
        return 'no checkpoint was saved yet, so --resume starts afresh'
    return f'tools/train.py --resume continues from {latest}'

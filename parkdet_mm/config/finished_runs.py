"""What a finished training run ended with: a record in its work dir.

When training ends, after its last epoch or when early stopping ends it, the
checkpoint hook (:class:`~parkdet_mm.engine.hooks.AtomicCheckpointHook`) writes
``WORK_DIR/finished.json``: the checkpoint the run ended with (``epoch_N.pth``, or
``best.pth`` after early stopping), the epochs it trained and was set to train, and
its config. The next stage (``final_checkpoint_of``), ``tools/stage_status.py``,
``tools/train_pipeline.sh`` and ``tools/predict.py`` read it
(:mod:`parkdet_mm.config.loading`), so a stage shortened by ``--epochs`` or moved by
``--work-dir`` is still found. A run that was interrupted writes none; a later
finished run in the same work dir replaces it.
"""
import datetime
import json
import os.path as osp
from typing import Any, Dict, Optional

from parkdet_challenge.atomic import write_json_atomic

#: The record's file name in a run's work dir.
FINISHED_RUN_FILE = 'finished.json'


def write_finished_run(work_dir: str, checkpoint: str, epochs: int,
                       max_epochs: int, stopped_early: bool,
                       config: Optional[str]) -> str:
    """Write (atomically) the record of a run that finished in ``work_dir``,
    ending with ``checkpoint``; its path. The checkpoint is stored relative to
    the work dir when it lies inside it, so a moved work dir keeps its record."""
    inside = osp.relpath(osp.abspath(checkpoint), osp.abspath(work_dir))
    record = dict(
        final_checkpoint=checkpoint if inside.startswith('..') else inside,
        epochs=int(epochs),
        max_epochs=int(max_epochs),
        stopped_early=bool(stopped_early),
        config=osp.abspath(config) if config else None,
        finished=datetime.datetime.now().astimezone().isoformat(timespec='seconds'))
    path = osp.join(work_dir, FINISHED_RUN_FILE)
    write_json_atomic(path, record, indent=1)
    return path


def read_finished_run(work_dir: str) -> Optional[Dict[str, Any]]:
    """The record in ``work_dir``, its ``final_checkpoint`` a path again (joined to
    the work dir), or None when there is none. A record that cannot be read (cut
    short by hand, not a record) counts as none: the rule of the checkpoint names
    (:func:`parkdet_mm.config.final_checkpoint`) then applies."""
    path = osp.join(work_dir, FINISHED_RUN_FILE)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(
            record.get('final_checkpoint'), str):
        return None
    record['final_checkpoint'] = osp.join(work_dir, record['final_checkpoint'])
    return record

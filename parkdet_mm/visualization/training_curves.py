"""Training curves from MMEngine's scalar log, like YOLOv5's results.png.

MMEngine's ``LocalVisBackend`` appends one JSON line per logged step to
``WORK_DIR/TIMESTAMP/vis_data/scalars.json``: training lines carry ``epoch``,
``iter`` and ``step`` (the global iteration) with the losses and the learning
rate; validation lines carry the metrics and ``step`` (the epoch). Every start of
``tools/train.py`` in a work dir (a resumed run included) opens a new TIMESTAMP
folder, so the folders are read in time order and each one replaces what the
earlier ones logged from its first iteration (or epoch) on: a run resumed from
epoch 10 supersedes what a killed run logged after epoch 10.
"""
import glob
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from matplotlib.figure import Figure

from parkdet_challenge.atomic import atomic_write
from parkdet_challenge.errors import InputError

Records = List[Dict[str, float]]

# Validation metrics drawn, by the name after the metric prefix, in this order;
# any other metric without a per-class suffix follows.
PREFERRED_METRICS = ('mAP', 'mAP_50', 'mAP_75', 'P', 'R')
PER_CLASS_MARKERS = ('_AP', '_precision', '_recall')


def scalar_logs(work_dir: str) -> List[str]:
    """``WORK_DIR/*/vis_data/scalars.json``, oldest run first."""
    return sorted(glob.glob(osp.join(glob.escape(work_dir), '*', 'vis_data',
                                     'scalars.json')))


def _read_lines(path: str) -> Records:
    records = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short when a run was killed
            if isinstance(record, dict) and 'step' in record:
                records.append(record)
    return records


def read_scalars(work_dir: str) -> Tuple[Records, Records]:
    """Training records (by iteration) and validation records (by epoch) of all
    runs in ``work_dir``, later runs replacing earlier ones from where they start.
    """
    if not osp.isdir(work_dir):
        raise InputError(f'work dir {work_dir} does not exist')
    paths = scalar_logs(work_dir)
    if not paths:
        raise InputError(f'{work_dir} has no MMEngine scalar log '
                         '(TIMESTAMP/vis_data/scalars.json): not a training work dir')
    train: Records = []
    val: Records = []
    for path in paths:
        records = _read_lines(path)
        new_train = [r for r in records if 'iter' in r]
        new_val = [r for r in records if 'iter' not in r]
        if new_train:
            first_step = min(r['step'] for r in new_train)
            first_epoch = min(r.get('epoch', math.inf) for r in new_train)
            train = [r for r in train if r['step'] < first_step]
            val = [r for r in val if r['step'] < first_epoch]
        if new_val:
            first_val = min(r['step'] for r in new_val)
            val = [r for r in val if r['step'] < first_val]
        train += new_train
        val += new_val
    if not train and not val:
        raise InputError(f'the scalar logs of {work_dir} hold no training or '
                         'validation step')
    return (sorted(train, key=lambda r: r['step']),
            sorted(val, key=lambda r: r['step']))


def _val_metric_keys(val: Records) -> List[str]:
    keys = {k for r in val for k in r if '/' in k}
    keys = {k for k in keys
            if not any(m in k.rsplit('/', 1)[1] for m in PER_CLASS_MARKERS)}
    preferred = [k for name in PREFERRED_METRICS for k in sorted(keys)
                 if k.rsplit('/', 1)[1] == name]
    return preferred + sorted(keys - set(preferred))


def _series(records: Records, key: str) -> Tuple[np.ndarray, np.ndarray]:
    points = [(r['step'], r[key]) for r in records
              if isinstance(r.get(key), (int, float))]
    if not points:
        return np.zeros(0), np.zeros(0)
    x, y = np.array(points, dtype=np.float64).T
    return x, y


def plot_training_curves(work_dir: str,
                         out_file: Optional[str] = None) -> str:
    """Draw every loss, the learning rate and the validation metrics of the runs
    in ``work_dir`` into one PNG (default ``WORK_DIR/results.png``); return its
    path. Raises InputError when ``work_dir`` holds no scalar log."""
    train, val = read_scalars(work_dir)
    loss_keys = sorted({k for r in train for k in r if k.startswith('loss')},
                       key=lambda k: (k != 'loss', k))
    panels = [(train, k, 'iteration') for k in loss_keys]
    if any('lr' in r for r in train):
        panels.append((train, 'lr', 'iteration'))
    panels += [(val, k, 'epoch') for k in _val_metric_keys(val)]
    cols = min(5, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = Figure(figsize=(3.6 * cols, 3.0 * rows), tight_layout=True)
    for n, (records, key, xlabel) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, n + 1)
        x, y = _series(records, key)
        ax.plot(x, y, marker='.' if len(x) < 50 else None, linewidth=1.5,
                markersize=6)
        if key.startswith('loss') and len(y) >= 20:
            # YOLOv5 draws a smoothed line over the raw one
            width = max(3, len(y) // 20) | 1
            padded = np.r_[np.full(width // 2, y[0]), y, np.full(width // 2, y[-1])]
            ax.plot(x, np.convolve(padded, np.ones(width) / width, 'valid'), ':',
                    color='orange', linewidth=2)
        ax.set_title(key, fontsize=11)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if not panels:
        fig.add_subplot().set_title('nothing logged yet')
    out_file = out_file or osp.join(work_dir, 'results.png')
    with atomic_write(out_file) as f:
        fig.savefig(f, format='png', dpi=100)
    return out_file

"""A search's files, as YOLOv5's ``--evolve`` writes them: ``evolve.csv`` (one row per
finished trial: YOLOv5's 7 metric columns, then the hyps), ``evolve.png`` (fitness
against each hyp) and the best trial's hyps, as a hyp file ``tools/train.py --hyp``
reads (``best_hyp.yaml``; YOLOv5's ``hyp_evolve.yaml``)."""
import io
import math
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from parkdet_challenge.atomic import atomic_write, write_bytes_atomic

#: YOLOv5's evolve.csv metric columns -> the run's metric (None: a loss column,
#: which the trial records under the column's own name)
METRIC_COLUMNS: Dict[str, str] = {
    'metrics/precision': 'challenge/P',
    'metrics/recall': 'challenge/R',
    'metrics/mAP_0.5': 'challenge/mAP_50',
    'metrics/mAP_0.5:0.95': 'challenge/mAP',
    'val/box_loss': 'val/box_loss',
    'val/obj_loss': 'val/obj_loss',
    'val/cls_loss': 'val/cls_loss'}
EVOLVE_CSV, EVOLVE_PNG, BEST_HYP = 'evolve.csv', 'evolve.png', 'best_hyp.yaml'


def fitness(rows: np.ndarray) -> np.ndarray:
    """YOLOv5's fitness of evolve.csv rows: 0.1 x mAP@.5 + 0.9 x mAP@.5:.95."""
    return rows[:, 2] * 0.1 + rows[:, 3] * 0.9


def evolve_csv_text(columns: Sequence[str], rows: Sequence[Sequence[float]]) -> str:
    """evolve.csv in YOLOv5's layout: names and values right-aligned in 20
    characters, values with 5 significant digits."""
    lines = [','.join(f'{c:>20s}' for c in columns)]
    lines += [','.join(f'{float(v):20.5g}' for v in row) for row in rows]
    return '\n'.join(lines) + '\n'


def read_evolve_csv(path: str) -> Tuple[List[str], np.ndarray]:
    """The column names and the rows of an evolve.csv."""
    with open(path, encoding='utf-8') as f:
        columns = [c.strip() for c in f.readline().split(',')]
    rows = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)
    return columns, rows.reshape(-1, len(columns))


def density(x: np.ndarray, y: np.ndarray, bins: int = 20) -> np.ndarray:
    """How crowded each point's cell of a ``bins`` x ``bins`` 2-D histogram is (its
    log count): the colour of YOLOv5's evolve scatter plots."""
    counts, x_edges, y_edges = np.histogram2d(x, y, bins)
    col = np.clip(np.digitize(x, x_edges) - 1, 0, counts.shape[0] - 1)
    row = np.clip(np.digitize(y, y_edges) - 1, 0, counts.shape[1] - 1)
    return np.log(counts[col, row])


def plot_evolve(csv_path: str, png_path: str) -> int:
    """Draw evolve.png from evolve.csv, as YOLOv5's ``plot_evolve``: one panel per
    hyp, each trial's fitness against its value, coloured by how many trials are
    near, the best trial marked with a black cross and its value in the title;
    fitness ticks on the first panel of each row. Returns the best row's index."""
    columns, rows = read_evolve_csv(csv_path)
    scores = fitness(rows)
    best = int(np.argmax(scores))
    hyps = columns[len(METRIC_COLUMNS):]
    panel_rows = max(6, math.ceil(len(hyps) / 5))
    fig = Figure(figsize=(10, 2 * panel_rows), tight_layout=True)
    FigureCanvasAgg(fig)
    for i, name in enumerate(hyps):
        values = rows[:, len(METRIC_COLUMNS) + i]
        ax = fig.add_subplot(panel_rows, 5, i + 1)
        ax.scatter(values, scores, c=density(values, scores), cmap='viridis',
                   alpha=0.8, edgecolors='none')
        ax.plot(values[best], scores.max(), 'k+', markersize=15)
        ax.set_title(f'{name} = {values[best]:.3g}', fontsize=9)
        ax.tick_params(labelsize=8)
        ax.ticklabel_format(axis='x', useOffset=False)
        if i % 5:
            ax.set_yticks([])
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=200)
    write_bytes_atomic(png_path, buf.getvalue())
    return best


def best_hyp_text(columns: Sequence[str], row: Sequence[float], best: int,
                  last: int, trial_number: int) -> str:
    """best_hyp.yaml: YOLOv5's hyp_evolve.yaml header (best and last rows, the
    best row's metrics) and the best row's hyps, full precision."""
    metrics = list(METRIC_COLUMNS)
    header = ('# YOLOv5 Hyperparameter Evolution Results (tools/evolve.py)\n'
              f'# Best generation: {best} (trial {trial_number})\n'
              f'# Last generation: {last}\n'
              '# ' + ', '.join(f'{c:>20s}' for c in metrics) + '\n'
              '# ' + ', '.join(f'{float(v):>20.5g}' for v in row[:len(metrics)])
              + '\n\n')
    hyps = {name: value for name, value in zip(columns[len(metrics):],
                                                row[len(metrics):])}
    return header + yaml.safe_dump(hyps, sort_keys=False)


def write_search_files(work_dir: str, hyp_names: Sequence[str],
                       rows: Sequence[Sequence[float]],
                       trial_numbers: Sequence[int]) -> None:
    """Write evolve.csv, evolve.png and best_hyp.yaml into ``work_dir`` from the
    finished trials' rows (metrics then ``hyp_names``' values), each file replaced
    whole (several workers may write them)."""
    if not rows:
        return
    columns = list(METRIC_COLUMNS) + list(hyp_names)
    csv_path = osp.join(work_dir, EVOLVE_CSV)
    with atomic_write(csv_path) as f:
        f.write(evolve_csv_text(columns, rows).encode())
    best = plot_evolve(csv_path, osp.join(work_dir, EVOLVE_PNG))
    # the hyps as the trial trained them, not the CSV's 5 significant digits
    text = best_hyp_text(columns, rows[best], best, len(rows) - 1, trial_numbers[best])
    write_bytes_atomic(osp.join(work_dir, BEST_HYP), text.encode())

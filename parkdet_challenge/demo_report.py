"""The demo's figures over seeds, and how one run compares with them.

``tools/run_demo.py --seeds 0 1 2`` trains a recipe once per seed; each run gives
its stages' val mAP@.5 and mAP@.5:.95 (``{'seed', 'threads', 'minutes', 'stages':
{stage: {'mAP_50', 'mAP'}}}``, :func:`seed_runs`). :func:`seed_summary` reduces them
to the median and the range per stage, :func:`seed_table` and :func:`seeds_line`
print them, and ``--docs`` keeps the summary
in ``docs/demo_seeds.json`` (:func:`write_docs_figures`), which docs/demo.md quotes
and which every later run is compared with (:func:`comparison_lines`): its bar and
the docs' median and range, so a user knows whether their figure is normal.
"""
import json
import os.path as osp
import platform
import statistics
from typing import Dict, List, Optional

from .atomic import PathLike, write_json_atomic

METRICS = ('mAP_50', 'mAP')
LABELS = {'mAP_50': 'mAP@.5', 'mAP': 'mAP'}


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or the platform's."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def seed_summary(runs: List[dict]) -> dict:
    """Per stage and metric, the median, minimum and maximum over ``runs`` (each
    run's stages as above); with the seeds, thread counts and minutes."""
    if not runs:
        raise ValueError('no runs to summarize')
    stages: Dict[str, Dict[str, dict]] = {}
    for stage in runs[0]['stages']:
        stages[stage] = {}
        for metric in METRICS:
            values = [run['stages'][stage][metric] for run in runs]
            stages[stage][metric] = dict(median=statistics.median(values),
                                         min=min(values), max=max(values))
    return dict(seeds=[run['seed'] for run in runs],
                threads=sorted({run['threads'] for run in runs}),
                minutes=[run['minutes'] for run in runs], stages=stages,
                runs=runs)


def seed_table(summary: dict) -> str:
    """One line per seed (each stage's val mAP@.5 and mAP, threads, minutes),
    then the median and range of each."""
    stages = list(summary['stages'])
    head = '  '.join(f'{stage + " " + LABELS[m]:>22s}' for stage in stages
                     for m in METRICS)
    lines = [f'{"seed":>6s}  {head}  threads  minutes']
    for run in summary['runs']:
        cells = '  '.join(f'{run["stages"][stage][m]:22.3f}' for stage in stages
                          for m in METRICS)
        lines.append(f'{run["seed"]:>6}  {cells}  {run["threads"]:>7}  '
                     f'{run["minutes"]:>7.1f}')
    for label, key in (('median', 'median'), ('min', 'min'), ('max', 'max')):
        cells = '  '.join(f'{summary["stages"][stage][m][key]:22.3f}'
                          for stage in stages for m in METRICS)
        lines.append(f'{label:>6s}  {cells}')
    return '\n'.join(lines)


def seed_runs(summaries: List[dict]) -> List[dict]:
    """Each run's seed, thread count, minutes and stages' val mAP@.5 and mAP, from
    its summary (tools/run_demo.py's WORK/summary.json)."""
    return [dict(seed=s['seed'], threads=s['torch_threads'], minutes=s['minutes'],
                 stages={stage: {k: v[k] for k in METRICS}
                         for stage, v in s['stages'].items()})
            for s in summaries]


def seeds_line(summary: dict, bar: Optional[float]) -> str:
    """The last stage's val mAP@.5 over the seeds: median and range, and which
    seeds fall short of the recipe's ``bar`` (None: it has none)."""
    final = list(summary['stages'])[-1]
    figure = summary['stages'][final]['mAP_50']
    line = (f'{final} val mAP@.5: median {figure["median"]:.3f}, range '
            f'{figure["min"]:.3f}-{figure["max"]:.3f}')
    if bar is not None:
        low = [run['seed'] for run in summary['runs']
               if run['stages'][final]['mAP_50'] < bar]
        line += (f'; the bar {bar:.2f} is met by '
                 + ('every seed' if not low else
                    f'all seeds but {", ".join(map(str, low))}'))
    return line


def figures_key(recipe: str, data_seed: int) -> str:
    """The recipe's key in docs/demo_seeds.json: its name, with the data
    generator's seed when that is not the demo's own (0)."""
    return recipe if data_seed == 0 else f'{recipe} data_seed {data_seed}'


def write_docs_figures(path: PathLike, recipe: str, summary: dict,
                       command: str, date: str) -> None:
    """Keep ``summary`` as ``recipe``'s figures in ``path`` (other recipes'
    figures stay), with the command, the machine and the date."""
    figures = read_docs_figures(path)
    figures[recipe] = dict(command=command, date=date, cpu=cpu_model(),
                           **{k: v for k, v in summary.items() if k != 'runs'},
                           runs=[{k: run[k] for k in ('seed', 'threads', 'minutes',
                                                      'stages')}
                                 for run in summary['runs']])
    write_json_atomic(path, figures, indent=1)


def read_docs_figures(path: PathLike) -> Dict[str, dict]:
    """Every recipe's figures in ``path`` ({} when there is none)."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def comparison_lines(stages: Dict[str, Dict[str, float]], threads: int,
                     bar: Optional[float], docs: Optional[dict],
                     docs_name: str) -> List[str]:
    """How one run's stages (in order, the last one the recipe's figure) compare
    with each other, with the recipe's ``bar`` on the last stage's val mAP@.5
    (None: it has none) and with ``docs`` (its figures in ``docs_name``, or
    None)."""
    names = list(stages)
    final = names[-1]
    value = stages[final]['mAP_50']
    lines = []
    if len(names) > 1:
        lines.append('stages (val mAP@.5): ' + ' -> '.join(
            f'{name} {stages[name]["mAP_50"]:.3f}' for name in names))
    line = f'val mAP@.5 {value:.3f} ({final}, {threads} threads)'
    if bar is not None:
        line += (f': the bar is {bar:.2f}, '
                 f'{"met" if value >= bar else "NOT met"}')
    lines.append(line)
    if not docs or final not in docs['stages']:
        lines.append(f'{docs_name} has no seed figures for this recipe to compare '
                     'with')
        return lines
    figure = docs['stages'][final]['mAP_50']
    seeds = ', '.join(str(s) for s in docs['seeds'])
    where = ('within' if figure['min'] <= value <= figure['max'] else
             'below' if value < figure['min'] else 'above')
    doc_threads = '/'.join(str(t) for t in docs['threads'])
    lines.append(
        f'{docs_name}: seeds {seeds} at {doc_threads} threads ({docs["cpu"]}, '
        f'{docs["date"]}) gave median {figure["median"]:.3f}, range '
        f'{figure["min"]:.3f}-{figure["max"]:.3f}: this run is {where} that range')
    if str(threads) != doc_threads:
        lines.append(f'(this run had {threads} threads: a run\'s figures move with '
                     'the thread count and the machine)')
    return lines

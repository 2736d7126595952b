"""The demo's figures over seeds (parkdet_challenge.demo_report): median and range
per stage, kept for the docs, and what a run's last lines say about its figure."""
import json

import pytest

from parkdet_challenge.demo_report import (
    comparison_lines,
    figures_key,
    read_docs_figures,
    seed_runs,
    seed_summary,
    seed_table,
    seeds_line,
    write_docs_figures,
)


def run(seed, baseline, finetune, threads=2, minutes=12.5):
    return dict(seed=seed, threads=threads, minutes=minutes,
                stages=dict(baseline=dict(mAP_50=baseline, mAP=baseline - 0.1),
                            finetune=dict(mAP_50=finetune, mAP=finetune - 0.1)))


RUNS = [run(0, 0.58, 0.61), run(1, 0.47, 0.52), run(2, 0.55, 0.49, minutes=14.0)]


def test_median_and_range_per_stage_and_metric():
    summary = seed_summary(RUNS)
    assert summary['seeds'] == [0, 1, 2]
    assert summary['threads'] == [2]
    assert summary['minutes'] == [12.5, 12.5, 14.0]
    assert summary['stages']['finetune']['mAP_50'] == pytest.approx(
        dict(median=0.52, min=0.49, max=0.61))
    assert summary['stages']['baseline']['mAP'] == pytest.approx(
        dict(median=0.45, min=0.37, max=0.48))
    lines = seed_table(summary).splitlines()
    assert len(lines) == 1 + 3 + 3  # header, a line per seed, median/min/max
    assert lines[2].split()[:5] == ['1', '0.470', '0.370', '0.520', '0.420']
    assert lines[4].split()[:5] == ['median', '0.550', '0.450', '0.520', '0.420']


def test_the_docs_figures_keep_other_recipes(tmp_path):
    path = tmp_path / 'demo_seeds.json'
    path.write_text(json.dumps({'coco': {'seeds': [0]}}))
    write_docs_figures(path, '2022', seed_summary(RUNS),
                       'python tools/run_demo.py --seeds 0 1 2', '2026-12-07')
    figures = read_docs_figures(path)
    assert figures['coco'] == {'seeds': [0]}
    assert figures['2022']['command'] == 'python tools/run_demo.py --seeds 0 1 2'
    assert figures['2022']['stages']['finetune']['mAP_50']['median'] == 0.52
    assert [r['seed'] for r in figures['2022']['runs']] == [0, 1, 2]
    assert read_docs_figures(tmp_path / 'none.json') == {}


def test_a_run_is_placed_against_its_bar_and_the_docs_range(tmp_path):
    docs = dict(seed_summary(RUNS), cpu='AMD EPYC', date='2026-12-07')
    stages = run(7, 0.50, 0.47)['stages']
    lines = comparison_lines(stages, 2, 0.50, docs, 'docs/demo_seeds.json')
    assert lines == [
        'stages (val mAP@.5): baseline 0.500 -> finetune 0.470',
        'val mAP@.5 0.470 (finetune, 2 threads): the bar is 0.50, NOT met',
        'docs/demo_seeds.json: seeds 0, 1, 2 at 2 threads (AMD EPYC, 2026-12-07) '
        'gave median 0.520, range 0.490-0.610: this run is below that range']
    lines = comparison_lines(run(7, 0.5, 0.55)['stages'], 4, 0.50, docs, 'D')
    assert lines[1].endswith('the bar is 0.50, met')
    assert lines[2].endswith('this run is within that range')
    assert lines[3].startswith('(this run had 4 threads')
    single = dict(baseline=dict(mAP_50=0.7, mAP=0.5))
    assert comparison_lines(single, 2, None, None, 'D') == [
        'val mAP@.5 0.700 (baseline, 2 threads)',
        'D has no seed figures for this recipe to compare with']


def test_the_seeds_line_names_the_seeds_below_the_bar():
    runs = seed_runs([dict(seed=r['seed'], torch_threads=r['threads'],
                           minutes=r['minutes'],
                           stages={s: dict(v, mAP_75=0.0)
                                   for s, v in r['stages'].items()})
                      for r in RUNS])
    assert runs == RUNS  # mAP@.75 left out
    summary = seed_summary(runs)
    assert seeds_line(summary, 0.50) == (
        'finetune val mAP@.5: median 0.520, range 0.490-0.610; the bar 0.50 is met '
        'by all seeds but 2')
    assert seeds_line(summary, 0.49).endswith('the bar 0.49 is met by every seed')
    assert seeds_line(summary, None) == (
        'finetune val mAP@.5: median 0.520, range 0.490-0.610')
    assert figures_key('2022', 0) == '2022'
    assert figures_key('2022', 3) == '2022 data_seed 3'

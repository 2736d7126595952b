"""tools/evolve.py: YOLOv5's search space and mutation on Optuna, the study shared by
workers and resumed after a kill, and the files a search leaves."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
import torch
import yaml
from conftest import REPO, run_tool, write_tiny_config
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from parkdet_challenge.errors import InputError
from parkdet_mm.config import YOLOV5_HYPS, read_hyp_file
from parkdet_mm.tuning.outputs import (
    METRIC_COLUMNS,
    best_hyp_text,
    read_evolve_csv,
    write_search_files,
)
from parkdet_mm.tuning.space import YOLOV5_META, parse_space
from parkdet_mm.tuning.yolov5_sampler import YOLOv5MutationSampler


def yolov5_v70_mutation(x_csv, hyp, meta, seed):
    """YOLOv5 v7.0 train.py's evolve step, transcribed: ``x_csv`` the rows of
    evolve.csv (7 metric columns, then the hyps in ``hyp``'s order), ``hyp`` the
    hyp dict, ``meta`` its (gain, low, high); random and np.random seeded with
    ``seed`` (YOLOv5: the time)."""
    random.seed(seed)
    hyp = dict(hyp)
    if len(x_csv):  # evolve.csv exists
        x = np.array(x_csv, ndmin=2)
        n = min(5, len(x))
        fit = (x[:, :4] * [0.0, 0.0, 0.1, 0.9]).sum(1)
        x = x[np.argsort(-fit)][:n]
        fit = (x[:, :4] * [0.0, 0.0, 0.1, 0.9]).sum(1)
        w = fit - fit.min() + 1E-6
        x = x[random.choices(range(n), weights=w)[0]]
        mp, s = 0.8, 0.2
        npr = np.random
        npr.seed(seed)
        g = np.array([meta[k][0] for k in hyp.keys()])
        ng = len(meta)
        v = np.ones(ng)
        while all(v == 1):
            v = (g * (npr.random(ng) < mp) * npr.randn(ng) * npr.random() * s + 1).clip(0.3, 3.0)
        for i, k in enumerate(hyp.keys()):
            hyp[k] = float(x[i + 7] * v[i])
    for k, v in meta.items():
        hyp[k] = max(hyp[k], v[1])
        hyp[k] = min(hyp[k], v[2])
        hyp[k] = round(hyp[k], 5)
    return hyp


def _study_with(rows, names, space):
    """An in-memory study holding finished trials whose params are ``rows``' hyps
    and whose value is YOLOv5's fitness of their metrics."""
    study = optuna.create_study(direction='maximize')
    for row in rows:
        study.add_trial(create_trial(
            params=dict(zip(names, row[7:])), distributions=space,
            value=0.1 * row[2] + 0.9 * row[3], state=TrialState.COMPLETE))
    return study


@pytest.mark.parametrize('parents', [0, 1, 3, 8])
def test_the_yolov5_sampler_mutates_as_yolov5s_train_py(parents):
    names = [p.name for p in parse_space(None, {v: 0.0 for v in YOLOV5_HYPS.values()})]
    meta = {k: YOLOV5_META[k] for k in names}
    space = {k: FloatDistribution(lo, hi) for k, (_, lo, hi) in meta.items()}
    rng = np.random.default_rng(parents)
    base = {k: round(float(rng.uniform(lo, hi)), 5) for k, (_, lo, hi) in meta.items()}
    rows = [[0.5, 0.5, *rng.uniform(0, 1, 2), 0.1, 0.1, 0.1]
            + [float(rng.uniform(lo, hi)) for _, lo, hi in meta.values()]
            for _ in range(parents)]
    study = _study_with(rows, names, space)
    for seed in range(5):
        sampler = YOLOv5MutationSampler(space, {k: m[0] for k, m in meta.items()},
                                        base, seed=seed)
        trial = study.ask()  # its number n: the sampler draws with seed + n
        drawn = sampler.sample_relative(study, study._storage.get_trial(trial._trial_id),
                                        sampler.infer_relative_search_space(study, trial))
        # before any trial has finished: the first trial takes the start values as
        # YOLOv5's first generation; a worker's trial beside it mutates them
        parent_rows = rows or ([[0.0] * 7 + list(base.values())] if trial.number else [])
        expected = yolov5_v70_mutation(parent_rows, base, meta, seed + trial.number)
        assert drawn == expected
        assert (drawn == {k: round(v, 5) for k, v in base.items()}) == (
            not rows and trial.number == 0)
        if parents:  # every value within its limits, some changed from every parent
            assert all(meta[k][1] <= v <= meta[k][2] for k, v in drawn.items())
            assert all(any(v != p for v, p in zip(drawn.values(), row[7:]))
                       for row in rows)
        study.tell(trial, state=TrialState.FAIL)


def test_the_yolov5_sampler_keeps_a_scale_0_value_and_rounds_whole_numbers():
    space = {'fliplr': FloatDistribution(0, 1), 'batch': IntDistribution(2, 64)}
    sampler = YOLOv5MutationSampler(space, dict(fliplr=0.0, batch=1.0),
                                    dict(fliplr=0.5, batch=16), seed=3)
    for seed in range(20):
        values = sampler.mutate(list(space), space, np.zeros((0, 2)), np.zeros(0), seed)
        assert values['fliplr'] == 0.5 and isinstance(values['batch'], int)
        assert 2 <= values['batch'] <= 64


def test_the_search_space_is_yolov5s_plus_what_a_user_names():
    base = dict({v: 0.01 for v in YOLOV5_HYPS.values()}, label_smoothing=0.0,
                multi_scale=False, train_batch_size_per_gpu=8, epoch_parts=1)
    default = parse_space(None, base)
    # every hyp with a counterpart that YOLOv5 mutates (fliplr's scale is 0)
    assert [p.name for p in default] == [k for k in YOLOV5_HYPS if k != 'fliplr']
    lr0 = default[0]
    assert (lr0.primary, lr0.gain, lr0.distribution.low, lr0.distribution.high) == \
        ('base_lr', 1, 1e-5, 1e-1)
    named = parse_space('base_lr,fliplr,label_smoothing,multi_scale,'
                        'train_batch_size_per_gpu=4:32,translate=0:0.5:0.5', base)
    assert [(p.name, p.primary, p.gain) for p in named] == [
        ('lr0', 'base_lr', 1), ('fliplr', 'flip_lr_prob', 1.0),
        ('label_smoothing', 'label_smoothing', 1.0), ('multi_scale', 'multi_scale', 1.0),
        ('train_batch_size_per_gpu', 'train_batch_size_per_gpu', 1.0),
        ('translate', 'max_translate_ratio', 0.5)]
    assert isinstance(named[4].distribution, IntDistribution)
    assert named[3].distribution.choices == (False, True)
    assert len(parse_space('yolov5,label_smoothing', base)) == len(default) + 1
    for text, message in [('lr00', 'neither a YOLOv5 hyp nor a primary'),
                          ('epoch_parts', 'give its range'),
                          ('lr0=0.1:0.01', 'LOW must be below HIGH'),
                          ('epoch_parts=1:2.5', 'whole limits'), (',', 'nothing')]:
        with pytest.raises(InputError, match=message):
            parse_space(text, base)


def test_the_search_files_read_back(tmp_path):
    hyp_names = list(YOLOV5_HYPS) + ['label_smoothing']
    rows = [[0.5, 0.4, 0.3, 0.2, 0.05, 0.02, 0.01]
            + [0.01 * (i + 1) for i in range(len(hyp_names))],
            [0.6, 0.5, 0.5, 0.3, 0.04, 0.02, 0.01] + [0.0123456789] * len(hyp_names)]
    write_search_files(str(tmp_path), hyp_names, rows, [0, 3])
    columns, values = read_evolve_csv(str(tmp_path / 'evolve.csv'))
    assert columns == list(METRIC_COLUMNS) + hyp_names
    assert np.allclose(values, rows, rtol=1e-4)  # YOLOv5's 5 significant digits
    header = (tmp_path / 'evolve.csv').read_text().splitlines()[0]
    assert header.startswith('   metrics/precision,')  # '%20s'
    # the best row (fitness 0.32 against 0.21), at full precision, as --hyp reads it
    text = (tmp_path / 'best_hyp.yaml').read_text()
    assert text == best_hyp_text(columns, rows[1], 1, 1, 3)
    assert '# Best generation: 1 (trial 3)' in text
    primaries, _ = read_hyp_file(str(tmp_path / 'best_hyp.yaml'))
    assert primaries['base_lr'] == 0.0123456789
    assert primaries['label_smoothing'] == 0.0123456789
    assert (tmp_path / 'evolve.png').read_bytes()[:4] == b'\x89PNG'


def _evolve(config, work_dir, *extra):
    return [str(REPO / 'tools/evolve.py'), str(config), '--epochs', '1',
            '--work-dir', str(work_dir), '--seed', '0', *extra]


def _trials(work_dir):
    study = optuna.load_study(study_name=work_dir.name,
                              storage=f'sqlite:///{work_dir}/evolve.db')
    return study.get_trials()


def test_a_killed_search_resumes_and_its_best_hyp_yaml_trains(tiny_coco, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work_dir = tmp_path / 'search'
    args = _evolve(config, work_dir, '--trials', '3', '--sampler', 'yolov5')
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (work_dir / 'trial_1' / 'hyp.yaml').exists():
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # in trial 1's training (or, on a slow
    proc.wait()                        # machine, a later trial's)
    states = [t.state for t in _trials(work_dir)]
    assert states.count(TrialState.RUNNING) == 1 and states[0] == TrialState.COMPLETE
    killed = states.index(TrialState.RUNNING)

    out = run_tool(args).stdout
    assert f'trial {killed} was stopped before its end: queued again' in out
    trials = _trials(work_dir)
    assert trials[killed].state == TrialState.FAIL
    assert [t.state for t in trials].count(TrialState.COMPLETE) == 3
    # the killed trial ran again with its values, in its work dir
    retry = trials[killed + 1]
    assert retry.params == trials[killed].params
    assert retry.user_attrs['work_dir'] == str(work_dir / f'trial_{killed}')
    assert retry.state == TrialState.COMPLETE
    # YOLOv5's first generation is the config's values; the next ones mutate
    assert trials[0].params['lr0'] == 0.01 and trials[1].params != trials[0].params
    columns, rows = read_evolve_csv(str(work_dir / 'evolve.csv'))
    assert len(rows) == 3 and columns[7:9] == ['lr0', 'lrf']
    assert np.isfinite(rows[:, 4:7]).all() and (rows[:, 4:7] > 0).all()  # val losses
    assert (work_dir / 'evolve.png').is_file()

    # best_hyp.yaml trains, and gives the best trial's weights (bit-reproducible)
    fitness = [t.value if t.state == TrialState.COMPLETE else -1 for t in trials]
    best = trials[int(np.argmax(fitness))]
    hyps = yaml.safe_load((work_dir / 'best_hyp.yaml').read_text())
    assert {k: hyps[k] for k in best.params} == best.params
    run_tool(['tools/train.py', str(config), '--hyp', str(work_dir / 'best_hyp.yaml'),
              '--work-dir', str(tmp_path / 'retrain')])
    ours = torch.load(tmp_path / 'retrain' / 'epoch_1.pth', weights_only=False)
    theirs = torch.load(os.path.join(best.user_attrs['work_dir'], 'epoch_1.pth'),
                        weights_only=False)
    assert ours['state_dict'].keys() == theirs['state_dict'].keys()
    for key, value in ours['state_dict'].items():
        assert torch.equal(value, theirs['state_dict'][key]), key


def test_two_workers_share_one_sqlite_study(tiny_coco, tmp_path, slurm):
    # tools/slurm_evolve.sh through the stand-in srun: two worker processes
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work_dir = tmp_path / 'search'
    proc = subprocess.run(
        ['bash', 'tools/slurm_evolve.sh', 'part', 'job', '2', str(config), '--epochs',
         '1', '--work-dir', str(work_dir), '--trials', '2', '--prune'],
        cwd=REPO, env=slurm, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    run = json.loads(open(slurm['SRUN_LOG']).read())
    assert run['opts']['ntasks'] == '2' and run['opts']['gpus-per-task'] == '1'
    trials = _trials(work_dir)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    # one trial each, in one study
    assert len({t.user_attrs['worker']['pid'] for t in trials}) == 2
    # --prune: every epoch's fitness went to the pruner
    assert all(list(t.intermediate_values) == [1] for t in trials)
    with sqlite3.connect(work_dir / 'evolve.db') as db:
        assert db.execute('select count(*) from studies').fetchone() == (1, )


def test_a_search_refuses_bad_input_in_one_line(tiny_coco, tmp_path):
    from conftest import assert_one_line_error
    config = write_tiny_config(tmp_path / 'tiny.py', tiny_coco, epochs=1)
    work_dir = tmp_path / 'search'
    assert_one_line_error(run_tool(_evolve(config, work_dir, '--space', 'lr00'),
                                   check=False), 'lr00')
    assert_one_line_error(run_tool(_evolve(config, work_dir, '--cfg-options',
                                           'base_lr=0.1'), check=False), 'searched')
    assert not (work_dir / 'evolve.db').exists()


@pytest.mark.parametrize('lost_race', ['tables', 'schema_version'])
def test_a_worker_that_loses_the_race_to_create_the_tables_opens_them(
        tmp_path, monkeypatch, lost_race):
    """Workers starting on a new SQLite file race to create its tables ('table ...
    already exists') and to write its schema version (UNIQUE constraint failed:
    alembic_version.version_num, seen with two workers of the slurm test): the
    loser opens the storage on its next try; any other error is still one line."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from parkdet_mm.tuning import search
    url = search.default_storage(str(tmp_path))
    real, calls = search.RDBStorage, []
    race_error = {
        'tables': OperationalError('CREATE TABLE studies', {},
                                   Exception('table studies already exists')),
        'schema_version': IntegrityError(
            'INSERT INTO alembic_version', {},
            Exception('UNIQUE constraint failed: alembic_version.version_num')),
    }[lost_race]

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            real(*args, **kwargs)  # the other worker made them meanwhile
            raise race_error
        return real(*args, **kwargs)

    monkeypatch.setattr(search, 'RDBStorage', racing)
    monkeypatch.setattr(search.time, 'sleep', lambda _: None)
    storage = search.open_storage(url)
    assert len(calls) == 2 and storage.get_all_studies() == []

    def refusing(*args, **kwargs):
        raise OperationalError('SELECT 1', {}, Exception('disk I/O error'))

    monkeypatch.setattr(search, 'RDBStorage', refusing)
    with pytest.raises(InputError, match='disk I/O error'):
        search.open_storage(url)

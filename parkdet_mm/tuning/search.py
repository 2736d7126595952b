"""A hyper-parameter search on Optuna whose trials are training runs of a config.

The study lives in an Optuna storage (a database URL; by default a SQLite file in
the search's work dir), so several processes, machines or Slurm array tasks, each
running :func:`run_search` on the same storage and study name, share one search
(Optuna's distributed mode). Each trial trains the config with the trial's values
(set as ``tools/train.py --hyp`` sets a hyp file's) in ``WORK_DIR/trial_{n}``
through :func:`parkdet_mm.apis.training.train_config`, its fitness (YOLOv5's: 0.1 x
mAP@.5 + 0.9 x mAP@.5:.95 on val) the trial's value.

A search that was killed resumes when the same command runs again: the trials
that finished stay in the study; a trial whose process died (on this machine: its
process is gone; elsewhere: Optuna's heartbeat stopped) or that a signal stopped
is run again with the same values, its training continuing from the latest
checkpoint of its work dir.
"""
import os
import os.path as osp
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import optuna
import yaml
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, Trial, TrialState
from sqlalchemy.exc import IntegrityError

from parkdet_challenge.atomic import write_bytes_atomic
from parkdet_challenge.errors import InputError
from parkdet_mm.apis.training import train_config
from parkdet_mm.config import YOLOV5_HYPS, load_config
from parkdet_mm.engine.errors import TrainingDiverged, TrainingInterrupted

from .outputs import METRIC_COLUMNS, write_search_files
from .space import SearchParam, column_primary, hyp_columns
from .trial_hook import TrialHook
from .yolov5_sampler import YOLOv5MutationSampler

# retry_history is experimental in Optuna 5
warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)

#: Retries of a trial whose run was killed or stopped, before it stays failed.
MAX_RETRIES = 3
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class SearchSpec:
    """What a search trains: ``config`` with ``cfg_options`` and ``primaries`` (data
    root, ...) for ``epochs`` epochs per trial, searching ``params`` from ``base``
    (every primary's value in the config), validating every epoch when ``prune``."""

    config: str
    work_dir: str
    params: List[SearchParam]
    base: Dict[str, Any]
    epochs: int
    prune: bool = False
    cfg_options: Optional[Dict[str, Any]] = None
    primaries: Dict[str, Any] = field(default_factory=dict)

    def trial_primaries(self, values: Dict[str, Any]) -> Dict[str, Any]:
        """The primaries a trial with ``values`` (param name -> value) sets."""
        hyps = {primary: self.base[primary] for primary in YOLOV5_HYPS.values()
                if primary in self.base}
        hyps.update({p.primary: values[p.name] for p in self.params})
        return hyps

    def row(self, trial: FrozenTrial) -> List[float]:
        """The trial's evolve.csv row: YOLOv5's metrics, then the hyps."""
        primaries = self.trial_primaries(trial.params)
        return ([float(trial.user_attrs['metrics'].get(column, float('nan')))
                 for column in METRIC_COLUMNS]
                + [primaries[column_primary(c)] for c in hyp_columns(self.params)])

    def start_values(self) -> Dict[str, Any]:
        """The config's values of the params, held to their limits and rounded to
        5 decimals as YOLOv5 holds its first generation's."""
        values = {}
        for p in self.params:
            value = self.base[p.primary]
            if isinstance(p.distribution, (FloatDistribution, IntDistribution)):
                value = round(min(max(value, p.distribution.low), p.distribution.high), 5)
                value = int(value) if isinstance(p.distribution, IntDistribution) else value
            values[p.name] = value
        return values

    def description(self) -> Dict[str, Any]:
        """What every worker of one study must agree on."""
        return dict(config=osp.normpath(self.config), epochs=self.epochs, prune=self.prune,
                    space={p.name: repr(p.distribution) for p in self.params})


def default_storage(work_dir: str) -> str:
    """The SQLite file of a search in ``work_dir``."""
    return f'sqlite:///{osp.abspath(osp.join(work_dir, "evolve.db"))}'


def open_storage(url: str, heartbeat_interval: int = 60) -> RDBStorage:
    """Optuna's database storage at ``url``, with a heartbeat, so that the trials of
    a machine that died are failed and retried by the others."""
    engine_kwargs = {}
    if url.startswith('sqlite'):
        # several processes on one SQLite file wait for its lock instead of failing
        engine_kwargs = dict(connect_args=dict(timeout=120))
    try:
        for attempt in range(3):
            try:
                return RDBStorage(
                    url, engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=2 * heartbeat_interval,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES, inherit_intermediate_values=True))
            except Exception as err:
                # workers starting together on a new database race to create its
                # tables ('table ... already exists') and to write its schema
                # version (a unique-constraint IntegrityError): the loser finds
                # both made on its next try
                lost_race = isinstance(err, IntegrityError) or 'already exists' in str(err)
                if attempt == 2 or not lost_race:
                    raise
                time.sleep(1)
    except (ImportError, ModuleNotFoundError) as err:
        raise InputError(f'--storage {url}: its database driver is missing ({err})') \
            from None
    except Exception as err:  # SQLAlchemy's errors: a bad URL, a refused connection
        raise InputError(f'--storage {url}: {type(err).__name__}: '
                         f'{str(err).splitlines()[0]}') from None


def make_sampler(name: str, spec: SearchSpec,
                 seed: Optional[int]) -> optuna.samplers.BaseSampler:
    """'tpe' (Optuna's TPE) or 'yolov5' (:class:`YOLOv5MutationSampler`)."""
    if name == 'yolov5':
        return YOLOv5MutationSampler(
            {p.name: p.distribution for p in spec.params},
            {p.name: p.gain for p in spec.params},
            {p.name: spec.base[p.primary] for p in spec.params}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(name: Optional[str]) -> optuna.pruners.BasePruner:
    """None: no pruning; 'median', 'hyperband': Optuna's pruners."""
    if name == 'median':
        return optuna.pruners.MedianPruner()
    if name == 'hyperband':
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(spec: SearchSpec, storage: RDBStorage, study_name: str,
               sampler: optuna.samplers.BaseSampler,
               pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """The study ``study_name`` in ``storage``, created on first use; a worker whose
    config, epochs or space differ from the study's is an InputError."""
    study = optuna.create_study(storage=storage, study_name=study_name,
                                direction='maximize', sampler=sampler, pruner=pruner,
                                load_if_exists=True)
    mine = spec.description()
    theirs = study.user_attrs.get('search')
    if theirs is None:
        study.set_user_attr('search', mine)
        # YOLOv5's first generation: the values it starts from, held to the limits;
        # once, where two workers opening a new study both find it unmarked
        study.enqueue_trial(spec.start_values(), skip_if_exists=True)
    elif theirs != mine:
        changed = [key for key in mine if mine[key] != theirs.get(key)]
        raise InputError(f'study {study_name} was started with another '
                         f'{", ".join(changed)}: {theirs}; use another --study-name '
                         'or --work-dir')
    return study


def first_number(trial: FrozenTrial) -> int:
    """The number of the trial whose values ``trial`` runs again (itself if new):
    its work dir."""
    history = RetryHeartbeatStaleTrialCallback.retry_history(trial)
    return history[0] if history else trial.number


def frozen(trial: Trial) -> FrozenTrial:
    """The stored state of a running trial."""
    return next(t for t in trial.study.get_trials(deepcopy=False)
                if t.number == trial.number)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def recover(study: optuna.Study, storage: RDBStorage) -> List[int]:
    """Fail the trials this machine was running in processes that are gone, and
    queue again (same values) each trial that was killed or stopped by a signal and
    is not queued yet; return the numbers queued."""
    host = socket.gethostname()
    study_id = storage.get_study_id_from_name(study.study_name)
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        worker = trial.user_attrs.get('worker') or {}
        if (trial.state == TrialState.RUNNING and worker.get('host') == host
                and not _alive(int(worker.get('pid', -1)))):
            trial_id = storage.get_trial_id_from_study_id_trial_number(
                study_id, trial.number)
            storage.set_trial_user_attr(trial_id, 'interrupted', True)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
    retried = {number for t in trials
               for number in RetryHeartbeatStaleTrialCallback.retry_history(t)}
    queued = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL, )):
        if trial.user_attrs.get('interrupted') and trial.number not in retried:
            RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES,
                                     inherit_intermediate_values=True)(study, trial)
            queued.append(trial.number)
    return queued


def suggest(trial: Trial, param: SearchParam) -> Any:
    """The trial's value of ``param``."""
    distribution = param.distribution
    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(param.name, distribution.low, distribution.high)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(param.name, distribution.low, distribution.high)
    return trial.suggest_categorical(param.name, distribution.choices)


def train_trial(spec: SearchSpec, trial: Trial) -> float:
    """Train one trial; its fitness. Pruned: optuna.TrialPruned."""
    values = {p.name: suggest(trial, p) for p in spec.params}
    work_dir = osp.join(spec.work_dir, f'trial_{first_number(frozen(trial))}')
    # (a trial queued again inherits its first run's attributes)
    trial.set_user_attr('interrupted', False)
    trial.set_user_attr('work_dir', work_dir)
    trial.set_user_attr('worker', dict(host=socket.gethostname(), pid=os.getpid()))
    hyps = spec.trial_primaries(values)
    hyp_file = {column: hyps[column_primary(column)] for column in hyp_columns(spec.params)}
    write_bytes_atomic(osp.join(work_dir, 'hyp.yaml'),
                       yaml.safe_dump(hyp_file, sort_keys=False).encode())
    cfg = load_config(spec.config, spec.cfg_options, dict(
        spec.primaries, work_dir=work_dir, max_epochs=spec.epochs,
        val_interval=1 if spec.prune else None), base_primaries=hyps)
    # one visualizer per trial: MMEngine keeps visualizers by name for the process
    cfg.visualizer.name = f'evolve_trial_{trial.number}'
    hook = TrialHook(trial if spec.prune else None)
    try:
        train_config(cfg, resume='auto', hooks=[hook])
    except TrainingDiverged:
        raise
    except TrainingInterrupted as err:
        trial.set_user_attr('interrupted', True)  # resumable: run it again later
        raise TrainingInterrupted(
            f'trial {trial.number}: {str(err).split("; run the same")[0]}; run the same '
            'tools/evolve.py command to continue the search (this trial trains on '
            'from there)', err.status - 128) from None
    except BaseException:
        trial.set_user_attr('interrupted', True)
        raise
    if hook.pruned_at is not None:
        raise optuna.TrialPruned(f'pruned after epoch {hook.pruned_at}')
    if 'challenge/fitness' not in hook.metrics:
        raise InputError(f'trial {trial.number}: the validation gave no fitness (does '
                         'the validation set have boxes?)')
    trial.set_user_attr('metrics', {column: float(hook.metrics.get(key, float('nan')))
                                    for column, key in METRIC_COLUMNS.items()})
    return float(hook.metrics['challenge/fitness'])


def write_outputs(spec: SearchSpec, study: optuna.Study) -> None:
    """evolve.csv, evolve.png and best_hyp.yaml of the study's finished trials."""
    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, )),
                  key=lambda t: t.number)
    write_search_files(spec.work_dir, hyp_columns(spec.params),
                       [spec.row(t) for t in done], [t.number for t in done])


def count(study: optuna.Study, states: Sequence[TrialState]) -> int:
    return len(study.get_trials(deepcopy=False, states=tuple(states)))


def run_search(spec: SearchSpec, study: optuna.Study, storage: RDBStorage,
               trials: int) -> None:
    """Run trials of ``study`` until it has ``trials`` finished (complete or pruned)
    ones, counting those other workers are running; a trial queued again (after a
    kill) runs in any case. A diverged trial fails and the search goes on; any
    other error stops it."""
    for number in recover(study, storage):
        print(f'trial {number} was stopped before its end: queued again')

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE:
            write_outputs(spec, study)

    while True:
        waiting = count(study, (TrialState.WAITING, ))
        started = count(study, FINISHED + (TrialState.RUNNING, ))
        if not waiting and started >= trials:
            break
        study.optimize(lambda trial: train_trial(spec, trial), n_trials=1,
                       catch=(TrainingDiverged, ), callbacks=[after_trial])
    write_outputs(spec, study)

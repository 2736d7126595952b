"""YOLOv5's hyper-parameter evolution (``train.py --evolve``) as an Optuna sampler."""
import random
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def select_parent(rows: np.ndarray, fitness: np.ndarray, rng: random.Random,
                  top: int = 5) -> np.ndarray:
    """YOLOv5's parent: among the ``top`` fittest rows (by ``np.argsort`` of the
    negated fitness), one drawn with weights ``fitness - min + 1e-6``."""
    n = min(top, len(rows))
    order = np.argsort(-fitness)[:n]
    rows, fitness = rows[order], fitness[order]
    weights = fitness - fitness.min() + 1e-6
    return rows[rng.choices(range(n), weights=weights)[0]]


def mutation_factors(gains: np.ndarray, rng: np.random.RandomState,
                     probability: float = 0.8, sigma: float = 0.2) -> np.ndarray:
    """YOLOv5's multiplicative mutation: each value with probability
    ``probability`` is multiplied by ``1 + gain x N(0, 1) x U(0, 1) x sigma`` (one
    U(0, 1) for all), clipped to 0.3-3.0, drawn again until one factor is not 1."""
    factors = np.ones(len(gains))
    while all(factors == 1):
        factors = (gains * (rng.random_sample(len(gains)) < probability)
                   * rng.randn(len(gains)) * rng.random_sample() * sigma + 1
                   ).clip(0.3, 3.0)
    return factors


class YOLOv5MutationSampler(BaseSampler):
    """YOLOv5 v7.0's ``--evolve`` as an Optuna sampler.

    The first trial takes ``base`` (the config's values) as they are; every later
    one mutates a parent: one of the 5 fittest finished trials, drawn with weights
    ``fitness - min + 1e-6`` (before any trial has finished: ``base``), each value
    multiplied by :func:`mutation_factors` with its ``gains`` (YOLOv5's mutation
    scale), then held to its distribution's limits and rounded to 5 decimals, as
    YOLOv5's ``train.py`` does. Whole-number values are rounded after the
    mutation; values that are not numbers (True/False primaries) come from
    ``independent_sampler`` (Optuna's random sampler).

    YOLOv5 seeds numpy with the time for each generation; here the trial's draws
    come from ``seed + trial number`` (the time when ``seed`` is None), so that a
    search is repeatable and the trials of several workers differ.

    Args:
        space: param name -> its distribution (the study's params, in order).
        gains: param name -> YOLOv5's mutation scale.
        base: param name -> the starting value.
        seed: See above.
        independent_sampler: For the params that are not numbers.
    """

    def __init__(self, space: Dict[str, BaseDistribution], gains: Dict[str, float],
                 base: Dict[str, Any], seed: Optional[int] = None,
                 independent_sampler: Optional[BaseSampler] = None) -> None:
        self.space = {name: distribution for name, distribution in space.items()
                      if isinstance(distribution, (FloatDistribution, IntDistribution))}
        self.gains = dict(gains)
        self.base = dict(base)
        self.seed = seed
        self._independent = independent_sampler or RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(
            self, study: Study, trial: FrozenTrial) -> Dict[str, BaseDistribution]:
        return dict(self.space)

    def _trial_seed(self, trial: FrozenTrial) -> int:
        seed = int(time.time()) if self.seed is None else self.seed
        return (seed + trial.number) % 2**32

    def parents(self, study: Study,
                names: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """The finished trials' values of ``names`` (rows, in trial order) and
        their fitness."""
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, ))
                if all(name in t.params for name in names)]
        rows = np.array([[float(t.params[name]) for name in names] for t in done])
        return rows.reshape(len(done), len(names)), np.array([t.value for t in done])

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: Dict[str, BaseDistribution]) -> Dict[str, Any]:
        if not search_space:
            return {}
        names = list(search_space)
        rows, fitness = self.parents(study, names)
        return self.mutate(names, search_space, rows, fitness, self._trial_seed(trial),
                           first=trial.number == 0)

    def mutate(self, names: List[str], space: Dict[str, BaseDistribution],
               rows: np.ndarray, fitness: np.ndarray, seed: int,
               first: bool = False) -> Dict[str, Any]:
        """The values of ``names`` for one trial, from the parents ``rows`` with
        ``fitness``, drawn with ``seed``; ``first``: the search's first trial."""
        if len(rows):
            parent = select_parent(rows, fitness, random.Random(seed))
        else:
            parent = np.array([float(self.base[name]) for name in names])
        if len(rows) or not first:
            gains = np.array([self.gains[name] for name in names], dtype=float)
            parent = parent * mutation_factors(gains, np.random.RandomState(seed))
        values = {}
        for name, value in zip(names, parent):
            distribution = space[name]
            value = round(min(max(float(value), distribution.low), distribution.high), 5)
            if isinstance(distribution, IntDistribution):
                value = int(round(value))
            values[name] = value
        return values

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._independent.sample_independent(study, trial, param_name,
                                                    param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Optional[Sequence[float]]) -> None:
        self._independent.after_trial(study, trial, state, values)


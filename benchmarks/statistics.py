"""Statistics across seeds as the field reports them (Agarwal, Schwarzer, Castro, Courville & Bellemare,
"Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021), computed by their ``rliable`` library:
interquartile means (IQM) with stratified-bootstrap 95% intervals, the probability that one method
improves on another, and performance profiles.

Scores are arrays of shape ``(runs,)`` (one world) or ``(runs, tasks)`` (several worlds, one column each);
every function takes a ``seed`` for its bootstrap, so a table repeats exactly. :func:`iqm_reference` and
:func:`improvement_reference` are the slow, obvious definitions the tests hold rliable's point estimates to.
rliable is the ``reports`` extra: ``pip install 'maxplore[reports]'``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

REPS = 2000  # bootstrap resamples: intervals stable to about 0.01 on the suites' scales


def _rliable() -> tuple[Any, Any]:
    try:
        from rliable import library, metrics
    except ImportError as error:
        raise ImportError(
            "the benchmark's statistics need rliable: pip install 'maxplore[reports]' (rliable, and pandas<3 "
            "for the arch version it pins)"
        ) from error
    return library, metrics


@contextmanager
def _seeded_bootstrap(seed: int) -> Iterator[None]:
    """rliable's stratified bootstrap also draws from numpy's global generator: seed it for the call and
    restore it after. arch (its bootstrap) warns that the RandomState rliable passes is deprecated: not
    ours to fix, silenced."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
            yield
    finally:
        np.random.set_state(state)


def _as_runs_by_tasks(scores: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(scores, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 1:
        raise ValueError(f"scores of {name!r} must have shape (runs,) or (runs, tasks), got {array.shape}")
    return array  # (runs, tasks)


def iqm_reference(scores: np.ndarray) -> float:
    """The interquartile mean by its definition: sort every score, drop the lowest and highest quarter
    (``int(n / 4)`` each), average the rest."""
    values = np.sort(np.asarray(scores, dtype=float).ravel())
    cut = int(0.25 * len(values))
    return float(values[cut : len(values) - cut].mean())


def improvement_reference(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) by its definition, averaged over tasks: every pair of a run of X and a run of Y on a task,
    counting a tie as one half. ``x``: (runs_x, tasks), ``y``: (runs_y, tasks)."""
    x, y = _as_runs_by_tasks(x, "x"), _as_runs_by_tasks(y, "y")
    per_task = []
    for task in range(x.shape[1]):
        wins = sum((a > b) + 0.5 * (a == b) for a in x[:, task] for b in y[:, task])
        per_task.append(wins / (x.shape[0] * y.shape[0]))
    return float(np.mean(per_task))


def iqm_intervals(
    scores: dict[str, np.ndarray], *, reps: int = REPS, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """Per method: ``(IQM, low, high)``, the interval a stratified bootstrap's 95% (runs resampled within
    each task).

    :param scores: method -> scores, (runs,) or (runs, tasks).
    :param reps: bootstrap resamples.
    :param seed: seed of the resampling.
    """
    library, metrics = _rliable()
    data = {name: _as_runs_by_tasks(s, name) for name, s in scores.items()}
    with _seeded_bootstrap(seed):
        points, intervals = library.get_interval_estimates(
            data, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps, random_state=np.random.RandomState(seed)
        )
    return {name: (float(points[name][0]), *map(float, intervals[name][:, 0])) for name in data}


def improvement_probabilities(
    scores: dict[str, np.ndarray], reference: str, *, reps: int = REPS, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """P(``reference`` > method) with its 95% stratified-bootstrap interval, for every other method.

    :param scores: method -> scores (higher is better; negate a cost), (runs,) or (runs, tasks).
    :param reference: the method compared with each other one (MAX in the suite's tables).
    """
    if reference not in scores:
        raise ValueError(f"reference must be one of {sorted(scores)}, got {reference!r}")
    library, metrics = _rliable()
    ours = _as_runs_by_tasks(scores[reference], reference)
    pairs = {name: [ours, _as_runs_by_tasks(s, name)] for name, s in scores.items() if name != reference}
    if not pairs:
        return {}
    with _seeded_bootstrap(seed):
        points, intervals = library.get_interval_estimates(
            pairs, metrics.probability_of_improvement, reps=reps, random_state=np.random.RandomState(seed)
        )
    return {name: (float(points[name]), *map(float, np.ravel(intervals[name]))) for name in pairs}


def iqm_curves(
    curves: dict[str, np.ndarray], *, reps: int = REPS, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per method, a curve's IQM over runs at every point with a 95% bootstrap band: ``(iqm, low, high)``,
    each of shape (points,). ``curves``: method -> (runs, points)."""
    library, _ = _rliable()
    from scipy.stats import trim_mean

    data = {name: _as_runs_by_tasks(c, name) for name, c in curves.items()}
    with _seeded_bootstrap(seed):
        points, intervals = library.get_interval_estimates(
            data, lambda x: trim_mean(x, 0.25, axis=0), reps=reps, random_state=np.random.RandomState(seed)
        )
    return {name: (points[name], intervals[name][0], intervals[name][1]) for name in data}


def performance_profiles(
    scores: dict[str, np.ndarray], taus: np.ndarray, *, reps: int = REPS, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per method, the fraction of runs (over every task) scoring above each threshold in ``taus``, with a
    95% bootstrap band: ``(profile, low, high)``, each (len(taus),). ``scores``: method -> (runs, tasks),
    normalised so that the tasks share one scale."""
    library, _ = _rliable()
    data = {name: _as_runs_by_tasks(s, name) for name, s in scores.items()}
    with _seeded_bootstrap(seed):
        profiles, bands = library.create_performance_profile(data, np.asarray(taus, dtype=float), reps=reps)
    return {name: (profiles[name], bands[name][0], bands[name][1]) for name in data}


def format_interval(point: float, low: float, high: float, digits: int = 2) -> str:
    """``0.81 [0.62, 0.95]``: a point estimate and its interval."""
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def seed_statistics(
    scores: dict[str, np.ndarray], reference: str = "max", *, lower_is_better: bool = False, seed: int = 0
) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """What a results table shows per method: ``{"iqm": (IQM, low, high), "poi": (P, low, high) or None}``,
    where ``poi`` is the probability that ``reference`` does better than the method (None for the reference
    itself, or when it has no runs here). ``lower_is_better``: the scores are costs (episodes needed)."""
    iqm = iqm_intervals(scores, seed=seed)
    signed = {name: -np.asarray(s, dtype=float) if lower_is_better else s for name, s in scores.items()}
    poi = improvement_probabilities(signed, reference, seed=seed) if reference in scores else {}
    return {name: {"iqm": iqm[name], "poi": poi.get(name)} for name in scores}

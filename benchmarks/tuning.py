"""Hyper-parameter search as a Ray Tune experiment: one trial per (agent, setting), running its seeds
one after another and reporting the median coverage so far after each, so a scheduler can stop a poor
setting early. Every run is still a record keyed by its job and stored in the grid's
:class:`~benchmarks.store.ResultStore`: settings already stored are not run again.

Searches (``search``):

- ``"grid"``: every setting (the default; what ``backend="local"`` runs as a plain grid);
- ``"asha"``: every setting, with the ASHA scheduler (Li et al. 2020) stopping settings whose median
  coverage after the first seeds is in the bottom half of their rung;
- ``"optuna"``: ``samples`` settings drawn by Optuna's TPE sampler from the same list (needs ``optuna``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.backends import run_recorded, start_ray
from benchmarks.runs import explore_once, job_key
from benchmarks.store import ResultStore

logger = logging.getLogger(__name__)

SEARCHES = ("grid", "asha", "optuna")


def final_coverage(records: list[dict[str, Any]]) -> float:
    """Median over runs of the coverage at each run's last episode: the score of a setting."""
    return float(np.median([r["coverage_per_episode"][-1] for r in records]))


def _trial(config: dict[str, Any]) -> None:
    """One setting: run its jobs in order, reporting the score and the (key, record) pairs after each."""
    from ray import tune

    records, finished = [], []
    for job in config["jobs"]:
        records.append(run_recorded(explore_once, job))
        finished.append({"key": job_key(job), "record": records[-1]})
        tune.report({"coverage": final_coverage(records), "runs": json.dumps(finished)})


def _optuna_trial(config: dict[str, Any], settings: list[dict[str, Any]]) -> None:
    """Optuna picks a setting by its index in ``settings``."""
    _trial(settings[config["setting"]])


def _tune_config(search: str, n_settings: int, samples: int | None, n_seeds: int) -> Any:
    from ray import tune

    options: dict[str, Any] = {
        "metric": "coverage",
        "mode": "max",
        "trial_dirname_creator": lambda trial: f"trial_{trial.trial_id}",
    }
    if search == "asha":
        from ray.tune.schedulers import ASHAScheduler

        options["scheduler"] = ASHAScheduler(max_t=n_seeds, grace_period=1, reduction_factor=2)
    if search == "optuna":
        try:
            from ray.tune.search.optuna import OptunaSearch
        except ImportError as error:
            raise ImportError("search='optuna' needs Optuna: pip install 'maxplore[distributed]'") from error
        options["search_alg"] = OptunaSearch(seed=0)
        options["num_samples"] = samples or max(1, n_settings // 2)
    return tune.TuneConfig(**options)


def tune_settings(
    setting_jobs: list[list[dict[str, Any]]],
    *,
    cache: str | Path | None,
    storage: str | Path,
    search: str = "grid",
    samples: int | None = None,
    workers: int = 1,
    address: str | None = None,
    retries: int = 2,
) -> list[dict[str, Any]]:
    """Run one Ray Tune trial per setting (the jobs of its seeds); return the records of every job that has
    one (ASHA and Optuna leave some unrun), in job order.

    :param setting_jobs: per setting, the jobs of its seeds (same algo and overrides, one per seed).
    :param cache: the grid's JSON-lines store; stored runs are not run again, new ones are stored.
    :param storage: folder of Ray Tune's experiment (its trial logs).
    :param search: ``"grid"``, ``"asha"`` or ``"optuna"`` (see the module docstring).
    :param samples: settings Optuna tries (default: half of them); grid and ASHA try every setting.
    :param workers: CPUs of a Ray started here; ignored when joining a cluster (``address``).
    :param address: ``None`` starts Ray here; ``"auto"`` or ``"ray://HOST:PORT"`` joins a cluster.
    :param retries: times a trial whose worker died is started again.
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise ImportError("the Ray Tune search needs Ray: pip install 'maxplore[distributed]'") from error
    store = ResultStore(cache) if cache is not None else None
    done = store.load() if store is not None else {}
    jobs_by_key = {job_key(job): job for jobs in setting_jobs for job in jobs}
    settings = [
        {"jobs": [job for job in jobs if job_key(job) not in done]}
        for jobs in setting_jobs
        if any(job_key(job) not in done for job in jobs)
    ]
    if settings:
        started_here = start_ray(address, workers)
        try:
            threads = max(job.get("threads", 1) for setting in settings for job in setting["jobs"])
            if search == "optuna":
                trainable = tune.with_parameters(_optuna_trial, settings=settings)
                space = {"setting": tune.choice(list(range(len(settings))))}
            else:
                trainable, space = _trial, {"jobs": tune.grid_search([s["jobs"] for s in settings])}
            n_seeds = max(len(s["jobs"]) for s in settings)
            tuner = tune.Tuner(
                tune.with_resources(trainable, {"cpu": threads}),
                param_space=space,
                tune_config=_tune_config(search, len(settings), samples, n_seeds),
                run_config=tune.RunConfig(
                    name="tune",
                    storage_path=str(Path(storage).resolve()),
                    failure_config=tune.FailureConfig(max_failures=retries),
                    verbose=0,
                ),
            )
            results = tuner.fit()
        finally:
            if started_here:
                ray.shutdown()
        for result in results:  # every run a trial finished, early-stopped trials included
            for run in json.loads((result.metrics or {}).get("runs", "[]")):
                if run["key"] not in done:
                    done[run["key"]] = run["record"]
                    if store is not None:
                        store.append(jobs_by_key[run["key"]], run["record"])
    return [done[job_key(job)] for jobs in setting_jobs for job in jobs if job_key(job) in done]

"""What every suite made of runs shares: where its runs are stored, how a grid of them runs and is
checked for its code version, and the jobs of the chain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.backends import run_jobs
from benchmarks.config import BenchmarkConfig
from benchmarks.provenance import check_versions
from benchmarks.runs import explore_once, with_hyperparameters

logger = logging.getLogger(__name__)
Emit = Callable[[str], None]  # where a suite writes its tables: print in the command, the log by default


def grid_cache(cfg: BenchmarkConfig) -> Path:
    """The suite's store of finished runs: ``<out>/<suite>-runs[-quick].jsonl``."""
    return Path(cfg.out) / f"{cfg.suite}-runs{'-quick' if cfg.quick else ''}.jsonl"


def grid(cfg: BenchmarkConfig, jobs: list[dict], run=explore_once, emit: Emit = logger.info) -> list[dict]:
    """Run ``jobs`` on the chosen backend and return their records; each record is stored as its run
    finishes, and runs already stored (same configuration, resolved hyper-parameters included) are not run
    again. Emits which code made the records; ``ValueError`` when they come from several code versions and
    ``cfg.mix_versions`` is false (:func:`~benchmarks.provenance.check_versions`)."""
    runs = run_jobs(
        jobs, cfg.workers, grid_cache(cfg), backend=cfg.backend, address=cfg.address, retries=cfg.retries, run=run
    )
    emit(check_versions(runs, mix=cfg.mix_versions))
    return runs


def scored_seeds(cfg: BenchmarkConfig, quick: int) -> range:
    """The seeds a scored suite runs: ``cfg.seeds`` of them (``quick`` with ``--quick``) from ``cfg.first_seed``."""
    return range(cfg.first_seed, cfg.first_seed + (quick if cfg.quick else cfg.seeds))


def tuning_seeds(cfg: BenchmarkConfig, quick: int, uses: str) -> range:
    """The seeds a tuning study runs: ``cfg.seeds`` of them (``quick`` with ``--quick``) from 0, all below
    ``cfg.first_seed`` (never scored); ``uses`` starts the error's sentence (``"the ablations use tuning seeds"``)."""
    seeds = range(quick if cfg.quick else cfg.seeds)
    if seeds.stop > cfg.first_seed:
        raise ValueError(f"{uses} below --first-seed ({cfg.first_seed}): pass --seeds <= it")
    return seeds


def chain_jobs(
    cfg: BenchmarkConfig, agents: list[str], lengths: list[int], seeds: range, **extra: Any
) -> list[dict[str, Any]]:
    """One :func:`~benchmarks.runs.explore_once` job per (length, agent, seed) on the chain, with ``extra``
    keys (``overrides``: hyper-parameters) and the resolved hyper-parameters that key it."""
    tensorboard = str(Path(cfg.out) / "tb") if cfg.tensorboard else None
    jobs = [
        {"algo": algo, "length": n, "seed": s, "max_episodes": cfg.episodes, "device": cfg.device,
         "threads": cfg.threads, "tensorboard": tensorboard, **extra}
        for n in lengths for algo in agents for s in seeds
    ]  # fmt: skip
    return [with_hyperparameters(job) for job in jobs]

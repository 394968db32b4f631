"""The vectors suite: MAX on vector states with discrete actions against random actions and the DQN
family, measured by the cells of each world's state grid they visit."""

from __future__ import annotations

import logging
from pathlib import Path

from benchmarks.commands.config_cli import parse_kwargs
from benchmarks.config import BenchmarkConfig
from benchmarks.suites.common import Emit, grid, scored_seeds
from benchmarks.vector_reports import plot_vector_coverage, vector_table
from benchmarks.vector_runs import explore_vectors_once, with_vector_hyperparameters

logger = logging.getLogger(__name__)


def vectors(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Every method of :data:`~benchmarks.vector_runs.VECTOR_METHODS` in each of ``cfg.vector_worlds`` for
    ``cfg.vector_steps`` steps (``--quick``: 300 steps, one seed, CartPole), MAX with ``cfg.max_kwargs``;
    a table and a coverage plot.
    Each run's record is stored as it finishes (``<out>/vectors-runs.jsonl``)."""
    seeds = scored_seeds(cfg, 1)
    steps = 300 if cfg.quick else cfg.vector_steps
    worlds = ["CartPole-v1"] if cfg.quick else cfg.vector_worlds
    quick = {"warmup_steps": 100, "fresh_model_steps": 50, "model_steps": 10, "max_nodes": 64}
    max_kwargs = parse_kwargs(cfg.max_kwargs)  # an ablation of MAX (--max-kwargs)
    jobs = [
        with_vector_hyperparameters({
            "method": method, "env": world, "seed": seed, "steps": steps, "every": max(1, steps // 50),
            "threads": cfg.threads, "device": cfg.device,
            "tensorboard": str(Path(cfg.out) / "tb") if cfg.tensorboard else None,
            "overrides": {**(quick if cfg.quick else {}), **max_kwargs} if method == "max" else {}})
        for world in worlds for seed in seeds for method in cfg.vector_methods
    ]  # fmt: skip
    jobs.sort(key=lambda job: job["method"] != "max")  # the longest runs first
    runs = grid(cfg, jobs, run=explore_vectors_once, emit=emit)
    emit(f"\nseeds {seeds.start}-{seeds.stop - 1}, {steps} steps per run, {cfg.threads} thread(s) per run\n")
    emit(vector_table(runs))
    plot = Path(cfg.out) / f"vectors-coverage{'-quick' if cfg.quick else ''}.png"
    plot_vector_coverage(runs, plot)
    emit(f"\nplot: {plot}")
    return runs

"""The suites on the semi-random chain: every agent over chain lengths (``chain``), MAX alone with the
perfect-memory reference (``max-chain``), MAX's ablation grid (``ablation``), the baselines' tuning grid
(``tune``) and the check that the baselines learn where exploration is easy (``sanity``)."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from benchmarks.config import BenchmarkConfig
from benchmarks.reports import (
    format_episodes,
    format_poi,
    markdown_table,
    plot_coverage,
    plot_profiles,
    plot_scaling,
    summary_rows,
)
from benchmarks.runs import LABELS, exploit_once, with_exploit_hyperparameters
from benchmarks.statistics import format_interval
from benchmarks.suites.common import Emit, chain_jobs, grid, grid_cache, scored_seeds
from benchmarks.tuning import tune_settings

logger = logging.getLogger(__name__)


def max_chain(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Episodes to full coverage and wall time of MAX (and the greedy perfect-memory reference) per chain length."""
    seeds = scored_seeds(cfg, 2)
    lengths = [10, 20] if cfg.quick else cfg.lengths
    runs = grid(cfg, chain_jobs(cfg, ["max"], lengths, seeds, overrides={"bootstrap": cfg.bootstrap}), emit=emit)
    greedy = grid(cfg, chain_jobs(cfg, ["perfect"], lengths, seeds), emit=emit)
    rows = {(r["algo"], r["length"]): r for r in summary_rows(runs + greedy)}
    emit(f"\nMAX ({cfg.bootstrap} bootstrap), layout seeds {seeds.start}-{seeds.stop - 1}, {cfg.workers} worker(s)\n")
    emit(
        "| chain length | episodes to full coverage: IQM [95% CI] | median (min-max) "
        "| greedy perfect-memory reference: IQM [95% CI] | P(MAX needs fewer than the reference) [95% CI] "
        "| wall s: median (min-max) |"
    )
    emit("| ---: | :---: | :---: | :---: | :---: | :---: |")
    for n in lengths:
        ours, ref = rows[("max", n)], rows[("perfect", n)]
        secs = [r["seconds"] for r in runs if r["length"] == n]
        emit(
            f"| {n} | {format_interval(*ours['eps_iqm'], digits=1)} | {ours['eps_median']:g} "
            f"({ours['eps_min']:g}-{ours['eps_max']:g}) | {format_interval(*ref['eps_iqm'], digits=1)} "
            f"| {format_poi(ref['poi'])} | {np.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f}) |"
        )
    return runs


# MAX's ablation grid (issue: which part of MAX makes it reach the perfect-memory explorer's count)
ABLATION_GRID = {
    "bootstrap": ["bayesian", "poisson", "bernoulli", "none"],
    "inputs": ["pair", "factored"],
    "ensemble_size": [2, 5, 10],
}


def ablation(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """MAX's episodes to full coverage over bootstrap scheme x input coding x ensemble size.

    Runs are appended to ``<out>/ablation-runs.jsonl`` as they finish; a second call skips them.
    """
    seeds = range(2 if cfg.quick else cfg.seeds)
    lengths = [10, 20] if cfg.quick else [50, 100]
    settings = [dict(zip(ABLATION_GRID, v, strict=True)) for v in itertools.product(*ABLATION_GRID.values())]
    jobs = [  # measured with the model over all state indices (the factored input needs it)
        job for setting in settings
        for job in chain_jobs(cfg, ["max"], lengths, seeds, overrides={**setting, "states": "all"})
    ]  # fmt: skip
    for job in jobs:
        job["tensorboard"] = None  # no TensorBoard for a 240-run grid
    runs = grid(cfg, jobs, emit=emit)
    perfect = summary_rows(grid(cfg, chain_jobs(cfg, ["perfect"], lengths, seeds), emit=emit))
    emit(f"\nMAX (states='all'), {len(seeds)} layout seeds per length, budget {cfg.episodes} episodes")
    emit("perfect-memory explorer: " + ", ".join(f"L={r['length']}: {r['eps_median']:g}" for r in perfect) + "\n")
    header = " | ".join(f"L={n}: median (min-max) | L={n} wall s" for n in lengths)
    emit(f"| bootstrap | input | E | {header} |")
    emit("| --- | --- | ---: |" + " :---: | ---: |" * len(lengths))
    for setting in settings:
        cells = []
        for n in lengths:
            group = [r for r in runs if r["overrides"] == {**setting, "states": "all"} and r["length"] == n]
            eps = np.array([r["episodes_to_full"] or np.inf for r in group], dtype=float)
            cells.append(
                f"{format_episodes(np.median(eps), cfg.episodes)} ({format_episodes(eps.min(), cfg.episodes)}-"
                f"{format_episodes(eps.max(), cfg.episodes)}) | {np.median([r['seconds'] for r in group]):.1f}"
            )
        emit(f"| {' | '.join(str(setting[k]) for k in ABLATION_GRID)} | {' | '.join(cells)} |")
    return runs


def chain(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Every agent on chains of several lengths: table, coverage plot, scaling plot, JSON."""
    seeds = scored_seeds(cfg, 3)
    lengths = [10, 50] if cfg.quick else cfg.lengths
    runs = grid(cfg, chain_jobs(cfg, cfg.agents, lengths, seeds), emit=emit)
    rows = summary_rows(runs)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if cfg.quick else ""
    plot_coverage(runs, out / f"chain-coverage{suffix}.png")
    plot_scaling(rows, out / f"chain-scaling{suffix}.png")
    plot_profiles(runs, out / f"chain-profiles{suffix}.png", task=lambda r: f"L={r['length']}")
    emit(
        f"\nlayout seeds {seeds.start}-{seeds.stop - 1} per length (scored, never tuned on), "
        f"budget {cfg.episodes} episodes\n"
    )
    emit(markdown_table(rows))
    emit(
        f"\nplots: {', '.join(str(out / f'chain-{kind}{suffix}.png') for kind in ('coverage', 'scaling', 'profiles'))}"
    )
    return runs


# The grid behind agents.registry.CHAIN_HYPER_PARAMETERS: learning rate x each agent's exploration knob.
TUNE_GRID = {
    "dqn": {"learning_rate": [1e-3, 3e-4], "exploration_fraction": [0.1, 0.5]},
    "bootdqn": {"learning_rate": [1e-3, 3e-4], "target_update_interval": [100, 500]},
    "bootdqn-prior": {"learning_rate": [1e-3, 3e-4], "prior_scale": [1.0, 3.0, 10.0]},
    "bonusdqn": {"learning_rate": [1e-3, 3e-4], "beta": [0.1, 0.5, 1.0]},
    "rnd": {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.001, 0.01]},
    "icm": {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.001, 0.01]},
}


def tune(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Grid over the baselines' hyper-parameters on the 20-state chain, scored by coverage at the budget."""
    seeds = range(2 if cfg.quick else 3)
    settings = [
        (algo, dict(zip(grid, values, strict=True)))
        for algo, grid in TUNE_GRID.items()
        if algo in cfg.agents
        for values in itertools.product(*grid.values())
    ]
    setting_jobs = [chain_jobs(cfg, [algo], [20], seeds, overrides=overrides) for algo, overrides in settings]
    for job in itertools.chain.from_iterable(setting_jobs):
        job["tensorboard"] = None
    if cfg.backend == "ray":  # a Ray Tune experiment, one trial per setting
        runs = tune_settings(
            setting_jobs, cache=grid_cache(cfg), storage=Path(cfg.out), search=cfg.search, samples=cfg.samples,
            workers=cfg.workers, address=cfg.address, retries=cfg.retries,
        )  # fmt: skip
    else:
        if cfg.search != "grid":
            raise ValueError(f"search={cfg.search!r} needs backend='ray' (Ray Tune); the local backend runs the grid")
        runs = grid(cfg, list(itertools.chain.from_iterable(setting_jobs)), emit=emit)
    emit(f"\n20-state chain, {len(seeds)} layout seeds, budget {cfg.episodes} episodes, search {cfg.search}\n")
    emit(f"| agent | setting | coverage @{cfg.episodes}: median (min) | episodes to full (median) |")
    emit("| --- | --- | ---: | ---: |")
    for algo, overrides in settings:
        group = [r for r in runs if r["algo"] == algo and r["overrides"] == overrides]
        if not group:  # not tried by the search
            continue
        cov = [r["coverage_per_episode"][-1] for r in group]
        eps = [r["episodes_to_full"] or np.inf for r in group]
        setting = ", ".join(f"{k}={v}" for k, v in overrides.items())
        median_eps = format_episodes(float(np.median(eps)), cfg.episodes)
        emit(f"| {LABELS[algo]} | {setting} | {np.median(cov):.0%} ({min(cov):.0%}) | {median_eps} |")
    return runs


def sanity(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """The baselines learn to exploit where exploration is easy: the optimal return within a budget.

    Bootstrapped DQN on Osband's fixed chain (action 1 always right), L = 20, and DQN on a 5-state
    semi-random chain. Every 10 training episodes the greedy policy (the heads' vote) is evaluated on
    one episode; a run passes when that return is optimal, H - (L - 2) + 1.
    """
    checks = [
        ("bootdqn", {"length": 20, "randomize_actions": False}, 500),
        ("dqn", {"length": 5, "layout_seed": 0}, 200),
    ]
    seeds = range(2 if cfg.quick else 3)
    jobs = [
        with_exploit_hyperparameters({"algo": algo, "env_kwargs": env_kwargs, "seed": seed, "budget": budget,
                                      "device": cfg.device, "threads": cfg.threads})
        for algo, env_kwargs, budget in checks for seed in seeds
    ]  # fmt: skip
    results = grid(cfg, jobs, run=exploit_once, emit=emit)
    emit("\n| agent | chain | optimal return | episodes to optimal greedy return (per seed) | budget | pass |")
    emit("| --- | --- | ---: | --- | ---: | :---: |")
    for algo, env_kwargs, budget in checks:
        group = [r for r in results if r["algo"] == algo]
        solved = ", ".join(str(r["solved_at"]) if r["solved_at"] else f">{budget}" for r in group)
        ok = all(r["solved_at"] for r in group)
        desc = ", ".join(f"{k}={v}" for k, v in env_kwargs.items())
        emit(f"| {LABELS[algo]} | {desc} | {group[0]['optimal']:g} | {solved} | {budget} | {'yes' if ok else 'NO'} |")
    return results

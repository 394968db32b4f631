"""The suites on counted worlds other than the chain: every agent on toy-text worlds and the maze's index
worlds against the perfect-memory explorer (``worlds``), MAX over all state indices or the states seen
(``observed``), where a MAX run's time goes with how it grows (``max-cost``), and what flushing denormal
floats saves it (``denormals``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from benchmarks.config import BenchmarkConfig
from benchmarks.cost_reports import COST_AGENTS, cost_rows, cost_table, plot_cost, profile_table
from benchmarks.max_profile import profile_max_run
from benchmarks.reports import (
    coverage_after,
    episode_statistics,
    episodes_needed,
    format_episodes,
    format_poi,
    plot_coverage,
    plot_profiles,
)
from benchmarks.runs import COUNTED_WORLDS, COUNTED_WORLDS_QUICK, LABELS, with_hyperparameters
from benchmarks.statistics import format_interval
from benchmarks.store import ResultStore
from benchmarks.suites.common import Emit, chain_jobs, grid, scored_seeds

logger = logging.getLogger(__name__)


def observed(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """MAX with ``states="all"`` and ``states="observed"`` beside the greedy perfect-memory reference on the
    maze's index worlds (walls are indices that never occur) and, with the random walk too, on slippery
    FrozenLake 4x4 and 8x8; and MAX's cost per real step on Taxi-v4 against the number of states visited."""
    import gymnasium as gym
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from agents import MAX
    from envs import TransitionCoverage

    seeds = range(1 if cfg.quick else 3)
    maze = {"obs_mode": "index", "horizon": 100}
    worlds = (
        [("maze 9x9", "maxplore/Maze-v0", {**maze, "layout": "maze", "size": 9}, True)]
        if cfg.quick
        else [
            ("maze 15x15", "maxplore/Maze-v0", {**maze, "layout": "maze", "size": 15}, True),
            ("rooms 15x15", "maxplore/Maze-v0", {**maze, "layout": "rooms", "size": 15}, True),
            ("FrozenLake 4x4, slippery", "FrozenLake-v1", {}, False),
            ("FrozenLake 8x8, slippery", "FrozenLake-v1", {"map_name": "8x8"}, False),
        ]
    )  # (label, id, kwargs, whether the layout follows the seed)
    variants = [("perfect", {}), ("random", {}), ("max", {"states": "all"}), ("max", {"states": "observed"})]
    jobs = [
        with_hyperparameters({"algo": algo, "length": 0, "seed": seed, "max_episodes": cfg.episodes,
                              "device": cfg.device, "threads": cfg.threads, "overrides": overrides,
                              "tensorboard": None, "env": env_id,
                              "env_kwargs": {**kwargs, "layout_seed": seed} if seeded else kwargs})
        for _, env_id, kwargs, seeded in worlds for algo, overrides in variants for seed in seeds
        if not (seeded and algo == "random")  # the random walk is a floor for the stochastic worlds
    ]  # fmt: skip
    runs = grid(cfg, jobs, emit=emit)
    emit(
        f"\nseeds {list(seeds)} (maze layouts follow the seed; horizon 100, FrozenLake 8x8: 200), "
        f"budget {cfg.episodes} episodes; coverage of the pairs that can be tried (envs.reachable_pairs)"
    )
    emit("\n| world | explorer | episodes to try every reachable pair (per seed) | final coverage | wall s (median) |")
    emit("| --- | --- | --- | --- | ---: |")
    for label, env_id, kwargs, _ in worlds:
        for algo, overrides in variants:
            group = [r for r in runs if r["env"] == env_id and r["algo"] == algo and r["overrides"] == overrides
                     and {k: v for k, v in r["env_kwargs"].items() if k != "layout_seed"} == kwargs]  # fmt: skip
            if not group:
                continue
            name = LABELS[algo] + (f" states={overrides['states']}" if overrides else "")
            eps = ", ".join(format_episodes(r["episodes_to_full"] or np.inf, cfg.episodes) for r in group)
            cov = ", ".join(f"{r['coverage_per_episode'][-1]:.0%}" for r in group)
            emit(f"| {label} | {name} | {eps} | {cov} | {np.median([r['seconds'] for r in group]):.1f} |")

    class Clock(BaseCallback):
        """Wall time of every real step, with the number of states visited (acted in) before it."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[tuple[int, float]] = []
            self.last = time.perf_counter()

        def _on_step(self) -> bool:
            now = time.perf_counter()
            visited = int((self.model.visits.sum(1) > 0).sum())
            self.rows.append((visited, now - self.last))
            self.last = now
            return True

    torch.set_num_threads(cfg.threads)
    steps = {"all": 60 if cfg.quick else 200, "observed": 100 if cfg.quick else 1000}
    cost = {}
    for states, n in steps.items():
        env = TransitionCoverage(gym.make("Taxi-v4"))
        clock = Clock()
        MAX(env, seed=0, states=states, device=cfg.device).learn(n, callback=clock)
        cost[states] = {"rows": clock.rows, "coverage": env.coverage}
    bins = [(0, 25), (25, 50), (50, 100), (100, 200), (200, 501)]
    emit("\nTaxi-v4 (500 states x 6 actions), MAX seed 0: median ms per real step (refit + plan) by states visited")
    emit("\n| states visited | " + " | ".join(f"states={k} ({steps[k]} steps)" for k in steps) + " |")
    emit("| --- |" + " ---: |" * len(steps))
    for lo, hi in bins:
        cells = []
        for states in steps:
            times = [t for k, t in cost[states]["rows"] if lo <= k < hi]
            cells.append(f"{1000 * np.median(times):.0f}" if times else "")
        if any(cells):
            emit(f"| {lo}-{hi - 1} | " + " | ".join(cells) + " |")
    return {"mazes": runs, "taxi": cost}


ACCEPTABLE_RATIO = 1.5  # issue: MAX's median episodes within 1.5x of the perfect-memory explorer's


def world_jobs(cfg: BenchmarkConfig, worlds: list[tuple], seeds: range) -> list[dict]:
    """One job per (world, agent, seed): MAX on Taxi first (the longest runs, so parallel workers finish
    together), then MAX and the reference explorers, then the DQN family."""
    jobs = [
        with_hyperparameters({"algo": algo, "length": 0, "seed": seed,
                              "max_episodes": budget // 4 if cfg.quick else budget, "device": cfg.device,
                              "threads": cfg.threads, "overrides": {},
                              "tensorboard": str(Path(cfg.out) / "tb") if cfg.tensorboard else None, "env": env_id,
                              "env_kwargs": {**kwargs, "layout_seed": seed} if seeded else kwargs, "world": label})
        for label, env_id, kwargs, seeded, budget in worlds for algo in cfg.agents for seed in seeds
    ]  # fmt: skip
    # MAX on Taxi (the longest runs) first, then the reference rows, then the DQN family
    return sorted(jobs, key=lambda job: (job["env"] != "Taxi-v4" or job["algo"] != "max",
                                         job["algo"] not in ("max", "perfect", "random")))  # fmt: skip


def worlds(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Every agent on toy-text worlds and the maze's index worlds: episodes to try every reachable pair
    (``envs.reachable_pairs``), coverage at the budget, wall time; a table, MAX against the perfect-memory
    explorer, and a coverage plot. Runs are appended to ``<out>/worlds-runs.jsonl`` as they finish."""
    import gymnasium as gym

    import envs

    chosen = [COUNTED_WORLDS[name] for name in (COUNTED_WORLDS_QUICK if cfg.quick else cfg.counted_worlds)]
    seeds = scored_seeds(cfg, 2)
    suffix = "-quick" if cfg.quick else ""
    out = Path(cfg.out)
    runs = grid(cfg, world_jobs(cfg, chosen, seeds), emit=emit)
    emit(f"\nseeds {list(seeds)} (maze layouts follow the seed), {cfg.threads} torch thread(s) per run\n")
    emit(
        "| world | reachable pairs | agent | episodes to try every reachable pair: IQM [95% CI] "
        "| P(MAX needs fewer) [95% CI] | median (min-max) | reached | coverage at the budget (median) "
        "| wall s (median) |"
    )
    emit("| --- | ---: | --- | :---: | :---: | :---: | :---: | ---: | ---: |")
    verdicts = []
    for label, env_id, kwargs, _, _ in chosen:
        pairs = int(envs.reachable_pairs(gym.make(env_id, **kwargs)).sum())
        groups = {algo: [r for r in runs if r["world"] == label and r["algo"] == algo] for algo in cfg.agents}
        stats = episode_statistics(groups)
        medians = {}
        for algo, group in groups.items():
            budget = group[0]["max_episodes"]
            eps = episodes_needed(group)
            medians[algo] = float(np.median(eps))
            span = f"{format_episodes(eps.min(), budget)} to {format_episodes(eps.max(), budget)}"
            cov = np.median([coverage_after(r, budget) for r in group])
            secs = np.median([r["seconds"] for r in group])
            emit(
                f"| {label} | {pairs} | {LABELS[algo]} | {format_interval(*stats[algo]['iqm'], digits=1)} "
                f"| {format_poi(stats[algo]['poi'])} | {format_episodes(medians[algo], budget)} ({span}) "
                f"| {int(np.isfinite(eps).sum())}/{len(group)} | {cov:.0%} | {secs:.1f} |"
            )
        if "max" in medians and "perfect" in medians:
            verdicts.append((label, medians["max"], medians["perfect"]))
    if verdicts:
        emit(f"\n| world | MAX median | perfect-memory median | ratio | within {ACCEPTABLE_RATIO}x |")
        emit("| --- | ---: | ---: | ---: | :---: |")
        for label, ours, ref in verdicts:
            ratio = ours / ref if np.isfinite(ours) else float("inf")  # MAX reached, the reference not: 0
            ok = "yes" if ratio <= ACCEPTABLE_RATIO else "NO"
            ok = "n/a (neither reached)" if not np.isfinite(ours) and not np.isfinite(ref) else ok
            emit(f"| {label} | {ours:g} | {ref:g} | {ratio:.2f} | {ok} |")

    plot, profiles = out / f"worlds-coverage{suffix}.png", out / f"worlds-profiles{suffix}.png"
    plot_coverage(runs, plot, panel=lambda r: r["world"])
    plot_profiles(runs, profiles, task=lambda r: r["world"])
    emit(f"\nplots: {plot}, {profiles}")
    return runs


COST_LENGTHS = (25, 50, 100, 200, 400)
PROFILED = {  # name: (env id, kwargs, episode budget)
    "Taxi-v4, seed 0": ("Taxi-v4", {}, 100),
    "chain L=100, layout 0": ("maxplore/Chain-v0", {"length": 100}, 60),
}


def max_cost(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """Where the time of one MAX run goes (Taxi-v4 seed 0 and the chain at L = 100, layout 0, in this process,
    one after the other; ``--profile false`` skips them), then seconds per run against reachable pairs: MAX
    and the perfect-memory explorer on chains of 25 to 400 states (``--seeds`` layouts, stored in
    ``<out>/max-cost-runs.jsonl``) and, where the worlds suite has stored runs under the same ``--out``, on
    its worlds. A table and a log-log plot."""
    import gymnasium as gym

    import envs

    profiles = {}
    for name, (env_id, kwargs, budget) in PROFILED.items() if cfg.profile and not cfg.quick else []:
        kwargs = {**kwargs, "layout_seed": 0} if env_id.startswith("maxplore/") else kwargs
        profiles[name] = profile_max_run(env_id, kwargs, seed=0, max_episodes=budget)
        emit(f"profiled {name}: {profiles[name]['seconds']:.1f} s")
    if profiles:
        emit(f"\nWhere the time of a MAX run goes ({cfg.threads} thread)\n\n{profile_table(profiles)}\n")
    lengths = (25, 50) if cfg.quick else COST_LENGTHS
    seeds = range(2 if cfg.quick else cfg.seeds)
    runs = grid(cfg, chain_jobs(cfg, list(COST_AGENTS), list(lengths), seeds), emit=emit)
    runs = [{**r, "world": f"chain L={r['length']}"} for r in runs]
    pairs = {f"chain L={n}": 2 * n for n in lengths}
    worlds_store = Path(cfg.out) / f"worlds-runs{'-quick' if cfg.quick else ''}.jsonl"
    if worlds_store.exists():
        stored = [r for r in ResultStore(worlds_store).load().values() if r["algo"] in COST_AGENTS]
        specs = {label: (env_id, kwargs) for label, env_id, kwargs, _, _ in COUNTED_WORLDS.values()}
        for label in {r["world"] for r in stored}:
            env_id, kwargs = specs[label]
            pairs[label] = int(envs.reachable_pairs(gym.make(env_id, **kwargs)).sum())
        runs += stored
    rows = cost_rows(runs, pairs)
    emit(f"\nSeconds per run ({cfg.threads} thread per run, {cfg.workers} worker(s))\n\n{cost_table(rows)}")
    plot = Path(cfg.out) / f"max-cost{'-quick' if cfg.quick else ''}.png"
    plot_cost(rows, plot)
    emit(f"\nplot: {plot}")
    return {"profiles": profiles, "rows": rows}


DENORMAL_PROBES = {  # name: (env id, kwargs, episode budget, step cap)
    "Taxi-v4, seed 0, first 1,000 steps": ("Taxi-v4", {}, 100, 1000),
    "chain L=100, layout 0": ("maxplore/Chain-v0", {"length": 100, "layout_seed": 0}, 60, None),
}
DENORMAL_PROBES_QUICK = {"chain L=25, layout 0": ("maxplore/Chain-v0", {"length": 25, "layout_seed": 0}, 20, None)}


def denormals(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """MAX on counted states with denormal floats flushed (the library's way) and kept, in this process one
    after the other: Taxi-v4 (seed 0, its first 1,000 steps) and the chain at L = 100 (layout 0, to full
    coverage); ``--quick``: the chain at L = 25. A table of seconds, their ratio and whether the two runs took
    the same actions (flushing changes only values below 1.2e-38)."""
    rows = []
    for name, (env_id, kwargs, budget, cap) in (DENORMAL_PROBES_QUICK if cfg.quick else DENORMAL_PROBES).items():
        flushed, kept = (
            profile_max_run(env_id, kwargs, seed=0, max_episodes=budget, max_steps=cap, flush_denormals=flush)
            for flush in (True, False)
        )
        rows.append({"world": name, "flushed": flushed, "kept": kept})
        emit(f"{name}: {flushed['seconds']:.1f} s flushed, {kept['seconds']:.1f} s kept")
    lines = [
        "| run | steps | flushed s | kept s | kept / flushed | refit s, flushed / kept | same actions |",
        "| --- | ---: | ---: | ---: | ---: | :---: | :---: |",
    ]
    for r in rows:
        flushed, kept = r["flushed"], r["kept"]
        same = "yes" if flushed["actions"] == kept["actions"] else "no"
        refits = f"{flushed['parts']['refit']:.1f} / {kept['parts']['refit']:.1f}"
        lines.append(
            f"| {r['world']} | {flushed['steps']:,} | {flushed['seconds']:.1f} | {kept['seconds']:.1f} | "
            f"{kept['seconds'] / flushed['seconds']:.1f}x | {refits} | {same} |"
        )
    emit(f"\nDenormal floats flushed and kept ({cfg.threads} thread)\n\n" + "\n".join(lines))
    return {"rows": rows}

"""Benchmarks of maxplore, one suite per claim; each prints a markdown table for docs/BENCHMARKS.md.

    python scripts/benchmark.py env-speed      # chain steps/s next to FrozenLake-v1
    python scripts/benchmark.py max-chain      # MAX episodes to full coverage, L = 10..100, 5 seeds
    python scripts/benchmark.py ablation       # MAX: bootstrap x input coding x ensemble size, L = 50, 100
    python scripts/benchmark.py observed       # MAX over all state indices vs the states seen: mazes, Taxi cost
    python scripts/benchmark.py worlds         # every agent on FrozenLake, CliffWalking, Taxi, mazes: vs perfect memory
    python scripts/benchmark.py max-cost       # where a MAX run's time goes; seconds per run vs reachable pairs
    python scripts/benchmark.py sac-speed      # one imagined SAC step: the lean torch SAC vs Stable-Baselines3's
    python scripts/benchmark.py speed          # batched ensemble vs a Python loop over members
    python scripts/benchmark.py chain          # every agent, L = 10..100, 5 seeds, plots (--quick: < 5 min)
    python scripts/benchmark.py tune           # the baselines' hyper-parameter grid on the 20-state chain
    python scripts/benchmark.py sanity         # the baselines learn where they should
    python scripts/benchmark.py continuous     # MAX, JDRX, PERX, TVAX, random: Ant maze and HalfCheetah
    python scripts/benchmark.py pixels         # MAX from pixels vs the DQN family and random in the textured maze

Every suite also writes its raw numbers as JSON under ``--out`` (default ``runs/benchmarks``). The suites
made of runs (all but env-speed and speed) store each run as it finishes in ``<out>/<suite>-runs.jsonl``
and skip stored runs when started again (``--fresh`` sets them aside); ``--backend ray`` runs them as Ray
tasks, here or on a cluster (``--address auto``), and the tune suite as a Ray Tune search (``--search``).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from config_cli import parse_config, parse_kwargs  # noqa: E402

from agents.devices import resolve_device  # noqa: E402
from agents.max.continuous import CONFIGS  # noqa: E402
from agents.run_grid import BACKENDS, LABELS, run_jobs  # noqa: E402
from agents.run_grid.continuous_reports import (  # noqa: E402
    downstream_table,
    maze_table,
    plot_downstream,
    plot_maze_coverage,
    plot_maze_heat,
)
from agents.run_grid.continuous_runs import (  # noqa: E402
    ANT_MAZE,
    HALF_CHEETAH,
    METHODS,
    explore_continuous_once,
    task_rewards,
)
from agents.run_grid.cost_reports import COST_AGENTS, cost_rows, cost_table, plot_cost, profile_table  # noqa: E402
from agents.run_grid.max_profile import profile_max_run  # noqa: E402
from agents.run_grid.pixel_reports import pixel_table, plot_pixel_coverage  # noqa: E402
from agents.run_grid.pixel_runs import (  # noqa: E402
    PIXEL_METHODS,
    PIXEL_WORLDS,
    explore_pixels_once,
    pixel_job,
    texture_check,
)
from agents.run_grid.reports import (  # noqa: E402
    coverage_after,
    format_episodes,
    markdown_table,
    plot_coverage,
    plot_scaling,
    summary_rows,
)
from agents.run_grid.runs import exploit_once, explore_once  # noqa: E402
from agents.run_grid.tuning import SEARCHES, tune_settings  # noqa: E402

SUITES = (
    "env-speed", "max-chain", "ablation", "observed", "worlds", "speed", "sac-speed", "chain", "tune", "sanity",
    "continuous", "pixels", "max-cost",
)  # fmt: skip
CONTINUOUS_WORLDS = {"ant-maze": ANT_MAZE, "half-cheetah": HALF_CHEETAH}
GPU_SUITES = ("pixels", "continuous")  # suites whose models are big enough to gain from a GPU


@dataclass
class BenchmarkConfig:
    suite: str = field(
        default="env-speed", metadata={"help": "which suite to run", "choices": SUITES, "positional": True}
    )
    out: str = field(default="runs/benchmarks", metadata={"help": "folder for the JSON results"})
    quick: bool = field(default=False, metadata={"help": "fewer seeds/steps: a smoke run, not a result"})
    seeds: int = field(default=5, metadata={"help": "seeds (layout seeds) per setting"})
    lengths: list[int] = field(default_factory=lambda: [10, 20, 50, 100], metadata={"help": "chain lengths"})
    device: str = field(
        default="auto",
        metadata={"help": "torch device; auto: CUDA for the pixels and continuous suites when present, else CPU"},
    )
    bootstrap: str = field(default="bayesian", metadata={"help": "MAX's bootstrap scheme (max-chain suite)"})
    agents: list[str] = field(
        default_factory=lambda: list(LABELS), metadata={"help": "agents of the chain suite", "choices": list(LABELS)}
    )
    episodes: int = field(default=60, metadata={"help": "episode budget per run (chain, tune suites)"})
    tensorboard: bool = field(default=True, metadata={"help": "write TensorBoard runs under <out>/tb"})
    workers: int = field(
        default=os.cpu_count() or 1, metadata={"help": "parallel runs on this machine (processes, or Ray's CPUs)"}
    )
    backend: str = field(
        default="local",
        metadata={"help": "where the runs of a grid run: a local process pool, or Ray", "choices": list(BACKENDS)},
    )
    address: str | None = field(
        default=None,
        metadata={"help": "Ray only: default starts Ray here; 'auto' or ray://HOST:PORT joins a cluster"},
    )
    retries: int = field(default=2, metadata={"help": "times a run whose worker process died is started again"})
    search: str = field(
        default="grid",
        metadata={
            "help": "tune suite on Ray Tune: every setting, ASHA early stopping, or Optuna",
            "choices": list(SEARCHES),
        },
    )
    samples: int | None = field(default=None, metadata={"help": "settings Optuna tries (default: half the grid)"})
    fresh: bool = field(
        default=False, metadata={"help": "set the suite's stored runs aside (renamed, not deleted) and run all again"}
    )
    threads: int = field(
        default=1, metadata={"help": "torch intra-op threads per run and in this process (1: fastest for small models)"}
    )
    steps: int = field(default=10_000, metadata={"help": "real steps per run (continuous suite)"})
    methods: list[str] = field(
        default_factory=lambda: list(METHODS),
        metadata={"help": "explorers of the continuous suite", "choices": list(METHODS)},
    )
    config: str = field(
        default="reduced", metadata={"help": "MAX configuration of the continuous suite", "choices": list(CONFIGS)}
    )
    continuous_worlds: list[str] = field(
        default_factory=lambda: list(CONTINUOUS_WORLDS),
        metadata={"help": "worlds of the continuous suite", "choices": list(CONTINUOUS_WORLDS)},
    )
    pixel_methods: list[str] = field(
        default_factory=lambda: list(PIXEL_METHODS),
        metadata={"help": "explorers of the pixels suite", "choices": list(PIXEL_METHODS)},
    )
    max_kwargs: list[str] = field(
        default_factory=list,
        metadata={
            "help": "MAX-from-pixels hyper-parameters of the pixels suite as key=value (an ablation: "
            "give it its own --out, its runs are keyed by them)"
        },
    )
    profile: bool = field(
        default=True, metadata={"help": "max-cost suite: profile a Taxi-v4 and a chain run (about 30 min) first"}
    )
    pixel_worlds: list[str] = field(
        default_factory=lambda: ["maze-9"],
        metadata={"help": "mazes of the pixels suite", "choices": list(PIXEL_WORLDS)},
    )


def grid_cache(cfg: BenchmarkConfig) -> Path:
    """The suite's store of finished runs: ``<out>/<suite>-runs[-quick].jsonl``."""
    return Path(cfg.out) / f"{cfg.suite}-runs{'-quick' if cfg.quick else ''}.jsonl"


def grid(cfg: BenchmarkConfig, jobs: list[dict], run=explore_once) -> list[dict]:
    """Run ``jobs`` on the chosen backend; each record is stored as its run finishes, and runs already
    stored (same configuration) are not run again."""
    return run_jobs(
        jobs, cfg.workers, grid_cache(cfg), backend=cfg.backend, address=cfg.address, retries=cfg.retries, run=run
    )


def env_speed(cfg: BenchmarkConfig) -> dict:
    """Steps per second of maxplore/Chain-v0 and FrozenLake-v1, both through gym.make's wrappers."""
    import gymnasium as gym
    import numpy as np

    import envs  # noqa: F401

    n_steps = 20_000 if cfg.quick else 200_000
    actions = np.random.default_rng(0).integers(0, 2, size=n_steps).tolist()
    rows = {}
    for name, make in [
        ("maxplore/Chain-v0 (L=50)", lambda: gym.make("maxplore/Chain-v0", length=50, layout_seed=3)),
        ("FrozenLake-v1 (4x4)", lambda: gym.make("FrozenLake-v1")),
        ("maxplore/Chain-v0 unwrapped", lambda: gym.make("maxplore/Chain-v0", length=50).unwrapped),
    ]:
        best = float("inf")
        for _ in range(3):
            env = make()
            env.reset(seed=0)
            step, reset = env.step, env.reset
            start = time.perf_counter()
            for a in actions:
                _, _, terminated, truncated, _ = step(a)
                if terminated or truncated:
                    reset()
            best = min(best, time.perf_counter() - start)
        rows[name] = {"steps_per_s": n_steps / best, "us_per_step": 1e6 * best / n_steps}
    chain, lake = rows["maxplore/Chain-v0 (L=50)"], rows["FrozenLake-v1 (4x4)"]
    print("| env | steps/s | us/step |\n| --- | ---: | ---: |")
    for name, row in rows.items():
        print(f"| {name} | {row['steps_per_s']:,.0f} | {row['us_per_step']:.2f} |")
    print(f"\nChain / FrozenLake speed ratio: {chain['steps_per_s'] / lake['steps_per_s']:.2f}")
    return rows


def chain_jobs(cfg: BenchmarkConfig, agents: list[str], lengths: list[int], seeds: range, **extra) -> list[dict]:
    tensorboard = str(Path(cfg.out) / "tb") if cfg.tensorboard else None
    return [
        {
            "algo": algo,
            "length": n,
            "seed": s,
            "max_episodes": cfg.episodes,
            "device": cfg.device,
            "threads": cfg.threads,
            "tensorboard": tensorboard,
            **extra,
        }
        for n in lengths
        for algo in agents
        for s in seeds
    ]


def max_chain(cfg: BenchmarkConfig) -> list[dict]:
    """Episodes to full coverage and wall time of MAX (and the greedy perfect-memory reference) per chain length."""
    seeds = range(2 if cfg.quick else cfg.seeds)
    lengths = [10, 20] if cfg.quick else cfg.lengths
    runs = grid(cfg, chain_jobs(cfg, ["max"], lengths, seeds, overrides={"bootstrap": cfg.bootstrap}))
    greedy = {r["length"]: r for r in summary_rows(grid(cfg, chain_jobs(cfg, ["perfect"], lengths, seeds)))}
    print(f"\nMAX ({cfg.bootstrap} bootstrap), {len(seeds)} layout seeds per length, {cfg.workers} worker(s)\n")
    print(
        "| chain length | episodes to full coverage: median (min-max) | greedy perfect-memory reference (median) "
        "| wall s: median (min-max) |"
    )
    print("| ---: | :---: | :---: | :---: |")
    for row in summary_rows(runs):
        secs = [r["seconds"] for r in runs if r["length"] == row["length"]]
        print(
            f"| {row['length']} | {row['eps_median']:g} ({row['eps_min']:g}-{row['eps_max']:g}) "
            f"| {greedy[row['length']]['eps_median']:g} | {np.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f}) |"
        )
    return runs


# MAX's ablation grid (issue: which part of MAX makes it reach the perfect-memory explorer's count)
ABLATION_GRID = {
    "bootstrap": ["bayesian", "poisson", "bernoulli", "none"],
    "inputs": ["pair", "factored"],
    "ensemble_size": [2, 5, 10],
}


def ablation(cfg: BenchmarkConfig) -> list[dict]:
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
    runs = grid(cfg, jobs)
    perfect = summary_rows(grid(cfg, chain_jobs(cfg, ["perfect"], lengths, seeds)))
    print(f"\nMAX (states='all'), {len(seeds)} layout seeds per length, budget {cfg.episodes} episodes")
    print("perfect-memory explorer: " + ", ".join(f"L={r['length']}: {r['eps_median']:g}" for r in perfect) + "\n")
    header = " | ".join(f"L={n}: median (min-max) | L={n} wall s" for n in lengths)
    print(f"| bootstrap | input | E | {header} |")
    print("| --- | --- | ---: |" + " :---: | ---: |" * len(lengths))
    for setting in settings:
        cells = []
        for n in lengths:
            group = [r for r in runs if r["overrides"] == {**setting, "states": "all"} and r["length"] == n]
            eps = np.array([r["episodes_to_full"] or np.inf for r in group], dtype=float)
            cells.append(
                f"{format_episodes(np.median(eps), cfg.episodes)} ({format_episodes(eps.min(), cfg.episodes)}-"
                f"{format_episodes(eps.max(), cfg.episodes)}) | {np.median([r['seconds'] for r in group]):.1f}"
            )
        print(f"| {' | '.join(str(setting[k]) for k in ABLATION_GRID)} | {' | '.join(cells)} |")
    return runs


def observed(cfg: BenchmarkConfig) -> dict:
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
        {"algo": algo, "length": 0, "seed": seed, "max_episodes": cfg.episodes, "device": cfg.device,
         "threads": cfg.threads, "overrides": overrides, "tensorboard": None, "env": env_id,
         "env_kwargs": {**kwargs, "layout_seed": seed} if seeded else kwargs}
        for _, env_id, kwargs, seeded in worlds for algo, overrides in variants for seed in seeds
        if not (seeded and algo == "random")  # the random walk is a floor for the stochastic worlds
    ]  # fmt: skip
    runs = grid(cfg, jobs)
    print(
        f"\nseeds {list(seeds)} (maze layouts follow the seed; horizon 100, FrozenLake 8x8: 200), "
        f"budget {cfg.episodes} episodes; coverage of the pairs that can be tried (envs.reachable_pairs)"
    )
    print("\n| world | explorer | episodes to try every reachable pair (per seed) | final coverage | wall s (median) |")
    print("| --- | --- | --- | --- | ---: |")
    for label, env_id, kwargs, _ in worlds:
        for algo, overrides in variants:
            group = [r for r in runs if r["env"] == env_id and r["algo"] == algo and r["overrides"] == overrides
                     and {k: v for k, v in r["env_kwargs"].items() if k != "layout_seed"} == kwargs]  # fmt: skip
            if not group:
                continue
            name = LABELS[algo] + (f" states={overrides['states']}" if overrides else "")
            eps = ", ".join(format_episodes(r["episodes_to_full"] or np.inf, cfg.episodes) for r in group)
            cov = ", ".join(f"{r['coverage_per_episode'][-1]:.0%}" for r in group)
            print(f"| {label} | {name} | {eps} | {cov} | {np.median([r['seconds'] for r in group]):.1f} |")

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
    print("\nTaxi-v4 (500 states x 6 actions), MAX seed 0: median ms per real step (refit + plan) by states visited")
    print("\n| states visited | " + " | ".join(f"states={k} ({steps[k]} steps)" for k in steps) + " |")
    print("| --- |" + " ---: |" * len(steps))
    for lo, hi in bins:
        cells = []
        for states in steps:
            times = [t for k, t in cost[states]["rows"] if lo <= k < hi]
            cells.append(f"{1000 * np.median(times):.0f}" if times else "")
        if any(cells):
            print(f"| {lo}-{hi - 1} | " + " | ".join(cells) + " |")
    return {"mazes": runs, "taxi": cost}


# Worlds of the `worlds` suite: (label, Gymnasium id, kwargs, whether the layout follows the seed,
# episode budget). FrozenLake is slippery by default; CliffWalking-v1 states no episode length.
MAZE = {"obs_mode": "index", "horizon": 100}
WORLDS = [
    ("FrozenLake 4x4 slippery", "FrozenLake-v1", {}, False, 200),
    ("FrozenLake 8x8 slippery", "FrozenLake-v1", {"map_name": "8x8"}, False, 3000),
    ("CliffWalking", "CliffWalking-v1", {}, False, 30),
    ("Taxi", "Taxi-v4", {}, False, 100),
    *(
        (f"{layout} {n}x{n}", "maxplore/Maze-v0", {**MAZE, "layout": layout, "size": n}, True, 60)
        for layout in ("maze", "rooms")
        for n in (9, 15)
    ),
]
WORLDS_QUICK = ["FrozenLake 4x4 slippery", "maze 9x9"]
ACCEPTABLE_RATIO = 1.5  # issue: MAX's median episodes within 1.5x of the perfect-memory explorer's


def world_jobs(cfg: BenchmarkConfig, worlds: list[tuple], seeds: range) -> list[dict]:
    """One job per (world, agent, seed): MAX on Taxi first (the longest runs, so parallel workers finish
    together), then MAX and the reference explorers, then the DQN family."""
    jobs = [
        {"algo": algo, "length": 0, "seed": seed, "max_episodes": budget // 4 if cfg.quick else budget,
         "device": cfg.device, "threads": cfg.threads, "overrides": {},
         "tensorboard": str(Path(cfg.out) / "tb") if cfg.tensorboard else None, "env": env_id,
         "env_kwargs": {**kwargs, "layout_seed": seed} if seeded else kwargs, "world": label}
        for label, env_id, kwargs, seeded, budget in worlds for algo in cfg.agents for seed in seeds
    ]  # fmt: skip
    # MAX on Taxi (the longest runs) first, then the reference rows, then the DQN family
    return sorted(jobs, key=lambda job: (job["env"] != "Taxi-v4" or job["algo"] != "max",
                                         job["algo"] not in ("max", "perfect", "random")))  # fmt: skip


def worlds(cfg: BenchmarkConfig) -> list[dict]:
    """Every agent on toy-text worlds and the maze's index worlds: episodes to try every reachable pair
    (``envs.reachable_pairs``), coverage at the budget, wall time; a table, MAX against the perfect-memory
    explorer, and a coverage plot. Runs are appended to ``<out>/worlds-runs.jsonl`` as they finish."""
    import gymnasium as gym

    import envs

    chosen = [w for w in WORLDS if w[0] in WORLDS_QUICK] if cfg.quick else WORLDS
    seeds = range(2 if cfg.quick else cfg.seeds)
    suffix = "-quick" if cfg.quick else ""
    out = Path(cfg.out)
    runs = grid(cfg, world_jobs(cfg, chosen, seeds))
    print(f"\nseeds {list(seeds)} (maze layouts follow the seed), {cfg.threads} torch thread(s) per run\n")
    print(
        "| world | reachable pairs | agent | episodes to try every reachable pair: median (min-max) | reached "
        "| coverage at the budget (median) | wall s (median) |"
    )
    print("| --- | ---: | --- | :---: | :---: | ---: | ---: |")
    verdicts = []
    for label, env_id, kwargs, _, _ in chosen:
        pairs = int(envs.reachable_pairs(gym.make(env_id, **kwargs)).sum())
        medians = {}
        for algo in cfg.agents:
            group = [r for r in runs if r["world"] == label and r["algo"] == algo]
            budget = group[0]["max_episodes"]
            eps = np.array([r["episodes_to_full"] or np.inf for r in group], dtype=float)
            medians[algo] = float(np.median(eps))
            span = f"{format_episodes(eps.min(), budget)} to {format_episodes(eps.max(), budget)}"
            cov = np.median([coverage_after(r, budget) for r in group])
            secs = np.median([r["seconds"] for r in group])
            print(
                f"| {label} | {pairs} | {LABELS[algo]} | {format_episodes(medians[algo], budget)} ({span}) "
                f"| {int(np.isfinite(eps).sum())}/{len(group)} | {cov:.0%} | {secs:.1f} |"
            )
        if "max" in medians and "perfect" in medians:
            verdicts.append((label, medians["max"], medians["perfect"]))
    if verdicts:
        print(f"\n| world | MAX median | perfect-memory median | ratio | within {ACCEPTABLE_RATIO}x |")
        print("| --- | ---: | ---: | ---: | :---: |")
        for label, ours, ref in verdicts:
            ratio = ours / ref if np.isfinite(ours) else float("inf")  # MAX reached, the reference not: 0
            ok = "yes" if ratio <= ACCEPTABLE_RATIO else "NO"
            ok = "n/a (neither reached)" if not np.isfinite(ours) and not np.isfinite(ref) else ok
            print(f"| {label} | {ours:g} | {ref:g} | {ratio:.2f} | {ok} |")

    plot = out / f"worlds-coverage{suffix}.png"
    plot_coverage(runs, plot, panel=lambda r: r["world"])
    print(f"\nplot: {plot}")
    return runs


COST_LENGTHS = (25, 50, 100, 200, 400)
PROFILED = {  # name: (env id, kwargs, episode budget)
    "Taxi-v4, seed 0": ("Taxi-v4", {}, 100),
    "chain L=100, layout 0": ("maxplore/Chain-v0", {"length": 100}, 60),
}


def max_cost(cfg: BenchmarkConfig) -> dict:
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
        print(f"profiled {name}: {profiles[name]['seconds']:.1f} s")
    if profiles:
        print(f"\nWhere the time of a MAX run goes ({cfg.threads} thread)\n\n{profile_table(profiles)}\n")
    lengths = (25, 50) if cfg.quick else COST_LENGTHS
    runs = grid(cfg, chain_jobs(cfg, list(COST_AGENTS), list(lengths), range(2 if cfg.quick else cfg.seeds)))
    runs = [{**r, "world": f"chain L={r['length']}"} for r in runs]
    pairs = {f"chain L={n}": 2 * n for n in lengths}
    worlds_store = Path(cfg.out) / f"worlds-runs{'-quick' if cfg.quick else ''}.jsonl"
    if worlds_store.exists():
        from agents.run_grid import ResultStore

        stored = [r for r in ResultStore(worlds_store).load().values() if r["algo"] in COST_AGENTS]
        specs = {label: (env_id, kwargs) for label, env_id, kwargs, _, _ in WORLDS}
        for label in {r["world"] for r in stored}:
            env_id, kwargs = specs[label]
            pairs[label] = int(envs.reachable_pairs(gym.make(env_id, **kwargs)).sum())
        runs += stored
    rows = cost_rows(runs, pairs)
    print(f"\nSeconds per run ({cfg.threads} thread per run, {cfg.workers} worker(s))\n\n{cost_table(rows)}")
    plot = Path(cfg.out) / f"max-cost{'-quick' if cfg.quick else ''}.png"
    plot_cost(rows, plot)
    print(f"\nplot: {plot}")
    return {"profiles": profiles, "rows": rows}


def chain(cfg: BenchmarkConfig) -> list[dict]:
    """Every agent on chains of several lengths: table, coverage plot, scaling plot, JSON."""
    seeds = range(3 if cfg.quick else cfg.seeds)
    lengths = [10, 50] if cfg.quick else cfg.lengths
    runs = grid(cfg, chain_jobs(cfg, cfg.agents, lengths, seeds))
    rows = summary_rows(runs)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if cfg.quick else ""
    plot_coverage(runs, out / f"chain-coverage{suffix}.png")
    plot_scaling(rows, out / f"chain-scaling{suffix}.png")
    print(f"\n{len(seeds)} layout seeds per length, budget {cfg.episodes} episodes\n")
    print(markdown_table(rows))
    print(f"\nplots: {out / f'chain-coverage{suffix}.png'}, {out / f'chain-scaling{suffix}.png'}")
    return runs


# The grid behind agents.registry.CHAIN_HYPER_PARAMETERS: learning rate x each agent's exploration knob.
TUNE_GRID = {
    "dqn": {"learning_rate": [1e-3, 3e-4], "exploration_fraction": [0.1, 0.5]},
    "bootdqn": {"learning_rate": [1e-3, 3e-4], "target_update_interval": [100, 500]},
    "bootdqn-prior": {"learning_rate": [1e-3, 3e-4], "prior_scale": [1.0, 3.0, 10.0]},
    "bonusdqn": {"learning_rate": [1e-3, 3e-4], "beta": [0.1, 0.5, 1.0]},
}


def tune(cfg: BenchmarkConfig) -> list[dict]:
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
            raise SystemExit(f"error: --search {cfg.search} needs --backend ray (Ray Tune)")
        runs = grid(cfg, list(itertools.chain.from_iterable(setting_jobs)))
    print(f"\n20-state chain, {len(seeds)} layout seeds, budget {cfg.episodes} episodes, search {cfg.search}\n")
    print(f"| agent | setting | coverage @{cfg.episodes}: median (min) | episodes to full (median) |")
    print("| --- | --- | ---: | ---: |")
    for algo, overrides in settings:
        group = [r for r in runs if r["algo"] == algo and r["overrides"] == overrides]
        if not group:  # not tried by the search
            continue
        cov = [r["coverage_per_episode"][-1] for r in group]
        eps = [r["episodes_to_full"] or np.inf for r in group]
        setting = ", ".join(f"{k}={v}" for k, v in overrides.items())
        median_eps = format_episodes(float(np.median(eps)), cfg.episodes)
        print(f"| {LABELS[algo]} | {setting} | {np.median(cov):.0%} ({min(cov):.0%}) | {median_eps} |")
    return runs


def sanity(cfg: BenchmarkConfig) -> list[dict]:
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
        {"algo": algo, "env_kwargs": env_kwargs, "seed": seed, "budget": budget, "device": cfg.device,
         "threads": cfg.threads}
        for algo, env_kwargs, budget in checks for seed in seeds
    ]  # fmt: skip
    results = grid(cfg, jobs, run=exploit_once)
    print("\n| agent | chain | optimal return | episodes to optimal greedy return (per seed) | budget | pass |")
    print("| --- | --- | ---: | --- | ---: | :---: |")
    for algo, env_kwargs, budget in checks:
        group = [r for r in results if r["algo"] == algo]
        solved = ", ".join(str(r["solved_at"]) if r["solved_at"] else f">{budget}" for r in group)
        ok = all(r["solved_at"] for r in group)
        desc = ", ".join(f"{k}={v}" for k, v in env_kwargs.items())
        print(f"| {LABELS[algo]} | {desc} | {group[0]['optimal']:g} | {solved} | {budget} | {'yes' if ok else 'NO'} |")
    return results


def sac_speed(cfg: BenchmarkConfig) -> dict:
    """Cost of one step of MAX's policy training in imagination (128 actors, 2 x 128 networks, batch 256)
    with the lean SAC of agents.max.sac against Stable-Baselines3's SAC fed through its numpy buffer."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import SAC as SB3SAC

    from agents.max.sac import SAC

    d, a, n, batch = 17, 6, 128, 256  # HalfCheetah's state and action sizes, MAX's 128 actors
    repeats = 20 if cfg.quick else 200
    device = torch.device(cfg.device)
    states = torch.randn(n, d, device=device)
    lean = SAC(d, a, hidden_size=128).to(device)
    buffer = [torch.randn(4096, d), torch.rand(4096, a) * 2 - 1, torch.randn(4096), torch.randn(4096, d),
              torch.zeros(4096)]  # fmt: skip
    buffer = [column.to(device) for column in buffer]

    def lean_step() -> None:
        actions = lean.actor(states)[0].detach()  # (N, a) stays a tensor
        index = torch.randint(4096, (batch,), device=device)
        lean.update(*(column[index] for column in buffer))
        del actions

    space = gym.spaces.Box(-1.0, 1.0, (d,), dtype="float32")
    dummy = gym.make("Pendulum-v1")  # SB3 needs an env for its spaces only
    dummy.observation_space, dummy.action_space = space, gym.spaces.Box(-1.0, 1.0, (a,), dtype="float32")
    sb3 = SB3SAC("MlpPolicy", dummy, policy_kwargs={"net_arch": [128, 128]}, batch_size=batch, ent_coef=0.02,
                 buffer_size=10_000, device=device, learning_starts=0)  # fmt: skip
    from stable_baselines3.common.logger import configure

    sb3.set_logger(configure(None, []))  # train() records its losses
    observations = np.random.randn(n, d).astype(np.float32)
    for _ in range(40):  # fill the buffer
        sb3.replay_buffer.add(observations[:1], observations[:1], np.zeros((1, a), np.float32), np.zeros(1),
                              np.zeros(1), [{}])  # fmt: skip

    def sb3_step() -> None:
        actions, _ = sb3.predict(observations)  # torch -> numpy
        for i in range(n):  # an imagined step's 128 transitions into SB3's numpy buffer
            sb3.replay_buffer.add(observations[i : i + 1], observations[i : i + 1], actions[i : i + 1], np.zeros(1),
                                  np.zeros(1), [{}])  # fmt: skip
        sb3.train(gradient_steps=1, batch_size=batch)

    timings = {}
    for name, fn in (("lean torch SAC (agents.max.sac)", lean_step), ("Stable-Baselines3 SAC", sb3_step)):
        for _ in range(3):
            fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        timings[name] = 1e3 * (time.perf_counter() - start) / repeats
    print(f"\none imagined step (act for {n} actors, store, one update at batch {batch}), mean of {repeats}, "
          f"{torch.get_num_threads()} thread(s), device {device}\n")  # fmt: skip
    print("| SAC | ms per imagined step |\n| --- | ---: |")
    for name, ms in timings.items():
        print(f"| {name} | {ms:.2f} |")
    return timings


def ensemble_speed(cfg: BenchmarkConfig) -> list[dict]:
    """Forward+backward of the batched ensemble vs a Python loop over E separate member modules."""
    import torch
    from torch import nn

    from world_models.ensemble import EnsembleMLP

    device = torch.device(cfg.device)
    shapes = {
        # MAX's continuous default member: 4 hidden layers of 512, swish; HalfCheetah-sized input/output
        "4x512 (MAX continuous)": {"in": 23, "hidden": 512, "layers": 4, "out": 34},
        # the chain model: one-hot (s, a) over 100 pairs -> 50 next states, one hidden layer of 64
        "1x64 (MAX chain, L=50)": {"in": 100, "hidden": 64, "layers": 1, "out": 50},
    }
    repeats = 5 if cfg.quick else 30
    rows = []
    for (label, sh), batch, E in itertools.product(shapes.items(), (32, 128, 256), (5, 32)):
        batched = EnsembleMLP(
            E, sh["in"], out_features=sh["out"], hidden_size=sh["hidden"], n_hidden_layers=sh["layers"]
        ).to(device)
        widths = [sh["in"]] + [sh["hidden"]] * sh["layers"] + [sh["out"]]
        members = nn.ModuleList(
            nn.Sequential(
                *[m for a, b in zip(widths[:-1], widths[1:], strict=True) for m in (nn.Linear(a, b), nn.SiLU())][:-1]
            )
            for _ in range(E)
        ).to(device)
        x = torch.randn(E, batch, sh["in"], device=device)

        def step_batched(model=batched, x=x):
            model(x).square().mean().backward()

        def step_loop(models=members, x=x):
            sum(m(x[e]).square().mean() for e, m in enumerate(models)).backward()

        timings = {}
        for name, fn in (("batched", step_batched), ("loop", step_loop)):
            for _ in range(3):
                fn()
            best = float("inf")
            for _ in range(repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            timings[name] = best * 1e3
        rows.append(
            {"shape": label, "batch": batch, "E": E, "batched_ms": timings["batched"], "loop_ms": timings["loop"]}
        )
    print(f"\nforward+backward, best of {repeats}, device {device}, {torch.get_num_threads()} threads\n")
    print("| member | batch | E | batched ms | loop ms | speed-up |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = r["loop_ms"] / r["batched_ms"]
        print(f"| {r['shape']} | {r['batch']} | {r['E']} | {r['batched_ms']:.2f} | {r['loop_ms']:.2f} | {ratio:.1f}x |")
    return rows


# --quick: a smoke run of the whole continuous pipeline with tiny models, not a result
QUICK_EXPLORER = {"ensemble_size": 3, "hidden_size": 32, "model_steps": 20, "warmup_steps": 100, "policy_every": 100,
                  "n_actors": 16, "horizon": 5, "imagined_episodes": 2, "warmup_episodes": 1, "reactive_updates": 5,
                  "sac_hidden_size": 32, "sac_batch_size": 32}  # fmt: skip
QUICK_EXPLOIT = {"ensemble_size": 2, "hidden_size": 32, "model_steps": 20, "reactive_updates": 5, "horizon": 5,
                 "episodes": 2, "warmup_episodes": 1, "n_actors": 8, "sac_hidden_size": 32,
                 "sac_batch_size": 32}  # fmt: skip


def continuous(cfg: BenchmarkConfig) -> list[dict]:
    """MAX and the paper's baselines (JDRX, PERX, TVAX, random) in continuous worlds for a step budget: Ant
    maze coverage over the steps and where each went; HalfCheetah data judged downstream on running and
    flipping. Each run's record is stored as it finishes (``<out>/continuous-runs.jsonl``)."""
    seeds = range(1 if cfg.quick else cfg.seeds)
    steps = 400 if cfg.quick else cfg.steps
    jobs = [
        {"method": method, "env": CONTINUOUS_WORLDS[world], "seed": seed, "steps": steps, "config": cfg.config,
         "exploit_config": cfg.config if task_rewards(CONTINUOUS_WORLDS[world]) else None,
         "every": max(1, steps // 100), "threads": cfg.threads, "device": cfg.device,
         "tensorboard": str(Path(cfg.out) / "tb") if cfg.tensorboard else None,
         "overrides": QUICK_EXPLORER if cfg.quick else {}, "exploit_overrides": QUICK_EXPLOIT if cfg.quick else {}}
        for world in cfg.continuous_worlds for seed in seeds for method in cfg.methods
    ]  # fmt: skip
    # the imagining explorers are the longest runs: first, so that parallel workers finish together
    jobs.sort(key=lambda job: job["method"] not in ("max", "tvax"))
    runs = grid(cfg, jobs, run=explore_continuous_once)
    out, suffix = Path(cfg.out), "-quick" if cfg.quick else ""
    print(f"\n{len(seeds)} seeds, {steps} real steps per run, config {cfg.config!r}, {cfg.threads} thread(s) per run\n")
    maze_runs = [r for r in runs if "maze" in r]
    if maze_runs:
        print("Ant maze (maxplore/AntMaze-v0)\n\n" + maze_table(maze_runs))
        plot_maze_coverage(maze_runs, out / f"continuous-maze-coverage{suffix}.png")
        plot_maze_heat(maze_runs, out / f"continuous-maze-heat{suffix}.png")
        print(f"\nplots: {out / f'continuous-maze-coverage{suffix}.png'}, {out / f'continuous-maze-heat{suffix}.png'}")
    task_runs = [r for r in runs if "downstream" in r]
    if task_runs:
        print("\nHalfCheetah (maxplore/HalfCheetah-v0), downstream\n\n" + downstream_table(task_runs))
        plot_downstream(task_runs, out / f"continuous-downstream{suffix}.png")
        print(f"\nplot: {out / f'continuous-downstream{suffix}.png'}")
    return runs


# --quick: a smoke run of the pixels suite, not a result
QUICK_PIXEL_MAX = {"warmup_steps": 100, "encoder_steps": 20, "encoder_every": 200, "fresh_model_steps": 50,
                   "model_steps": 20, "channels": (8, 8, 8), "features_dim": 8}  # fmt: skip


def pixels(cfg: BenchmarkConfig) -> dict:
    """MAX from pixels against Bootstrapped DQN, bonus DQN (SimHash counts) and random actions in
    ``maxplore/Maze-v0`` with textured pictures, and MAX on the cell index (the tabular ceiling): free
    cells visited over an episode budget. Each run's record is stored as it finishes
    (``<out>/pixels-runs.jsonl``). Then, per seed, the texture check
    (:func:`~agents.run_grid.pixel_runs.texture_check`): utilities of pairs tried vs of unvisited cells."""
    seeds = range(1 if cfg.quick else cfg.seeds)
    max_kwargs = parse_kwargs(cfg.max_kwargs)
    jobs = [
        pixel_job(method, world, seed, episodes=3 if cfg.quick else None, threads=cfg.threads, device=cfg.device,
                  tensorboard=str(Path(cfg.out) / "tb") if cfg.tensorboard else None,
                  overrides={**(QUICK_PIXEL_MAX if cfg.quick else {}), **max_kwargs} if method == "max" else None)
        for world in cfg.pixel_worlds for seed in seeds for method in cfg.pixel_methods
    ]  # fmt: skip
    runs = grid(cfg, jobs, run=explore_pixels_once)
    suffix = "-quick" if cfg.quick else ""
    print(f"\n{len(seeds)} seed(s) (layout and agent), {cfg.threads} thread(s) per run, device {cfg.device}\n")
    print(pixel_table(runs))
    plot = Path(cfg.out) / f"pixels-coverage{suffix}.png"
    plot_pixel_coverage(runs, plot)
    print(f"\nplot: {plot}")
    check = {"threads": cfg.threads, "device": cfg.device, **max_kwargs}
    checks = [] if cfg.quick else [texture_check(seed, **check) for seed in seeds]
    if checks:
        print("\nTexture check: utility under a texture never seen, after 1,000 random steps (9 x 9 maze)\n")
        print("| layout seed | tried pairs: median | pairs of unvisited cells: median | ratio "
              "| unvisited above the tried median |\n| ---: | ---: | ---: | ---: | ---: |")  # fmt: skip
        for c in checks:
            print(f"| {c['seed']} | {c['tried_median']:.3f} | {c['new_median']:.3f} | "
                  f"{c['new_median'] / c['tried_median']:.1f} | {c['new_above_tried_median']:.0%} |")  # fmt: skip
    return {"runs": runs, "texture_checks": checks}


def main() -> None:
    cfg = parse_config(BenchmarkConfig, __doc__.splitlines()[0])
    if cfg.threads < 1:
        raise SystemExit(f"error: --threads must be at least 1, got {cfg.threads}")
    import torch

    torch.set_num_threads(cfg.threads)
    # small models run fastest on the CPU; the pixels and continuous suites take a GPU when there is one
    try:
        cfg.device = resolve_device(cfg.device if cfg.device != "auto" or cfg.suite in GPU_SUITES else "cpu")
    except ValueError as err:
        raise SystemExit(f"error: --device: {err}") from None
    if cfg.fresh and grid_cache(cfg).exists():
        aside = grid_cache(cfg).with_suffix(f".{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        grid_cache(cfg).rename(aside)
        print(f"stored runs set aside: {aside}")
    if cfg.backend == "ray" and cfg.suite in ("env-speed", "speed", "sac-speed"):
        print(f"note: {cfg.suite} times this machine; it runs in this process, not on Ray")
    if cfg.suite == "env-speed":
        results = env_speed(cfg)
    elif cfg.suite == "max-chain":
        results = max_chain(cfg)
    elif cfg.suite == "ablation":
        results = ablation(cfg)
    elif cfg.suite == "observed":
        results = observed(cfg)
    elif cfg.suite == "worlds":
        results = worlds(cfg)
    elif cfg.suite == "sac-speed":
        results = sac_speed(cfg)
    elif cfg.suite == "chain":
        results = chain(cfg)
    elif cfg.suite == "tune":
        results = tune(cfg)
    elif cfg.suite == "sanity":
        results = sanity(cfg)
    elif cfg.suite == "continuous":
        results = continuous(cfg)
    elif cfg.suite == "pixels":
        results = pixels(cfg)
    elif cfg.suite == "max-cost":
        results = max_cost(cfg)
    else:
        results = ensemble_speed(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"suite": cfg.suite, "config": asdict(cfg), "machine": platform.platform(), "results": results}
    tag = f"-{cfg.bootstrap}" if cfg.suite == "max-chain" and cfg.bootstrap != "bayesian" else ""
    path = out / f"{cfg.suite}{tag}{'-quick' if cfg.quick else ''}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nraw results: {path}")


if __name__ == "__main__":
    main()

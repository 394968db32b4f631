"""Benchmarks of maxplore, one suite per claim; each prints a markdown table for docs/BENCHMARKS.md.

    python scripts/benchmark.py env-speed      # chain steps/s next to FrozenLake-v1
    python scripts/benchmark.py max-chain      # MAX episodes to full coverage, L = 10..100, 5 seeds
    python scripts/benchmark.py speed          # batched ensemble vs a Python loop over members

Every suite also writes its raw numbers as JSON under ``--out`` (default ``runs/benchmarks``).
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

from config_cli import parse_config  # noqa: E402

SUITES = ("env-speed", "max-chain", "speed")
# Expected episodes of the explorer that remembers every transition and walks to the nearest untried
# action (DESIGN.md: 5 at L = 50); the baselines issue measures it for the other lengths.
PERFECT_MEMORY_FLOOR = {50: 5}


@dataclass
class BenchmarkConfig:
    suite: str = field(
        default="env-speed", metadata={"help": "which suite to run", "choices": SUITES, "positional": True}
    )
    out: str = field(default="runs/benchmarks", metadata={"help": "folder for the JSON results"})
    quick: bool = field(default=False, metadata={"help": "fewer seeds/steps: a smoke run, not a result"})
    seeds: int = field(default=5, metadata={"help": "seeds (layout seeds) per setting"})
    lengths: list[int] = field(default_factory=lambda: [10, 20, 50, 100], metadata={"help": "chain lengths"})
    device: str = field(default="cpu", metadata={"help": "torch device for the model suites"})
    bootstrap: str = field(default="bayesian", metadata={"help": "MAX's bootstrap scheme (max-chain suite)"})
    workers: int = field(default=os.cpu_count() or 1, metadata={"help": "parallel runs (processes)"})


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


def _explore_once(job: dict) -> dict:
    """One MAX run on the chain until full coverage or ``max_episodes``; runs in a worker process."""
    import gymnasium as gym
    import torch

    import envs  # noqa: F401
    from agents.callbacks import CoverageCallback
    from agents.max import MAX
    from envs import TransitionCoverage

    torch.set_num_threads(job["threads"])
    env = TransitionCoverage(gym.make("maxplore/Chain-v0", length=job["length"], layout_seed=job["seed"]))
    start = time.perf_counter()
    model = MAX(env, seed=job["seed"], device=job["device"], bootstrap=job["bootstrap"])
    callback = CoverageCallback(max_episodes=job["max_episodes"])
    model.learn(10**9, callback=callback)
    return {
        **job,
        "episodes_to_full": callback.episodes_to_full_coverage,
        "coverage_per_episode": callback.coverage_per_episode,
        "seconds": time.perf_counter() - start,
        "steps": model.num_timesteps,
    }


def run_jobs(jobs: list[dict], workers: int) -> list[dict]:
    """Run jobs in ``workers`` processes (1: in this process) with a progress bar."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    if workers <= 1:
        return [_explore_once(job) for job in tqdm(jobs, desc="runs")]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_explore_once, job) for job in jobs]
        return [f.result() for f in tqdm(as_completed(futures), total=len(futures), desc="runs")]


def max_chain(cfg: BenchmarkConfig) -> list[dict]:
    """Episodes to full coverage and wall time of MAX for each chain length over layout seeds 0..seeds-1."""
    import numpy as np

    seeds = range(2 if cfg.quick else cfg.seeds)
    lengths = [10, 20] if cfg.quick else cfg.lengths
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)
    jobs = [
        {
            "length": n,
            "seed": s,
            "max_episodes": 60,
            "device": cfg.device,
            "threads": threads,
            "bootstrap": cfg.bootstrap,
        }
        for n in lengths
        for s in seeds
    ]
    runs = sorted(run_jobs(jobs, cfg.workers), key=lambda r: (r["length"], r["seed"]))
    print(
        f"\nMAX ({cfg.bootstrap} bootstrap), {len(seeds)} layout seeds per length, "
        f"{cfg.workers} worker(s) x {threads} torch thread(s)\n"
    )
    print(
        "| chain length | episodes to full coverage: median (min-max) | perfect-memory floor "
        "| wall s: median (min-max) |"
    )
    print("| ---: | :---: | :---: | :---: |")
    for n in lengths:
        rows = [r for r in runs if r["length"] == n]
        eps = [r["episodes_to_full"] if r["episodes_to_full"] is not None else float("inf") for r in rows]
        secs = [r["seconds"] for r in rows]
        print(
            f"| {n} | {np.median(eps):g} ({min(eps):g}-{max(eps):g}) | {PERFECT_MEMORY_FLOOR.get(n, '-')} "
            f"| {np.median(secs):.1f} ({min(secs):.1f}-{max(secs):.1f}) |"
        )
    return runs


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
    for (label, sh), batch, E in itertools.product(shapes.items(), (32, 256), (5, 32)):
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


def main() -> None:
    cfg = parse_config(BenchmarkConfig, __doc__.splitlines()[0])
    if cfg.suite == "env-speed":
        results = env_speed(cfg)
    elif cfg.suite == "max-chain":
        results = max_chain(cfg)
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

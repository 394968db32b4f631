"""Benchmarks of maxplore, one suite per claim; each prints a markdown table for docs/BENCHMARKS.md.

    python scripts/benchmark.py env-speed      # chain steps/s next to FrozenLake-v1
    python scripts/benchmark.py max-chain      # MAX episodes to full coverage, L = 10..100, 5 seeds
    python scripts/benchmark.py speed          # batched ensemble vs a Python loop over members

Every suite also writes its raw numbers as JSON under ``--out`` (default ``runs/benchmarks``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config_cli import parse_config  # noqa: E402

SUITES = ("env-speed", "max-chain", "speed")


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


def main() -> None:
    cfg = parse_config(BenchmarkConfig, __doc__.splitlines()[0])
    if cfg.suite == "env-speed":
        results = env_speed(cfg)
    elif cfg.suite == "max-chain":
        from max_benchmarks import max_chain

        results = max_chain(cfg)
    else:
        from max_benchmarks import ensemble_speed

        results = ensemble_speed(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"suite": cfg.suite, "config": asdict(cfg), "machine": platform.platform(), "results": results}
    path = out / f"{cfg.suite}{'-quick' if cfg.quick else ''}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nraw results: {path}")


if __name__ == "__main__":
    main()

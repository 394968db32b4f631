"""Benchmarks of maxplore, one suite per claim; each prints a markdown table for docs/BENCHMARKS.md.

Run it as ``maxplore-benchmark SUITE`` (installed with the package) or ``python scripts/benchmark.py SUITE``:

    python scripts/benchmark.py env-speed      # chain steps/s next to FrozenLake-v1
    python scripts/benchmark.py max-chain      # MAX episodes to full coverage, L = 10..100, 5 seeds
    python scripts/benchmark.py ablation       # MAX: bootstrap x input coding x ensemble size, L = 50, 100
    python scripts/benchmark.py observed       # MAX over all state indices vs the states seen: mazes, Taxi cost
    python scripts/benchmark.py worlds         # every agent on FrozenLake, CliffWalking, Taxi, mazes: vs perfect memory
    python scripts/benchmark.py max-cost       # where a MAX run's time goes; seconds per run vs reachable pairs
    python scripts/benchmark.py denormals      # MAX's refits with denormal floats flushed and kept: Taxi, chain
    python scripts/benchmark.py sac-speed      # one imagined SAC step: the lean torch SAC vs Stable-Baselines3's
    python scripts/benchmark.py speed          # batched ensemble vs a Python loop over members
    python scripts/benchmark.py chain          # every agent, L = 10..100, 5 seeds, plots (--quick: < 5 min)
    python scripts/benchmark.py tune           # the baselines' hyper-parameter grid on the 20-state chain
    python scripts/benchmark.py sanity         # the baselines learn where they should
    python scripts/benchmark.py continuous     # MAX, JDRX, PERX, TVAX, random: Ant maze and HalfCheetah
    python scripts/benchmark.py pixels         # MAX from pixels vs the DQN family and random in the textured maze

Every suite also writes its raw numbers as JSON under ``--out`` (default ``runs/benchmarks``). The suites
made of runs (all but env-speed, speed, sac-speed and denormals) store each run as it finishes in
``<out>/<suite>-runs.jsonl``, keyed by its settings and its agent's resolved hyper-parameters, with the code
and libraries that made it; a run already stored is not made again, and a table refuses to mix runs of
different code (``--fresh`` sets a selection of runs aside so they run again; ``--mix-versions`` allows the
mix). ``--backend ray`` runs them as Ray tasks, here or on a cluster (``--address auto``), and the tune
suite as a Ray Tune search (``--search``).
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from agents.devices import resolve_device
from benchmarks.commands.config_cli import parse_config
from benchmarks.config import GPU_SUITES, BenchmarkConfig
from benchmarks.provenance import code_version, library_versions
from benchmarks.store import ResultStore, selection
from benchmarks.suites import SUITE_FUNCTIONS, TIMING_SUITES
from benchmarks.suites.common import grid_cache


def main(cfg: BenchmarkConfig) -> dict:
    """Run ``cfg.suite``, print its tables, write ``<out>/<suite>.json``; returns that record. Every user
    error ends as a one-line ``SystemExit``."""
    if cfg.threads < 1:
        raise SystemExit(f"error: --threads must be at least 1, got {cfg.threads}")
    import torch

    torch.set_num_threads(cfg.threads)
    # small models run fastest on the CPU; the pixels and continuous suites take a GPU when there is one
    try:
        cfg.device = resolve_device(cfg.device if cfg.device != "auto" or cfg.suite in GPU_SUITES else "cpu")
    except ValueError as err:
        raise SystemExit(f"error: --device: {err}") from None
    if cfg.fresh:
        try:
            moved, aside = ResultStore(grid_cache(cfg)).set_aside(selection(cfg.fresh))
        except ValueError as err:
            raise SystemExit(f"error: --{err}") from None
        print(f"{moved} stored runs set aside: {aside}" if moved else "--fresh: no stored run matched")
    if cfg.backend == "ray" and cfg.suite in TIMING_SUITES:
        print(f"note: {cfg.suite} times this machine; it runs in this process, not on Ray")
    try:
        results = SUITE_FUNCTIONS[cfg.suite](cfg, emit=print)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "suite": cfg.suite, "config": asdict(cfg), "machine": platform.platform(), "code": code_version(),
        "libraries": library_versions(), "results": results,
    }  # fmt: skip
    tag = f"-{cfg.bootstrap}" if cfg.suite == "max-chain" and cfg.bootstrap != "bayesian" else ""
    path = out / f"{cfg.suite}{tag}{'-quick' if cfg.quick else ''}.json"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, indent=2))
    partial.replace(path)
    print(f"\nraw results: {path}")
    return record


def cli(argv: list[str] | None = None) -> None:
    """The ``maxplore-benchmark`` command (and ``python scripts/benchmark.py``)."""
    main(parse_config(BenchmarkConfig, __doc__.splitlines()[0], argv))
    sys.exit(0)


if __name__ == "__main__":
    cli()

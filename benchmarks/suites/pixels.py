"""The pixels suite: MAX from pixels against the DQN family and random actions in the textured maze."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

from benchmarks.commands.config_cli import parse_kwargs
from benchmarks.config import BenchmarkConfig
from benchmarks.pixel_reports import pixel_table, plot_pixel_coverage, tune_table
from benchmarks.pixel_runs import code_census, explore_pixels_once, pixel_job, texture_check
from benchmarks.suites.common import Emit, grid, scored_seeds, tuning_seeds

logger = logging.getLogger(__name__)


# --quick: a smoke run of the pixels suite, not a result
QUICK_PIXEL_MAX = {"warmup_steps": 100, "encoder_steps": 20, "encoder_every": 200, "fresh_model_steps": 50,
                   "model_steps": 20, "channels": (8, 8, 8), "features_dim": 8}  # fmt: skip


def pixels(cfg: BenchmarkConfig, emit: Emit = logger.info) -> dict:
    """MAX from pixels against Bootstrapped DQN, bonus DQN (SimHash counts) and random actions in
    ``maxplore/Maze-v0`` with textured pictures, and MAX on the cell index (the tabular ceiling): free
    cells visited over an episode budget. Each run's record is stored as it finishes
    (``<out>/pixels-runs.jsonl``). Then, per seed, the texture check
    (:func:`~benchmarks.pixel_runs.texture_check`): utilities of pairs tried vs of unvisited cells."""
    seeds = scored_seeds(cfg, 1)
    max_kwargs = parse_kwargs(cfg.max_kwargs)
    jobs = [
        pixel_job(method, world, seed, episodes=3 if cfg.quick else None, threads=cfg.threads, device=cfg.device,
                  tensorboard=str(Path(cfg.out) / "tb") if cfg.tensorboard else None,
                  overrides={**(QUICK_PIXEL_MAX if cfg.quick else {}), **max_kwargs} if method == "max" else None)
        for world in cfg.pixel_worlds for seed in seeds for method in cfg.pixel_methods
    ]  # fmt: skip
    runs = grid(cfg, jobs, run=explore_pixels_once, emit=emit)
    suffix = "-quick" if cfg.quick else ""
    emit(
        f"\nseeds {seeds.start}-{seeds.stop - 1} (layout and agent), {cfg.threads} thread(s) per run, "
        f"device {cfg.device}\n"
    )
    emit(pixel_table(runs))
    plot = Path(cfg.out) / f"pixels-coverage{suffix}.png"
    plot_pixel_coverage(runs, plot)
    emit(f"\nplot: {plot}")
    check = {"threads": cfg.threads, "device": cfg.device, **max_kwargs}
    checks = [] if cfg.quick else [texture_check(seed, **check) for seed in seeds]
    if checks:
        emit("\nTexture check: utility under a texture never seen, after 1,000 random steps (9 x 9 maze)\n")
        emit("| layout seed | tried pairs: median | pairs of unvisited cells: median | ratio "
              "| unvisited above the tried median |\n| ---: | ---: | ---: | ---: | ---: |")  # fmt: skip
        for c in checks:
            emit(f"| {c['seed']} | {c['tried_median']:.3f} | {c['new_median']:.3f} | "
                  f"{c['new_median'] / c['tried_median']:.1f} | {c['new_above_tried_median']:.0%} |")  # fmt: skip
    return {"runs": runs, "texture_checks": checks}


def bonus_census(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """What bonus DQN's counts count in the 9 x 9 textured maze (:func:`~benchmarks.pixel_runs.code_census`)
    on ``cfg.seeds`` layouts from ``cfg.first_seed``: keys per visited cell and cells per key of SimHash on
    raw pictures and of the feature cover at each spacing. ``--first-seed 0 --seeds 3`` is the census that
    chose the default spacing; ``--quick`` a smoke run on one layout."""
    seeds = scored_seeds(cfg, 1)
    census = {"steps": 600, "spacings": (0.5,), "encoder_every": 300, "encoder_steps": 20} if cfg.quick else {}
    results = [code_census(seed, threads=cfg.threads, device=cfg.device, **census) for seed in seeds]
    emit(f"\nlayouts {list(seeds)}, {results[0]['steps']} uniformly random steps each (100-step episodes)\n")
    emit("| layout | keyed by | keys per visited cell | visited cells per key | cells visited |")
    emit("| ---: | --- | ---: | ---: | ---: |")
    for result in results:
        for row in result["rows"]:
            name = "SimHash of the raw picture" if row["bonus"] == "simhash" else "cover of inverse-dynamics features"
            emit(f"| {result['seed']} | {name}, {row['setting']} | {row['codes_per_cell']:.2f} "
                 f"| {row['cells_per_code']:.2f} | {row['cells']} |")  # fmt: skip
    return results


# The pixels suite's tuning grid: the same number of settings (4) for every learning method, so each gets
# the same number of trial runs (4 settings x the tuning layouts), on layouts that are never scored.
PIXEL_TUNE_GRID: dict[str, dict[str, list]] = {
    "max": {"encoder_every": [250, 500], "model_steps": [100, 200]},
    "bootdqn": {"learning_rate": [1e-3, 3e-4], "target_update_interval": [100, 500]},
    "bonusdqn": {"learning_rate": [1e-3, 3e-4], "beta": [0.1, 1.0]},
    "bonusdqn-features": {"beta": [0.1, 1.0], "spacing": [0.25, 0.5]},
    "rnd": {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.001, 0.01]},
    "icm": {"learning_rate": [1e-3, 3e-4], "ent_coef": [0.001, 0.01]},
}


def tune_settings(methods: list[str]) -> list[tuple[str, dict]]:
    """Every ``(method, overrides)`` of :data:`PIXEL_TUNE_GRID` for the ``methods`` that have a grid."""
    return [(method, dict(zip(grid_, values, strict=True)))
            for method, grid_ in PIXEL_TUNE_GRID.items() if method in methods
            for values in itertools.product(*grid_.values())]  # fmt: skip


def pixel_tune(cfg: BenchmarkConfig, emit: Emit = logger.info) -> list[dict]:
    """Every setting of :data:`PIXEL_TUNE_GRID` for the methods of ``cfg.pixel_methods`` on tuning layouts
    (``cfg.seeds`` of them from 0, below ``cfg.first_seed``) of the 9 x 9 textured maze at its budget; per
    setting the free cells visited (median, min) and the episodes to visit every cell, and per method the
    best setting (:func:`~benchmarks.pixel_reports.best_settings`: the highest median, then the highest
    mean, then the fewest episodes). Records are stored in ``<out>/pixel-tune-runs.jsonl``."""
    seeds = tuning_seeds(cfg, 1, "tuning uses layouts")
    settings = tune_settings(cfg.pixel_methods)
    quick = {"max": QUICK_PIXEL_MAX}
    jobs = [pixel_job(method, "maze-9", seed, episodes=2 if cfg.quick else None, threads=cfg.threads,
                      device=cfg.device, overrides={**(quick.get(method, {}) if cfg.quick else {}), **overrides})
            for method, overrides in settings for seed in seeds]  # fmt: skip
    runs = grid(cfg, jobs, run=explore_pixels_once, emit=emit)
    emit(f"\n9 x 9 textured maze, tuning layouts {list(seeds)}, {len(seeds)} runs per setting\n")
    emit(tune_table(runs, settings))
    return runs

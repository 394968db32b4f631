"""The benchmark's suites, one per claim, by name: each is ``suite(cfg, emit) -> results`` (JSON values),
writes its markdown tables through ``emit`` and its plots under ``cfg.out``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.suites.chain import ablation, chain, max_chain, sanity, tune
from benchmarks.suites.continuous import continuous, continuous_ablation, continuous_knob, judge_noise
from benchmarks.suites.pixels import bonus_census, pixel_tune, pixels
from benchmarks.suites.speed import ensemble_speed, env_speed, sac_speed
from benchmarks.suites.vectors import vectors
from benchmarks.suites.worlds import denormals, max_cost, observed, worlds

SUITE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "env-speed": env_speed,
    "max-chain": max_chain,
    "ablation": ablation,
    "observed": observed,
    "worlds": worlds,
    "speed": ensemble_speed,
    "sac-speed": sac_speed,
    "chain": chain,
    "tune": tune,
    "sanity": sanity,
    "continuous": continuous,
    "pixels": pixels,
    "max-cost": max_cost,
    "vectors": vectors,
    "bonus-census": bonus_census,
    "continuous-ablation": continuous_ablation,
    "continuous-knob": continuous_knob,
    "pixel-tune": pixel_tune,
    "judge-noise": judge_noise,
    "denormals": denormals,
}
TIMING_SUITES = ("env-speed", "speed", "sac-speed", "denormals")  # they time this machine in this process

__all__ = ["SUITE_FUNCTIONS", "TIMING_SUITES"]

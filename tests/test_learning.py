"""End-to-end learning checks with thresholds. The long ones are marked slow (`pytest -m slow`)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from agents.callbacks import CoverageCallback
from agents.registry import make_agent
from benchmarks.runs import episodes_to_optimal
from envs import TransitionCoverage


@pytest.mark.parametrize("seed", [0, 1])
def test_dqn_learns_the_optimal_return_on_a_5_state_chain(seed):
    solved, _ = episodes_to_optimal("dqn", {"length": 5, "layout_seed": 0}, seed, budget=200)
    assert solved is not None and solved <= 200  # measured: 10-30 episodes


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrapped_dqn_learns_osbands_fixed_chain(seed):
    solved, _ = episodes_to_optimal("bootdqn", {"length": 20, "randomize_actions": False}, seed, budget=500)
    assert solved is not None  # measured: 20-290 episodes


def max_episodes_to_full(length: int, layout_seed: int, **overrides) -> int | None:
    env = TransitionCoverage(gym.make("maxplore/Chain-v0", length=length, layout_seed=layout_seed))
    callback = CoverageCallback(max_episodes=20)
    make_agent("max", env, seed=layout_seed, device="cpu", **overrides).learn(20 * (length + 9), callback=callback)
    return callback.episodes_to_full_coverage


SCORED_LAYOUTS = range(100, 105)  # the chain suite's scored layouts (benchmarks.config.SCORED_SEEDS_START)


def test_max_tries_all_100_transitions_of_the_50_state_chain_in_5_episodes():
    """The README's headline on the first scored layout (the median over all five: the slow test below)."""
    assert max_episodes_to_full(50, SCORED_LAYOUTS[0]) == 5


@pytest.mark.slow
def test_max_headline_median_over_the_scored_layouts():
    """README and docs/BENCHMARKS.md ("Every agent on the chain"): 5 episodes on each of layouts 100-104."""
    episodes = [max_episodes_to_full(50, layout) or 99 for layout in SCORED_LAYOUTS]
    assert np.median(episodes) == 5 and max(episodes) <= 6, episodes


@pytest.mark.slow
def test_max_on_the_100_state_chain_median_over_the_scored_layouts():
    """docs: 7, 6, 7, 6, 7 episodes on layouts 100-104 (7, 7, 7, 6, 7 in the table before); the greedy
    walk's median is 6."""
    episodes = [max_episodes_to_full(100, layout) or 99 for layout in SCORED_LAYOUTS]
    assert np.median(episodes) <= 7 and max(episodes) <= 8, episodes


@pytest.mark.slow
def test_skipped_refits_keep_the_100_state_chain_headline():
    """docs/BENCHMARKS.md ("MAX's cost on counted states"): with refit_tolerance=1e-3, layouts 0-4 took 7, 7,
    7, 7 and 6 episodes (the default: 7, 6, 7, 7, 6), in a third of the time."""
    episodes = sorted(max_episodes_to_full(100, seed, refit_tolerance=1e-3) or 99 for seed in range(5))
    assert episodes[2] <= 7 and episodes[-1] <= 8


# README and docs/BENCHMARKS.md ("Every agent on the chain"): median coverage of the 50-state chain's
# 100 transitions after 60 episodes, scored layouts 100-104, the benchmark's settings. Runs are seeded, so
# on the same platform they repeat exactly; the margin allows for floating-point differences elsewhere.
BASELINE_COVERAGE_AT_60 = {"bootdqn": 0.25, "bootdqn-prior": 0.33, "bonusdqn": 0.39, "dqn": 0.36, "rnd": 0.49,
                           "icm": 0.41}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(BASELINE_COVERAGE_AT_60))
def test_baselines_headline_coverage_after_60_episodes(algo):
    from benchmarks import explore_once

    runs = [explore_once({"algo": algo, "length": 50, "seed": layout, "max_episodes": 60, "device": "cpu",
                          "threads": 1}) for layout in SCORED_LAYOUTS]  # fmt: skip
    coverage = np.median([r["coverage_per_episode"][-1] for r in runs])
    assert abs(coverage - BASELINE_COVERAGE_AT_60[algo]) <= 0.05, coverage


def world_job(env_id: str, env_kwargs: dict, seed: int, budget: int) -> dict:
    """The worlds suite's MAX job (scripts/benchmark.py worlds): seeded, so it repeats exactly on one machine
    (not always on another CPU: docs/BENCHMARKS.md, "How a table is made")."""
    return {"algo": "max", "length": 0, "seed": seed, "max_episodes": budget, "device": "cpu", "threads": 1,
            "overrides": {}, "tensorboard": None, "env": env_id, "env_kwargs": env_kwargs, "world": env_id}  # fmt: skip


WORLDS_SCORED_SEEDS = range(100, 103)  # the worlds suite's scored seeds (benchmarks.config.SCORED_SEEDS_START)


def median_episodes_to_full(algo: str, env_id: str, env_kwargs: dict, budget: int) -> float:
    """The median over the worlds suite's scored seeds of the episodes ``algo`` needed to try every reachable
    pair (the budget plus one where it did not)."""
    from benchmarks.runs import explore_once

    jobs = [{**world_job(env_id, env_kwargs, seed, budget), "algo": algo} for seed in WORLDS_SCORED_SEEDS]
    return float(np.median([explore_once(job)["episodes_to_full"] or budget + 1 for job in jobs]))


@pytest.mark.slow
def test_max_on_taxi_within_1_5x_of_the_perfect_memory_explorer():
    """README and docs/BENCHMARKS.md ("Every agent on FrozenLake..."): on scored seeds 100-102 the
    perfect-memory explorer needed 24, 28 and 24 episodes (median 24); 1.5 x 24 is the target. MAX needed 31
    and 24 on seeds 100 and 101 (commit 52c5cd6; 5,716 and 4,404 steps); seed 102 did not finish in the
    sitting that ran them. Each run took 1.2-2 hours of a shared core."""
    max_median, perfect_median = (median_episodes_to_full(a, "Taxi-v4", {}, 100) for a in ("max", "perfect"))
    assert max_median <= 1.5 * perfect_median, (max_median, perfect_median)


@pytest.mark.slow
def test_max_on_slippery_frozen_lake_8x8_before_the_perfect_memory_explorer():
    """README and docs/BENCHMARKS.md ("Every agent on FrozenLake..."): on scored seeds 100-102 MAX needed
    500, 462 and 900 episodes (median 500), the perfect-memory explorer 471, 1,094 and 541 (median 541).
    Seeded (exact repeats on one machine only); about an hour on one core."""
    max_median, perfect_median = (median_episodes_to_full(a, "FrozenLake-v1", {"map_name": "8x8"}, 3000)
                                  for a in ("max", "perfect"))  # fmt: skip
    assert max_median <= perfect_median, (max_median, perfect_median)

"""End-to-end learning checks with thresholds. The long ones are marked slow (`pytest -m slow`)."""

import sys
from pathlib import Path

import gymnasium as gym
import pytest

import envs  # noqa: F401
from agents.callbacks import CoverageCallback
from agents.registry import make_agent
from envs import TransitionCoverage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from chain_runs import episodes_to_optimal  # noqa: E402


@pytest.mark.parametrize("seed", [0, 1])
def test_dqn_learns_the_optimal_return_on_a_5_state_chain(seed):
    solved, _ = episodes_to_optimal("dqn", {"length": 5, "layout_seed": 0}, seed, budget=200)
    assert solved is not None and solved <= 200  # measured: 10-30 episodes


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrapped_dqn_learns_osbands_fixed_chain(seed):
    solved, _ = episodes_to_optimal("bootdqn", {"length": 20, "randomize_actions": False}, seed, budget=500)
    assert solved is not None  # measured: 20-290 episodes


@pytest.mark.slow
@pytest.mark.parametrize("layout_seed", range(5))
def test_max_tries_every_transition_of_the_50_state_chain_within_8_episodes(layout_seed):
    env = TransitionCoverage(gym.make("maxplore/Chain-v0", length=50, layout_seed=layout_seed))
    callback = CoverageCallback(max_episodes=20)
    make_agent("max", env, seed=layout_seed, device="cpu").learn(20 * 59, callback=callback)
    assert callback.episodes_to_full_coverage is not None and callback.episodes_to_full_coverage <= 8  # measured: 5

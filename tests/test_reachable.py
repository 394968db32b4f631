"""Reachable (state, action) pairs: the denominator of honest coverage, against counts read off the maps."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs import TransitionCoverage, reachable_pairs


def frozen_lake_actable(env) -> np.ndarray:
    """The slow, obvious count: every cell of the map but the holes and the goal (entering them ends the
    episode), which on these maps are all reachable from the start."""
    desc = env.unwrapped.desc.astype(str).reshape(-1)
    return (desc != "H") & (desc != "G")


@pytest.mark.parametrize("map_name", ["4x4", "8x8"])
def test_frozen_lake_pairs_are_the_cells_that_are_neither_hole_nor_goal(map_name):
    env = gym.make("FrozenLake-v1", map_name=map_name)
    pairs = reachable_pairs(env)
    assert np.array_equal(pairs, np.repeat(frozen_lake_actable(env)[:, None], 4, axis=1))
    assert pairs.sum() == {"4x4": 44, "8x8": 212}[map_name]


def test_cliff_walking_and_taxi_counts():
    cliff = reachable_pairs(gym.make("CliffWalking-v1"))  # the 10 cliff cells send the agent back to the start
    assert cliff.sum() == (48 - 10 - 1) * 4 and not cliff[3 * 12 + 1 : 3 * 12 + 12].any()
    taxi = reachable_pairs(gym.make("Taxi-v4"))
    assert taxi.sum() == 400 * 6  # a passenger already delivered to its destination is never acted in


def test_maze_and_chain_pairs():
    maze = gym.make("maxplore/Maze-v0", obs_mode="index", size=9)
    assert np.array_equal(reachable_pairs(maze)[:, 0], maze.unwrapped.state_mask)
    assert reachable_pairs(gym.make("maxplore/Chain-v0", length=7)).all()


def test_coverage_counts_only_reachable_pairs():
    env = TransitionCoverage(gym.make("FrozenLake-v1", is_slippery=False))
    assert env.n_pairs == 44
    env.reset(seed=0)
    env.step(2)  # right, from the start cell 0 to cell 1
    assert env.transitions_seen == 1
    env.mark_tried(np.ones((16, 4), dtype=bool))  # every pair, holes' and goal's included
    assert env.transitions_seen == 44 and env.coverage == 1.0


def test_agents_coverage_counts_the_reachable_pairs_as_the_wrapper_does():
    """explore/coverage in TensorBoard comes from the agent: it must agree with the wrapper (FrozenLake:
    44 of 64 pairs), not count the holes' and goal's actions that can never be tried."""
    from agents import MAX
    from envs import TransitionCoverage

    model = MAX(TransitionCoverage(gym.make("FrozenLake-v1")), seed=0)
    model.learn(300)
    assert model.reachable.sum() == 44
    assert model.coverage == model.env.envs[0].get_wrapper_attr("coverage") > 0.3

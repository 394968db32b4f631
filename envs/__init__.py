"""Gymnasium environments for exploration research.

Importing this package registers every environment under the ``maxplore/`` namespace::

    import gymnasium as gym
    import envs
    env = gym.make("maxplore/Chain-v0", length=50, layout_seed=0)
"""

from gymnasium.envs.registration import register, registry

from envs.chain import ChainEnv
from envs.maze import MazeEnv
from envs.observation_noise import ObservationNoise
from envs.reachable import reachable_pairs
from envs.wrappers import STATE_GRIDS, StateGridCoverage, TransitionCoverage, countable

__all__ = [
    "STATE_GRIDS", "ChainEnv", "MazeEnv", "ObservationNoise", "StateGridCoverage", "TransitionCoverage", "countable",
    "maxplore_ids", "reachable_pairs",
]  # fmt: skip


def maxplore_ids() -> list[str]:
    """Every registered environment id in the ``maxplore/`` namespace."""
    return sorted(env_id for env_id in registry if env_id.startswith("maxplore/"))


if "maxplore/Chain-v0" not in registry:
    register(id="maxplore/Chain-v0", entry_point="envs.chain:ChainEnv")
if "maxplore/Maze-v0" not in registry:
    register(id="maxplore/Maze-v0", entry_point="envs.maze:MazeEnv")
if "maxplore/HalfCheetah-v0" not in registry:  # MuJoCo (the mujoco extra) is imported when it is made
    # episodes of 100 steps, as the official registration of MagellanHalfCheetah-v2
    register(id="maxplore/HalfCheetah-v0", entry_point="envs.half_cheetah:MAXHalfCheetah", max_episode_steps=100)
if "maxplore/AntMaze-v0" not in registry:  # the paper's U maze on Gymnasium's Ant-v5 (the mujoco extra)
    register(id="maxplore/AntMaze-v0", entry_point="envs.ant_maze:MAXAntMaze", max_episode_steps=300)

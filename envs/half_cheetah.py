"""HalfCheetah as the MAX paper saw it, on Gymnasium's MuJoCo HalfCheetah-v5 (the ``mujoco`` extra).

Shyam, Jaskowski & Gomez, ICML 2019, section 5 and the official ``envs/half_cheetah.py``: exploration
runs without a task reward; afterwards a model of the explored data is used for two tasks whose rewards
are functions of (state, action, next state):

- running: the torso's forward velocity, averaged over the step, minus 0.1 |a|^2;
- flipping: the pitch angular velocity minus 0.1 |a|^2.

The official observation (19 values) is rebuilt from the simulator: [torso x velocity averaged over the
step, z, sin(pitch), cos(pitch), 6 joint angles, 9 generalised velocities]; index 0 is the running
velocity and index 12 (the third velocity, the pitch's) the flipping one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TASKS = ("running", "flipping")
RUNNING_VELOCITY, PITCH_VELOCITY = 0, 12  # indices in the paper's observation
ACTION_COST = 0.1


def half_cheetah_reward(task: str, states: Any, actions: Any, next_states: Any) -> Any:
    """The paper's task reward of transitions (numpy arrays or torch tensors, batched on leading axes).

    :param task: ``"running"`` or ``"flipping"``.
    :param states: (..., 19) states (unused: both rewards read the next state, as the official code).
    :param actions: (..., 6) actions.
    :param next_states: (..., 19) next states.
    :return: (...,) rewards.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    index = RUNNING_VELOCITY if task == "running" else PITCH_VELOCITY
    return next_states[..., index] - ACTION_COST * (actions**2).sum(-1)


class MAXHalfCheetah(gym.Wrapper):
    """Gymnasium's HalfCheetah-v5 with the MAX paper's observation and, optionally, one of its task rewards.

    :param task: ``None`` (reward-free exploration: the reward is 0), ``"running"`` or ``"flipping"``.
    :param kwargs: passed to ``gym.make("HalfCheetah-v5", ...)`` (e.g. ``render_mode``).
    """

    def __init__(self, task: str | None = None, **kwargs: Any) -> None:
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be None or one of {TASKS}, got {task!r}")
        try:
            env = gym.make("HalfCheetah-v5", **kwargs)
        except gym.error.DependencyNotInstalled as error:
            raise ImportError("maxplore/HalfCheetah-v0 needs MuJoCo: pip install 'maxplore[mujoco]'") from error
        super().__init__(env)
        self.task = task
        self.observation_space = spaces.Box(-np.inf, np.inf, (19,), dtype=np.float64)
        self._x_before = 0.0

    def _torso_x(self) -> float:
        return float(self.env.unwrapped.get_body_com("torso")[0])

    def _observation(self, average_velocity: float) -> np.ndarray:
        data = self.env.unwrapped.data
        qpos, qvel = data.qpos.flat, data.qvel.flat
        pitch = qpos[2]
        return np.concatenate([[average_velocity, qpos[1], np.sin(pitch), np.cos(pitch)], qpos[3:], qvel])

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        _, info = self.env.reset(**kwargs)
        self._x_before = self._torso_x()
        return self._observation(0.0), info

    def step(self, action: np.ndarray):
        _, _, terminated, truncated, info = self.env.step(action)
        x_after = self._torso_x()
        next_state = self._observation((x_after - self._x_before) / self.env.unwrapped.dt)
        self._x_before = x_after
        if self.task is None:
            reward = 0.0
        else:  # both rewards read the next state and the action only
            reward = float(half_cheetah_reward(self.task, None, np.asarray(action), next_state))
        return next_state, reward, terminated, truncated, info

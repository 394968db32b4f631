"""Wrappers that measure exploration.

Exploration on the chain is measured as in MAX (Shyam et al., ICML 2019, section 4.1): the fraction of
distinct (state, action) pairs the agent has ever tried, over the wrapper's whole life.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.reachable import reachable_pairs


def countable(env: gym.Env) -> bool:
    """Whether :class:`TransitionCoverage` can measure ``env``: Discrete actions, and states that are the
    Discrete observation or that the env counts (an ``n_states`` attribute and ``info["state"]``)."""
    if not isinstance(env.action_space, spaces.Discrete):
        return False
    return isinstance(env.observation_space, spaces.Discrete) or getattr(env.unwrapped, "n_states", None) is not None


class TransitionCoverage(gym.Wrapper):
    """Count the distinct (state, action) pairs tried since the wrapper was built, across resets.

    Works for any env with a ``Discrete`` action space whose state is known: the observation itself when
    the observation space is ``Discrete``, otherwise ``info["state"]`` (an int), which must be present
    after ``reset`` and every ``step``.

    Every ``info`` returned gets ``coverage`` (tried pairs / (n_states * n_actions)),
    ``transitions_seen`` (tried pairs) and ``episodes`` (episodes started so far, counting the current
    one). ``episodes_to_full_coverage`` is the episode during which coverage first reached 1.0, or
    ``None``.

    :param env: the env to measure.
    :param n_states: size of the state space; inferred from a ``Discrete`` observation space or from
        the unwrapped env's ``n_states`` attribute when omitted.

    Coverage counts only the pairs that can be tried (:func:`envs.reachable.reachable_pairs`): from the
    env's transition table where it publishes one (FrozenLake's holes and goal end the episode, so their
    actions never count), the pairs of the states in a ``state_mask`` (a maze's free cells), or all.
    ``reachable`` (n_states, n_actions) is that mask.
    """

    def __init__(self, env: gym.Env, n_states: int | None = None) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"TransitionCoverage needs a Discrete action space, got {env.action_space}")
        self._state_from_obs = isinstance(env.observation_space, spaces.Discrete)
        if n_states is None:
            if self._state_from_obs:
                n_states = int(env.observation_space.n)
            else:
                n_states = getattr(env.unwrapped, "n_states", None)
            if n_states is None:
                raise ValueError(
                    "n_states must be given: the observation space is not Discrete and the env has no n_states"
                )
        if n_states < 1:
            raise ValueError(f"n_states must be positive, got {n_states}")
        self.n_states = int(n_states)
        self.n_actions = int(env.action_space.n)
        # tried[s, a] is True once action a was taken in state s; shape (n_states, n_actions).
        self.tried = np.zeros((self.n_states, self.n_actions), dtype=bool)
        self.reachable = reachable_pairs(env)  # (n_states, n_actions) pairs that can be tried
        if self.reachable.shape != self.tried.shape:
            raise ValueError(f"the env's {self.reachable.shape[0]} states do not match n_states={self.n_states}")
        self.n_pairs = int(self.reachable.sum())
        self.transitions_seen = 0
        self.episodes = 0
        self.episodes_to_full_coverage: int | None = None
        self._state: int | None = None

    @property
    def coverage(self) -> float:
        """Fraction of all (state, action) pairs tried so far."""
        return self.transitions_seen / self.n_pairs

    def mark_tried(self, tried: np.ndarray) -> None:
        """Count the pairs set in ``tried`` (n_states, n_actions) as tried, e.g. when resuming a run.

        Episode counts are not changed; ``episodes_to_full_coverage`` stays unset if this completes
        coverage, since no episode of this wrapper did.
        """
        tried = np.asarray(tried, dtype=bool)
        if tried.shape != self.tried.shape:
            raise ValueError(f"tried must be shaped {self.tried.shape}, got {tried.shape}")
        self.tried |= tried
        self.transitions_seen = int((self.tried & self.reachable).sum())

    def _read_state(self, obs: Any, info: dict[str, Any]) -> int:
        if self._state_from_obs:
            return int(obs)
        if "state" not in info:
            raise KeyError("TransitionCoverage needs info['state'] when observations are not Discrete")
        return int(info["state"])

    def _annotate(self, info: dict[str, Any]) -> dict[str, Any]:
        info["coverage"] = self.coverage
        info["transitions_seen"] = self.transitions_seen
        info["episodes"] = self.episodes
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.episodes += 1
        self._state = self._read_state(obs, info)
        return obs, self._annotate(info)

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        a = int(action)
        if not self.tried[self._state, a]:
            self.tried[self._state, a] = True
            self.transitions_seen += bool(self.reachable[self._state, a])
            if self.episodes_to_full_coverage is None and self.transitions_seen == self.n_pairs:
                self.episodes_to_full_coverage = self.episodes
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._state = self._read_state(obs, info)
        return obs, reward, terminated, truncated, self._annotate(info)

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


def _acrobot_angles(obs: np.ndarray) -> np.ndarray:
    """Acrobot-v1's (cos t1, sin t1, cos t2, sin t2, dt1, dt2) -> (t1, t2, dt1, dt2)."""
    return np.array([np.arctan2(obs[1], obs[0]), np.arctan2(obs[3], obs[2]), obs[4], obs[5]])


# world -> (state variables of the grid as a function of the observation, low, high, bins per variable).
# The ranges are where the world's episodes live: CartPole ends at |x| > 2.4 and |theta| > 0.2095; Acrobot's
# velocities are bounded by 4 pi and 9 pi; LunarLander's (x, y, vx, vy) as its observation space states them.
STATE_GRIDS: dict[str, tuple[Any, list[float], list[float], int]] = {
    "CartPole-v1": (None, [-2.4, -3.0, -0.2095, -3.5], [2.4, 3.0, 0.2095, 3.5], 6),
    "Acrobot-v1": (_acrobot_angles, [-np.pi, -np.pi, -4 * np.pi, -9 * np.pi], [np.pi, np.pi, 4 * np.pi, 9 * np.pi], 6),
    "LunarLander-v3": (lambda obs: obs[:4], [-1.5, -0.5, -2.0, -2.0], [1.5, 1.5, 2.0, 2.0], 8),
}


class StateGridCoverage(gym.Wrapper):
    """Count the distinct cells of a grid over a world's state variables visited since the wrapper was
    built: the exploration measure for vector states (the chain's pairs tried, where states cannot be
    counted). Each variable's range ``[low, high]`` is cut into ``bins`` equal parts; values outside fall
    in the end cells.

    Every ``info`` gets ``state_grid_coverage`` (cells visited / cells in the grid) and
    ``state_cells_visited``; ``episodes`` counts the resets.

    :param env: the env to measure.
    :param grid: ``(variables, low, high, bins)``: a function from an observation to the grid's state
        variables (``None``: the observation itself), their lower and upper ends, and bins per variable;
        default: the world's entry of :data:`STATE_GRIDS`.
    """

    def __init__(self, env: gym.Env, grid: tuple[Any, list[float], list[float], int] | None = None) -> None:
        super().__init__(env)
        if grid is None:
            spec_id = env.spec.id if env.spec is not None else None
            if spec_id not in STATE_GRIDS:
                raise ValueError(f"grid: no state grid is defined for {spec_id!r}; pass (variables, low, high, bins)")
            grid = STATE_GRIDS[spec_id]
        variables, low, high, bins = grid
        self.variables = variables or (lambda obs: obs)
        self.low, self.high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        if self.low.shape != self.high.shape or not np.all(self.high > self.low):
            raise ValueError(f"grid: low and high must have one shape with high > low, got {low} and {high}")
        if not isinstance(bins, int) or bins < 1:
            raise ValueError(f"grid: bins must be an int >= 1, got {bins!r}")
        self.bins = bins
        self.n_cells = bins ** len(self.low)
        self.visited: set[tuple[int, ...]] = set()
        self.episodes = 0  # resets so far

    def cell(self, obs: np.ndarray) -> tuple[int, ...]:
        """The grid cell of one observation: one bin index per state variable."""
        x = (np.asarray(self.variables(np.asarray(obs, dtype=float)), dtype=float) - self.low) / (self.high - self.low)
        return tuple(np.clip((x * self.bins).astype(int), 0, self.bins - 1).tolist())

    @property
    def coverage(self) -> float:
        return len(self.visited) / self.n_cells

    def _count(self, obs: Any, info: dict[str, Any]) -> dict[str, Any]:
        self.visited.add(self.cell(obs))
        return {**info, "state_grid_coverage": self.coverage, "state_cells_visited": len(self.visited)}

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self.episodes += 1
        return obs, self._count(obs, info)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._count(obs, info)

"""Gaussian noise on a Box world's observations, as in every command of the MAX paper's runs.

Shyam, Jaskowski & Gomez, ICML 2019; the official code's ``wrappers.NoisyEnv`` adds N(0, std^2) noise to
each observation returned by ``reset`` and ``step`` (the readme's commands pass ``env_noise_stdev=0.02``).
The agent stores and acts on the noisy observations; what the world counts (its ``info``) is untouched.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

PAPER_NOISE_STD = 0.02  # the official readme's env_noise_stdev


class ObservationNoise(gym.ObservationWrapper):
    """Add independent N(0, ``std``^2) noise to every entry of every observation.

    The noise comes from the wrapper's own generator, seeded by ``reset(seed=...)`` (the world's own random
    stream is left as it was), so a seeded run is reproducible. The observation space is widened to
    unbounded (noise can leave any bound).

    :param env: a world with a ``Box`` observation space.
    :param std: the noise's standard deviation (>= 0; 0 returns the observations unchanged).
    """

    def __init__(self, env: gym.Env, std: float = PAPER_NOISE_STD) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Box):
            raise TypeError(f"ObservationNoise needs a Box observation space, got {env.observation_space}")
        if isinstance(std, bool) or not isinstance(std, int | float) or not std >= 0:
            raise ValueError(f"std must be a number >= 0, got {std!r}")
        self.std = float(std)
        box = env.observation_space
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=box.shape, dtype=box.dtype)
        self.noise_rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.noise_rng = np.random.default_rng(seed)
        return super().reset(seed=seed, options=options)

    def observation(self, observation: Any) -> np.ndarray:
        noise = self.noise_rng.normal(0.0, self.std, size=np.shape(observation)) if self.std else 0.0
        return (np.asarray(observation) + noise).astype(self.observation_space.dtype)

"""The one public MAX: Model-Based Active Exploration (Shyam, Jaskowski & Gomez, ICML 2019).

``MAX(env, **kwargs)`` builds the planner that fits the env's observation space: exact value iteration in
the exploration MDP where states can be counted (a ``Discrete`` index,
:class:`~agents.max.tabular.TabularMAX`), a policy trained in the imagined exploration MDP where they
cannot (a ``Box`` of continuous states, :class:`~agents.max.continuous.ContinuousMAX`), and planning in a
learned feature space for pictures (a uint8 ``Box`` of (H, W, C) images with ``Discrete`` actions,
:class:`~agents.max.pixels.PixelMAX`) or over standardised vectors (a 1-D ``Box`` with ``Discrete`` actions:
CartPole, Acrobot, LunarLander; :class:`~agents.max.vectors.VectorMAX`). All are instances of ``MAX``;
``MAX.load`` reads which one a checkpoint holds.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.type_aliases import GymEnv

from agents.checkpoint import load_checkpoint


def planner_class(env: GymEnv | str) -> type[MAX]:
    """The MAX planner for ``env``'s observation space; ``TypeError`` naming the spaces if none fits."""
    from agents.max.continuous import ContinuousMAX
    from agents.max.pixels import PixelMAX
    from agents.max.tabular import TabularMAX
    from agents.max.vectors import VectorMAX

    probe = gym.make(env) if isinstance(env, str) else env
    obs_space, act_space = probe.observation_space, probe.action_space
    if isinstance(obs_space, spaces.Discrete):
        return TabularMAX
    if isinstance(obs_space, spaces.Box) and len(obs_space.shape) == 1 and isinstance(act_space, spaces.Box):
        return ContinuousMAX
    if is_image_space(obs_space, check_channels=True) and isinstance(act_space, spaces.Discrete):
        return PixelMAX
    if isinstance(obs_space, spaces.Box) and len(obs_space.shape) == 1 and isinstance(act_space, spaces.Discrete):
        return VectorMAX
    raise TypeError(
        f"MAX plans over Discrete states (with Discrete actions), 1-D Box states (with Box or Discrete actions) "
        f"or uint8 (H, W, C) pictures (with Discrete actions); got "
        f"observation_space={obs_space}, action_space={act_space} (maxplore/Chain-v0 encoding='index' and "
        "maxplore/Maze-v0 obs_mode='index' give state indices)"
    )


class MAX:
    """Model-Based Active Exploration; ``MAX(env, ...)`` returns the planner that fits ``env`` (see the
    module docstring) with that planner's keyword arguments."""

    # the tabular planner keeps the kind "MAX" of older files
    CHECKPOINT_KINDS = ("MAX", "ContinuousMAX", "PixelMAX", "VectorMAX")

    def __new__(cls, env: GymEnv | str | None = None, *args: Any, **kwargs: Any):
        if cls is MAX:
            if env is None:
                raise TypeError("MAX needs an env (or its id) to choose its planner")
            cls = planner_class(env)
        return super().__new__(cls)

    @classmethod
    def load(cls, path: str | os.PathLike, env: GymEnv | None = None, device: torch.device | str = "auto", **kwargs):
        """Load a checkpoint of either planner (``MAX.load``) or of this planner (``TabularMAX.load``)."""
        if cls is MAX:
            from agents.max.continuous import ContinuousMAX
            from agents.max.pixels import PixelMAX
            from agents.max.tabular import TabularMAX
            from agents.max.vectors import VectorMAX

            kind = load_checkpoint(path, kind=cls.CHECKPOINT_KINDS)["kind"]
            planners = {"MAX": TabularMAX, "ContinuousMAX": ContinuousMAX, "PixelMAX": PixelMAX, "VectorMAX": VectorMAX}
            planner = planners[kind]
            return planner.load(path, env, device, **kwargs)
        return super().load(path, env, device, **kwargs)  # type: ignore[misc]

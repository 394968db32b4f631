"""Plain DQN (Mnih et al. 2015) from Stable-Baselines3, with epsilon-greedy exploration: the benchmark's
reactive floor. The only change to SB3's class is checkpoints that load without unpickling."""

from __future__ import annotations

from typing import Any

import stable_baselines3
from stable_baselines3.common.type_aliases import GymEnv

from agents.sb3_checkpoint import SafeCheckpointMixin


def reject_replay_buffer_kwargs(kwargs: dict[str, Any], owner: str, what: str) -> None:
    """Agents that bring their own replay buffer refuse a user-given one with a clear error."""
    for name in ("replay_buffer_class", "replay_buffer_kwargs"):
        if name in kwargs:
            raise ValueError(f"{name} is set by {owner} ({what}); do not pass it")


class DQN(SafeCheckpointMixin, stable_baselines3.DQN):
    """``stable_baselines3.DQN`` with :class:`~agents.sb3_checkpoint.SafeCheckpointMixin`'s save/load.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a policy class.
    :param env: the environment or its id.
    :param kwargs: every other argument of ``stable_baselines3.DQN``, by keyword.
    """

    def __init__(self, policy: Any, env: GymEnv | str | None, **kwargs: Any) -> None:
        self._remember_init(policy, kwargs)
        super().__init__(policy, env, **kwargs)

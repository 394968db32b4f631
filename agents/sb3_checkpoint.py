"""Checkpoints for agents built on Stable-Baselines3's off-policy algorithms, without pickle.

SB3's own ``save`` stores hyper-parameters with cloudpickle, and its ``load`` unpickles them, which can
execute code. :class:`SafeCheckpointMixin` writes the constructor arguments as plain values (classes
as importable names from an allow-list, see :mod:`agents.checkpoint`), the policy's and optimiser's
state dicts and the counters, and rebuilds the model from them on load.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from stable_baselines3.common.type_aliases import GymEnv

from agents.checkpoint import (
    decode_value,
    encode_value,
    env_identity,
    load_checkpoint,
    progress_counters,
    restore_progress_counters,
    save_checkpoint,
    warn_if_other_env,
)


class SafeCheckpointMixin:
    """Mix in before an SB3 off-policy algorithm class; call :meth:`_remember_init` first in ``__init__``."""

    def _remember_init(self, policy: Any, kwargs: dict[str, Any]) -> None:
        """Record the constructor arguments (all but ``env`` and ``device``) for :meth:`save`."""
        self._init_args = {"policy": policy, **{k: v for k, v in kwargs.items() if k != "device"}}

    def _extra_state(self) -> dict[str, Any]:
        """Tensors and plain values a subclass adds to its checkpoint."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` wrote."""

    def save(self, path: str | os.PathLike, exclude=None, include=None) -> None:  # noqa: ARG002
        """Write constructor arguments, network and optimiser weights and counters to ``path``
        (``.pt`` appended when there is no suffix). The replay buffer is not saved, as in SB3."""
        checkpoint = {
            "kind": type(self).__name__,
            "init": encode_value(self._init_args),
            "env": env_identity(self.env) if self.env is not None else None,
            "policy": self.policy.state_dict(),
            "optimizer": self.policy.optimizer.state_dict(),
            "counters": progress_counters(self),
            "extra": self._extra_state(),
        }
        save_checkpoint(checkpoint, path)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | os.PathLike,
        env: GymEnv | None = None,
        device: torch.device | str = "auto",
        **kwargs: Any,
    ):
        """Rebuild a model from :meth:`save`'s checkpoint; nothing in it is unpickled as code.

        :param path: checkpoint path (``.pt`` tried when ``path`` has no suffix).
        :param env: the env to act and learn in, with the spaces the model was trained on (required:
            the checkpoint does not store spaces).
        :param device: where to put the networks.
        :param kwargs: constructor arguments to override (e.g. ``tensorboard_log``).
        """
        if env is None:
            raise ValueError(f"{cls.__name__}.load needs env: the checkpoint holds weights, not spaces")
        checkpoint = load_checkpoint(path, kind=cls.__name__)
        warn_if_other_env(checkpoint.get("env"), env, path)
        init = {**decode_value(checkpoint["init"]), **kwargs}
        policy = init.pop("policy")
        model = cls(policy, env, device=device, **init)
        model.policy.load_state_dict(checkpoint["policy"])
        model.policy.optimizer.load_state_dict(checkpoint["optimizer"])
        restore_progress_counters(model, checkpoint["counters"])
        model._load_extra_state(checkpoint["extra"])
        return model

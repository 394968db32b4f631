"""DQN (Mnih et al. 2015) from Stable-Baselines3, the base of the suite's DQN family.

Three changes to SB3's class: defaults for small exploration worlds (``SMALL_WORLD_DEFAULTS``),
checkpoints that load without unpickling, and an optional Sparse
Variational Dropout output layer (``sparse=True``, Molchanov et al. 2017). With it, the KL term of the
SGVLB, divided by the number of stored transitions and annealed from 0 to 1, is added to the gradient
of every optimiser step by a step pre-hook, so SB3's ``train`` runs unchanged (its gradient-norm
clipping applies to the TD gradient only), and ``sparsity/kept_fraction`` and ``sparsity/compression``
are logged after each training round.
"""

from __future__ import annotations

from typing import Any, ClassVar

import stable_baselines3
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork

from agents.callbacks import ProgressBarMixin
from agents.devices import check_device
from agents.sb3_checkpoint import SafeCheckpointMixin
from vision_tools.sparse_vd import LinearSVDO, kl_divergence, kl_weight, record_sparsity

# SB3's DQN defaults are Atari's (learning rate 1e-4, a 1M replay, a train step every 4 env steps, a target
# update every 10,000 steps); with them the DQN family learns nothing on a 20-state chain in 400 episodes.
# These values, chosen by `scripts/benchmark.py tune` (docs/BENCHMARKS.md), are every family member's
# defaults; any keyword argument overrides them, and passing SB3's values gives SB3's DQN back.
SMALL_WORLD_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "buffer_size": 100_000,
    "learning_starts": 100,
    "batch_size": 32,
    "train_freq": 1,
    "gradient_steps": 1,
    "target_update_interval": 100,
    "gamma": 0.99,
}


def reject_replay_buffer_kwargs(kwargs: dict[str, Any], owner: str, what: str) -> None:
    """Agents that bring their own replay buffer refuse a user-given one with a clear error."""
    for name in ("replay_buffer_class", "replay_buffer_kwargs"):
        if name in kwargs:
            raise ValueError(f"{name} is set by {owner} ({what}); do not pass it")


class SparseHeadDQNPolicy(DQNPolicy):
    """SB3's DQN policy whose Q-network output layer can be a :class:`LinearSVDO` (``sparse_head=True``)."""

    def __init__(self, *args: Any, sparse_head: bool = False, **kwargs: Any) -> None:
        self.sparse_head = sparse_head  # needed by make_q_net, which DQNPolicy.__init__ calls
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> QNetwork:
        q_net = super().make_q_net()
        if self.sparse_head:
            last = q_net.q_net[-1]
            q_net.q_net[-1] = LinearSVDO(last.in_features, last.out_features).to(self.device)
        return q_net

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "sparse_head": self.sparse_head}


class SparseHeadCnnPolicy(SparseHeadDQNPolicy):
    """:class:`SparseHeadDQNPolicy` with SB3's NatureCNN features extractor by default."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class DQN(ProgressBarMixin, SafeCheckpointMixin, stable_baselines3.DQN):
    """``stable_baselines3.DQN`` with pickle-free save/load and an optional sparse output layer.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a policy class.
    :param env: the environment or its id.
    :param sparse: make the Q-network's output layer (the head) a Sparse Variational Dropout layer.
    :param kl_anneal_steps: gradient steps over which the KL weight rises from 0 to 1 (``sparse`` only).
    :param kwargs: every other argument of ``stable_baselines3.DQN``, by keyword; those not given take
        ``SMALL_WORLD_DEFAULTS`` (learning rate 1e-3, replay 100,000, a train step every env step, a
        target update every 100 steps), then SB3's defaults.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": SparseHeadDQNPolicy,
        "CnnPolicy": SparseHeadCnnPolicy,
    }

    def __init__(
        self, policy: Any, env: GymEnv | str | None, *, sparse: bool = False, kl_anneal_steps: int = 10_000,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        if kl_anneal_steps < 0:
            raise ValueError(f"kl_anneal_steps must be >= 0, got {kl_anneal_steps}")
        check_device(kwargs.get("device", "auto"))
        kwargs = {**SMALL_WORLD_DEFAULTS, **kwargs}
        self._remember_init(policy, {**kwargs, "sparse": sparse, "kl_anneal_steps": kl_anneal_steps})
        self.sparse = sparse
        self.kl_anneal_steps = kl_anneal_steps
        policy_kwargs = dict(kwargs.pop("policy_kwargs", None) or {})
        if sparse:
            policy_kwargs["sparse_head"] = True  # every policy of the family takes this keyword
        super().__init__(policy, env, policy_kwargs=policy_kwargs, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        if self.sparse:
            self.policy.optimizer.register_step_pre_hook(self._add_kl_gradient)

    def _add_kl_gradient(self, optimizer, args, kwargs) -> None:
        """Before each optimiser step: add the gradient of w * KL / N (the SGVLB divided by N)."""
        weight = kl_weight(self._n_updates, self.kl_anneal_steps) / max(self.replay_buffer.size(), 1)
        (weight * kl_divergence(self.q_net)).backward()

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        super().train(gradient_steps, batch_size)
        if self.sparse:
            record_sparsity(self.logger, self.q_net)

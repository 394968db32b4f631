"""Bootstrapped DQN (Osband, Blundell, Pritzel & Van Roy, "Deep Exploration via Bootstrapped DQN",
NeurIPS 2016) on Stable-Baselines3's DQN machinery.

K Q-value heads share one torso. Every stored transition carries a Bernoulli(``mask_prob``) mask per
head, and head k learns only from the transitions whose mask for k is 1 (its bootstrap resample).
One head is drawn uniformly at the start of each episode and followed greedily for the whole episode,
which gives temporally consistent, "deep" exploration. The torso's gradient is the average of the
heads' gradients (scaled by 1/K). Greedy evaluation (``predict(deterministic=True)``) takes a majority
vote of the heads' greedy actions.

``prior_scale`` > 0 gives the randomized prior functions of Osband, Aslanides & Cassirer ("Randomized
Prior Functions for Deep Reinforcement Learning", NeurIPS 2018): every head's Q-value is its trainable
output plus ``prior_scale`` times the output of a fixed, randomly initialised prior network of the same
shape (never trained), in the online and the target network alike. This is the field's standard form of
Bootstrapped DQN for deep exploration (bsuite's ``boot_dqn``; prior scale 3 on chain-like tasks).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN, create_mlp
from stable_baselines3.common.type_aliases import GymEnv, PyTorchObs
from stable_baselines3.common.vec_env import VecNormalize
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn
from torch.nn import functional as F

from agents.dqn import DQN, reject_replay_buffer_kwargs
from vision_tools.sparse_vd import LinearSVDO, record_sparsity


class MaskedReplayBufferSamples(NamedTuple):
    observations: torch.Tensor
    actions: torch.Tensor
    next_observations: torch.Tensor
    dones: torch.Tensor
    rewards: torch.Tensor
    discounts: torch.Tensor | None
    masks: torch.Tensor  # (B, K): 1 where head k trains on the sample


class MaskedReplayBuffer(ReplayBuffer):
    """A replay buffer whose transitions each carry a Bernoulli(``mask_prob``) mask over ``n_heads`` heads.

    Masks are drawn when a transition is added, from NumPy's global generator (which SB3 seeds), and
    returned with every sample as ``masks`` (B, K). Single environment only.
    """

    def __init__(self, *args: Any, n_heads: int = 10, mask_prob: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.n_envs != 1:
            raise ValueError(f"MaskedReplayBuffer supports one environment, got n_envs={self.n_envs}")
        self.n_heads = n_heads
        self.mask_prob = mask_prob
        self.masks = np.zeros((self.buffer_size, self.n_heads), dtype=np.float32)  # (N, K)

    def add(self, obs, next_obs, action, reward, done, infos) -> None:
        self.masks[self.pos] = np.random.binomial(1, self.mask_prob, size=self.n_heads)
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> MaskedReplayBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        return MaskedReplayBufferSamples(*samples, masks=self.to_torch(self.masks[batch_inds]))


def vote(q_values: torch.Tensor) -> torch.Tensor:
    """Majority vote of the heads' greedy actions: (B, K, A) -> (B,). Ties go to the higher mean Q."""
    n_actions = q_values.shape[-1]
    votes = F.one_hot(q_values.argmax(-1), n_actions).sum(1).float()  # (B, A)
    tie_break = 1e-3 * torch.softmax(q_values.mean(1), -1)  # (B, A), < 1e-3: never outweighs a vote
    return (votes + tie_break).argmax(-1)


class BootstrappedQNetwork(BasePolicy):
    """Shared torso (features extractor + MLP ``net_arch``) and K linear heads, all heads in one matmul.

    ``forward`` returns Q-values (B, K, A). The gradient reaching the torso is divided by K, so the torso
    follows the heads' average gradient (Osband et al. 2016, appendix). With ``prior_scale`` > 0 a second
    network of the same shape (its own features extractor ``prior_features_extractor``, torso and heads),
    frozen at its random initialisation, adds ``prior_scale`` times its output to every head (Osband et
    al. 2018); it is part of the state dict, so the target network copies it with the weights.
    """

    action_space: spaces.Discrete

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_heads: int = 10,
        sparse_head: bool = False,
        prior_scale: float = 0.0,
        prior_features_extractor: BaseFeaturesExtractor | None = None,
    ) -> None:
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        if prior_scale > 0 and prior_features_extractor is None:
            raise ValueError("prior_scale > 0 needs a prior_features_extractor of the same kind as the torso's")
        self.sparse_head = sparse_head
        self.prior_scale = prior_scale
        self.net_arch = [64, 64] if net_arch is None else net_arch
        self.activation_fn = activation_fn
        self.features_dim = features_dim
        self.n_heads = n_heads
        self.torso = nn.Sequential(*create_mlp(features_dim, -1, self.net_arch, activation_fn))
        last = self.net_arch[-1] if self.net_arch else features_dim
        n_out = n_heads * int(action_space.n)  # all K heads: rows k*A..(k+1)*A
        self.heads = LinearSVDO(last, n_out) if sparse_head else nn.Linear(last, n_out)
        self.prior: nn.ModuleDict | None = None
        if prior_scale > 0:
            self.prior = nn.ModuleDict(
                {
                    "features_extractor": prior_features_extractor,
                    "torso": nn.Sequential(*create_mlp(features_dim, -1, self.net_arch, activation_fn)),
                    "heads": nn.Linear(last, n_out),
                }
            ).requires_grad_(False)  # fixed at its random initialisation, never trained

    def forward(self, obs: PyTorchObs) -> torch.Tensor:
        h = self.torso(self.extract_features(obs, self.features_extractor))  # (B, hidden)
        if h.requires_grad:
            h.register_hook(lambda grad: grad / self.n_heads)  # torso: average of the heads' gradients
        q = self.heads(h).view(-1, self.n_heads, int(self.action_space.n))  # (B, K, A)
        if self.prior is None:
            return q
        with torch.no_grad():
            prior_h = self.prior["torso"](self.extract_features(obs, self.prior["features_extractor"]))  # (B, hidden)
            prior_q = self.prior["heads"](prior_h).view_as(q)  # (B, K, A)
        return q + self.prior_scale * prior_q  # (B, K, A)

    def _predict(self, observation: PyTorchObs, deterministic: bool = True) -> torch.Tensor:
        return vote(self(observation))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            net_arch=self.net_arch,
            features_dim=self.features_dim,
            activation_fn=self.activation_fn,
            features_extractor=self.features_extractor,
            n_heads=self.n_heads,
            sparse_head=self.sparse_head,
            prior_scale=self.prior_scale,
        )
        return data


class BootstrappedDQNPolicy(DQNPolicy):
    """DQN's policy (online and target network, optimiser) with :class:`BootstrappedQNetwork` Q-networks.

    :param n_heads: number of Q-heads K.
    :param sparse_head: build the heads as one Sparse Variational Dropout layer (Molchanov et al. 2017).
    :param prior_scale: scale of each head's fixed random prior network (Osband et al. 2018); 0: none.
        Every other argument is ``DQNPolicy``'s.
    """

    q_net: BootstrappedQNetwork
    q_net_target: BootstrappedQNetwork

    def __init__(
        self, *args: Any, n_heads: int = 10, sparse_head: bool = False, prior_scale: float = 0.0, **kwargs: Any
    ) -> None:
        self.n_heads = n_heads  # needed by make_q_net, which DQNPolicy.__init__ calls
        self.sparse_head = sparse_head
        self.prior_scale = prior_scale
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> BootstrappedQNetwork:
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        prior_extractor = self.make_features_extractor() if self.prior_scale > 0 else None
        return BootstrappedQNetwork(
            **net_args, n_heads=self.n_heads, sparse_head=self.sparse_head, prior_scale=self.prior_scale,
            prior_features_extractor=prior_extractor,
        ).to(self.device)  # fmt: skip

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {
            **super()._get_constructor_parameters(),
            "n_heads": self.n_heads,
            "sparse_head": self.sparse_head,
            "prior_scale": self.prior_scale,
        }


class BootstrappedCnnPolicy(BootstrappedDQNPolicy):
    """:class:`BootstrappedDQNPolicy` with SB3's NatureCNN features extractor by default."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs):
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class BootstrappedDQN(DQN):
    """Bootstrapped DQN with SB3's DQN signature and machinery (target network, replay, schedules).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a :class:`BootstrappedDQNPolicy` subclass.
    :param env: the environment or its id (one environment).
    :param n_heads: number of Q-heads K (Osband et al.: 10).
    :param mask_prob: probability that a transition is in a head's bootstrap sample (Osband et al.: 0.5;
        1.0 gives every head all data).
    :param prior_scale: each head adds ``prior_scale`` times a fixed random prior network (randomized
        prior functions, Osband et al. 2018: 3 on chain-like tasks); 0, the default, is the 2016 agent.
    :param exploration_initial_eps: epsilon-greedy on top of the heads; 0 by default, as in the paper.
    :param exploration_final_eps: see ``exploration_initial_eps``.
    :param sparse: Sparse Variational Dropout heads (see :class:`agents.dqn.DQN`).
    :param kl_anneal_steps: gradient steps over which the KL weight rises from 0 to 1 (``sparse`` only).
    :param kwargs: every other argument of ``stable_baselines3.DQN`` (``learning_rate``,
        ``target_update_interval``, ``policy_kwargs`` ...), by keyword.
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": BootstrappedDQNPolicy,
        "CnnPolicy": BootstrappedCnnPolicy,
    }
    policy: BootstrappedDQNPolicy
    q_net: BootstrappedQNetwork
    q_net_target: BootstrappedQNetwork

    def __init__(
        self,
        policy: str | type[BootstrappedDQNPolicy],
        env: GymEnv | str | None,
        *,
        n_heads: int = 10,
        mask_prob: float = 0.5,
        prior_scale: float = 0.0,
        exploration_initial_eps: float = 0.0,
        exploration_final_eps: float = 0.0,
        sparse: bool = False,
        kl_anneal_steps: int = 10_000,
        **kwargs: Any,
    ) -> None:
        if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
            raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")
        if not 0.0 < mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob!r}")
        if isinstance(prior_scale, bool) or not isinstance(prior_scale, int | float) or prior_scale < 0:
            raise ValueError(f"prior_scale must be a number >= 0, got {prior_scale!r}")
        reject_replay_buffer_kwargs(kwargs, "BootstrappedDQN", "masked replay")
        self.n_heads = n_heads
        self.mask_prob = mask_prob
        self.active_head = 0
        user_policy_kwargs = kwargs.pop("policy_kwargs", None) or {}
        policy_kwargs = {**user_policy_kwargs, "n_heads": n_heads, "prior_scale": float(prior_scale)}
        super().__init__(
            policy,
            env,
            exploration_initial_eps=exploration_initial_eps,
            exploration_final_eps=exploration_final_eps,
            policy_kwargs=policy_kwargs,
            sparse=sparse,
            kl_anneal_steps=kl_anneal_steps,
            replay_buffer_class=MaskedReplayBuffer,
            replay_buffer_kwargs={"n_heads": n_heads, "mask_prob": mask_prob},
            **kwargs,
        )
        # what save() records: this class's own arguments, not the ones it derived for SB3
        self._remember_init(
            policy,
            {
                **kwargs,
                "n_heads": n_heads,
                "mask_prob": mask_prob,
                "prior_scale": prior_scale,
                "exploration_initial_eps": exploration_initial_eps,
                "exploration_final_eps": exploration_final_eps,
                "sparse": sparse,
                "kl_anneal_steps": kl_anneal_steps,
                "policy_kwargs": user_policy_kwargs or None,
            },
        )

    def _sample_head(self) -> None:
        self.active_head = int(np.random.randint(self.n_heads))

    def _setup_learn(self, *args: Any, **kwargs: Any):
        result = super()._setup_learn(*args, **kwargs)
        self._sample_head()
        return result

    def _store_transition(self, replay_buffer, buffer_action, new_obs, reward, dones, infos) -> None:
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)
        if dones[0]:
            self._sample_head()  # a new episode follows a freshly drawn head

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """Per-head masked TD learning: head k's Huber loss averaged over the samples in its mask."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = data.discounts if data.discounts is not None else self.gamma
            with torch.no_grad():
                next_q = self.q_net_target(data.next_observations).amax(-1)  # (B, K)
                target = data.rewards + (1 - data.dones) * discounts * next_q  # (B, K)
            q = self.q_net(data.observations)  # (B, K, A)
            index = data.actions.long().view(-1, 1, 1).expand(-1, self.n_heads, 1)  # (B, K, 1)
            q_taken = q.gather(-1, index).squeeze(-1)  # (B, K)
            td = F.smooth_l1_loss(q_taken, target, reduction="none")  # (B, K)
            masks = data.masks  # (B, K)
            loss = ((td * masks).sum(0) / masks.sum(0).clamp_min(1.0)).sum()  # sum over heads
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))
        if self.sparse:  # the KL gradient itself is added by DQN's optimiser step pre-hook
            record_sparsity(self.logger, self.q_net)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """``deterministic=True``: the heads' majority vote. Otherwise the active head's greedy action
        (epsilon-greedy on top when ``exploration_rate`` > 0)."""
        self.policy.set_training_mode(False)
        obs_tensor, vectorized = self.policy.obs_to_tensor(observation)
        if not deterministic and np.random.rand() < self.exploration_rate:
            actions = np.array([self.action_space.sample() for _ in range(len(obs_tensor))])
        else:
            with torch.no_grad():
                q = self.q_net(obs_tensor)  # (B, K, A)
                greedy = vote(q) if deterministic else q[:, self.active_head].argmax(-1)  # (B,)
            actions = greedy.cpu().numpy()
        actions = actions.reshape((-1, *self.action_space.shape))
        return (actions if vectorized else actions.squeeze(0)), state

    def _extra_state(self) -> dict[str, Any]:
        return {"active_head": self.active_head, "exploration_rate": self.exploration_rate}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.active_head = state["active_head"]
        self.exploration_rate = state["exploration_rate"]

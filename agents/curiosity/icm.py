"""The Intrinsic Curiosity Module (Pathak, Agrawal, Efros & Darrell, "Curiosity-driven Exploration by
Self-supervised Prediction", ICML 2017).

Features phi(s) are trained only by an inverse model that tells the action a from (phi(s), phi(s')); a
forward model predicts phi(s') from (phi(s), a). The intrinsic reward is the forward model's error,
eta / 2 ||f(phi(s), a) - phi(s')||^2 (eta 0.01). The module's loss is (1 - beta) L_inverse + beta L_forward
(beta 0.2); the forward loss does not reach phi, so what the action cannot affect (noise, a TV on the wall)
is not kept in phi and earns no reward. The learner is :class:`CuriosityPPO`, as in Burda et al.'s
large-scale study of curiosity (ICLR 2019).
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv
from torch import nn
from torch.nn import functional as F

from agents.curiosity.networks import check_curiosity_space, observation_body, observation_tensor
from agents.curiosity.ppo import CuriosityPPO


class ICMModule(nn.Module):
    """Encoder, inverse model and forward model of ICM.

    :param observation_space: the (SB3-preprocessed) observation space: Discrete, a 1-D Box or (C, H, W) pictures.
    :param n_actions: discrete actions.
    :param features_dim: size of phi.
    :param hidden_size: width of the encoder's MLP layers and of both models' hidden layer.
    :param eta: scale of the reward eta / 2 ||f(phi(s), a) - phi(s')||^2.
    :param beta: weight of the forward loss against the inverse loss, (1 - beta) L_I + beta L_F.
    :param norm: normalisation of the picture encoder (:class:`~agents.encoders.SmallCNN`; GroupNorm default).
    """

    def __init__(
        self, observation_space: spaces.Space, n_actions: int, *, features_dim: int = 64, hidden_size: int = 128,
        eta: float = 0.01, beta: float = 0.2, norm: str | None = "group",
    ) -> None:  # fmt: skip
        super().__init__()
        check_curiosity_space(observation_space, "ICM")
        if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 2:
            raise ValueError(f"n_actions must be an int >= 2, got {n_actions!r}")
        if eta <= 0:
            raise ValueError(f"eta must be positive, got {eta}")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.observation_space, self.n_actions, self.eta, self.beta = observation_space, n_actions, eta, beta
        self.phi = observation_body(observation_space, features_dim, hidden_size=hidden_size, norm=norm)
        self.inverse_model = nn.Sequential(
            nn.Linear(2 * features_dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_actions)
        )
        self.forward_model = nn.Sequential(
            nn.Linear(features_dim + n_actions, hidden_size), nn.ReLU(), nn.Linear(hidden_size, features_dim)
        )

    def features(self, observations: torch.Tensor) -> torch.Tensor:
        """(B, features_dim) phi of a batch of observations."""
        return self.phi(observation_tensor(observations, self.observation_space))

    def predict_next(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(B, features_dim) the forward model's phi(s') from phi(s) (B, features_dim) and actions (B,) or (B, 1)."""
        one_hot = F.one_hot(actions.long().reshape(-1), self.n_actions).float()  # (B, n_actions)
        return self.forward_model(torch.cat([features, one_hot], -1))

    def observe(self, next_observations: torch.Tensor) -> None:
        """ICM keeps no running statistics."""

    def reward(
        self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor
    ) -> torch.Tensor:
        """(B,) eta / 2 ||f(phi(s), a) - phi(s')||^2."""
        phi, phi_next = self.features(observations), self.features(next_observations)  # (B, f) each
        return 0.5 * self.eta * ((self.predict_next(phi, actions) - phi_next) ** 2).sum(-1)  # (B,)

    def loss(self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor) -> torch.Tensor:
        """(1 - beta) * inverse cross-entropy + beta * forward loss 1/2 ||f - phi(s')||^2; phi learns from the
        inverse term only."""
        phi, phi_next = self.features(observations), self.features(next_observations)  # (B, f) each
        logits = self.inverse_model(torch.cat([phi, phi_next], -1))  # (B, n_actions)
        inverse = F.cross_entropy(logits, actions.long().reshape(-1))
        predicted = self.predict_next(phi.detach(), actions)  # (B, f)
        forward = 0.5 * ((predicted - phi_next.detach()) ** 2).sum(-1).mean()
        return (1 - self.beta) * inverse + self.beta * forward


@torch.no_grad()
def icm_reward_reference(module: ICMModule, observations, actions, next_observations) -> torch.Tensor:
    """Slow reference of :meth:`ICMModule.reward`: one transition at a time, the one-hot written out."""
    out = []
    for obs, action, next_obs in zip(observations, actions, next_observations, strict=True):
        phi, phi_next = module.features(obs[None])[0], module.features(next_obs[None])[0]
        one_hot = torch.zeros(module.n_actions)
        one_hot[int(action.reshape(-1)[0])] = 1.0
        predicted = module.forward_model(torch.cat([phi, one_hot]))
        out.append(module.eta / 2 * sum(float(d) ** 2 for d in predicted - phi_next))
    return torch.tensor(out)


class ICM(CuriosityPPO):
    """ICM: PPO (:class:`CuriosityPPO`) driven by the forward error in inverse-dynamics features.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or a :class:`~agents.curiosity.ppo.TwoValuePolicy` subclass.
    :param env: the environment or its id; Discrete actions.
    :param features_dim: size of phi.
    :param hidden_size: width of the module's layers.
    :param eta: reward scale (Pathak et al.: 0.01).
    :param beta: forward-loss weight (Pathak et al.: 0.2).
    :param norm: normalisation of the picture encoder.
    :param kwargs: :class:`CuriosityPPO`'s and ``stable_baselines3.PPO``'s arguments, by keyword.
    """

    def __init__(
        self, policy: Any, env: GymEnv | str | None, *, features_dim: int = 64, hidden_size: int = 128,
        eta: float = 0.01, beta: float = 0.2, norm: str | None = "group", **kwargs: Any,
    ) -> None:  # fmt: skip
        self.features_dim, self.hidden_size, self.eta, self.beta, self.norm = features_dim, hidden_size, eta, beta, norm
        super().__init__(policy, env, **kwargs)

    def _curiosity_args(self) -> dict[str, Any]:
        return {"features_dim": self.features_dim, "hidden_size": self.hidden_size, "eta": self.eta,
                "beta": self.beta, "norm": self.norm}  # fmt: skip

    def _make_curiosity(self) -> ICMModule:
        if not isinstance(self.action_space, spaces.Discrete):
            raise TypeError(f"ICM needs a Discrete action space; got action_space={self.action_space}")
        return ICMModule(self.observation_space, int(self.action_space.n), features_dim=self.features_dim,
                         hidden_size=self.hidden_size, eta=self.eta, beta=self.beta, norm=self.norm)  # fmt: skip

"""A lean, vectorised Soft Actor-Critic over torch tensors, for policies trained inside a model.

Haarnoja et al., "Soft Actor-Critic", ICML 2018, with a fixed entropy weight as MAX's exploration
policies use (Shyam et al. 2019: alpha 0.02, 2 x 256 networks, batch 4096). MAX trains a fresh policy on
imagined batches of 128 actors whose states never leave torch; Stable-Baselines3's SAC takes its data
from a numpy VecEnv and replay buffer, so every imagined step would cross torch/numpy twice. This SAC
keeps its buffer, networks and updates on one device, and both critics run as one batched ensemble.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.nn import functional as F

from world_models.ensemble import EnsembleMLP

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


class TanhGaussianActor(nn.Module):
    """pi(a | s): a Gaussian squashed by tanh into [-1, 1]^a."""

    def __init__(self, state_dim: int, action_dim: int, *, hidden_size: int = 256, n_hidden_layers: int = 2) -> None:
        super().__init__()
        self.net = EnsembleMLP(
            1, state_dim, out_features=2 * action_dim, hidden_size=hidden_size, n_hidden_layers=n_hidden_layers,
            activation="relu",
        )  # fmt: skip

    def forward(self, states: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, a) actions and their (B,) log-probabilities (the tanh change of variables included)."""
        mean, log_std = self.net(states)[0].chunk(2, -1)  # (B, a) each
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        pre = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)  # (B, a)
        log_prob = (-0.5 * ((pre - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), the numerically stable form
        log_prob = log_prob - (2 * (math.log(2) - pre - F.softplus(-2 * pre))).sum(-1)  # (B,)
        return torch.tanh(pre), log_prob


class SAC(nn.Module):
    """Soft Actor-Critic with a fixed entropy weight, trained from tensors handed to :meth:`update`.

    :param state_dim: size of the state vector.
    :param action_dim: size of the action vector (actions in [-1, 1]).
    :param hidden_size: width of the actor's and critics' hidden layers (MAX: 256).
    :param n_hidden_layers: hidden layers of each network (MAX: 2).
    :param learning_rate: Adam learning rate of actor and critics.
    :param gamma: discount.
    :param tau: Polyak rate of the target critics.
    :param alpha: fixed entropy weight (MAX: 0.02).
    :param normalize: applied to states before the networks see them; MAX passes its model's running state
        normaliser, as the official agent does (``setup_normalizer``). ``None``: raw states.
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        hidden_size: int = 256,
        n_hidden_layers: int = 2,
        learning_rate: float = 1e-3,
        gamma: float = 0.99,
        tau: float = 0.005,
        alpha: float = 0.02,
        normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.normalize = normalize if normalize is not None else _identity
        if not 0.0 <= gamma < 1.0 or not 0.0 < tau <= 1.0 or alpha < 0:
            raise ValueError(f"need 0 <= gamma < 1, 0 < tau <= 1, alpha >= 0; got {gamma}, {tau}, {alpha}")
        self.gamma, self.tau, self.alpha = gamma, tau, alpha
        self.action_dim = action_dim
        self.actor = TanhGaussianActor(state_dim, action_dim, hidden_size=hidden_size, n_hidden_layers=n_hidden_layers)
        critic = {"out_features": 1, "hidden_size": hidden_size, "n_hidden_layers": n_hidden_layers}
        critic["activation"] = "relu"
        self.critics = EnsembleMLP(2, state_dim + action_dim, **critic)  # twin Q as one (2, in, out) ensemble
        self.target_critics = EnsembleMLP(2, state_dim + action_dim, **critic)
        self.target_critics.load_state_dict(self.critics.state_dict())
        self.target_critics.requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=learning_rate, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=learning_rate, fused=True)

    def act(self, states: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """(B, a) actions for (B, d) states; ``deterministic`` gives tanh of the mean (how MAX acts)."""
        with torch.no_grad():
            return self.actor(self.normalize(states), deterministic)[0]

    def update(
        self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, next_states: torch.Tensor,
        dones: torch.Tensor,
    ) -> dict[str, float]:  # fmt: skip
        """One gradient step of critics and actor on a batch: (B, d), (B, a), (B,), (B, d), (B,) (1.0 where
        the episode ended without bootstrapping). Returns the losses."""
        states, next_states = self.normalize(states), self.normalize(next_states)
        with torch.no_grad():
            next_actions, next_log_prob = self.actor(next_states)  # (B, a), (B,)
            target_q = self.target_critics(torch.cat([next_states, next_actions], -1)).min(0).values[:, 0]  # (B,)
            target = rewards + self.gamma * (1.0 - dones) * (target_q - self.alpha * next_log_prob)  # (B,)
        q = self.critics(torch.cat([states, actions], -1))[..., 0]  # (2, B)
        critic_loss = F.mse_loss(q, target.expand_as(q))
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        new_actions, log_prob = self.actor(states)  # (B, a), (B,)
        self.critics.requires_grad_(False)
        q_new = self.critics(torch.cat([states, new_actions], -1)).min(0).values[:, 0]  # (B,)
        self.critics.requires_grad_(True)
        actor_loss = (self.alpha * log_prob - q_new).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        with torch.no_grad():  # Polyak averaging of the target critics
            for target_p, p in zip(self.target_critics.parameters(), self.critics.parameters(), strict=True):
                target_p.lerp_(p, self.tau)
        return {"critic_loss": float(critic_loss.detach()), "actor_loss": float(actor_loss.detach())}


def to_env_action(u: np.ndarray, action_space: spaces.Box) -> np.ndarray:
    """Actions in the policy's units [-1, 1] (tanh-squashed) mapped to ``action_space``'s bounds."""
    low, high = action_space.low, action_space.high
    return (low + (u + 1.0) * 0.5 * (high - low)).astype(action_space.dtype)


def _identity(states: torch.Tensor) -> torch.Tensor:
    return states

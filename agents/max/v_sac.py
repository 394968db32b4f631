"""The Soft Actor-Critic the MAX authors ran: twin Q-functions and a state-value network with a target.

Haarnoja et al., "Soft Actor-Critic", ICML 2018 (the first form, with V), as the official ``sac.py`` of
``nnaisense/max`` builds it: 2 x ``hidden_size`` networks with leaky ReLU and orthogonal weights (zero
biases); the twin Q-functions as one batched pair; Q regressed on ``r + gamma * mask * V_target(s')``,
V on ``min_i Q_i(s, a~pi) - alpha log pi``; the policy's loss ``alpha log pi - min_i Q_i(s, a~pi)`` plus
1e-3 times the mean squares of its squashed mean and of its log-std; every gradient clipped by value at
5; Polyak averaging of V's target only. The log-std is squashed: ``tanh`` then mapped onto
[LOG_STD_MIN, LOG_STD_MAX]. The interface is :class:`agents.max.sac.SAC`'s (``act``, ``update``,
``actor_optimizer``, ``critic_optimizer``), so MAX's training and checkpoints take either.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from agents.max.sac import LOG_STD_MAX, LOG_STD_MIN, _identity
from world_models.ensemble import EnsembleMLP

PENALTY = 1e-3  # the official weight of the mean and log-std penalties
GRAD_CLIP = 5.0  # the official clip of every gradient entry
TANH_EPS = 1e-6  # the official epsilon inside log(1 - tanh(u)^2 + eps)


def _network(members: int, in_features: int, out_features: int, hidden_size: int) -> EnsembleMLP:
    return EnsembleMLP(members, in_features, out_features=out_features, hidden_size=hidden_size, n_hidden_layers=2,
                       activation="leaky_relu", init="orthogonal")  # fmt: skip


class SquashedLogStdActor(nn.Module):
    """The official ``GaussianPolicy``: a Gaussian over pre-squash actions whose log-std is
    ``LOG_STD_MIN + (LOG_STD_MAX - LOG_STD_MIN) (tanh(raw) + 1) / 2``, squashed by tanh into [-1, 1]."""

    def __init__(self, state_dim: int, action_dim: int, *, hidden_size: int = 256) -> None:
        super().__init__()
        self.net = _network(1, state_dim, 2 * action_dim, hidden_size)

    def forward(self, states: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, ...]:
        """(B, a) actions, their (B,) log-probabilities, the (B, a) squashed means and the (B, a) log-stds."""
        mean, raw = self.net(states)[0].chunk(2, -1)  # (B, a) each
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1)  # (B, a)
        pre = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)  # (B, a)
        log_prob = (-0.5 * ((pre - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        action = torch.tanh(pre)  # (B, a)
        log_prob = log_prob - torch.log((1 - action**2).clamp(0, 1) + TANH_EPS).sum(-1)  # (B,)
        return action, log_prob, torch.tanh(mean), log_std


class VSAC(nn.Module):
    """The official V-network SAC with a fixed entropy weight (see the module docstring).

    :param state_dim: size of the state vector.
    :param action_dim: size of the action vector (actions in [-1, 1]).
    :param hidden_size: width of the two hidden layers of every network (official: 256).
    :param learning_rate: Adam's learning rate of the policy, the Q-functions and V (official: 1e-3).
    :param gamma: discount (official: 0.99).
    :param tau: Polyak rate of V's target (official: 0.005).
    :param alpha: fixed entropy weight (official: 0.02 exploring, 0.4 exploiting; PERX, TVAX: 0.2).
    :param normalize: applied to states before the networks see them (the model's state normaliser).
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        hidden_size: int = 256,
        learning_rate: float = 1e-3,
        gamma: float = 0.99,
        tau: float = 0.005,
        alpha: float = 0.02,
        normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= gamma < 1.0 or not 0.0 < tau <= 1.0 or alpha < 0:
            raise ValueError(f"need 0 <= gamma < 1, 0 < tau <= 1, alpha >= 0; got {gamma}, {tau}, {alpha}")
        self.normalize = normalize if normalize is not None else _identity
        self.gamma, self.tau, self.alpha = gamma, tau, alpha
        self.action_dim = action_dim
        self.actor = SquashedLogStdActor(state_dim, action_dim, hidden_size=hidden_size)
        self.critics = _network(2, state_dim + action_dim, 1, hidden_size)  # twin Q as one (2, in, out) pair
        self.value = _network(1, state_dim, 1, hidden_size)
        self.target_value = _network(1, state_dim, 1, hidden_size)
        self.target_value.load_state_dict(self.value.state_dict())
        self.target_value.requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=learning_rate, fused=True)
        # one Adam over Q and V: per-parameter state, so the same steps as the official two optimisers
        self.critic_optimizer = torch.optim.Adam([*self.critics.parameters(), *self.value.parameters()],
                                                 lr=learning_rate, fused=True)  # fmt: skip

    def act(self, states: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """(B, a) actions for (B, d) states; ``deterministic`` gives the squashed mean (how MAX acts)."""
        with torch.no_grad():
            return self.actor(self.normalize(states), deterministic)[0]

    def update(
        self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, next_states: torch.Tensor,
        dones: torch.Tensor,
    ) -> dict[str, float]:  # fmt: skip
        """One step of the policy, then of Q and V, on a batch (B, d), (B, a), (B,), (B, d), (B,) (1.0 where
        the episode ended without bootstrapping); returns the losses."""
        states, next_states = self.normalize(states), self.normalize(next_states)
        q = self.critics(torch.cat([states, actions], -1))[..., 0]  # (2, B)
        new_actions, log_prob, mean, log_std = self.actor(states)  # (B, a), (B,), (B, a), (B, a)
        q_new = self.critics(torch.cat([states, new_actions], -1))[..., 0].min(0).values  # (B,)
        v = self.value(states)[0, :, 0]  # (B,)
        with torch.no_grad():
            q_target = rewards + self.gamma * (1.0 - dones) * self.target_value(next_states)[0, :, 0]  # (B,)
            v_target = q_new - self.alpha * log_prob  # (B,)
        actor_loss = (self.alpha * log_prob - q_new).mean() + PENALTY * (mean.pow(2).mean() + log_std.pow(2).mean())
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward(inputs=list(self.actor.parameters()))  # Q's gradients are the value step's
        nn.utils.clip_grad_value_(self.actor.parameters(), GRAD_CLIP)
        self.actor_optimizer.step()

        value_loss = 0.5 * F.mse_loss(q, q_target.expand_as(q), reduction="none").mean(1).sum()  # q1 + q2 losses
        value_loss = value_loss + 0.5 * F.mse_loss(v, v_target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        value_loss.backward()
        nn.utils.clip_grad_value_([*self.critics.parameters(), *self.value.parameters()], GRAD_CLIP)
        self.critic_optimizer.step()

        with torch.no_grad():  # Polyak averaging of V's target
            for target_p, p in zip(self.target_value.parameters(), self.value.parameters(), strict=True):
                target_p.lerp_(p, self.tau)
        return {"critic_loss": float(value_loss.detach()), "actor_loss": float(actor_loss.detach())}

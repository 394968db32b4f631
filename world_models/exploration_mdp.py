"""The exploration MDP of MAX for discrete spaces, solved exactly.

MAX (Shyam, Jaskowski & Gomez, ICML 2019, Algorithm 1) plans in an imagined MDP whose transitions come
from the ensemble (here the mean of the members' categorical predictions) and whose reward is the
utility of each (state, action). With few states it is solved exactly by finite-horizon value iteration
over the steps left, and the agent acts greedily on the result from its current state.
"""

from __future__ import annotations

import torch


def value_iteration(transitions: torch.Tensor, rewards: torch.Tensor, horizon: int) -> torch.Tensor:
    """Finite-horizon, undiscounted value iteration.

    :param transitions: (S, A, S) probabilities P(s' | s, a); rows sum to 1.
    :param rewards: (S, A) reward of taking a in s.
    :param horizon: number of steps H to plan over (>= 1).
    :return: (H, S, A) action values; ``q[h]`` is the value with ``h + 1`` steps left, so the greedy
        action with ``k`` steps left is ``q[k - 1, s].argmax()``.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    S, A, S2 = transitions.shape
    if S2 != S or rewards.shape != (S, A):
        raise ValueError(
            f"expected transitions (S, A, S) and rewards (S, A), got {tuple(transitions.shape)}, {tuple(rewards.shape)}"
        )
    flat = transitions.reshape(S * A, S)  # (S*A, S)
    q = torch.empty(horizon, S, A, dtype=rewards.dtype, device=rewards.device)  # (H, S, A)
    q[0] = rewards
    for h in range(1, horizon):
        value = q[h - 1].amax(1)  # (S,): best value with h steps left
        q[h] = rewards + (flat @ value).view(S, A)  # (S, A)
    return q

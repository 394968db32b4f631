"""Training a SAC policy for MAX (utility as reward) and for judging its data downstream (task reward).
Shyam et al. 2019, section 3.4 and the official ``main.py`` (``act``) and ``sac.py`` (``episode``): first
"reactive" updates on real transitions relabelled with the reward, then imagined episodes: the first few
with uniformly random actions and no updates (they fill the policy's buffer), each later one acted with
the policy's sampled actions and followed by one SAC update per imagined step, on minibatches drawn from
everything imagined so far."""

from __future__ import annotations

from collections.abc import Callable

import torch

from agents.max.sac import SAC
from world_models.imagination import ImaginedExploration


def train_reactively(
    sac: SAC,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    reward_of: Callable[[torch.Tensor], torch.Tensor],
    *,
    updates: int,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> float:
    """``updates`` SAC updates on minibatches of real transitions (N, d), (N, a), (N, d), never ending an
    episode; ``reward_of(index)`` gives the (b,) rewards of the rows ``index``. Returns the last minibatch's
    mean reward (nan without updates)."""
    n = len(states)
    reward = torch.full((1,), float("nan"))
    for _ in range(updates):
        index = torch.randint(n, (min(batch_size, n),), generator=generator, device=states.device)  # (b,)
        reward = reward_of(index)  # (b,)
        sac.update(states[index], actions[index], reward, next_states[index], torch.zeros_like(reward))
    return float(reward.mean())


def train_in_imagination(
    sac: SAC,
    imagined: ImaginedExploration,
    start: torch.Tensor,
    *,
    episodes: int,
    warmup_episodes: int = 0,
    batch_size: int,
    generator: torch.Generator | None = None,
    terminal_horizon: bool = True,
) -> float:
    """Train ``sac`` on ``episodes`` imagined episodes started at ``start``; return the mean reward of the
    episodes acted by the policy (of the random ones when there are none).

    :param sac: the policy (acts with sampled actions while it learns).
    :param imagined: the imagined MDP (its utility or task reward is the reward).
    :param start: (d,) one state every actor starts from, or (N, d) one per actor.
    :param episodes: imagined episodes of ``imagined.horizon`` steps, the random ones included.
    :param warmup_episodes: the first episodes act uniformly at random in [-1, 1] and update nothing
        (official: 3).
    :param batch_size: SAC minibatch, drawn from every imagined step so far.
    :param generator: torch generator of the minibatch draws.
    :param terminal_horizon: the horizon's last step is terminal (the critic does not bootstrap past it);
        ``False`` never ends an episode, as the official ``Replay`` (every mask 1): the horizon only cuts
        the rollout.
    """
    if not 0 <= warmup_episodes <= episodes:
        raise ValueError(f"warmup_episodes must be in [0, episodes={episodes}], got {warmup_episodes}")
    n, horizon = imagined.n_actors, imagined.horizon
    device = start.device
    buffer: list[torch.Tensor] | None = None  # states, actions, rewards, next states, ends; rows as imagined
    filled = 0
    random_rewards: list[torch.Tensor] = []  # (1,) mean reward of each random step
    policy_rewards: list[torch.Tensor] = []  # (1,) mean reward of each step the policy acted
    for episode in range(episodes):
        acting = episode >= warmup_episodes
        states = imagined.reset(start)  # (N, d)
        done = False
        while not done:
            if acting:
                actions = sac.act(states)  # (N, a) sampled: the policy explores its MDP
            else:
                actions = torch.rand(n, sac.action_dim, generator=generator, device=device) * 2 - 1  # (N, a)
            next_states, reward, done = imagined.step(actions)  # (N, d), (N,)
            ends = torch.full_like(reward, float(done and terminal_horizon))  # (N,) 1 where the horizon ends
            rows = (states, actions, reward, next_states, ends)
            if buffer is None:
                buffer = [torch.zeros(episodes * horizon * n, *x.shape[1:], device=device) for x in rows]
            for column, values in zip(buffer, rows, strict=True):
                column[filled : filled + n] = values
            filled += n
            (policy_rewards if acting else random_rewards).append(reward.mean())
            states = next_states
        for _ in range(horizon if acting else 0):  # one update per imagined step, after the episode
            index = torch.randint(filled, (min(batch_size, filled),), generator=generator, device=device)
            sac.update(*(column[index] for column in buffer))
    return float(torch.stack(policy_rewards or random_rewards).mean())

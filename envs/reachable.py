"""Which (state, action) pairs an agent can ever try in a world: the denominator of honest coverage.

A pair can be tried when its state can be acted in: an initial state, or one that some tried pair
leads to without ending the episode. A hole or goal of FrozenLake ends the episode on arrival, so its
actions can never be tried, and counting them would keep coverage below 100% forever.
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np


def reachable_pairs(env: gym.Env) -> np.ndarray:
    """(S, A) bool mask of the pairs that can be tried in ``env``.

    Read from the env's own transition table where it publishes one (toy-text's ``P[s][a]`` lists of
    ``(prob, next_state, reward, terminated)`` and ``initial_state_distrib``: FrozenLake, CliffWalking,
    Taxi), by a breadth-first search from the initial states that does not continue past transitions
    that end the episode. Envs with a ``state_mask`` of the states that exist (maxplore's maze) give those
    states' pairs; a Discrete world without either (maxplore's chain, whose every state is reachable)
    gives every pair.

    :param env: a Gymnasium env (wrapped or not) with Discrete actions and countable states.
    """
    base = env.unwrapped
    n_actions = int(env.action_space.n)
    table = getattr(base, "P", None)
    if table is not None:
        n_states = len(table)
        start = np.flatnonzero(np.asarray(base.initial_state_distrib) > 0)
        actable = np.zeros(n_states, dtype=bool)
        actable[start] = True
        queue = deque(int(s) for s in start)
        while queue:
            state = queue.popleft()
            for action in range(n_actions):
                for prob, next_state, _, terminated in table[state][action]:
                    if prob > 0 and not terminated and not actable[next_state]:
                        actable[next_state] = True
                        queue.append(int(next_state))
        return np.repeat(actable[:, None], n_actions, axis=1)  # (S, A)
    mask = getattr(base, "state_mask", None)
    if mask is not None:
        return np.repeat(np.asarray(mask, dtype=bool)[:, None], n_actions, axis=1)  # (S, A)
    n_states = getattr(base, "n_states", None) or getattr(env.observation_space, "n", None)
    if n_states is None:
        raise ValueError(f"cannot count the states of {env}: no transition table, state_mask or Discrete space")
    return np.ones((int(n_states), n_actions), dtype=bool)  # (S, A)

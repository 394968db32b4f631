"""Reference rows of the exploration benchmark.

- :class:`RandomExplorer`: uniformly random actions, the floor.
- :class:`PerfectMemoryExplorer`: a greedy walk to the nearest untried pair. It remembers every
  transition it has seen and plans on them to reach the nearest state with an untried action soonest
  (the shortest known path in a deterministic world), then tries it. A strong reference (DESIGN.md: 5
  episodes on the 50-state chain), not a proven lower bound: greedy nearest-first is not optimal in
  general, and nothing stops a learner from beating it on some layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.type_aliases import GymEnv

from agents.tabular_explorer import TabularExplorer
from world_models.transition_memory import TransitionMemory


class RandomExplorer(TabularExplorer):
    """Uniformly random actions, with the explorers' interface (see :class:`TabularExplorer`)."""

    def __init__(self, env: GymEnv | str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._setup_model()

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        return np.zeros((len(states), self.n_actions))  # all tied: uniform random choice


class PerfectMemoryExplorer(TabularExplorer):
    """Plan on everything seen to reach an untried (state, action) pair soonest, and try it.

    It remembers how often each pair led to each next state and, every step, solves its empirical model by
    value iteration: Q(s, a) = 1 for an untried pair, ``discount`` * sum_s' p(s' | s, a) V(s') for a tried
    one, V(s) = max_a Q(s, a), and 0 at states whose arrival ended an episode (their actions cannot be
    tried). In a deterministic world V(s) = discount^d with d the known steps to the nearest untried pair,
    so it walks the shortest known path there; in a stochastic one (slippery FrozenLake) it prefers the
    actions likely to get there soon. Ties are broken at random.

    :param env: the environment (or its registered id); Discrete observations and actions.
    :param discount: in (0, 1): how much a step further away lowers a pair's value.
    :param kwargs: :class:`TabularExplorer`'s keyword arguments (seed, tensorboard_log, ...).
    """

    def __init__(self, env: GymEnv | str, *, discount: float = 0.9, **kwargs: Any) -> None:
        if not 0.0 < discount < 1.0:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        super().__init__(env, **kwargs)
        self.discount = discount
        self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.memory = TransitionMemory(1)  # (U, 3) distinct transitions and (1, U) their counts

    HYPER_PARAMETERS = ("discount", "log_interval")

    def _observe(self, state: int, action: int, next_state: int, done: bool) -> None:
        self.memory.add(state, action, next_state)

    def pair_values(self) -> np.ndarray:
        """(S, A) Q of the empirical model (see the class docstring), by value iteration to its fixed point."""
        S, A = self.n_states, self.n_actions
        states, actions, next_states = self.memory.triples.T  # (U,) each
        pairs = states * A + actions  # (U,)
        counts = self.memory.weights[0].astype(np.float64)  # (U,)
        totals = np.bincount(pairs, weights=counts, minlength=S * A)  # (S*A,) visits of each pair
        probs = counts / totals[pairs]  # (U,) empirical p(s' | s, a)
        untried = (totals == 0).reshape(S, A)  # (S, A)
        v = np.zeros(S)  # (S,)
        for _ in range(max(S, 100)):  # deterministic worlds: exact after (longest known distance) sweeps
            q = self.discount * np.bincount(pairs, weights=probs * v[next_states], minlength=S * A).reshape(S, A)
            q = np.where(untried, 1.0, q)  # (S, A)
            q[self.terminal] = 0.0
            v_new = q.max(1)  # (S,)
            if np.array_equal(v_new, v):
                break
            v = v_new
        return q

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        return self.pair_values()[states]  # (B, A)

    def _extra_state(self) -> dict[str, Any]:
        return self.memory.state()

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.memory.load(state)

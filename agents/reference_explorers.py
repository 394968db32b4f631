"""Reference rows of the exploration benchmark.

- :class:`RandomExplorer`: uniformly random actions, the floor.
- :class:`PerfectMemoryExplorer`: a greedy walk to the nearest untried pair. It remembers every
  transition it has seen and always walks the shortest known path to the nearest state with an untried
  action, then tries it. A strong reference (DESIGN.md: 5 episodes on the 50-state chain), not a proven
  lower bound: greedy nearest-first is not optimal in general, and nothing stops a learner from beating
  it on some layout.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.type_aliases import GymEnv

from agents.tabular_explorer import TabularExplorer


class RandomExplorer(TabularExplorer):
    """Uniformly random actions, with the explorers' interface (see :class:`TabularExplorer`)."""

    def __init__(self, env: GymEnv | str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._setup_model()

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        return np.zeros((len(states), self.n_actions))  # all tied: uniform random choice


class PerfectMemoryExplorer(TabularExplorer):
    """Walk the shortest known path to the nearest untried (state, action) pair and try it.

    Assumes a deterministic world: the last next state seen for a pair is its next state. Ties between
    equally near untried pairs are broken at random. Keyword arguments are :class:`TabularExplorer`'s.
    """

    def __init__(self, env: GymEnv | str, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.known_next = np.full((self.n_states, self.n_actions), -1, dtype=np.int64)  # (S, A); -1: untried

    def _observe(self, state: int, action: int, next_state: int, done: bool) -> None:
        self.known_next[state, action] = next_state

    def distance_to_untried(self) -> np.ndarray:
        """(S,) known steps from each state to the nearest state with an untried action (inf: none known)."""
        dist = np.full(self.n_states, np.inf)
        frontier = np.flatnonzero((self.known_next < 0).any(1) & ~self.terminal)  # untried pairs that can be tried
        dist[frontier] = 0
        predecessors: list[list[int]] = [[] for _ in range(self.n_states)]
        for s, s_next in zip(*np.nonzero(self.known_next >= 0), strict=True):
            predecessors[self.known_next[s, s_next]].append(int(s))
        queue = deque(int(s) for s in frontier)
        while queue:  # breadth-first search backwards along known transitions
            s = queue.popleft()
            for p in predecessors[s]:
                if dist[p] == np.inf:
                    dist[p] = dist[s] + 1
                    queue.append(p)
        return dist

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        """0 for an untried action, minus the known path length to one through each tried action."""
        dist = self.distance_to_untried()
        nxt = self.known_next[states]  # (B, A)
        return np.where(nxt < 0, 0.0, -1.0 - dist[np.maximum(nxt, 0)])  # (B, A)

    def _extra_state(self) -> dict[str, Any]:
        return {"known_next": torch.as_tensor(self.known_next)}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.known_next = state["known_next"].numpy().copy()

"""Every distinct real transition seen, with weights that add up over its repeats.

A learner that refits or replans on all data costs O(distinct transitions) per refit instead of
O(steps) when the repeats of one (s, a, s') triple share one row: MAX's ensemble (one bootstrap weight
per member and row) and the perfect-memory explorer's empirical model (one count per row) both keep one.
"""

from __future__ import annotations

import numpy as np
import torch


class TransitionMemory:
    """Distinct (state, action, next_state) rows and ``n_weights`` summed weights per row.

    :param n_weights: weights kept per row (MAX: the ensemble size; a count: 1).
    """

    def __init__(self, n_weights: int) -> None:
        if n_weights < 1:
            raise ValueError(f"n_weights must be positive, got {n_weights}")
        self._triples = np.zeros((64, 3), dtype=np.int64)  # (capacity, 3) rows of (s, a, s'); grows by doubling
        self._weights = np.zeros((n_weights, 64), dtype=np.float32)  # (K, capacity)
        self._rows: dict[tuple[int, int, int], int] = {}
        self.n_unique = 0

    @property
    def triples(self) -> np.ndarray:
        """(U, 3) the distinct (s, a, s') rows, in the order first seen."""
        return self._triples[: self.n_unique]

    @property
    def weights(self) -> np.ndarray:
        """(K, U) each row's summed weights."""
        return self._weights[:, : self.n_unique]

    def add(self, state: int, action: int, next_state: int, weight: np.ndarray | float = 1.0) -> bool:
        """Add ``weight`` ((K,) or a scalar for every column) to the row of (state, action, next_state);
        returns whether the row is new."""
        key = (int(state), int(action), int(next_state))
        row = self._rows.get(key)
        new = row is None
        if row is None:
            row = self.n_unique
            if row == self._triples.shape[0]:  # grow by doubling
                self._triples = np.concatenate([self._triples, np.zeros_like(self._triples)])
                self._weights = np.concatenate([self._weights, np.zeros_like(self._weights)], 1)
            self._triples[row] = key
            self._rows[key] = row
            self.n_unique = row + 1
        self._weights[:, row] += weight
        return new

    def state(self) -> dict[str, torch.Tensor]:
        """Tensors for a checkpoint (``weights_only`` loading)."""
        return {"triples": torch.as_tensor(self.triples.copy()), "weights": torch.as_tensor(self.weights.copy())}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state` wrote."""
        triples, weights = state["triples"].numpy(), state["weights"].numpy()
        if weights.shape != (self._weights.shape[0], len(triples)):
            raise ValueError(f"weights of shape {tuple(weights.shape)} do not fit {len(triples)} rows")
        capacity = max(64, len(triples))
        self._triples = np.zeros((capacity, 3), dtype=np.int64)
        self._weights = np.zeros((weights.shape[0], capacity), dtype=np.float32)
        self._triples[: len(triples)] = triples
        self._weights[:, : len(triples)] = weights
        self._rows = {tuple(row): i for i, row in enumerate(triples.tolist())}
        self.n_unique = len(triples)

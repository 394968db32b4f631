"""Visit counts N(s, a) for count-based exploration bonuses.

- Discrete observations are counted exactly by index.
- ``method="count"`` on array observations counts exact observations (a 64-bit digest of their bytes).
- ``method="simhash"`` counts a k-bit SimHash code, sign(A x) with a fixed Gaussian A (Tang et al.,
  "#Exploration", NeurIPS 2017): similar pixel frames share a count.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

COUNT_METHODS = ("count", "simhash")


class StateActionCounter:
    """Counts of (state key, action) pairs.

    :param observation_space: the env's observation space.
    :param method: ``"count"`` (exact) or ``"simhash"`` (hashed; array observations only).
    :param hash_bits: bits of the SimHash code (at most 63).
    :param seed: seed of the SimHash projection.
    """

    def __init__(
        self, observation_space: spaces.Space, method: str = "count", *, hash_bits: int = 32, seed: int = 0
    ) -> None:
        if method not in COUNT_METHODS:
            raise ValueError(f"bonus must be one of {COUNT_METHODS}, got {method!r}")
        if not 1 <= hash_bits <= 63:
            raise ValueError(f"hash_bits must be in [1, 63], got {hash_bits}")
        self.discrete = isinstance(observation_space, spaces.Discrete)
        self.method = method
        self.hash_bits = hash_bits
        self.seed = seed
        self._projection: np.ndarray | None = None
        if method == "simhash" and not self.discrete:
            dim = int(np.prod(observation_space.shape))
            self._projection = np.random.default_rng(seed).normal(size=(dim, hash_bits))  # (D, k)
        self.table: dict[tuple[int, int], int] = {}

    def keys(self, observations: np.ndarray) -> np.ndarray:
        """(B, *obs_shape) observations -> (B,) int64 state keys."""
        obs = np.asarray(observations)
        if self.discrete:
            return obs.reshape(len(obs), -1)[:, 0].astype(np.int64)
        flat = obs.reshape(len(obs), -1)  # (B, D)
        if self._projection is not None:
            bits = (flat.astype(np.float64) @ self._projection) > 0  # (B, k)
            return (bits.astype(np.int64) << np.arange(self.hash_bits)).sum(1)  # (B,)
        return np.array(
            [
                int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)
                for row in flat
            ],
            dtype=np.int64,
        )

    def add(self, observations: np.ndarray, actions: np.ndarray) -> None:
        """Count one visit of each (observation, action) pair of the batch."""
        self.add_keys(self.keys(observations), actions)

    def add_keys(self, keys: np.ndarray, actions: np.ndarray) -> None:
        """Count one visit of each (state key, action) pair: ``keys`` (B,) from :meth:`keys`."""
        for key, action in zip(np.asarray(keys).tolist(), np.asarray(actions).reshape(-1).tolist(), strict=True):
            self.table[(key, action)] = self.table.get((key, action), 0) + 1

    def counts(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(B,) current counts of the batch's pairs (0 for pairs never added)."""
        return self.key_counts(self.keys(observations), actions)

    def key_counts(self, keys: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """(B,) current counts of (state key, action) pairs: ``keys`` (B,) from :meth:`keys`."""
        pairs = zip(np.asarray(keys).tolist(), np.asarray(actions).reshape(-1).tolist(), strict=True)
        return np.array([self.table.get(pair, 0) for pair in pairs], dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        rows = torch.tensor([(k, a, n) for (k, a), n in self.table.items()], dtype=torch.int64).reshape(-1, 3)
        return {"table": rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.table = {(k, a): n for k, a, n in state["table"].tolist()}

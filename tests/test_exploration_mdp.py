"""Finite-horizon value iteration on hand-made MDPs, and random tie-breaking."""

import numpy as np
import pytest
import torch

from world_models.exploration_mdp import value_iteration


def hand_mdp():
    # state 0: a0 stays (r 0), a1 -> 1 (r 0); state 1: a0 stays (r 1), a1 -> 0 (r 2)
    T = torch.zeros(2, 2, 2)
    T[0, 0, 0] = T[0, 1, 1] = T[1, 0, 1] = T[1, 1, 0] = 1.0
    R = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    return T, R


def test_value_iteration_hand_computed():
    T, R = hand_mdp()
    q = value_iteration(T, R, 3)
    assert q.shape == (3, 2, 2)
    assert q[0].tolist() == [[0, 0], [1, 2]]
    assert q[1].tolist() == [[0, 2], [3, 2]]
    assert q[2].tolist() == [[2, 3], [4, 4]]


def reference_q(T: np.ndarray, R: np.ndarray, horizon: int) -> np.ndarray:
    S, A, _ = T.shape
    q = np.zeros((horizon, S, A))
    for h in range(horizon):
        for s in range(S):
            for a in range(A):
                future = 0.0
                if h > 0:
                    future = sum(T[s, a, s2] * max(q[h - 1, s2]) for s2 in range(S))
                q[h, s, a] = R[s, a] + future
    return q


def test_value_iteration_matches_loop_reference_on_stochastic_mdp():
    rng = np.random.default_rng(0)
    T = rng.dirichlet(np.ones(5), size=(5, 3))  # (S, A, S)
    R = rng.normal(size=(5, 3))
    fast = value_iteration(torch.as_tensor(T), torch.as_tensor(R), 7).numpy()
    assert np.allclose(fast, reference_q(T, R, 7))


def test_value_iteration_rejects_bad_input():
    T, R = hand_mdp()
    with pytest.raises(ValueError, match="horizon"):
        value_iteration(T, R, 0)
    with pytest.raises(ValueError, match="transitions"):
        value_iteration(T, R[:1], 2)

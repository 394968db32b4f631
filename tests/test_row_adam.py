"""RowSparseAdam against its reference, one torch.optim.Adam over every parameter."""

import copy

import numpy as np
import pytest
import torch

from world_models.bootstrap import fit
from world_models.discrete import SeenStatesDynamicsEnsemble
from world_models.row_adam import RowSparseAdam

S, A = 12, 3


def model_and_data(seed: int, n: int):
    torch.manual_seed(seed)
    model = SeenStatesDynamicsEnsemble(S, A, ensemble_size=3, hidden_size=8)
    g = torch.Generator().manual_seed(seed)
    states = torch.randint(0, S, (n,), generator=g)  # (n,)
    actions = torch.randint(0, A, (n,), generator=g)  # (n,)
    next_states = torch.randint(0, S, (n,), generator=g)  # (n,)
    weights = torch.rand(3, n, generator=g)  # (E, n)
    model.mark_seen(torch.cat([states, next_states]))
    return model, states, actions, next_states, weights


def refit_reference(model, optimizer, s, a, s2, w, batch_size, rng):
    """The slow, obvious way: Adam over the whole code table, every row read and written."""
    return fit(
        lambda i: model.nll(s, a, s2) if i is None else model.nll(s[i], a[i], s2[i]),
        w, optimizer, steps=4, batch_size=batch_size, rng=rng,
    )  # fmt: skip


def refit_rows(model, optimizer, s, a, s2, w, batch_size, rng):
    rows, row_of = torch.unique(s * A + a, return_inverse=True)
    codes = optimizer.select(rows)
    try:
        return fit(
            lambda i: model.nll_of_codes(codes[:, row_of if i is None else row_of[i]], s2 if i is None else s2[i]),
            w, optimizer, steps=4, batch_size=batch_size, rng=rng,
        )  # fmt: skip
    finally:
        optimizer.release()


@pytest.mark.parametrize("batch_size", [None, 5])
def test_row_sparse_adam_gives_the_same_parameters_as_adam_over_the_whole_table(batch_size):
    """Three refits on growing data (new pairs join between refits), full batches or minibatches: the
    parameters and the loss match the dense reference, and untried pairs' codes never move."""
    reference, s, a, s2, w = model_and_data(0, 30)
    fast, *_ = model_and_data(0, 30)
    dense_opt = torch.optim.Adam(reference.parameters(), lr=0.05)
    table = fast.code_table
    rows_opt = RowSparseAdam([p for p in fast.parameters() if p is not table], table, lr=0.05)
    untouched = torch.ones(S * A, dtype=torch.bool)
    untouched[s * A + a] = False
    before = table.detach()[:, untouched].clone()
    for n in (10, 20, 30):  # the memory grows between refits
        args = (s[:n], a[:n], s2[:n], w[:, :n], batch_size)
        loss_ref = refit_reference(reference, dense_opt, *args, np.random.default_rng(n))
        loss_fast = refit_rows(fast, rows_opt, *args, np.random.default_rng(n))
        assert loss_fast == pytest.approx(loss_ref, rel=1e-5)
    for p_ref, p_fast in zip(reference.parameters(), fast.parameters(), strict=True):
        assert torch.allclose(p_ref, p_fast, atol=1e-5)
    assert torch.equal(table.detach()[:, untouched], before)


def test_state_dict_round_trip_and_the_older_adam_state():
    """Its own state reloads into a new optimiser; so does a torch.optim.Adam state over [table, *dense],
    which MAX's checkpoints held before: the next step then matches Adam's."""
    reference, s, a, s2, w = model_and_data(1, 16)
    fast, *_ = model_and_data(1, 16)
    dense_opt = torch.optim.Adam(reference.parameters(), lr=0.05)
    refit_reference(reference, dense_opt, s, a, s2, w, None, None)
    fast.load_state_dict(reference.state_dict())
    table = fast.code_table
    dense = [p for p in fast.parameters() if p is not table]
    from_adam = RowSparseAdam(dense, table, lr=0.05)
    from_adam.load_state_dict(copy.deepcopy(dense_opt.state_dict()))  # as from a file: no shared tensors
    assert from_adam.steps == 4
    round_trip = RowSparseAdam(dense, table, lr=0.05)
    round_trip.load_state_dict(from_adam.state_dict())
    assert round_trip.steps == 4 and torch.equal(round_trip.exp_avg_sq, from_adam.exp_avg_sq)
    refit_reference(reference, dense_opt, s, a, s2, w, None, None)
    refit_rows(fast, round_trip, s, a, s2, w, None, None)
    for p_ref, p_fast in zip(reference.parameters(), fast.parameters(), strict=True):
        assert torch.allclose(p_ref, p_fast, atol=1e-5)


def test_misuse_is_refused():
    model, *_ = model_and_data(0, 4)
    table = model.code_table
    optimizer = RowSparseAdam([p for p in model.parameters() if p is not table], table, lr=0.1)
    with pytest.raises(RuntimeError, match="select"):
        optimizer.step()
    with pytest.raises(RuntimeError, match="no rows"):
        optimizer.release()
    optimizer.select(torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="release"):
        optimizer.select(torch.tensor([2]))
    with pytest.raises(ValueError, match="table"):
        RowSparseAdam(model.parameters(), torch.nn.Parameter(torch.zeros(4, 2)), lr=0.1)
    with pytest.raises(ValueError, match="moments"):
        optimizer.load_state_dict(
            {"dense": {}, "exp_avg": torch.zeros(1, 3, 2), "exp_avg_sq": torch.zeros(1, 3, 2), "steps": 0}
        )

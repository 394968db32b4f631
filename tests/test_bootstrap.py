"""Bootstrap weights and the weighted fit."""

import numpy as np
import pytest
import torch

from world_models.bootstrap import BOOTSTRAP_SCHEMES, bootstrap_weights, fit, weighted_member_loss
from world_models.discrete import DiscreteDynamicsEnsemble


@pytest.mark.parametrize("scheme", BOOTSTRAP_SCHEMES)
def test_weights_shape_and_mean(scheme):
    w = bootstrap_weights(20_000, 4, scheme, np.random.default_rng(0))
    assert w.shape == (4, 20_000) and w.dtype == np.float32 and (w >= 0).all()
    expected_mean = {"bayesian": 1.0, "poisson": 1.0, "bernoulli": 0.5, "none": 1.0}[scheme]
    assert w.mean() == pytest.approx(expected_mean, abs=0.02)


def test_bayesian_weights_are_never_zero_but_poisson_ones_are():
    rng = np.random.default_rng(0)
    assert (bootstrap_weights(5000, 3, "bayesian", rng) > 0).all()
    assert (bootstrap_weights(5000, 3, "poisson", rng) == 0).mean() == pytest.approx(np.exp(-1), abs=0.02)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="bootstrap"):
        bootstrap_weights(3, 2, "jackknife", np.random.default_rng(0))


def test_weighted_member_loss_hand_computed():
    nll = torch.tensor([[1.0, 3.0], [2.0, 4.0]])
    w = torch.tensor([[1.0, 3.0], [0.0, 0.0]])
    # member 0: (1 + 9) / 4 = 2.5; member 1 has no data: 0
    assert weighted_member_loss(nll, w).item() == pytest.approx(1.25)


def test_fit_learns_and_a_member_without_data_does_not_move():
    torch.manual_seed(0)
    model = DiscreteDynamicsEnsemble(4, 2, ensemble_size=3)
    states, actions = torch.tensor([0, 1, 2]), torch.tensor([1, 1, 0])
    next_states = torch.tensor([1, 2, 1])
    weights = torch.tensor([[1.0, 1.0, 1.0], [2.0, 0.5, 1.0], [0.0, 0.0, 0.0]])
    before = [p.detach()[2].clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = fit(lambda i: model.nll(states, actions, next_states), weights, optimizer, steps=1)
    last = fit(lambda i: model.nll(states, actions, next_states), weights, optimizer, steps=100)
    assert last < 0.1 * first
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach()[2], b)  # member 2 saw nothing


def test_fit_minibatches_need_rng():
    model = DiscreteDynamicsEnsemble(3, 2, ensemble_size=2)
    s = torch.zeros(10, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="rng"):
        fit(lambda i: model.nll(s[i], s[i], s[i]), torch.ones(2, 10), optimizer, steps=1, batch_size=4)
    loss = fit(
        lambda i: model.nll(s[i], s[i], s[i]),
        torch.ones(2, 10),
        optimizer,
        steps=3,
        batch_size=4,
        rng=np.random.default_rng(0),
    )
    assert np.isfinite(loss)

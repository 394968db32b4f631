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


def test_fresh_samples_are_in_every_minibatch_and_the_rest_stands_for_all():
    """With ``fresh``, the last samples are in every minibatch and the drawn ones are weighted by (older
    samples / batch), so a minibatch's loss estimates the full-batch loss: here every old sample costs 1 and
    the 3 fresh ones 1 + 37/3, so the estimate equals the full-batch 77/40 at every draw (without the
    weights it would be 48/11)."""
    n, fresh, batch = 40, 3, 8
    nll_all = torch.ones(2, n)  # (E, N)
    nll_all[:, n - fresh :] = 1.0 + (n - fresh) / fresh
    weights = torch.ones(2, n)  # (E, N)
    assert float(weighted_member_loss(nll_all, weights)) == pytest.approx(77 / 40)
    param = torch.nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.SGD([param], lr=0.0)
    seen = []

    def nll_fn(index):
        seen.append(index)
        return nll_all[:, index] + 0 * param  # (E, b)

    rng = np.random.default_rng(0)
    losses = [fit(nll_fn, weights, optimizer, steps=1, batch_size=batch, rng=rng, fresh=fresh) for _ in range(50)]
    assert all(len(index) == batch + fresh and set(range(n - fresh, n)) <= set(index.tolist()) for index in seen)
    assert np.allclose(losses, 77 / 40, atol=1e-5)
    with pytest.raises(ValueError, match="fresh"):
        fit(nll_fn, weights, optimizer, steps=1, batch_size=batch, rng=rng, fresh=n + 1)


@pytest.mark.parametrize("grad_clip", ["norm", "value"])
def test_gradient_clipping_by_norm_or_by_value(grad_clip):
    """One SGD step of rate 1 moves the parameters by minus the clipped gradient: by value (the MAX authors'
    ``clip_grad_value_``) no entry moves more than the threshold; by norm the whole step is that long."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3)
    before = torch.cat([p.detach().flatten().clone() for p in layer.parameters()])
    x = torch.randn(8, 4) * 100  # large inputs: large gradients

    def nll_fn(index):
        return layer(x).pow(2).sum(-1, keepdim=True).T  # (1, 8): one member

    fit(nll_fn, torch.ones(1, 8), torch.optim.SGD(layer.parameters(), lr=1.0), steps=1, max_grad_norm=0.5,
        grad_clip=grad_clip)  # fmt: skip
    step = before - torch.cat([p.detach().flatten() for p in layer.parameters()])
    if grad_clip == "value":
        assert float(step.abs().max()) == pytest.approx(0.5) and float(step.norm()) > 0.6
    else:
        assert float(step.norm()) == pytest.approx(0.5, rel=1e-4) and float(step.abs().max()) < 0.5
    with pytest.raises(ValueError, match="grad_clip"):
        fit(nll_fn, torch.ones(1, 8), torch.optim.SGD(layer.parameters(), lr=1.0), steps=1, grad_clip="scale")

"""MAX's continuous world model: the Gaussian ensemble on normalised changes, its utilities (Jensen-Renyi
high off the data and low on pure noise; PERX's prediction error, TVAX's trajectory spread) and the
batched imagined exploration MDP."""

import numpy as np
import pytest
import torch

from world_models.bootstrap import bootstrap_weights, fit
from world_models.continuous import GaussianDynamicsEnsemble
from world_models.imagination import ImaginedExploration
from world_models.utilities import jensen_renyi, prediction_error, trajectory_variance


def fitted_model(noisy_dim: bool, seed: int = 0, steps: int = 400):
    """A 2-D point: s' = s + 0.1 a on states in [-1, 1]^2; with ``noisy_dim`` the second coordinate's
    change is pure noise (std 0.3) instead."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    states = torch.rand(512, 2, generator=g) * 2 - 1
    actions = torch.rand(512, 2, generator=g) * 2 - 1
    next_states = states + 0.1 * actions
    if noisy_dim:
        next_states[:, 1] = states[:, 1] + 0.3 * torch.randn(512, generator=g)
    model = GaussianDynamicsEnsemble(2, 2, ensemble_size=5, hidden_size=64, n_hidden_layers=2)
    model.update_normalizers(states, actions, next_states)
    weights = torch.as_tensor(bootstrap_weights(512, 5, "bayesian", np.random.default_rng(seed)))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def nll(index):
        return model.nll(states, actions, next_states) if index is None else model.nll(
            states[index], actions[index], next_states[index])  # fmt: skip

    first = float(model.nll(states, actions, next_states).mean().detach())
    last = fit(nll, weights, optimizer, steps=steps, max_grad_norm=5.0)
    return model, first, last, (states, actions, next_states)


@torch.no_grad()
def utility_at(model, states, actions):
    mean, var = model.normalized_prediction(states, actions)
    return jensen_renyi(mean, var, decay=0.1, max_var=float(np.exp(-1)))


def test_fitted_ensemble_predicts_the_data_and_disagrees_far_from_it():
    model, first, last, (s, a, s_next) = fitted_model(noisy_dim=False)
    assert last < first - 1.0  # the NLL fell
    with torch.no_grad():
        mean, var = model.predict_next(s, a)  # (E, B, d) in the env's units
    assert (mean.mean(0) - s_next).abs().mean() < 0.02  # steps of about 0.05 predicted
    on_data = utility_at(model, s[:64], a[:64])
    far = utility_at(model, s[:64] * 6, a[:64])  # states six times further out than any seen
    # seeds 0-3 measured: on the data <= 1e-4 nats, far 0.036-0.10
    assert far.median() > 10 * on_data.median().clamp_min(1e-3)


def test_pure_noise_earns_no_more_utility_than_the_data_and_far_less_than_novelty():
    """The noisy-TV property in continuous space: a coordinate whose change is pure noise is learnt as
    variance, the members agree on it, and the Jensen-Renyi utility stays near the learnt data's."""
    model, _, _, (s, a, _) = fitted_model(noisy_dim=True)
    with torch.no_grad():
        _, var = model.normalized_prediction(s[:64], a[:64])
    assert var[..., 1].mean() > 5 * var[..., 0].mean()  # the noise is in the variance
    noisy = utility_at(model, s[:64], a[:64])
    far = utility_at(model, s[:64] * 6, a[:64])
    # seeds 0-3 measured: on the noisy data 0.046-0.050 nats, far 0.83-1.05
    assert noisy.median() < 0.1 and far.median() > 10 * noisy.median().clamp_min(1e-3)


def test_sample_next_uses_one_member_per_row_and_is_seeded():
    model, _, _, (s, a, _) = fitted_model(noisy_dim=False, steps=50)
    draws = [model.sample_next(s[:8], a[:8], torch.Generator().manual_seed(3))[0] for _ in range(2)]
    assert torch.equal(draws[0], draws[1])
    # with one row per member and no noise the draw equals that member's mean
    model.net.min_log_var, model.net.max_log_var = -60.0, -59.0
    g = torch.Generator().manual_seed(4)
    member = torch.randint(5, (8,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        next_states, mean, _ = model.sample_next(s[:8], a[:8], g)
    expected = s[:8] + model.delta_norm.denormalize(mean[member, torch.arange(8)])
    assert torch.allclose(next_states, expected, atol=1e-5)


def test_prediction_error_and_trajectory_variance_known_values():
    mean = torch.tensor([[[1.0, 0.0]], [[3.0, 0.0]]])  # (E=2, B=1, d=2): ensemble mean (2, 0)
    assert prediction_error(mean, torch.tensor([[2.0, 1.0]])).tolist() == [1.0]
    changes = torch.tensor([[0.0, 1.0], [2.0, 1.0]])  # std over actors: (sqrt 2, 0)
    assert trajectory_variance(changes).tolist() == pytest.approx([2**0.5, 2**0.5])
    with pytest.raises(ValueError, match="N >= 2"):
        trajectory_variance(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="target"):
        prediction_error(mean, torch.zeros(2, 2))


def test_imagined_exploration_steps_all_actors_for_a_horizon():
    model, _, _, (s, _, _) = fitted_model(noisy_dim=False, steps=50)
    for utility in ("jensen_renyi", "trajectory_variance"):
        imagined = ImaginedExploration(model, n_actors=16, horizon=3, utility=utility,
                                       generator=torch.Generator().manual_seed(0))  # fmt: skip
        states = imagined.reset(s[0])
        assert states.shape == (16, 2) and torch.equal(states, s[0].expand(16, 2))
        dones = []
        for _ in range(3):
            states, reward, done = imagined.step(torch.zeros(16, 2))
            assert states.shape == (16, 2) and reward.shape == (16,) and torch.isfinite(reward).all()
            dones.append(done)
        assert dones == [False, False, True]
    with pytest.raises(ValueError, match="imagination=False"):
        ImaginedExploration(model, utility="prediction_error")


def test_per_member_batches_give_each_member_the_nll_of_its_own_rows():
    """The batched (E, b) forward of :func:`fit_shuffled` against each member alone on its rows."""
    model, _, _, (states, actions, next_states) = fitted_model(False, steps=5)
    index = torch.stack([torch.randperm(512, generator=torch.Generator().manual_seed(m))[:32] for m in range(5)])
    with torch.no_grad():
        batched = model.nll(states[index], actions[index], next_states[index])  # (E, b)
        alone = torch.stack([model.nll(states[rows], actions[rows], next_states[rows])[m]
                             for m, rows in enumerate(index)])  # fmt: skip
    torch.testing.assert_close(batched, alone)


def test_fit_shuffled_passes_over_every_transition_in_each_members_own_order_and_learns():
    from world_models.continuous import fit_shuffled

    model, first, _, (states, actions, next_states) = fitted_model(False, steps=0)
    seen = []
    nll = model.nll
    model.nll = lambda s, a, s_next: (seen.append(s), nll(s, a, s_next))[1]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    last, steps = fit_shuffled(model, optimizer, states[:500], actions[:500], next_states[:500], epochs=40,
                               batch_size=128, rng=np.random.default_rng(0))  # fmt: skip
    assert steps == 40 * 3  # 500 rows: three whole batches of 128 an epoch, the last 116 dropped
    first_epoch = torch.cat(seen[:3], dim=1)  # (E, 384, d)
    assert all(len(torch.unique(first_epoch[m], dim=0)) == 384 for m in range(5))  # no row twice in an epoch
    assert not torch.equal(first_epoch[0], first_epoch[1])  # members see their own orders
    assert last < first - 2.0


def test_the_mean_loss_is_the_official_mean_over_dimensions():
    """``loss_scale("mean", d)`` times the NLL is the official ``Model.loss`` (nnaisense/max models.py):
    the mean over members, rows and dimensions of squared error over variance plus log-variance."""
    from world_models.continuous import loss_scale

    model, _, _, (states, actions, next_states) = fitted_model(False, steps=5)
    with torch.no_grad():
        mean, var = model.normalized_prediction(states, actions)  # (E, N, d) normalised deltas
        targets = model.delta_norm.normalize(next_states - states)  # (N, d)
        official = (((mean - targets) ** 2) / var + var.log()).mean()  # the authors' formula
        ours = loss_scale("mean", states.shape[1]) * model.nll(states, actions, next_states).mean()
    torch.testing.assert_close(ours, official)
    assert loss_scale("half_sum", 7) == 1.0 and loss_scale("mean", 4) == 0.5
    with pytest.raises(ValueError, match="model_loss"):
        loss_scale("sum", 3)

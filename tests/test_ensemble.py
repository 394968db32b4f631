"""The batched ensemble equals its members run one by one; heads behave as documented."""

import pytest
import torch
from torch.nn import functional as F

from world_models.discrete import DiscreteDynamicsEnsemble
from world_models.ensemble import CategoricalEnsemble, EnsembleLinear, EnsembleMLP, GaussianEnsemble


def member_reference(mlp: EnsembleMLP, x: torch.Tensor, member: int) -> torch.Tensor:
    """Run one member alone with plain F.linear: the slow, obvious version."""
    act = {"swish": F.silu, "relu": F.relu, "tanh": torch.tanh}[mlp.activation]
    h = x
    for i, layer in enumerate(mlp.layers):
        h = F.linear(h, layer.weight[member].T, layer.bias[member, 0])
        if i < len(mlp.layers) - 1:
            h = act(h)
    return h


@pytest.mark.parametrize("activation", ["swish", "relu", "tanh"])
@pytest.mark.parametrize("n_hidden_layers", [0, 1, 3])
def test_batched_equals_each_member_alone(activation, n_hidden_layers):
    torch.manual_seed(0)
    mlp = EnsembleMLP(7, 5, out_features=3, hidden_size=16, n_hidden_layers=n_hidden_layers, activation=activation)
    x = torch.randn(7, 11, 5)  # a different batch per member
    out = mlp(x)
    assert out.shape == (7, 11, 3)
    for e in range(7):
        assert torch.allclose(out[e], member_reference(mlp, x[e], e), atol=1e-6)
    shared = torch.randn(11, 5)  # one batch shared by all members
    assert torch.allclose(mlp(shared), mlp(shared.expand(7, 11, 5)))


def test_members_are_independent():
    torch.manual_seed(0)
    layer = EnsembleLinear(4, 3, out_features=2)
    x = torch.randn(4, 8, 3, requires_grad=True)
    layer(x)[2].sum().backward()
    grads = layer.weight.grad.abs().sum((1, 2))
    assert grads[2] > 0 and grads[[0, 1, 3]].sum() == 0


def test_categorical_nll_is_minus_log_softmax():
    torch.manual_seed(0)
    model = CategoricalEnsemble(3, 4, n_classes=6)
    x, y = torch.randn(5, 4), torch.randint(0, 6, (5,))
    expected = -torch.log_softmax(model(x), -1)[:, torch.arange(5), y]
    assert torch.allclose(model.nll(x, y), expected)
    for e in range(3):  # each member's probabilities: the softmax of that member run alone
        assert torch.allclose(model.probs(x)[e], torch.softmax(member_reference(model, x, e), -1), atol=1e-6)


def test_gaussian_log_variance_is_bounded():
    torch.manual_seed(0)
    model = GaussianEnsemble(4, 3, out_dim=2, min_log_var=-5.0, max_log_var=-1.0)
    with torch.no_grad():
        model.layers[-1].bias.fill_(1e3)  # push the raw log-variance to its extreme
    _, var = model.mean_and_var(torch.randn(9, 3))
    assert var.shape == (4, 9, 2)
    assert var.log().max().item() == pytest.approx(-1.0, abs=1e-5)
    with pytest.raises(ValueError, match="min_log_var"):
        GaussianEnsemble(2, 3, out_dim=1, min_log_var=0.0, max_log_var=-1.0)


def test_gaussian_nll_matches_torch_distribution():
    torch.manual_seed(0)
    model = GaussianEnsemble(3, 2, out_dim=4)
    x, y = torch.randn(6, 2), torch.randn(6, 4)
    mean, var = model.mean_and_var(x)
    exact = -torch.distributions.Normal(mean, var.sqrt()).log_prob(y.unsqueeze(0)).sum(-1)
    const = 0.5 * 4 * torch.log(torch.tensor(2 * torch.pi))
    assert torch.allclose(model.nll(x, y) + const, exact, atol=1e-5)


def test_discrete_model_mdp_is_the_members_mean_and_their_jsd():
    torch.manual_seed(0)
    model = DiscreteDynamicsEnsemble(6, 3, ensemble_size=4)
    transitions, utility = model.exploration_mdp()
    assert transitions.shape == (6, 3, 6) and utility.shape == (6, 3)
    for s, a in [(0, 0), (2, 1), (5, 2)]:  # one pair at a time, the slow way
        probs = model.net.probs(model.features(torch.tensor([s]), torch.tensor([a])))[:, 0]  # (E, S)
        mixture = probs.mean(0)
        jsd = -(mixture * mixture.log()).sum() + (probs * probs.log()).sum(-1).mean()
        assert torch.allclose(transitions[s, a], mixture, atol=1e-6)
        assert utility[s, a].item() == pytest.approx(jsd.item(), abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_untrained_members_disagree_on_every_pair(seed):
    """DESIGN.md: untrained members disagree everywhere. With the defaults (5 members, code scale 1) the
    smallest utility over the 100 pairs of a 50-state chain measured 0.020-0.028 over 20 seeds."""
    torch.manual_seed(seed)
    _, utility = DiscreteDynamicsEnsemble(50, 2, ensemble_size=5).exploration_mdp()
    assert utility.min() > 0.012


@pytest.mark.parametrize(("kwargs", "name"), [({"ensemble_size": 0}, "ensemble_size"), ({"hidden_size": 0}, "hidden")])
def test_bad_sizes(kwargs, name):
    base = {"ensemble_size": 2, "in_features": 3, "out_features": 1}
    base.update(kwargs)
    with pytest.raises(ValueError, match=name):
        EnsembleMLP(base.pop("ensemble_size"), base.pop("in_features"), **base)


def test_factored_inputs_are_one_hot_state_then_action_and_share_codes():
    torch.manual_seed(0)
    model = DiscreteDynamicsEnsemble(4, 3, ensemble_size=2, inputs="factored")
    x = model.features(torch.tensor([2, 0]), torch.tensor([1, 2]))
    assert x.tolist() == [[0, 0, 1, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0, 1]]
    probs = model.probs_all_pairs()  # (E, S*A, S), row s * A + a
    s, a = 2, 1
    assert torch.allclose(probs[:, s * 3 + a], model.net.probs(x[:1])[:, 0])
    assert model.net.layers[0].weight.shape[1] == 4 + 3  # S + A inputs instead of S * A
    with pytest.raises(ValueError, match="inputs"):
        DiscreteDynamicsEnsemble(4, 3, inputs="pairs")


@pytest.mark.parametrize("n_hidden_layers", [0, 1, 2])
def test_forward_one_hot_equals_the_dense_forward_on_one_hot_inputs(n_hidden_layers):
    torch.manual_seed(0)
    mlp = EnsembleMLP(3, 12, out_features=9, hidden_size=8, n_hidden_layers=n_hidden_layers)
    rows, columns = torch.tensor([4, 0, 11, 4]), torch.tensor([8, 2, 5])
    dense = mlp(F.one_hot(rows, 12).float())[..., columns]  # (E, B, C) the slow, obvious way
    assert torch.allclose(mlp.forward_one_hot(rows, columns), dense, atol=1e-6)


def test_seen_states_model_predicts_only_over_seen_states_and_unseen():
    from world_models.discrete import SeenStatesDynamicsEnsemble

    torch.manual_seed(0)
    model = SeenStatesDynamicsEnsemble(10, 2, ensemble_size=3)
    model.mark_seen(torch.tensor([7, 2, 5]))
    states, transitions, utility = model.exploration_mdp()
    assert states.tolist() == [2, 5, 7]
    assert transitions.shape == (4, 2, 4) and utility.shape == (4, 2)
    assert torch.allclose(transitions.sum(-1), torch.ones(4, 2), atol=1e-6)
    assert torch.equal(transitions[3, :, 3], torch.ones(2)) and torch.equal(utility[3], torch.zeros(2))
    # the NLL of a seen outcome: minus the log-softmax over the seen states' and UNSEEN's logits only
    s, a, nxt = torch.tensor([5]), torch.tensor([1]), torch.tensor([7])
    logits = model.net(F.one_hot(s * 2 + a, 20).float())[..., [2, 5, 7, 10]]  # (E, 1, K + 1)
    assert torch.allclose(model.nll(s, a, nxt), -torch.log_softmax(logits, -1)[..., 2], atol=1e-6)


def test_reset_parameters_draws_again_within_the_init_bound():
    layer = EnsembleLinear(3, 4, out_features=2, init_scale=2.0)
    before = layer.weight.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(before, layer.weight)
    assert layer.weight.abs().max() <= 2.0 / 4**0.5 and layer.bias.abs().max() <= 2.0 / 4**0.5


def test_xavier_init_has_the_authors_spread_and_zero_biases():
    """The official ``EnsembleDenseLayer``: Xavier-uniform swish layers, a Xavier-normal linear output layer,
    zero biases; each member drawn with its own (in, out) fan."""
    torch.manual_seed(0)
    mlp = EnsembleMLP(64, 30, out_features=10, hidden_size=50, n_hidden_layers=2, init="xavier")
    first, hidden, last = mlp.layers
    bound = (6 / (30 + 50)) ** 0.5
    assert float(first.weight.abs().max()) <= bound and float(first.weight.abs().max()) > 0.95 * bound
    assert abs(float(hidden.weight.std()) - (2 / (50 + 50)) ** 0.5) < 0.01  # U(-b, b) has std b / sqrt(3)
    assert abs(float(last.weight.std()) - (2 / (50 + 10)) ** 0.5) < 0.01
    assert all(float(layer.bias.abs().max()) == 0 for layer in mlp.layers)
    with pytest.raises(ValueError, match="init"):
        EnsembleMLP(2, 3, out_features=1, init="kaiming")
    with pytest.raises(ValueError, match="init"):
        EnsembleLinear(2, 3, out_features=1, init="he")


def test_orthogonal_init_gives_each_member_orthonormal_columns_and_zero_biases():
    mlp = EnsembleMLP(
        3, 40, out_features=2, hidden_size=16, n_hidden_layers=1, init="orthogonal", activation="leaky_relu"
    )
    first = mlp.layers[0].weight  # (3, 40, 16): 16 orthonormal columns per member
    torch.testing.assert_close(first.transpose(1, 2) @ first, torch.eye(16).expand(3, 16, 16), atol=1e-5, rtol=0)
    assert all(float(layer.bias.abs().max()) == 0 for layer in mlp.layers)

"""JSD and Jensen-Renyi utilities against hand-computed values and slow, obvious references."""

import itertools
import math

import numpy as np
import pytest
import torch

from world_models.utilities import MAX_LOG_VAR, jensen_renyi, jensen_shannon


def jsd_reference(probs: np.ndarray) -> np.ndarray:
    """Loop over queries: H(mean) - mean H, with 0 log 0 = 0."""
    E, B, K = probs.shape

    def h(p):
        return -sum(x * math.log(x) for x in p if x > 0)

    return np.array([h(probs[:, b].mean(0)) - np.mean([h(probs[e, b]) for e in range(E)]) for b in range(B)])


def jrd_reference(mean: np.ndarray, var: np.ndarray, decay: float = 1.0) -> np.ndarray:
    """Double loop over members, straight from the closed form in DESIGN.md, after the official code's
    variance rescaling max_var - decay * (max_var - var)."""
    max_var = math.exp(MAX_LOG_VAR)
    var = max_var - decay * (max_var - var)
    E, B, d = mean.shape
    out = []
    for b in range(B):
        total = 0.0
        for i, j in itertools.product(range(E), range(E)):
            cov = np.diag(var[i, b] + var[j, b])
            diff = mean[i, b] - mean[j, b]
            dens = math.exp(-0.5 * diff @ np.linalg.inv(cov) @ diff) / math.sqrt(
                (2 * math.pi) ** d * np.linalg.det(cov)
            )
            total += dens
        h_mix = -math.log(total / E**2)
        h_members = np.mean([0.5 * math.log(np.prod(var[i, b])) + d / 2 * math.log(4 * math.pi) for i in range(E)])
        out.append(h_mix - h_members)
    return np.array(out)


def test_jsd_identical_members_is_zero():
    p = torch.softmax(torch.randn(1, 6, 9), -1).expand(5, 6, 9)
    assert torch.allclose(jensen_shannon(p), torch.zeros(6), atol=1e-6)


@pytest.mark.parametrize("E", [2, 3, 5, 10])
def test_jsd_disjoint_one_hot_is_log_e(E):
    probs = torch.eye(E).unsqueeze(1)  # (E, 1, E): member i is certain of outcome i
    assert jensen_shannon(probs).item() == pytest.approx(math.log(E), abs=1e-6)


def test_jsd_hand_computed():
    # members (1, 0) and (1/2, 1/2): mixture (3/4, 1/4)
    probs = torch.tensor([[[1.0, 0.0]], [[0.5, 0.5]]])
    h_mix = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    expected = h_mix - 0.5 * (0.0 + math.log(2))
    assert jensen_shannon(probs).item() == pytest.approx(expected, abs=1e-6)


def test_jsd_matches_reference_and_bounds():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(7, 0.3), size=(6, 20))  # (E, B, K)
    fast = jensen_shannon(torch.as_tensor(probs)).numpy()
    assert np.allclose(fast, jsd_reference(probs), atol=1e-10)
    assert (fast >= 0).all() and (fast <= math.log(6) + 1e-9).all()


def test_jsd_rejects_wrong_shape():
    with pytest.raises(ValueError, match="probs"):
        jensen_shannon(torch.ones(3, 4))


def test_jrd_matches_double_loop_reference():
    rng = np.random.default_rng(1)
    E, B, d = 4, 6, 3
    mean = rng.normal(size=(E, B, d))
    var = rng.uniform(0.05, 0.5, size=(E, B, d))
    fast = jensen_renyi(torch.as_tensor(mean), torch.as_tensor(var)).numpy()
    assert np.allclose(fast, jrd_reference(mean, var), atol=1e-8)


@pytest.mark.parametrize("decay", [1.0, 0.1, 0.0])
def test_jrd_with_unequal_variances_and_decay_matches_reference(decay):
    rng = np.random.default_rng(2)
    E, B, d = 5, 8, 4
    mean = rng.normal(size=(E, B, d))
    var = np.exp(rng.uniform(-6, 2, size=(E, B, d)))  # variances spread over 3.5 orders of magnitude
    fast = jensen_renyi(torch.as_tensor(mean), torch.as_tensor(var), decay=decay).numpy()
    assert np.allclose(fast, jrd_reference(mean, var, decay), atol=1e-8)


@pytest.mark.parametrize(("ratio", "expected"), [(10.0, 0.0364), (100.0, -0.0881)])
def test_jrd_of_members_differing_only_in_variance(ratio, expected):
    """Documented: same mean, variances a factor ``ratio`` apart: positive at 10x, negative at 100x."""
    mean = torch.zeros(2, 1, 1, dtype=torch.float64)
    var = torch.tensor([1.0, ratio], dtype=torch.float64).view(2, 1, 1)
    value = jensen_renyi(mean, var).item()
    assert value == pytest.approx(expected, abs=1e-4)
    assert value == pytest.approx(jrd_reference(mean.numpy(), var.numpy())[0], abs=1e-10)


def test_jrd_decay_bounds_the_negative_part_of_variance_only_differences():
    """Documented: 17 dimensions, members at the official log-variance bounds -5 and -1 (55x apart):
    -15.6 nats plain, -0.042 with decay 0.1; a mean difference of 1 then dominates (0.60)."""
    d = 17
    mean = torch.zeros(2, 1, d, dtype=torch.float64)
    var = torch.tensor([math.exp(-5), math.exp(-1)], dtype=torch.float64).view(2, 1, 1).expand(2, 1, d)
    plain, decayed = jensen_renyi(mean, var).item(), jensen_renyi(mean, var, decay=0.1).item()
    assert plain < -10
    assert -0.05 < decayed < -0.03
    apart = mean + torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)  # members 1 apart in every dimension
    assert jensen_renyi(apart, var, decay=0.1).item() > 0.5


def test_jrd_decay_one_is_the_plain_formula_and_bad_decay_is_refused():
    mean, var = torch.randn(3, 4, 2), torch.rand(3, 4, 2) + 0.1
    assert torch.equal(jensen_renyi(mean, var, decay=1.0), jensen_renyi(mean, var))
    with pytest.raises(ValueError, match="decay"):
        jensen_renyi(mean, var, decay=1.5)


def test_jrd_identical_members_is_zero_and_spread_is_positive():
    mean = torch.randn(1, 5, 4).expand(6, 5, 4)
    var = torch.rand(1, 5, 4).add(0.1).expand(6, 5, 4)
    assert torch.allclose(jensen_renyi(mean, var), torch.zeros(5), atol=1e-5)
    spread = mean + torch.randn(6, 5, 4)
    assert (jensen_renyi(spread, var) > 0.1).all()


def test_jrd_is_stable_for_far_apart_members():
    # densities underflow in linear space; the log-space computation must stay finite
    mean = torch.tensor([[[0.0]], [[1e3]]], dtype=torch.float32)
    var = torch.full_like(mean, 1e-3)
    value = jensen_renyi(mean, var)
    assert torch.isfinite(value).all()
    assert value.item() == pytest.approx(math.log(2), abs=1e-4)  # two disjoint members: log E


def test_jrd_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="mean and var"):
        jensen_renyi(torch.zeros(2, 3, 4), torch.ones(2, 3, 5))

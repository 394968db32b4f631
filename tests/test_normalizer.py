"""The running normaliser: batched updates against Welford's one-sample reference, round trips, state."""

import pytest
import torch

from world_models.normalizer import RunningNormalizer, welford_reference


def test_batched_updates_match_welford_one_sample_at_a_time():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 10.0, 1e-3]) + torch.tensor([5.0, -2.0, 100.0])
    norm = RunningNormalizer(3)
    for chunk in torch.split(data, [1, 7, 100, 250, 142]):  # uneven batches, one of a single sample
        norm.update(chunk)
    mean, std = welford_reference(data)
    assert int(norm.count) == 500
    assert torch.allclose(norm.mean, mean, rtol=1e-12, atol=1e-12)
    assert torch.allclose(norm.std, std, rtol=1e-10)
    assert torch.allclose(std, data.double().std(0, unbiased=False), rtol=1e-10)


def test_normalize_round_trip_and_unit_statistics():
    data = torch.randn(1000, 4) * 3 + 7
    norm = RunningNormalizer(4)
    norm.update(data)
    z = norm.normalize(data)
    assert torch.allclose(z.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(4), atol=1e-5)
    assert torch.allclose(norm.denormalize(z), data, atol=1e-5)


def test_identity_before_data_and_constant_coordinates_are_not_divided_by_zero():
    norm = RunningNormalizer(2)
    x = torch.tensor([[1.0, 2.0]])
    assert torch.equal(norm.normalize(x), x)
    norm.update(torch.tensor([[1.0, 3.0], [1.0, 5.0]]))
    z = norm.normalize(torch.tensor([[1.0, 4.0]]))
    assert torch.isfinite(z).all() and z.tolist() == [[0.0, 0.0]]


def test_statistics_save_with_state_dict_and_bad_shapes_are_refused():
    norm = RunningNormalizer(3)
    norm.update(torch.randn(10, 3))
    copy = RunningNormalizer(3)
    copy.load_state_dict(norm.state_dict())
    assert torch.equal(copy.mean, norm.mean) and torch.equal(copy.std, norm.std) and copy.count == 10
    with pytest.raises(ValueError, match="dim 3"):
        norm.update(torch.randn(5, 2))
    with pytest.raises(ValueError, match="dim"):
        RunningNormalizer(0)

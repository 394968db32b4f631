"""make_norm and the documented equivalences of Group Normalization, checked numerically."""

import pytest
import torch
from torch import nn

from vision_tools.normalization import make_norm


def reference_group_norm(x: torch.Tensor, groups: int, eps: float = 1e-5) -> torch.Tensor:
    """Loop over samples and groups: mean and variance over (C/G, H, W), the obvious way."""
    out = torch.empty_like(x)
    n, c = x.shape[:2]
    per = c // groups
    for i in range(n):
        for g in range(groups):
            block = x[i, g * per : (g + 1) * per]
            out[i, g * per : (g + 1) * per] = (block - block.mean()) / torch.sqrt(block.var(unbiased=False) + eps)
    return out


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_group_norm_matches_loop_reference(groups):
    x = torch.randn(3, 8, 5, 6)
    assert torch.allclose(make_norm("group", 8, groups)(x), reference_group_norm(x, groups), atol=1e-5)


def test_one_group_is_layer_norm_over_chw():
    x = torch.randn(4, 6, 5, 5)
    ln = nn.LayerNorm([6, 5, 5], elementwise_affine=False)
    assert torch.allclose(make_norm("layer", 6)(x), ln(x), atol=1e-5)
    assert torch.allclose(make_norm("group", 6, groups=1)(x), ln(x), atol=1e-5)


def test_c_groups_is_instance_norm():
    x = torch.randn(4, 6, 5, 5)
    inorm = nn.InstanceNorm2d(6)
    assert torch.allclose(make_norm("instance", 6)(x), inorm(x), atol=1e-5)
    assert torch.allclose(make_norm("group", 6, groups=6)(x), inorm(x), atol=1e-5)


def test_kinds_and_defaults():
    assert isinstance(make_norm("batch", 16), nn.BatchNorm2d)
    assert make_norm("group", 64).num_groups == 32  # the paper's G = 32
    assert make_norm("group", 16).num_groups == 16  # fewer channels than groups: one channel per group
    assert isinstance(make_norm(None, 8), nn.Identity)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        make_norm("weight", 8)
    with pytest.raises(ValueError, match="divide"):
        make_norm("group", 48, groups=32)
    with pytest.raises(ValueError, match="channels"):
        make_norm("group", 0)

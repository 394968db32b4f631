"""Normalisation layers by name, for the agents' encoders and the normalisation study.

Group Normalization (Wu & He, ECCV 2018) computes mean and variance per sample over groups of C/G
channels and all spatial positions, then applies a per-channel affine map. It does not depend on the
batch, so it behaves the same for a batch of 2 as of 32, and the same in training and evaluation.
With one group it normalises over (C, H, W) like LayerNorm; with C groups, over (H, W) per channel like
InstanceNorm (both with per-channel affine parameters, as GroupNorm has).
"""

from __future__ import annotations

from torch import nn

NORMS = ("group", "batch", "layer", "instance", None)


def make_norm(kind: str | None, channels: int, groups: int = 32) -> nn.Module:
    """A normalisation layer for (N, C, H, W) activations.

    :param kind: ``"group"`` (GroupNorm with ``groups`` groups), ``"batch"`` (BatchNorm2d), ``"layer"``
        (GroupNorm with 1 group: LayerNorm over (C, H, W)), ``"instance"`` (GroupNorm with C groups:
        InstanceNorm over (H, W)), or ``None`` (identity).
    :param channels: number of channels C.
    :param groups: groups of ``"group"``; the paper's default is 32. When C < groups, C groups are used
        (one channel per group); otherwise ``groups`` must divide C.
    """
    if kind not in NORMS:
        raise ValueError(f"kind must be one of {NORMS}, got {kind!r}")
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    if kind is None:
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.GroupNorm(channels, channels)
    if groups < 1:
        raise ValueError(f"groups must be positive, got {groups}")
    groups = min(groups, channels)
    if channels % groups:
        raise ValueError(f"groups ({groups}) must divide channels ({channels})")
    return nn.GroupNorm(groups, channels)

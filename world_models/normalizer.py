"""Running normalisation of a vector quantity, as a module whose statistics save with ``state_dict``.

MAX (Shyam et al. 2019) normalises states, actions and state changes by their running mean and
standard deviation (its official ``normalizer.py`` uses Welford's one-sample update). Here a batch is
merged in one step with Chan et al.'s parallel form of the same update (``update``); the slow
one-sample reference is :func:`welford_reference`, and the two agree to float precision.
"""

from __future__ import annotations

import torch
from torch import nn


class RunningNormalizer(nn.Module):
    """Running mean and (population) standard deviation of ``dim``-vectors.

    :param dim: size of the last axis of the vectors.
    :param min_std: floor of the standard deviation used to normalise: a coordinate that never varied
        (a constant sensor) is then shifted, not divided by zero.
    """

    def __init__(self, dim: int, *, min_std: float = 1e-6) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        if min_std <= 0:
            raise ValueError(f"min_std must be positive, got {min_std}")
        self.dim = dim
        self.min_std = min_std
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))  # samples seen
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))  # (dim,)
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))  # (dim,) sum of squared deviations

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a batch ``x`` (..., dim) into the statistics."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must end in dim {self.dim}, got shape {tuple(x.shape)}")
        x = x.reshape(-1, self.dim).to(self.mean)  # (n, dim)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(0)  # (dim,)
        batch_m2 = ((x - batch_mean) ** 2).sum(0)  # (dim,)
        total = self.count + n
        delta = batch_mean - self.mean  # (dim,)
        self.mean += delta * (n / total)
        self.m2 += batch_m2 + delta**2 * (self.count * n / total)
        self.count.fill_(total)

    @property
    def std(self) -> torch.Tensor:
        """(dim,) standard deviation (population), floored at ``min_std``; 1 before any sample."""
        if self.count == 0:
            return torch.ones_like(self.mean)
        return (self.m2 / self.count).sqrt().clamp_min(self.min_std)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std, in ``x``'s dtype; the identity before any sample."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalize`."""
        return z * self.std.to(z.dtype) + self.mean.to(z.dtype)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, count={int(self.count)}"


def welford_reference(samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow reference: Welford's one-sample update over ``samples`` (n, dim), as MAX's official code;
    returns the mean and the population standard deviation, each (dim,)."""
    mean = torch.zeros(samples.shape[1], dtype=torch.float64)
    m2 = torch.zeros_like(mean)
    for k, x in enumerate(samples.to(torch.float64), 1):
        old = mean.clone()
        mean = mean + (x - mean) / k
        m2 = m2 + (x - old) * (x - mean)
    return mean, (m2 / len(samples)).sqrt()

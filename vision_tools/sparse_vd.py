"""Sparse Variational Dropout (Molchanov, Ashukha & Vetrov, "Variational Dropout Sparsifies Deep Neural
Networks", ICML 2017).

Every weight has a mean ``theta`` and a log-variance ``log_sigma2`` (initialised to -10), so its
dropout rate is ``alpha = sigma2 / theta^2``; ``log_alpha = log_sigma2 - log(theta^2 + 1e-8)`` is
clipped to [-10, 10]. Training uses the local reparameterisation trick: the pre-activation is Gaussian
with mean ``x theta^T + b`` and variance ``x^2 sigma2^T``, sampled once per example. Evaluation is
deterministic: weights whose ``log_alpha`` exceeds ``threshold`` (3 by default, alpha > 20) are zero.

The prior is log-uniform, under which KL(q || p) is defined up to an additive constant; the paper's
approximation is used: -KL ~= k1 sigmoid(k2 + k3 log_alpha) - 0.5 log1p(exp(-log_alpha)) - k1 with
k1 = 0.63576, k2 = 1.87320, k3 = 1.48695. Training minimises the SGVLB,
N * mean cross-entropy + w * sum KL, with w annealed linearly from 0 to 1 (:class:`SGVLB`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

K1, K2, K3 = 0.63576, 1.87320, 1.48695
LOG_ALPHA_CLIP = 10.0
EPS = 1e-8


def approx_kl(log_alpha: torch.Tensor) -> torch.Tensor:
    """Molchanov et al.'s approximation of KL(q || log-uniform prior) per weight (same shape)."""
    neg_kl = K1 * torch.sigmoid(K2 + K3 * log_alpha) - 0.5 * F.softplus(-log_alpha) - K1
    return -neg_kl


class _SVDOMixin:
    """Shared parameter logic: ``theta``, ``log_sigma2``, clipped ``log_alpha``, KL and the eval mask."""

    theta: nn.Parameter
    log_sigma2: nn.Parameter
    threshold: float

    @property
    def log_alpha(self) -> torch.Tensor:
        """Clipped log dropout rate of every weight."""
        log_alpha = self.log_sigma2 - torch.log(self.theta**2 + EPS)
        return log_alpha.clamp(-LOG_ALPHA_CLIP, LOG_ALPHA_CLIP)

    def kl(self) -> torch.Tensor:
        """Approximate KL of all of this layer's weights (a scalar)."""
        return approx_kl(self.log_alpha).sum()

    def kept_mask(self) -> torch.Tensor:
        """1 for the weights evaluation keeps (``log_alpha <= threshold``), 0 for the pruned ones."""
        return (self.log_alpha <= self.threshold).to(self.theta.dtype)

    def masked_theta(self) -> torch.Tensor:
        return self.theta * self.kept_mask()


class LinearSVDO(_SVDOMixin, nn.Module):
    """A fully connected layer with Sparse Variational Dropout.

    :param in_features: input width.
    :param out_features: output width.
    :param threshold: weights with ``log_alpha`` above it are zero in evaluation.
    :param bias: learn a bias.
    """

    def __init__(self, in_features: int, out_features: int, *, threshold: float = 3.0, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features, self.threshold = in_features, out_features, threshold
        self.theta = nn.Parameter(torch.empty(out_features, in_features))  # (out, in)
        self.log_sigma2 = nn.Parameter(torch.full((out_features, in_features), -10.0))  # (out, in)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.theta, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in) -> (B, out); stochastic in training, deterministic and pruned in evaluation."""
        if not self.training:
            return F.linear(x, self.masked_theta(), self.bias)
        mean = F.linear(x, self.theta, self.bias)  # (B, out)
        var = F.linear(x * x, torch.exp(self.log_sigma2))  # (B, out): x^2 sigma2^T
        return mean + torch.sqrt(var + EPS) * torch.randn_like(mean)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, threshold={self.threshold}"


class Conv2dSVDO(_SVDOMixin, nn.Module):
    """A 2-d convolution with Sparse Variational Dropout (local reparameterisation per output pixel).

    :param in_channels: input channels.
    :param out_channels: output channels.
    :param kernel_size: square kernel size.
    :param stride: convolution stride.
    :param padding: zero padding.
    :param threshold: weights with ``log_alpha`` above it are zero in evaluation.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
        threshold: float = 3.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.stride, self.padding, self.threshold = stride, padding, threshold
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.theta = nn.Parameter(torch.empty(shape))
        self.log_sigma2 = nn.Parameter(torch.full(shape, -10.0))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.theta, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, H', W')."""
        if not self.training:
            return F.conv2d(x, self.masked_theta(), self.bias, self.stride, self.padding)
        mean = F.conv2d(x, self.theta, self.bias, self.stride, self.padding)
        var = F.conv2d(x * x, torch.exp(self.log_sigma2), None, self.stride, self.padding)
        return mean + torch.sqrt(var + EPS) * torch.randn_like(mean)


class EnsembleLinearSVDO(_SVDOMixin, nn.Module):
    """E sparse fully connected layers in one batched matmul: weights ``(E, in, out)`` as in
    :class:`world_models.ensemble.EnsembleLinear`, each with its own dropout rate.

    :param ensemble_size: number of members E.
    :param in_features: input width.
    :param out_features: output width.
    :param init_scale: weights start in U(-k, k), ``k = init_scale / sqrt(in)``.
    :param threshold: weights with ``log_alpha`` above it are zero in evaluation.
    """

    def __init__(
        self, ensemble_size: int, in_features: int, *, out_features: int, init_scale: float = 1.0,
        threshold: float = 3.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.ensemble_size, self.in_features, self.out_features = ensemble_size, in_features, out_features
        self.threshold = threshold
        bound = init_scale / math.sqrt(in_features)
        self.theta = nn.Parameter(torch.empty(ensemble_size, in_features, out_features).uniform_(-bound, bound))
        self.log_sigma2 = nn.Parameter(torch.full((ensemble_size, in_features, out_features), -10.0))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(E, B, in) -> (E, B, out)."""
        if not self.training:
            return torch.baddbmm(self.bias, x, self.masked_theta())  # (E, B, out)
        mean = torch.baddbmm(self.bias, x, self.theta)  # (E, B, out)
        var = torch.bmm(x * x, torch.exp(self.log_sigma2))  # (E, B, out)
        return mean + torch.sqrt(var + EPS) * torch.randn_like(mean)


def svdo_layers(module: nn.Module) -> list[tuple[str, _SVDOMixin]]:
    """Every Sparse VD layer inside ``module``, with its name."""
    return [(name, m) for name, m in module.named_modules() if isinstance(m, _SVDOMixin)]


def kl_divergence(module: nn.Module) -> torch.Tensor:
    """Sum of the approximate KL over every Sparse VD layer in ``module`` (0 if there is none)."""
    terms = [layer.kl() for _, layer in svdo_layers(module)]
    return torch.stack(terms).sum() if terms else torch.zeros(())


@dataclass
class LayerSparsity:
    name: str
    weights: int
    kept: int

    @property
    def compression(self) -> float:
        """Total over kept weights (inf when every weight is pruned)."""
        return self.weights / self.kept if self.kept else float("inf")


def sparsity_report(module: nn.Module) -> tuple[list[LayerSparsity], LayerSparsity]:
    """Weights kept by evaluation per Sparse VD layer, and the total (named ``"total"``)."""
    rows = []
    with torch.no_grad():
        for name, layer in svdo_layers(module):
            rows.append(LayerSparsity(name, layer.theta.numel(), int(layer.kept_mask().sum().item())))
    total = LayerSparsity("total", sum(r.weights for r in rows), sum(r.kept for r in rows))
    return rows, total


def record_sparsity(logger, module: nn.Module) -> None:
    """Record ``sparsity/kept_fraction`` and ``sparsity/compression`` of ``module`` with an SB3-style
    ``logger`` (anything with ``record(key, value)``)."""
    _, total = sparsity_report(module)
    logger.record("sparsity/kept_fraction", total.kept / total.weights if total.weights else 1.0)
    logger.record("sparsity/compression", total.compression)


def kl_weight(step: int, anneal_steps: int, final: float = 1.0) -> float:
    """KL weight rising linearly from 0 to ``final`` over ``anneal_steps`` steps (always ``final`` when that is 0)."""
    return final if anneal_steps == 0 else final * min(1.0, step / anneal_steps)


class SGVLB:
    """The stochastic gradient variational lower bound, negated for minimising:
    ``n_train * mean_nll + kl_weight * KL``, with ``kl_weight`` rising linearly from 0 to ``final_kl_weight``
    over ``anneal_steps`` calls of :meth:`step` (0 steps: always ``final_kl_weight``).

    :param n_train: size of the training set N.
    :param anneal_steps: steps over which the KL weight goes from 0 to its final value.
    :param final_kl_weight: the KL weight after annealing: 1 is the variational bound itself; below 1
        weakens the prior, e.g. ``n_train / 60_000`` gives a 4,000-image subset the data-to-prior balance
        of full MNIST.
    """

    def __init__(self, n_train: int, anneal_steps: int = 0, *, final_kl_weight: float = 1.0) -> None:
        if n_train < 1:
            raise ValueError(f"n_train must be positive, got {n_train}")
        if anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0, got {anneal_steps}")
        if not final_kl_weight > 0:
            raise ValueError(f"final_kl_weight must be positive, got {final_kl_weight!r}")
        self.n_train = n_train
        self.anneal_steps = anneal_steps
        self.final_kl_weight = float(final_kl_weight)
        self.steps_done = 0

    @property
    def kl_weight(self) -> float:
        return kl_weight(self.steps_done, self.anneal_steps, self.final_kl_weight)

    def __call__(self, mean_nll: torch.Tensor, model: nn.Module) -> torch.Tensor:
        return self.n_train * mean_nll + self.kl_weight * kl_divergence(model)

    def step(self) -> None:
        self.steps_done += 1

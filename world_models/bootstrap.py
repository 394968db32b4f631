"""Bootstrap training of an ensemble: each member fits its own resample of the data.

The resample is drawn per transition when it is stored (an online bootstrap, Oza & Russell 2001) and
kept for the transition's life, so refitting on all data never reshuffles who saw what:

- ``"poisson"``: each member weights each transition by a Poisson(1) count, the online equivalent of
  resampling with replacement (the scheme of the calibration run in DESIGN.md);
- ``"bayesian"``: each member weights each transition by an Exponential(1) draw, Rubin's (1981) Bayesian
  bootstrap (Dirichlet(1, ..., 1) weights up to normalisation). No member ever ignores a transition, so a
  deterministic outcome seen once is learned by all members, while members still weigh conflicting
  (noisy) outcomes differently;
- ``"bernoulli"``: each member keeps each transition with probability 1/2 (Osband et al. 2016's masks);
- ``"none"``: every member sees every transition once; members differ only by their initialisation.

On MAX's chain benchmark (docs/BENCHMARKS.md, "Ablation") ``"bayesian"`` and ``"none"`` tie, and the
schemes that leave transitions out of members (``"poisson"``, ``"bernoulli"``) need 2-3x the episodes.
"""

from __future__ import annotations

import numpy as np
import torch

BOOTSTRAP_SCHEMES = ("bayesian", "poisson", "bernoulli", "none")
GRAD_CLIPS = ("norm", "value")


def bootstrap_weights(n: int, ensemble_size: int, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """Per-member weights of ``n`` new transitions, shape (E, n), float32.

    :param n: number of transitions.
    :param ensemble_size: number of members E.
    :param scheme: one of ``BOOTSTRAP_SCHEMES`` (see the module docstring).
    :param rng: the generator to draw from (the caller's, so runs are reproducible).
    """
    if scheme == "bayesian":
        return rng.exponential(1.0, size=(ensemble_size, n)).astype(np.float32)
    if scheme == "poisson":
        return rng.poisson(1.0, size=(ensemble_size, n)).astype(np.float32)
    if scheme == "bernoulli":
        return (rng.random((ensemble_size, n)) < 0.5).astype(np.float32)
    if scheme == "none":
        return np.ones((ensemble_size, n), dtype=np.float32)
    raise ValueError(f"bootstrap must be one of {BOOTSTRAP_SCHEMES}, got {scheme!r}")


def weighted_member_loss(nll: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over members of each member's weighted mean NLL.

    :param nll: (E, B) per-member, per-sample negative log-likelihoods.
    :param weights: (E, B) bootstrap weights; a member whose weights are all 0 contributes 0.
    """
    per_member = (weights * nll).sum(1) / weights.sum(1).clamp_min(1.0)  # (E,)
    return per_member.mean()


def fit(
    nll_fn,
    weights: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    batch_size: int | None = None,
    rng: np.random.Generator | None = None,
    penalty=None,
    max_grad_norm: float | None = None,
    grad_clip: str = "norm",
    fresh: int = 0,
) -> float:
    """Take ``steps`` optimiser steps on the bootstrap-weighted NLL; return the last step's loss.

    :param nll_fn: ``nll_fn(index)`` gives the (E, b) NLL of the samples at ``index`` (a LongTensor),
        or of all samples when ``index`` is ``None``.
    :param weights: (E, N) bootstrap weights of all N samples.
    :param optimizer: optimiser over the ensemble's parameters.
    :param steps: number of gradient steps.
    :param batch_size: minibatch size; ``None`` (or N <= batch_size) uses all samples in every step.
    :param rng: generator for minibatch indices (needed when minibatching).
    :param penalty: optional ``penalty()`` -> scalar tensor added to every step's loss (e.g. a scaled
        KL term of Sparse Variational Dropout layers); the returned loss excludes it.
    :param max_grad_norm: clip the gradients' global norm to this before each step (MAX's continuous
        model: 5); ``None`` does not clip.
    :param grad_clip: ``"norm"`` clips the global norm to ``max_grad_norm``; ``"value"`` clips each
        gradient entry to [-max_grad_norm, max_grad_norm] (the MAX authors' ``clip_grad_value_``).
    :param fresh: with minibatches, the last ``fresh`` samples (those new since the last fit) are in every
        minibatch, and the ``batch_size`` others are drawn from the rest and weighted to stand for all of
        it (a stratified estimate of the full-batch loss). 0 draws every sample alike.
    """
    if grad_clip not in GRAD_CLIPS:
        raise ValueError(f"grad_clip must be one of {GRAD_CLIPS}, got {grad_clip!r}")
    n = weights.shape[1]
    if not 0 <= fresh <= n:
        raise ValueError(f"fresh must be in [0, {n}], got {fresh}")
    old = n - fresh
    loss = torch.zeros(())
    for _ in range(steps):
        if batch_size is None or old <= batch_size:
            index, w = None, weights
        else:
            if rng is None:
                raise ValueError("rng is needed to draw minibatches")
            drawn = torch.as_tensor(rng.integers(0, old, size=batch_size), device=weights.device)  # (b,)
            index = torch.cat([drawn, torch.arange(old, n, device=weights.device)])  # (b + fresh,)
            w = weights[:, index]  # (E, b + fresh)
            if fresh:
                w = torch.cat([w[:, :batch_size] * (old / batch_size), w[:, batch_size:]], 1)  # (E, b + fresh)
        loss = weighted_member_loss(nll_fn(index), w)
        optimizer.zero_grad(set_to_none=True)
        (loss + penalty() if penalty is not None else loss).backward()
        clip_gradients(optimizer, max_grad_norm, grad_clip)
        optimizer.step()
    return float(loss.detach())


def clip_gradients(optimizer: torch.optim.Optimizer, threshold: float | None, grad_clip: str = "norm") -> None:
    """Clip the gradients of ``optimizer``'s parameters: their global norm to ``threshold`` (``"norm"``) or
    each entry to [-threshold, threshold] (``"value"``); ``threshold=None`` leaves them."""
    if threshold is None:
        return
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if grad_clip == "norm":
        torch.nn.utils.clip_grad_norm_(params, threshold)
    else:
        torch.nn.utils.clip_grad_value_(params, threshold)

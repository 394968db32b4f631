"""Disagreement utilities of MAX (Shyam, Jaskowski & Gomez, ICML 2019, sections 3.2-3.3).

Both are vectorised over a batch of (state, action) queries: the member axis comes first.

- :func:`jensen_shannon`: for categorical predictions, JSD = H(mean_i P_i) - mean_i H(P_i), the expected
  information gain about the model from observing the outcome. It is 0 when the members agree, also
  when they agree on a spread-out distribution (pure noise), and at most log E.
- :func:`jensen_renyi`: for diagonal-Gaussian predictions, the Jensen-Renyi divergence of order 2 in
  closed form, H2(mixture) - mean_i H2(N_i), with
  H2(mixture) = -log[(1/E^2) sum_ij N(mu_i; mu_j, S_i + S_j)] and H2(N(mu, S)) = 1/2 log|S| + d/2 log(4 pi),
  computed in log space.

  Renyi's order-2 entropy is not concave, so this divergence can be negative when members differ in
  variance. Two members with equal means and variances a factor r apart in every dimension give, in one
  dimension, a positive value up to r of about 36 and a negative one beyond (r = 100: -0.088 nats); from
  two dimensions on, any such difference is negative, more so with d (d = 17, r = 2: -1.6 nats). The
  official MAX code pulls the variances towards the largest its models predict before the formula
  (``decay`` 0.1, see :func:`jensen_renyi`): variances inside its log-variance bounds [-5, -1] are then at
  most 1.11x apart, which bounds that negative part (d = 17: -0.042 nats at worst) and leaves the
  utility to the members' means. Nothing is clipped, as in the official code.
- :func:`prediction_error` and :func:`trajectory_variance`: the rewards of the paper's PERX and TVAX
  baselines (section 5.2).
"""

from __future__ import annotations

import math

import torch


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) over the last axis; ``0 log 0 = 0``."""
    return -torch.special.xlogy(probs, probs).sum(-1)


def jensen_shannon(probs: torch.Tensor) -> torch.Tensor:
    """JSD of E categorical predictions per query.

    :param probs: (E, B, K) probabilities; each (member, query) row sums to 1.
    :return: (B,) utilities in nats, in [0, log E].
    """
    if probs.dim() != 3:
        raise ValueError(f"probs must be shaped (E, B, K), got {tuple(probs.shape)}")
    mixture = probs.mean(0)  # (B, K)
    return (entropy(mixture) - entropy(probs).mean(0)).clamp_min(0.0)  # (B,)


# the official MAX code's variance rescaling: its models bound log-variance to [-5, -1]
MAX_LOG_VAR = -1.0


def rescale_variance(var: torch.Tensor, decay: float, max_var: float = math.exp(MAX_LOG_VAR)) -> torch.Tensor:
    """The official MAX code's ``max_var - decay * (max_var - var)``: variances pulled towards ``max_var``.

    ``decay`` 1 leaves ``var`` unchanged; 0 sets every variance to ``max_var``.
    """
    return max_var - decay * (max_var - var)


def jensen_renyi(
    mean: torch.Tensor, var: torch.Tensor, *, decay: float = 1.0, max_var: float = math.exp(MAX_LOG_VAR)
) -> torch.Tensor:
    """Jensen-Renyi divergence of order 2 of E diagonal Gaussians per query.

    :param mean: (E, B, d) member means.
    :param var: (E, B, d) member variances (positive).
    :param decay: rescale the variances first as the official MAX code does (its default 0.1):
        ``var <- max_var - decay * (max_var - var)``. The default 1.0 uses the variances as given.
    :param max_var: the variance that ``decay`` pulls towards: the largest a model predicts (the
        official code's log-variance bound -1 gives exp(-1)). Only used when ``decay`` != 1.
    :return: (B,) utilities in nats; 0 for identical members, negative possible when members differ
        mainly in variance (see the module docstring).
    """
    if mean.dim() != 3 or mean.shape != var.shape:
        raise ValueError(f"mean and var must both be shaped (E, B, d), got {tuple(mean.shape)} and {tuple(var.shape)}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    if decay != 1.0:
        var = rescale_variance(var, decay, max_var)  # (E, B, d)
    E, _, d = mean.shape
    # log N(mu_i; mu_j, S_i + S_j) is symmetric in (i, j): the E (E - 1) / 2 unordered pairs i < j count twice
    # (log 2 added) and the E members with themselves once, E (E + 1) / 2 terms instead of E^2
    first, second = torch.triu_indices(E, E, offset=1, device=mean.device)  # (P,) each, P = E (E - 1) / 2
    diff = mean[first] - mean[second]  # (P, B, d): mu_i - mu_j
    pair_var = var[first] + var[second]  # (P, B, d): S_i + S_j
    constant = d * math.log(2 * math.pi)
    pairs = -0.5 * (constant + pair_var.log().sum(-1) + (diff**2 / pair_var).sum(-1)) + math.log(2)  # (P, B)
    selves = -0.5 * (constant + (2 * var).log().sum(-1))  # (E, B): mu_i = mu_j, S_i + S_i
    h2_mixture = -(torch.logsumexp(torch.cat([selves, pairs]), dim=0) - 2 * math.log(E))  # (B,)
    h2_members = 0.5 * var.log().sum(-1) + 0.5 * d * math.log(4 * math.pi)  # (E, B)
    return h2_mixture - h2_members.mean(0)  # (B,)


def prediction_error(mean: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error of the ensemble's mean prediction: the reward of the reactive PERX baseline (the
    official code's ``PredictionErrorUtilityMeasure``, on normalised states).

    :param mean: (E, B, d) member means.
    :param target: (B, d) what happened, in the same units.
    :return: (B,) ``|| mean_i(mean) - target ||^2``.
    """
    if mean.dim() != 3 or mean.shape[1:] != target.shape:
        raise ValueError(f"mean must be (E, B, d) and target (B, d), got {tuple(mean.shape)} and {tuple(target.shape)}")
    return ((mean.mean(0) - target) ** 2).sum(-1)  # (B,)


def trajectory_variance(changes: torch.Tensor) -> torch.Tensor:
    """Spread of the imagined actors' state changes at one step: the reward of the TVAX baseline (the
    official code's ``TrajectoryStdevUtilityMeasure``). Every actor gets the same value.

    :param changes: (N, d) the N imagined actors' normalised changes of state, each actor following a
        member drawn at random, so the spread mixes the members' disagreement with their noise.
    :return: (N,) the sum over dimensions of the standard deviation across actors.
    """
    if changes.dim() != 2 or changes.shape[0] < 2:
        raise ValueError(f"changes must be (N, d) with N >= 2, got {tuple(changes.shape)}")
    return changes.std(0).sum().expand(changes.shape[0])  # (N,)

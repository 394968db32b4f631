"""The continuous-state forward model of MAX: E diagonal Gaussians over the normalised state change.

Shyam, Jaskowski & Gomez, "Model-Based Active Exploration", ICML 2019, section 4 and the official code's
``models.py``: each member maps the normalised (state, action) to a diagonal Gaussian over the
normalised change of state, with log-variance bounded to [-5, -1]; running (Welford) statistics of
states, actions and changes normalise inputs and targets. Predictions come back in the env's units for
imagined rollouts, and in normalised units for the utilities, as in the official code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from world_models.bootstrap import clip_gradients, fit
from world_models.ensemble import GaussianEnsemble
from world_models.normalizer import RunningNormalizer


class GaussianDynamicsEnsemble(nn.Module):
    """E forward models p_i(s' - s | s, a) = N(mu_i, diag(var_i)) on normalised quantities.

    :param state_dim: size of the state vector d.
    :param action_dim: size of the action vector.
    :param ensemble_size: members E (the official code: 32).
    :param hidden_size: width of each hidden layer (official: 512).
    :param n_hidden_layers: hidden layers per member (official: 4).
    :param activation: ``"swish"`` (official), ``"relu"`` or ``"tanh"``.
    :param min_log_var: lower bound of each member's log-variance (official: -5).
    :param max_log_var: upper bound (official: -1).
    :param init: the members' initial weights, ``"default"`` or ``"xavier"`` (official; see
        :class:`~world_models.ensemble.EnsembleMLP`).
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        ensemble_size: int = 32,
        hidden_size: int = 512,
        n_hidden_layers: int = 4,
        activation: str = "swish",
        min_log_var: float = -5.0,
        max_log_var: float = -1.0,
        init: str = "default",
    ) -> None:
        super().__init__()
        if state_dim < 1 or action_dim < 1:
            raise ValueError(f"state_dim and action_dim must be positive, got {state_dim} and {action_dim}")
        self.state_dim, self.action_dim = state_dim, action_dim
        self.net = GaussianEnsemble(
            ensemble_size,
            state_dim + action_dim,
            out_dim=state_dim,
            hidden_size=hidden_size,
            n_hidden_layers=n_hidden_layers,
            activation=activation,
            min_log_var=min_log_var,
            max_log_var=max_log_var,
            init=init,
        )
        self.state_norm = RunningNormalizer(state_dim)
        self.action_norm = RunningNormalizer(action_dim)
        self.delta_norm = RunningNormalizer(state_dim)

    @property
    def ensemble_size(self) -> int:
        return self.net.ensemble_size

    def update_normalizers(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> None:
        """Add real transitions (B, d), (B, a), (B, d) to the running statistics."""
        self.state_norm.update(states)
        self.action_norm.update(actions)
        self.delta_norm.update(next_states - states)

    def _inputs(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(..., B, d + a) normalised inputs of (..., B, d) states and (..., B, a) actions."""
        return torch.cat([self.state_norm.normalize(states), self.action_norm.normalize(actions)], -1)

    def normalized_prediction(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's mean and variance of the normalised state change, each (E, B, d).

        :param states: (B, d) shared by all members, or (E, B, d) one batch per member.
        :param actions: (B, a) or (E, B, a), as ``states``.
        """
        return self.net.mean_and_var(self._inputs(states, actions))

    def nll(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """(E, B) Gaussian NLL (up to a constant) of the real changes, in normalised units; the inputs are
        (B, ...) shared by all members or (E, B, ...), one batch per member."""
        targets = self.delta_norm.normalize(next_states - states)  # (B, d) or (E, B, d)
        return self.net.nll(self._inputs(states, actions), targets)

    def predict_next(self, states: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's mean and variance of the next state in the env's units, each (E, B, d)."""
        mean, var = self.normalized_prediction(states, actions)  # (E, B, d) each
        std = self.delta_norm.std.to(mean.dtype)  # (d,)
        return states + self.delta_norm.denormalize(mean), var * std**2

    def sample_next(
        self, states: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One imagined step per row, as the official ``Imagination.step``: a member drawn at random per row
        samples the next state from its Gaussian.

        :return: (B, d) next states and every member's normalised (E, B, d) means and variances (for the
            utility).
        """
        mean, var = self.normalized_prediction(states, actions)  # (E, B, d) each
        B = states.shape[0]
        member = torch.randint(self.ensemble_size, (B,), generator=generator, device=states.device)  # (B,)
        rows = torch.arange(B, device=states.device)
        noise = torch.randn(states.shape, generator=generator, device=states.device)  # (B, d)
        delta = mean[member, rows] + var[member, rows].sqrt() * noise  # (B, d) normalised change
        return states + self.delta_norm.denormalize(delta), mean, var


MODEL_LOSSES = ("half_sum", "mean")  # the Gaussian NLL summed over dimensions and halved, or the official mean


def loss_scale(model_loss: str, dims: int) -> float:
    """Factor from :meth:`GaussianDynamicsEnsemble.nll` (half the sum over the ``dims`` target dimensions of
    squared error over variance plus log-variance) to the training loss ``model_loss``: 1 for
    ``"half_sum"``, 2 / dims for ``"mean"``, the mean over dimensions of MAX's official ``Model.loss``
    (Shyam et al. 2019, ``nnaisense/max`` models.py). With Adam the two differ only where the gradients
    are clipped (by value at 5 in the official code) and in Adam's epsilon."""
    if model_loss not in MODEL_LOSSES:
        raise ValueError(f"model_loss must be one of {MODEL_LOSSES}, got {model_loss!r}")
    return 1.0 if model_loss == "half_sum" else 2.0 / dims


def refit_steps(n: int, steps: int | None, epochs: int | None, batch_size: int) -> int:
    """Adam steps of a refit on ``n`` transitions: ``steps``, or ``epochs`` passes of ``batch_size`` (at least 1)."""
    return steps or max(1, epochs * math.ceil(n / batch_size))


def fit_transitions(
    model: GaussianDynamicsEnsemble,
    optimizer: torch.optim.Optimizer,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    weights: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    rng: np.random.Generator,
    max_grad_norm: float | None = 5.0,
    grad_clip: str = "norm",
    scale: float = 1.0,
) -> float:
    """Fit ``model`` to real transitions (N, d), (N, a), (N, d), each member weighting each by its own
    bootstrap weight (E, N) (:func:`world_models.bootstrap.fit`, which documents ``max_grad_norm`` and
    ``grad_clip``); the loss is ``scale`` (:func:`loss_scale`) times the NLL. Returns the last step's
    weighted loss."""

    def nll_fn(index: torch.Tensor | None) -> torch.Tensor:
        if index is None:
            return scale * model.nll(states, actions, next_states)  # (E, N)
        return scale * model.nll(states[index], actions[index], next_states[index])  # (E, b)

    model.train()
    return fit(nll_fn, weights, optimizer, steps=steps, batch_size=batch_size, rng=rng, max_grad_norm=max_grad_norm,
               grad_clip=grad_clip)  # fmt: skip


def fit_shuffled(
    model: GaussianDynamicsEnsemble,
    optimizer: torch.optim.Optimizer,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    max_grad_norm: float | None = 5.0,
    grad_clip: str = "value",
    scale: float = 1.0,
) -> tuple[float, int]:
    """Fit ``model`` as the official ``train_epoch`` and ``Buffer.train_batches`` do: in each of ``epochs``
    passes every member draws its own permutation of all N transitions (N, d), (N, a), (N, d) and steps
    through it ``batch_size`` rows at a time, the members' (E, b) batches in one forward pass; a last
    incomplete batch is dropped unless it is the only one. Every transition weighs 1 (no bootstrap weights:
    the members differ by their initial weights and their data's order). The loss is ``scale`` times the
    members' mean NLL (:meth:`GaussianDynamicsEnsemble.nll`; :func:`loss_scale` gives the official mean over
    dimensions). Returns the last step's loss and the number of steps taken."""
    n, members = len(states), model.ensemble_size
    model.train()
    loss, steps = torch.zeros(()), 0
    for _ in range(epochs):
        order = torch.as_tensor(np.argsort(rng.random((members, n)), axis=1), device=states.device)  # (E, N)
        for start in range(0, n, batch_size):
            end = min(n, start + batch_size)
            if end - start < batch_size and start != 0:
                break
            index = order[:, start:end]  # (E, b): each member's rows
            loss = scale * model.nll(states[index], actions[index], next_states[index]).mean()  # (E, b) -> ()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_gradients(optimizer, max_grad_norm, grad_clip)
            optimizer.step()
            steps += 1
    return float(loss.detach()), steps

"""Adam for a model whose first layer is a lookup table, touching only the rows in use.

MAX's model over counted states (:class:`~world_models.discrete.SeenStatesDynamicsEnsemble`) gives every
(state, action) pair its own first-layer code per member: a table of shape (E, S * A, hidden) of which a
refit uses only the rows of the pairs tried so far. ``torch.optim.Adam`` over that table reads and writes
all of it at every step: in the first 1,066 steps on Taxi-v4 (3,000 pairs) that was 46% of the refits'
time, most of it ``sqrt`` of the second moments, nearly all of them untried pairs' zeros.
:class:`RowSparseAdam` runs Adam on a compact copy of the rows in use and ``torch.optim.Adam`` on the
other (dense) parameters.

It computes the same update as one ``torch.optim.Adam`` over every parameter, as long as the rows left
out have never had a gradient: their moments are then zero and Adam's update of them is exactly zero.
MAX selects the rows of every pair in its memory, which holds from a pair's first transition on, so the
two are equal (``tests/test_row_adam.py`` checks it against ``torch.optim.Adam``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


class RowSparseAdam:
    """Adam (Kingma & Ba, ICLR 2015, as ``torch.optim.Adam`` computes it) over ``dense_params`` and the
    selected rows of ``table``; the interface :func:`world_models.bootstrap.fit` uses (``zero_grad``,
    ``step``, ``param_groups``).

    A refit selects the rows, trains the returned copy, and releases it::

        codes = optimizer.select(rows)  # (E, P, hidden) trainable copy of table[:, rows]
        fit(nll_of(codes), weights, optimizer, steps=10)
        optimizer.release()  # the rows and their moments go back into the table

    :param dense_params: every trained parameter except ``table``.
    :param table: the lookup table, shape (E, N, hidden); rows are along dimension 1.
    :param lr: learning rate of both parts.
    :param betas: Adam's moment decay rates.
    :param eps: Adam's denominator term.
    """

    def __init__(
        self,
        dense_params: Iterable[nn.Parameter],
        table: nn.Parameter,
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if table.dim() != 3:
            raise ValueError(f"table must be shaped (E, N, hidden), got {tuple(table.shape)}")
        self.dense = torch.optim.Adam(dense_params, lr=lr, betas=betas, eps=eps, foreach=True)
        self.table = table
        self.betas = betas
        self.eps = eps
        self.exp_avg = torch.zeros_like(table, requires_grad=False)  # (E, N, hidden) first moments
        self.exp_avg_sq = torch.zeros_like(table, requires_grad=False)  # (E, N, hidden) second moments
        self.steps = 0  # Adam steps taken (its bias correction counts every step, as torch's Adam does)
        self._rows: torch.Tensor | None = None  # (P,) the selected rows
        self._codes: torch.Tensor | None = None  # (E, P, hidden) their trainable copy
        self._moments: tuple[torch.Tensor, torch.Tensor] | None = None  # (E, P, hidden) each

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The dense optimiser's groups, and one holding the selected rows (for gradient clipping)."""
        selected = [{"params": [self._codes]}] if self._codes is not None else []
        return self.dense.param_groups + selected

    def select(self, rows: torch.Tensor) -> torch.Tensor:
        """Start training ``rows`` (P,) of the table; returns their trainable copy (E, P, hidden).

        :param rows: distinct row indices; every row that has ever had a gradient must be among them.
        """
        if self._codes is not None:
            raise RuntimeError("release() the selected rows before selecting others")
        self._rows = rows
        self._codes = self.table.detach()[:, rows].clone().requires_grad_(True)  # (E, P, hidden)
        self._moments = (self.exp_avg[:, rows], self.exp_avg_sq[:, rows])  # copies, (E, P, hidden) each
        return self._codes

    def release(self) -> None:
        """Write the trained rows and their moments back into the table and the moment buffers."""
        if self._codes is None or self._rows is None or self._moments is None:
            raise RuntimeError("no rows are selected")
        with torch.no_grad():
            self.table[:, self._rows] = self._codes.detach()
        self.exp_avg[:, self._rows], self.exp_avg_sq[:, self._rows] = self._moments
        self._rows = self._codes = self._moments = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.dense.zero_grad(set_to_none=set_to_none)
        if self._codes is not None:
            self._codes.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of the dense parameters and of the selected rows (a row without a gradient in
        this step has a zero one: its moments decay and it still moves, as in ``torch.optim.Adam``)."""
        if self._codes is None or self._moments is None:
            raise RuntimeError("select() rows before stepping")
        self.dense.step()
        self.steps += 1
        lr = self.dense.param_groups[0]["lr"]
        beta1, beta2 = self.betas
        grad = self._codes.grad if self._codes.grad is not None else torch.zeros_like(self._codes)
        exp_avg, exp_avg_sq = self._moments
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = lr / (1 - beta1**self.steps)
        denom = (exp_avg_sq.sqrt() / (1 - beta2**self.steps) ** 0.5).add_(self.eps)
        self._codes.addcdiv_(exp_avg, denom, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain values (loads with ``torch.load(weights_only=True)``)."""
        return {
            "dense": self.dense.state_dict(),
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
            "steps": self.steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`, or the state of one ``torch.optim.Adam`` over ``[table, *dense_params]``
        (what MAX's checkpoints held before this optimiser existed)."""
        if "dense" not in state:  # torch.optim.Adam's state, the table being its parameter 0
            group = state["param_groups"][0]
            table_state = state["state"].get(0, {})
            dense_state = {i - 1: s for i, s in state["state"].items() if i != 0}
            dense_group = {**group, "params": list(range(len(group["params"]) - 1))}
            state = {
                "dense": {"state": dense_state, "param_groups": [dense_group]},
                "exp_avg": table_state.get("exp_avg", torch.zeros_like(self.table)),
                "exp_avg_sq": table_state.get("exp_avg_sq", torch.zeros_like(self.table)),
                "steps": int(table_state.get("step", 0)),
            }
        if state["exp_avg"].shape != self.table.shape:
            raise ValueError(
                f"moments of shape {tuple(state['exp_avg'].shape)} do not fit the table's {tuple(self.table.shape)}"
            )
        self.dense.load_state_dict(state["dense"])
        self.exp_avg = state["exp_avg"].to(self.table.device).clone()
        self.exp_avg_sq = state["exp_avg_sq"].to(self.table.device).clone()
        self.steps = int(state["steps"])

"""Ensembles of forward models that run all members in one batched matmul.

Following the official code of MAX (Shyam, Jaskowski & Gomez, "Model-Based Active Exploration", ICML
2019), every layer holds one weight tensor shaped ``(E, in, out)`` and evaluates all E members with a
single ``torch.baddbmm``; there is no Python loop over members. Inputs and outputs carry the member
axis first: ``(E, B, features)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vision_tools.sparse_vd import EnsembleLinearSVDO

ACTIVATIONS = {"swish": F.silu, "relu": F.relu, "tanh": torch.tanh, "leaky_relu": F.leaky_relu}


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


LAYER_INITS = ("uniform", "xavier_uniform", "xavier_normal", "orthogonal")
MLP_INITS = ("default", "xavier", "orthogonal")


class EnsembleLinear(nn.Module):
    """E independent affine maps applied in one ``torch.baddbmm``.

    :param ensemble_size: number of members E.
    :param in_features: input width.
    :param out_features: output width.
    :param init_scale: with ``init="uniform"``, weights and biases are drawn from U(-k, k) with
        ``k = init_scale / sqrt(in)`` (``init_scale=1`` is ``nn.Linear``'s default). A larger scale on a
        one-hot input layer keeps the members' codes of unseen inputs far apart.
    :param init: ``"uniform"`` (as above), or each member's weights Xavier-uniform (U(-b, b),
        ``b = sqrt(6 / (in + out))``) or Xavier-normal (std ``sqrt(2 / (in + out))``) with zero biases, as
        the MAX authors' ``EnsembleDenseLayer`` initialises its swish and linear layers, or each member's
        (in, out) weight matrix orthogonal with zero biases (their SAC's ``init_weights``).
    """

    def __init__(
        self, ensemble_size: int, in_features: int, *, out_features: int, init_scale: float = 1.0,
        init: str = "uniform",
    ) -> None:  # fmt: skip
        super().__init__()
        for name, value in (("ensemble_size", ensemble_size), ("in_features", in_features)):
            _check_positive_int(name, value)
        _check_positive_int("out_features", out_features)
        if init not in LAYER_INITS:
            raise ValueError(f"init must be one of {LAYER_INITS}, got {init!r}")
        self.ensemble_size = ensemble_size
        self.in_features = in_features
        self.out_features = out_features
        self.init_scale = init_scale
        self.init = init
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))  # (E, in, out)
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features))  # (E, 1, out)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weights and biases again as ``init`` says."""
        fan = self.in_features + self.out_features
        if self.init == "uniform":
            bound = self.init_scale / math.sqrt(self.in_features)
            nn.init.uniform_(self.weight, -bound, bound)
            nn.init.uniform_(self.bias, -bound, bound)
            return
        if self.init == "xavier_uniform":
            bound = math.sqrt(6.0 / fan)
            nn.init.uniform_(self.weight, -bound, bound)
        elif self.init == "orthogonal":
            for member in self.weight.data:  # (in, out) each
                nn.init.orthogonal_(member)
        else:  # xavier_normal
            nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / fan))
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (E, B, in) -> (E, B, out)."""
        return torch.baddbmm(self.bias, x, self.weight)  # (E, B, out)

    def extra_repr(self) -> str:
        return f"ensemble_size={self.ensemble_size}, in_features={self.in_features}, out_features={self.out_features}"


class EnsembleMLP(nn.Module):
    """E multilayer perceptrons evaluated together: ``n_hidden_layers`` hidden layers of ``hidden_size``.

    :param ensemble_size: number of members E.
    :param in_features: input width.
    :param out_features: output width of the last layer.
    :param hidden_size: width of every hidden layer.
    :param n_hidden_layers: number of hidden layers (0 gives E linear models).
    :param activation: ``"swish"`` (MAX's choice), ``"relu"``, ``"tanh"`` or ``"leaky_relu"`` (the authors' SAC).
    :param input_init_scale: ``init_scale`` of the first layer (see :class:`EnsembleLinear`).
    :param init: ``"default"`` (``nn.Linear``'s uniform draw), ``"xavier"`` (the MAX authors' model:
        Xavier-uniform hidden layers, a Xavier-normal output layer, zero biases) or ``"orthogonal"`` (their
        SAC: orthogonal weights, zero biases).
    :param sparse: build the layers as Sparse Variational Dropout layers
        (:class:`vision_tools.sparse_vd.EnsembleLinearSVDO`); train with their KL term.
    :param sparse_first_layer: with ``sparse``, make the first layer sparse too (``False`` keeps it dense).
    """

    def __init__(
        self,
        ensemble_size: int,
        in_features: int,
        *,
        out_features: int,
        hidden_size: int = 64,
        n_hidden_layers: int = 1,
        activation: str = "swish",
        input_init_scale: float = 1.0,
        sparse: bool = False,
        sparse_first_layer: bool = True,
        init: str = "default",
    ) -> None:
        super().__init__()
        if init not in MLP_INITS:
            raise ValueError(f"init must be one of {MLP_INITS}, got {init!r}")
        if init != "default" and sparse:
            raise ValueError(f"init={init!r} is for dense layers: pass sparse=False")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if n_hidden_layers < 0:
            raise ValueError(f"n_hidden_layers must be >= 0, got {n_hidden_layers}")
        _check_positive_int("hidden_size", hidden_size)
        widths = [in_features] + [hidden_size] * n_hidden_layers + [out_features]

        def layer_class(i: int) -> type[nn.Module]:
            return EnsembleLinearSVDO if sparse and (i > 0 or sparse_first_layer) else EnsembleLinear

        last = len(widths) - 2

        def layer_init(i: int) -> dict[str, str]:
            if init == "default":
                return {}
            if init == "orthogonal":
                return {"init": "orthogonal"}
            return {"init": "xavier_normal" if i == last else "xavier_uniform"}

        self.layers = nn.ModuleList(
            layer_class(i)(
                ensemble_size, w_in, out_features=w_out, init_scale=input_init_scale if i == 0 else 1.0, **layer_init(i)
            )  # fmt: skip
            for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:], strict=True))
        )
        self.sparse = sparse
        self.activation = activation
        self.ensemble_size = ensemble_size
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (E, B, in), or (B, in) shared by all members -> (E, B, out)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.ensemble_size, -1, -1)  # (E, B, in), no copy
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))  # (E, B, hidden)
        return self.layers[-1](x)  # (E, B, out)

    def forward_one_hot(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """``forward(one_hot(rows))[..., columns]`` at a cost that grows with ``len(rows)`` and
        ``len(columns)``, not with the input and output widths: the first layer of a one-hot input is a
        row lookup in its weights, and only the asked-for output columns are computed.

        :param rows: (B,) indices of the inputs' hot entries.
        :param columns: (C,) output columns to compute.
        :return: (E, B, C).
        """
        if self.sparse:
            raise ValueError("forward_one_hot needs dense layers (sparse=False)")
        first = self.layers[0]
        if len(self.layers) == 1:
            weight = first.weight[:, :, columns]  # (E, in, C)
            return weight[:, rows, :] + first.bias[:, :, columns]  # (E, B, C)
        return self.forward_codes(first.weight[:, rows, :], columns)  # (E, B, C)

    def forward_codes(self, codes: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """:meth:`forward_one_hot` from the first layer's looked-up rows: ``codes`` (E, B, hidden) are
        ``layers[0].weight[:, rows, :]`` (or a trainable copy of them, see
        :class:`~world_models.row_adam.RowSparseAdam`). Needs at least one hidden layer.

        :param codes: (E, B, hidden) the first layer's weight rows of the inputs' hot entries.
        :param columns: (C,) output columns to compute.
        :return: (E, B, C).
        """
        if len(self.layers) < 2:
            raise ValueError("forward_codes needs at least one hidden layer")
        act, last = ACTIVATIONS[self.activation], self.layers[-1]
        x = act(codes + self.layers[0].bias)  # (E, B, hidden)
        for layer in self.layers[1:-1]:
            x = act(layer(x))  # (E, B, hidden)
        return torch.baddbmm(last.bias[:, :, columns], x, last.weight[:, :, columns])  # (E, B, C)


class CategoricalEnsemble(EnsembleMLP):
    """Each member predicts a categorical distribution over ``n_classes`` outcomes (next states).

    ``forward`` returns logits (E, B, n_classes); :meth:`probs` their softmax.
    """

    def __init__(self, ensemble_size: int, in_features: int, *, n_classes: int, **mlp_kwargs) -> None:
        super().__init__(ensemble_size, in_features, out_features=n_classes, **mlp_kwargs)
        self.n_classes = n_classes

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """(E, B, n_classes) predicted probabilities."""
        return torch.softmax(self(x), dim=-1)

    def nll(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of integer ``targets`` (B,) under each member: (E, B)."""
        log_p = torch.log_softmax(self(x), dim=-1)  # (E, B, K)
        index = targets.view(1, -1, 1).expand(self.ensemble_size, -1, 1)  # (E, B, 1)
        return -log_p.gather(-1, index).squeeze(-1)  # (E, B)


class GaussianEnsemble(EnsembleMLP):
    """Each member predicts a diagonal Gaussian over ``out_dim`` targets (MAX's continuous model).

    The log-variance is squashed into ``[min_log_var, max_log_var]`` with a sigmoid; MAX's official
    code bounds it to [-5, -1] on normalised state changes.
    """

    def __init__(
        self,
        ensemble_size: int,
        in_features: int,
        *,
        out_dim: int,
        min_log_var: float = -5.0,
        max_log_var: float = -1.0,
        **mlp_kwargs,
    ) -> None:
        if not min_log_var < max_log_var:
            raise ValueError(f"min_log_var must be below max_log_var, got {min_log_var} >= {max_log_var}")
        super().__init__(ensemble_size, in_features, out_features=2 * out_dim, **mlp_kwargs)
        self.out_dim = out_dim
        self.min_log_var = min_log_var
        self.max_log_var = max_log_var

    def mean_and_var(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and variances, each (E, B, out_dim)."""
        mean, raw = self(x).chunk(2, dim=-1)  # (E, B, d) each
        log_var = self.min_log_var + (self.max_log_var - self.min_log_var) * torch.sigmoid(raw)  # (E, B, d)
        return mean, log_var.exp()

    def nll(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Gaussian negative log-likelihood of ``targets`` under each member, up to a constant: (E, B).

        :param x: (B, in) shared inputs or (E, B, in), one batch per member.
        :param targets: (B, d) shared targets or (E, B, d), one batch per member.
        """
        mean, var = self.mean_and_var(x)  # (E, B, d)
        targets = targets.unsqueeze(0) if targets.dim() == 2 else targets  # (1 or E, B, d)
        return 0.5 * (((targets - mean) ** 2) / var + var.log()).sum(-1)  # (E, B)

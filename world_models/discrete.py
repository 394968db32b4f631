"""An ensemble forward model for discrete states and actions, and its exploration MDP.

Each member maps a (state, action) pair to a categorical distribution over next states, as MAX does
on the chain (Shyam, Jaskowski & Gomez, ICML 2019, section 4.1). By default (``inputs="pair"``) the pair
enters as a one-hot vector over all S*A pairs, so the first layer gives every pair its own learned code
per member: a pair never tried keeps its random codes and the members keep disagreeing on it, which is
MAX's novelty signal. ``inputs="factored"`` feeds a one-hot state concatenated with a one-hot action
(S + A inputs), so pairs share the codes of their state and of their action.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from world_models.ensemble import CategoricalEnsemble
from world_models.utilities import jensen_shannon

INPUT_CODINGS = ("pair", "factored")
STATE_SETS = ("all", "observed")  # what MAX's members predict over: every index, or the states seen so far


class DiscreteDynamicsEnsemble(nn.Module):
    """E categorical forward models P_i(s' | s, a) over ``n_states`` states and ``n_actions`` actions.

    :param n_states: number of states S.
    :param n_actions: number of actions A.
    :param ensemble_size: number of members E.
    :param hidden_size: width of each hidden layer.
    :param n_hidden_layers: number of hidden layers.
    :param activation: hidden activation (``"swish"``, ``"relu"``, ``"tanh"``).
    :param code_scale: the first layer's weights, which are each pair's code in each member, are drawn
        from U(-code_scale, code_scale) whatever S*A is. Codes this large make untrained members disagree
        (DESIGN.md: "untrained members disagree everywhere"), and a pair that is never tried keeps its
        random codes, so its utility stays high until it is visited.
    :param inputs: ``"pair"`` (one-hot over the S*A pairs, one code per pair) or ``"factored"`` (one-hot
        state concatenated with one-hot action, S + A inputs).
    :param sparse: Sparse Variational Dropout for every layer after the first. The first layer stays
        dense: it is a table of per-pair codes, and the codes of untried pairs get no data gradient, only
        the KL's, so Adam would prune them within a few hundred steps and erase exactly the disagreement
        that makes untried pairs interesting (measured: 31-34 episodes instead of 7-8 on the 10-state
        chain).
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        ensemble_size: int = 5,
        hidden_size: int = 64,
        n_hidden_layers: int = 1,
        activation: str = "swish",
        code_scale: float = 1.0,
        inputs: str = "pair",
        sparse: bool = False,
    ) -> None:
        super().__init__()
        if inputs not in INPUT_CODINGS:
            raise ValueError(f"inputs must be one of {INPUT_CODINGS}, got {inputs!r}")
        self.n_states = n_states
        self.n_actions = n_actions
        self.inputs = inputs
        n_in = n_states * n_actions if inputs == "pair" else n_states + n_actions
        self.net = CategoricalEnsemble(
            ensemble_size,
            n_in,
            n_classes=n_states,
            hidden_size=hidden_size,
            n_hidden_layers=n_hidden_layers,
            activation=activation,
            input_init_scale=code_scale * n_in**0.5,
            sparse=sparse,
            sparse_first_layer=False,
        )

    @property
    def ensemble_size(self) -> int:
        return self.net.ensemble_size

    def features(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """(B,) states and (B,) actions -> (B, S*A) one-hot pairs, or (B, S + A) one-hot state and action."""
        dtype = self.net.layers[0].bias.dtype
        if self.inputs == "pair":
            pair = states * self.n_actions + actions  # (B,)
            return F.one_hot(pair, self.n_states * self.n_actions).to(dtype)  # (B, S*A)
        state_code = F.one_hot(states, self.n_states)  # (B, S)
        action_code = F.one_hot(actions, self.n_actions)  # (B, A)
        return torch.cat([state_code, action_code], -1).to(dtype)  # (B, S + A)

    def nll(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """(E, B) negative log-likelihood of the observed next states under each member."""
        return self.net.nll(self.features(states, actions), next_states)

    def probs_all_pairs(self) -> torch.Tensor:
        """(E, S*A, S) every member's next-state distribution for every pair, row ``s * A + a``."""
        device = self.net.layers[0].bias.device
        pairs = torch.arange(self.n_states * self.n_actions, device=device)  # (S*A,) row s * A + a
        states, actions = pairs // self.n_actions, pairs % self.n_actions  # (S*A,) each
        return self.net.probs(self.features(states, actions))  # (E, S*A, S)

    @torch.no_grad()
    def exploration_mdp(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The exploration MDP: (S, A, S) mean-of-members transitions and (S, A) JSD utilities."""
        probs = self.probs_all_pairs()  # (E, S*A, S)
        S, A = self.n_states, self.n_actions
        transitions = probs.mean(0).view(S, A, S)  # (S, A, S)
        utility = jensen_shannon(probs).view(S, A)  # (S, A)
        return transitions, utility


class SeenStatesDynamicsEnsemble(nn.Module):
    """E categorical forward models that know only the states seen so far.

    Each member predicts, for a (state, action) pair, a distribution over the K states observed so far
    plus one outcome "a state not seen yet" (UNSEEN, column ``n_states`` of the output). Probability
    is never spread over state indices that never occurred (cells behind walls, unreachable corners), so
    the exploration MDP built from it has K + 1 states and its utility is never credited to phantom
    states. The new outcome carries the novelty: untried pairs, whose members disagree on it and on the
    seen states, keep a high Jensen-Shannon utility, as in :class:`DiscreteDynamicsEnsemble`.

    The weights span the whole index space (one input code per (state, action) pair, ``n_states + 1``
    outputs), but every forward pass looks up only the rows of the pairs asked for and computes only the
    columns of the seen states (:meth:`EnsembleMLP.forward_one_hot`), so a refit costs O(transitions x K)
    and the exploration MDP O(K x A x K), however large ``n_states`` is.

    :param n_states: size of the state index space S.
    :param n_actions: number of actions A.
    :param ensemble_size: number of members E.
    :param hidden_size: width of each hidden layer.
    :param n_hidden_layers: number of hidden layers (at least 1).
    :param activation: hidden activation (``"swish"``, ``"relu"``, ``"tanh"``).
    :param code_scale: each pair's first-layer code is drawn from U(-code_scale, code_scale).
    """

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        *,
        ensemble_size: int = 5,
        hidden_size: int = 64,
        n_hidden_layers: int = 1,
        activation: str = "swish",
        code_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if n_hidden_layers < 1:
            raise ValueError(f"n_hidden_layers must be at least 1, got {n_hidden_layers}")
        self.n_states = n_states
        self.n_actions = n_actions
        self.net = CategoricalEnsemble(
            ensemble_size,
            n_states * n_actions,
            n_classes=n_states + 1,  # the last class: a state not seen yet
            hidden_size=hidden_size,
            n_hidden_layers=n_hidden_layers,
            activation=activation,
            input_init_scale=code_scale * (n_states * n_actions) ** 0.5,
        )
        self.register_buffer("seen", torch.zeros(n_states, dtype=torch.bool))  # (S,) states observed so far

    @property
    def ensemble_size(self) -> int:
        return self.net.ensemble_size

    def mark_seen(self, states: torch.Tensor) -> None:
        """Record that ``states`` (any shape of state indices) occurred."""
        self.seen[states.reshape(-1)] = True

    def seen_states(self) -> torch.Tensor:
        """(K,) the seen state indices, ascending; their order is the exploration MDP's state order."""
        return self.seen.nonzero().squeeze(1)

    def _columns(self, seen: torch.Tensor) -> torch.Tensor:
        """(K + 1,) output columns: the (K,) ``seen`` states, then UNSEEN."""
        return torch.cat([seen, torch.tensor([self.n_states], device=seen.device)])

    def nll(self, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """(E, B) negative log-likelihood of the observed next states (which must be marked seen)."""
        codes = self.code_table[:, states * self.n_actions + actions]  # (E, B, hidden)
        return self.nll_of_codes(codes, next_states)

    @property
    def code_table(self) -> torch.Tensor:
        """(E, S * A, hidden) the first layer's weights: row ``s * A + a`` is each member's code of (s, a)."""
        return self.net.layers[0].weight

    def nll_of_codes(self, codes: torch.Tensor, next_states: torch.Tensor) -> torch.Tensor:
        """:meth:`nll` from the pairs' rows of :attr:`code_table` (or a trainable copy of them, see
        :class:`~world_models.row_adam.RowSparseAdam`).

        :param codes: (E, B, hidden) each transition's pair code in each member.
        :param next_states: (B,) observed next states (marked seen).
        :return: (E, B).
        """
        columns = self._columns(self.seen_states())  # (K + 1,)
        local = torch.cumsum(self.seen, 0) - 1  # (S,) position of each seen state among the columns
        logits = self.net.forward_codes(codes, columns)  # (E, B, K + 1)
        log_p = torch.log_softmax(logits, -1)  # (E, B, K + 1)
        index = local[next_states].view(1, -1, 1).expand(self.ensemble_size, -1, 1)  # (E, B, 1)
        return -log_p.gather(-1, index).squeeze(-1)  # (E, B)

    def probs_seen_pairs(self, seen: torch.Tensor | None = None) -> torch.Tensor:
        """(E, K * A, K + 1) every member's prediction for every pair of a seen state, row ``k * A + a``.

        :param seen: :meth:`seen_states`, when the caller has it already.
        """
        seen = self.seen_states() if seen is None else seen  # (K,)
        actions = torch.arange(self.n_actions, device=seen.device)  # (A,)
        pairs = (seen.unsqueeze(1) * self.n_actions + actions).reshape(-1)  # (K * A,)
        return torch.softmax(self.net.forward_one_hot(pairs, self._columns(seen)), -1)  # (E, K * A, K + 1)

    @torch.no_grad()
    def exploration_mdp(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The exploration MDP over the seen states and UNSEEN (absorbing, utility 0: nothing is known
        of what lies there, so no plan is built on it).

        :return: the (K,) seen states (MDP state k is ``states[k]``, state K is UNSEEN),
            (K + 1, A, K + 1) mean-of-members transitions and (K + 1, A) JSD utilities.
        """
        seen = self.seen_states()  # (K,)
        probs = self.probs_seen_pairs(seen)  # (E, K * A, K + 1)
        K, A = len(seen), self.n_actions
        transitions = torch.zeros(K + 1, A, K + 1, device=probs.device)  # (K + 1, A, K + 1)
        transitions[:K] = probs.mean(0).view(K, A, K + 1)
        transitions[K, :, K] = 1.0  # UNSEEN stays UNSEEN
        utility = torch.zeros(K + 1, A, device=probs.device)  # (K + 1, A)
        if K:
            utility[:K] = jensen_shannon(probs).view(K, A)
        return seen, transitions, utility

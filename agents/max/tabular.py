"""MAX's planner for counted states: exact value iteration in the exploration MDP.

MAX (Shyam, Jaskowski & Gomez, "Model-Based Active Exploration", ICML 2019): fit a bootstrapped
ensemble of forward models to everything seen so far, score each (state, action) by how much the
members disagree about its outcome (the Jensen-Shannon divergence of their predictions, the expected
information gain), and act by planning in that imagined exploration MDP. Here the MDP is small and
discrete, so it is solved exactly by value iteration over the steps left in the episode.

The interface is Stable-Baselines3's (``learn``, ``predict``, ``save``, ``load``, callbacks, logger);
checkpoints hold only tensors and plain values and load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.type_aliases import GymEnv
from torch.nn import functional as F

from agents.checkpoint import env_identity
from agents.max.base import MAX
from agents.tabular_explorer import (
    DEFAULT_PLANNING_HORIZON,
    TabularExplorer,
    planned_horizon,
    steps_to_plan,
)
from vision_tools.sparse_vd import kl_divergence, kl_weight, record_sparsity
from world_models.bootstrap import BOOTSTRAP_SCHEMES, bootstrap_weights, fit
from world_models.denormals import flushed_denormals
from world_models.discrete import INPUT_CODINGS, STATE_SETS, DiscreteDynamicsEnsemble, SeenStatesDynamicsEnsemble
from world_models.exploration_mdp import value_iteration
from world_models.row_adam import RowSparseAdam
from world_models.transition_memory import TransitionMemory

logger = logging.getLogger(__name__)


class TabularMAX(MAX, TabularExplorer):
    """Model-Based Active Exploration on Discrete observation and action spaces (``MAX(env)`` builds this
    planner for a Discrete observation space).

    Every ``train_freq`` real steps the ensemble is refit on all data (``gradient_steps`` Adam steps,
    each member weighting each transition by its own bootstrap draw), the exploration MDP is rebuilt
    (transitions: mean of the members; reward: JSD utility) and solved by value iteration over the
    steps left in the episode; actions are greedy on that solution, ties broken at random. Adam updates
    only the codes of the pairs tried so far (:class:`~world_models.row_adam.RowSparseAdam`, the same
    update as Adam over every pair) and value iteration runs only as far as the steps left.

    :param env: the environment (or its registered id); Discrete observations (the state) and actions.
    :param ensemble_size: number of forward models E.
    :param hidden_size: width of each member's hidden layers.
    :param n_hidden_layers: hidden layers per member.
    :param activation: ``"swish"`` (as MAX), ``"relu"`` or ``"tanh"``.
    :param code_scale: the members' random codes of (state, action) pairs are drawn from
        U(-code_scale, code_scale); larger keeps the predictions for unvisited pairs further apart.
    :param states: what the members predict over: ``"observed"`` (the default: the states seen so far plus
        one "not seen yet" outcome, see :class:`~world_models.discrete.SeenStatesDynamicsEnsemble`), so no
        utility is credited to indices that never occur and refits and plans cost O(seen states), or
        ``"all"`` (every index of the observation space; needed by ``inputs="factored"`` and ``sparse``).
    :param inputs: how a (state, action) pair enters the members: ``"pair"`` (one-hot over all pairs, one
        code per pair, the default) or ``"factored"`` (one-hot state concatenated with one-hot action).
    :param learning_rate: Adam learning rate of the ensemble.
    :param gradient_steps: Adam steps per refit.
    :param batch_size: distinct transitions drawn per gradient step besides those new since the last refit,
        which are in every step; the drawn ones are weighted to stand for all the others (a stratified
        estimate of the full-batch loss). ``None`` (the default) uses all of them in every step, which costs
        O(distinct transitions x states seen) per step. Minibatches are a faster option that was measured on
        Taxi-v4 only together with ``refit_tolerance`` (docs/BENCHMARKS.md, "MAX's cost on counted states").
    :param train_freq: refit and re-plan every this many real steps.
    :param refit_tolerance: ``None`` (the default) refits on schedule whatever the data, as MAX was
        published. A value skips a refit (and the re-plan) when every step since the last one repeated a
        (s, a, s') seen before whose outcome every member already predicts with probability at least
        ``1 - refit_tolerance``; a new transition, a surprising outcome or a member still unsure refits.
        A faster option that explores worse where it matters: on the chain (L = 50 to 200, 5 layouts) the
        same episodes with 2-3x fewer refits, but on Taxi-v4 1e-3 needed 37 and 44 episodes on seeds 0-1, and 1e-5
        with ``batch_size=256`` 28, 37 and 92 on seeds 0-2, against 28-35 refitting at every step.
    :param learning_starts: uniformly random actions for this many steps before planning starts.
    :param bootstrap: ``"bayesian"`` (Exponential(1) weights, the default), ``"poisson"``, ``"bernoulli"`` or
        ``"none"`` (see :mod:`world_models.bootstrap`).
    :param planning_horizon: steps to plan over; ``None`` plans over the steps left in the episode, read
        from the env's ``horizon`` attribute or ``spec.max_episode_steps``. When the env states neither
        (an env without a ``TimeLimit``), MAX plans over ``DEFAULT_PLANNING_HORIZON`` (100) steps until an
        episode ends, then over the longest episode seen so far (at most ``MAX_PLANNING_HORIZON``,
        1000), and logs the horizon it uses whenever it changes.
    :param sparse: build the ensemble from Sparse Variational Dropout layers (Molchanov et al. 2017) and
        add their KL, divided by the number of real transitions, to the loss; the kept-weight fraction
        is logged as ``sparsity/kept_fraction`` and ``sparsity/compression``.
    :param kl_anneal_steps: gradient steps over which the KL weight rises from 0 to 1 (``sparse`` only).
    :param tensorboard_log: folder for TensorBoard runs (``None``: no TensorBoard).
    :param seed: seed of every random choice (initialisation, bootstrap draws, tie-breaking, the env).
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param verbose: 0 silent, 1 SB3's console logger.
    :param stats_window_size: episodes averaged in ``rollout/ep_rew_mean``.
    :param log_interval: dump the logger every this many episodes.
    """

    def __init__(
        self,
        env: GymEnv | str,
        *,
        ensemble_size: int = 5,
        hidden_size: int = 64,
        n_hidden_layers: int = 1,
        activation: str = "swish",
        code_scale: float = 1.0,
        inputs: str = "pair",
        states: str = "observed",
        learning_rate: float = 3e-2,
        gradient_steps: int = 10,
        batch_size: int | None = None,
        train_freq: int = 1,
        refit_tolerance: float | None = None,
        learning_starts: int = 0,
        bootstrap: str = "bayesian",
        planning_horizon: int | None = None,
        sparse: bool = False,
        kl_anneal_steps: int = 1000,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        stats_window_size: int = 100,
        log_interval: int = 1,
    ) -> None:
        for name, value in (
            ("ensemble_size", ensemble_size),
            ("hidden_size", hidden_size),
            ("gradient_steps", gradient_steps),
            ("train_freq", train_freq),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if ensemble_size < 2:
            raise ValueError(f"ensemble_size must be at least 2 (disagreement needs two members), got {ensemble_size}")
        if bootstrap not in BOOTSTRAP_SCHEMES:
            raise ValueError(f"bootstrap must be one of {BOOTSTRAP_SCHEMES}, got {bootstrap!r}")
        if inputs not in INPUT_CODINGS:
            raise ValueError(f"inputs must be one of {INPUT_CODINGS}, got {inputs!r}")
        if states not in STATE_SETS:
            raise ValueError(f"states must be one of {STATE_SETS}, got {states!r}")
        if states == "observed" and (inputs != "pair" or sparse or n_hidden_layers < 1):
            raise ValueError(
                "states='observed' (the default) needs inputs='pair', sparse=False and n_hidden_layers >= 1; "
                "pass states='all' for the factored input, the sparse ensemble or a linear model"
            )
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        if learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {learning_starts}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be positive or None, got {batch_size}")
        if refit_tolerance is not None and not 0 < refit_tolerance < 1:
            raise ValueError(f"refit_tolerance must be in (0, 1) or None, got {refit_tolerance!r}")
        if planning_horizon is not None and planning_horizon < 1:
            raise ValueError(f"planning_horizon must be positive or None, got {planning_horizon}")

        super().__init__(
            env,
            learning_rate=learning_rate,
            tensorboard_log=tensorboard_log,
            seed=seed,
            device=device,
            verbose=verbose,
            stats_window_size=stats_window_size,
            log_interval=log_interval,
        )
        self.ensemble_size = ensemble_size
        self.hidden_size = hidden_size
        self.n_hidden_layers = n_hidden_layers
        self.activation = activation
        self.code_scale = code_scale
        self.inputs = inputs
        self.states = states
        self.gradient_steps = gradient_steps
        self.batch_size = batch_size
        self.train_freq = train_freq
        self.refit_tolerance = refit_tolerance
        self.learning_starts = learning_starts
        self.bootstrap = bootstrap
        self.planning_horizon = planning_horizon
        self.sparse = sparse
        self.kl_anneal_steps = kl_anneal_steps
        self._setup_model()

    # ------------------------------------------------------------------ set-up
    def _setup_model(self) -> None:
        super()._setup_model()
        members = {
            "ensemble_size": self.ensemble_size,
            "hidden_size": self.hidden_size,
            "n_hidden_layers": self.n_hidden_layers,
            "activation": self.activation,
            "code_scale": self.code_scale,
        }
        if self.states == "observed":
            self.ensemble = SeenStatesDynamicsEnsemble(self.n_states, self.n_actions, **members).to(self.device)
        else:
            self.ensemble = DiscreteDynamicsEnsemble(
                self.n_states, self.n_actions, inputs=self.inputs, sparse=self.sparse, **members
            ).to(self.device)
        self._local = np.arange(self.n_states)  # (S,) each state's row in the plan (states="observed": K = unseen)
        if self.states == "observed":  # Adam on the tried pairs' codes only (the same update, see RowSparseAdam)
            table = self.ensemble.code_table
            dense = [p for p in self.ensemble.parameters() if p is not table]
            self.optimizer = RowSparseAdam(dense, table, lr=self.learning_rate)
        else:
            self.optimizer = torch.optim.Adam(self.ensemble.parameters(), lr=self.learning_rate, foreach=True)
        self._news = False  # whether a step since the last refit brought something the model did not predict
        self._fitted_rows = 0  # distinct transitions at the last refit: later ones are in every minibatch
        # distinct real transitions and each member's summed bootstrap weight of each: (U, 3), (E, U)
        self.memory = TransitionMemory(self.ensemble_size)
        if self.planning_horizon is None and self.episode_limit is None and self.env is not None:
            logger.info(
                "%s states no episode length: MAX plans over %d steps until an episode ends, then over the "
                "longest episode seen (pass planning_horizon to fix it)",
                (env_identity(self.env) or {"id": "the env"})["id"],
                DEFAULT_PLANNING_HORIZON,
            )
        self.last_nll = float("nan")
        self.utility: np.ndarray | None = None  # (S, A) utility of the last plan
        self._mdp: tuple[torch.Tensor, torch.Tensor] | None = None  # the last exploration MDP: transitions, utility
        self._q: np.ndarray | None = None  # (levels, S or K+1, A) its solution for 1..levels steps left
        self._planned_horizon: int | None = None  # the horizon of the last plan (logged when it changes)
        self._replan()

    # ------------------------------------------------------------------ data
    def _store(self, state: int, action: int, next_state: int) -> bool:
        """Add one real transition; returns whether the (s, a, s') triple is new. Repeats of a triple share
        one row whose bootstrap weights add up, so a refit costs the same whatever the number of steps; the
        weighted loss is unchanged."""
        draw = bootstrap_weights(1, self.ensemble_size, self.bootstrap, self.rng)[:, 0]  # (E,)
        if self.states == "observed":
            self.ensemble.mark_seen(torch.tensor([state, next_state], device=self.device))
        return self.memory.add(state, action, next_state, draw)

    @torch.no_grad()
    def _predicted(self, state: int, action: int, next_state: int) -> bool:
        """Whether every member gives the observed outcome a probability of at least 1 - refit_tolerance."""
        assert self.refit_tolerance is not None
        s, a, s2 = (torch.tensor([x], device=self.device) for x in (state, action, next_state))  # (1,) each
        self.ensemble.eval()
        nll = self.ensemble.nll(s, a, s2)  # (E, 1)
        return bool((nll <= -np.log1p(-self.refit_tolerance)).all())

    # ------------------------------------------------------------------ model and plan
    def train(self) -> float:
        """Refit the ensemble on all transitions so far; returns the weighted NLL of the last step."""
        if self.memory.n_unique == 0:
            return float("nan")
        triples = torch.as_tensor(self.memory.triples, device=self.device)  # (U, 3)
        states, actions, next_states = triples.unbind(1)  # (U,) each
        weights = torch.as_tensor(self.memory.weights, device=self.device)  # (E, U)
        if isinstance(self.optimizer, RowSparseAdam):  # train a copy of the tried pairs' codes only
            rows, row_of = torch.unique(states * self.n_actions + actions, return_inverse=True)  # (P,), (U,)
            codes = self.optimizer.select(rows)  # (E, P, hidden)

            def nll_of(i: torch.Tensor | slice) -> torch.Tensor:
                return self.ensemble.nll_of_codes(codes[:, row_of[i]], next_states[i])  # (E, b)

        else:

            def nll_of(i: torch.Tensor | slice) -> torch.Tensor:
                return self.ensemble.nll(states[i], actions[i], next_states[i])  # (E, b)

        def nll_fn(index: torch.Tensor | None) -> torch.Tensor:
            return nll_of(slice(None) if index is None else index)  # (E, U) or (E, b)

        penalty = None
        if self.sparse:  # the SGVLB divided by N: mean NLL + w * KL / N
            weight = kl_weight(self._n_updates, self.kl_anneal_steps) / float(self.visits.sum())

            def penalty() -> torch.Tensor:
                return weight * kl_divergence(self.ensemble)

        self.ensemble.train()
        try:
            self.last_nll = fit(
                nll_fn, weights, self.optimizer, steps=self.gradient_steps, batch_size=self.batch_size, rng=self.rng,
                penalty=penalty, fresh=self.memory.n_unique - self._fitted_rows,
            )  # fmt: skip
            self._fitted_rows = self.memory.n_unique
        finally:
            if isinstance(self.optimizer, RowSparseAdam):
                self.optimizer.release()
        self._n_updates += self.gradient_steps
        return self.last_nll

    def _horizon(self) -> int:
        """Steps planned over (:func:`~agents.tabular_explorer.planned_horizon`)."""
        return planned_horizon(self.planning_horizon, self.episode_limit, self.longest_episode)

    def _replan(self) -> None:
        """Rebuild the exploration MDP from the ensemble; :meth:`_solve` solves it when an action is asked for."""
        self.ensemble.eval()
        if self.states == "observed":
            seen, transitions, utility = self.ensemble.exploration_mdp()  # (K,), (K+1, A, K+1), (K+1, A)
            self._local = np.full(self.n_states, len(seen))  # (S,): states never seen plan as UNSEEN, row K
            self._local[seen.cpu().numpy()] = np.arange(len(seen))
        else:
            transitions, utility = self.ensemble.exploration_mdp()  # (S, A, S), (S, A)
        # a state whose arrival ended an episode: its actions cannot be tried; absorbing, worth nothing
        terminal = torch.as_tensor(self._local[self.terminal], device=transitions.device)  # plan rows
        transitions[terminal] = F.one_hot(terminal, transitions.shape[-1]).to(transitions.dtype).unsqueeze(1)
        utility[terminal] = 0.0
        self.utility = utility.cpu().numpy()[self._local]  # (S, A)
        if self.states == "observed":
            self.utility[self._local == len(utility) - 1] = np.nan  # never seen: no prediction
        horizon = self._horizon()
        if self._planned_horizon is not None and horizon != self._planned_horizon:  # the env states no length
            logger.info("MAX now plans over %d steps, the longest episode seen", horizon)
        self._planned_horizon = horizon
        self._mdp, self._q = (transitions, utility), None

    def _solve(self, steps_left: int) -> np.ndarray:
        """(levels, S or K+1, A) the last exploration MDP's action values with 1..levels steps left, levels >=
        ``steps_left``. Value iteration runs only as far as the steps left when first asked (its levels do
        not depend on how many are computed), and again, further, when a later episode needs more."""
        if self._q is None or len(self._q) < steps_left:
            assert self._mdp is not None
            self._q = value_iteration(*self._mdp, steps_left).cpu().numpy()  # (levels, S or K+1, A)
        return self._q

    def _steps_left(self) -> int:
        """Steps to plan over from now: the rest of the episode, capped at ``planning_horizon``."""
        return steps_to_plan(self.planning_horizon, self.episode_limit, self.longest_episode, self.episode_step)

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        """(B, A) planned values with the steps left in the episode; all equal (random) before learning_starts."""
        if self.num_timesteps < self.learning_starts:
            return np.zeros((len(states), self.n_actions))
        steps_left = self._steps_left()
        return self._solve(steps_left)[steps_left - 1, self._local[states]]  # (B, A)

    def _observe(self, state: int, action: int, next_state: int, done: bool) -> None:
        new = self._store(state, action, next_state)
        self._news = self._news or new or self.refit_tolerance is None or not self._predicted(state, action, next_state)
        if self.num_timesteps % self.train_freq == 0 and self.num_timesteps >= self.learning_starts and self._news:
            with flushed_denormals():  # a sure model's gradients are denormal: 12-15x slower on some CPUs
                self.train()
                self._replan()
            self._news = False

    def _record_logs(self) -> None:
        if self.utility is not None:
            self.logger.record("explore/utility_mean", float(np.nanmean(self.utility)))
        self.logger.record("model/nll", self.last_nll)
        if self.sparse:
            record_sparsity(self.logger, self.ensemble)

    # ------------------------------------------------------------------ checkpoints
    CHECKPOINT_KIND = "MAX"  # as written before the continuous planner existed
    HYPER_PARAMETERS = (
        "ensemble_size", "hidden_size", "n_hidden_layers", "activation", "code_scale", "inputs", "states",
        "learning_rate", "gradient_steps", "batch_size", "train_freq", "refit_tolerance", "learning_starts",
        "bootstrap", "planning_horizon", "sparse", "kl_anneal_steps",
        "log_interval",
    )  # fmt: skip

    def _extra_state(self) -> dict[str, Any]:
        return {
            "ensemble": self.ensemble.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "news": self._news,
            "fitted_rows": self._fitted_rows,
            **self.memory.state(),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.ensemble.load_state_dict(state["ensemble"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.memory.load(state)
        self._news = bool(state.get("news", True))  # absent before skipped refits existed: refit at the next step
        self._fitted_rows = int(state.get("fitted_rows", self.memory.n_unique))  # absent before: every row fitted
        self._replan()

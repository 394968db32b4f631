"""MAX's planner for pictures: disagreement of a Gaussian ensemble in a learned feature space.

Shyam, Jaskowski & Gomez, ICML 2019, with the pictures mapped to features first, as latent-space
disagreement explorers do (Plan2Explore, Sekar et al., ICML 2020). After ``warmup_steps`` random steps,
and every ``encoder_every`` steps after, the encoder (:class:`~agents.encoders.InverseDynamicsEncoder`,
the suite's :class:`~agents.encoders.SmallCNN` with Group Normalization by default) is trained by inverse
dynamics on every real transition, every stored picture is encoded again and a fresh ensemble of diagonal
Gaussians over the change of features (:class:`~world_models.continuous.GaussianDynamicsEnsemble`, one-hot
actions, each member with its own bootstrap weights) is fit; between those, the ensemble is refit every
``model_every`` steps. The utility of (features, action) is the members' Jensen-Renyi divergence, as in
continuous worlds. The exploration MDP is solved again after every refit and the agent acts greedily
(ties at random) on its action values from the current features (:mod:`agents.max.latent_planning`):
``planner="graph"`` (default) by value iteration, over the steps left in the episode, on a graph whose
nodes are a greedy cover of the real observations' features (kept up to date at every step, so a place
seen once stays a node), or ``planner="search"`` by exhaustive search over short action sequences.
The graph planner treats the node nearest an observation where an episode terminated (not a time limit)
as absorbing and worth nothing (``absorbing_terminals``), as the tabular planner treats such a state.

A step costs the same however long the run: each picture is encoded once, the stored features live in
buffers that double when full, the reward floor is a quantile over at most ``floor_sample`` stored
transitions and the graph has at most ``max_nodes`` nodes.
"""

from __future__ import annotations

import logging
import math
import os
from typing import ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.preprocessing import is_image_space, maybe_transpose
from stable_baselines3.common.type_aliases import GymEnv
from torch import nn
from torch.nn import functional as F

from agents.callbacks import ProgressBarMixin
from agents.checkpoint import (
    env_identity,
    load_checkpoint,
    progress_counters,
    restore_progress_counters,
    save_checkpoint,
    warn_if_other_env,
)
from agents.devices import check_device
from agents.encoders import InverseDynamicsEncoder, encode_pictures, train_inverse_dynamics
from agents.max.base import MAX
from agents.max.latent_planning import cover, graph_action_values, graph_values, nearest_nodes, search_values
from agents.max.real_steps import RealStepLoop
from agents.tabular_explorer import episode_limit, greedy_actions, planned_horizon, steps_to_plan
from world_models.bootstrap import BOOTSTRAP_SCHEMES, bootstrap_weights
from world_models.continuous import GaussianDynamicsEnsemble, fit_transitions
from world_models.utilities import jensen_renyi

logger = logging.getLogger(__name__)

PLANNERS = ("graph", "search")


def every_action(
    model: GaussianDynamicsEnsemble, features: torch.Tensor, n_actions: int, decay: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Jensen-Renyi utility (B, A) of every one-hot action from features (B, f), and the members' mean
    prediction of the next features (B, A, f)."""
    B, A = features.shape[0], n_actions
    z = features.repeat_interleave(A, 0)  # (B A, f)
    actions = F.one_hot(torch.arange(A, device=features.device).repeat(B), A).float()  # (B A, A)
    mean, var = model.normalized_prediction(z, actions)  # (E, B A, f) each, normalised changes
    utility = jensen_renyi(mean, var, decay=decay, max_var=math.exp(model.net.max_log_var))  # (B A,)
    next_mean = z + model.delta_norm.denormalize(mean).mean(0)  # (B A, f) in feature units
    return utility.view(B, A), next_mean.view(B, A, -1)


class ActionUtilities(nn.Module):
    """(N, C, H, W) pictures in pixel units -> (N, A) utility of each action: the encoder and the ensemble
    of MAX from pixels as one module, for saliency maps (:func:`vision_tools.saliency.saliency`) and their
    sanity checks.

    :param encoder: the features of pictures.
    :param model: the ensemble over the features' changes.
    :param n_actions: discrete actions A.
    :param decay: Jensen-Renyi variance rescaling.
    """

    def __init__(self, encoder: nn.Module, model: GaussianDynamicsEnsemble, n_actions: int, decay: float) -> None:
        super().__init__()
        self.encoder, self.model, self.n_actions, self.decay = encoder, model, n_actions, decay

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return every_action(self.model, self.encoder(pictures), self.n_actions, self.decay)[0]  # (N, A)


class PixelMAX(MAX, RealStepLoop, ProgressBarMixin, BaseAlgorithm):
    """Model-Based Active Exploration on pictures (uint8 ``Box`` of shape (H, W, C) or (C, H, W)) with ``Discrete``
    actions. Like every SB3 algorithm it sees (H, W, C) pictures transposed to (C, H, W).

    :param env: the environment or its id.
    :param features_dim: size of the encoder's features.
    :param norm: the encoder's normalisation (``"group"``, ``"batch"``, ``"layer"``, ``"instance"``, ``None``).
    :param channels: output channels of the encoder's three convolutions.
    :param sparse_head: the encoder's last layer is a Sparse Variational Dropout layer.
    :param encoder_learning_rate: Adam learning rate of the encoder and its inverse head.
    :param encoder_batch_size: transitions per inverse-dynamics step.
    :param encoder_steps: inverse-dynamics steps at each encoder training.
    :param encoder_every: train the encoder (and refit a fresh ensemble) every this many real steps (250:
        the pixels suite's equal tuning grid chose it over 500 on tuning layouts 0-2 of the 9 x 9 maze,
        docs/BENCHMARKS.md).
    :param augment_noise: std of Gaussian noise (colour units, 0-255) added to every picture the encoder
        trains on, so its features ignore pixel noise (0: none).
    :param ensemble_size: forward models E.
    :param hidden_size: width of each member's hidden layers.
    :param n_hidden_layers: hidden layers per member.
    :param model_learning_rate: Adam learning rate of the ensemble.
    :param model_batch_size: minibatch of a model step.
    :param model_steps: Adam steps per refit of the ensemble.
    :param fresh_model_steps: Adam steps of a fresh ensemble after the encoder was trained.
    :param model_every: refit the ensemble (and plan again) every this many real steps.
    :param bootstrap: members' data weights, see :mod:`world_models.bootstrap`.
    :param decay: Jensen-Renyi variance rescaling (official continuous code: 0.1).
    :param warmup_steps: uniformly random actions first.
    :param planner: ``"graph"`` (value iteration over real observations' features) or ``"search"``.
    :param planning_horizon: most steps the graph planner plans ahead; ``None`` plans over the steps left in
        the episode where the env states its length (``horizon`` or ``spec.max_episode_steps``), else over
        100 steps until an episode ends and then over the longest episode seen (as
        :class:`~agents.max.tabular.TabularMAX` does).
    :param search_depth: actions per sequence of the search planner (A^depth imagined steps per action).
    :param max_nodes: most nodes of the graph planner; past it the cover's spacing grows.
    :param node_spacing: an observation becomes a node when it lies farther from every node than this
        fraction of the median length of the real steps that moved (in feature space, measured at each
        encoder training); 0 makes every distinct observation a node, up to ``max_nodes``.
    :param reward_floor: quantile of the utilities of real transitions subtracted from every utility
        (floored at 0) before planning, so the small disagreement left on transitions already seen does not
        add up over a long horizon; ``None`` plans on the utility as is.
    :param floor_sample: most stored transitions (evenly spaced over the run) the floor's quantile is taken on.
    :param absorbing_terminals: the graph planner makes the node nearest each observation where an episode
        terminated (not a time limit) absorbing and worth nothing, as the tabular planner treats such a
        state; ``False`` plans as if every episode went on.
    :param tensorboard_log: folder for TensorBoard runs.
    :param seed: seed of every random choice.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param verbose: 0 silent, 1 SB3's console logger.
    :param log_interval: dump logs every this many episodes.
    """

    HYPER_PARAMETERS: ClassVar[tuple[str, ...]] = (
        "features_dim", "norm", "channels", "sparse_head", "encoder_learning_rate", "encoder_batch_size",
        "encoder_steps", "encoder_every", "augment_noise", "ensemble_size", "hidden_size", "n_hidden_layers",
        "model_learning_rate", "model_batch_size", "model_steps", "fresh_model_steps", "model_every",
        "bootstrap", "decay", "warmup_steps", "planner", "planning_horizon", "search_depth",
        "max_nodes", "node_spacing", "reward_floor", "floor_sample", "absorbing_terminals", "log_interval",
    )  # fmt: skip

    def __init__(
        self,
        env: GymEnv | str,
        *,
        features_dim: int = 32,
        norm: str | None = "group",
        channels: tuple[int, int, int] = (16, 32, 32),
        sparse_head: bool = False,
        encoder_learning_rate: float = 1e-3,
        encoder_batch_size: int = 64,
        encoder_steps: int = 300,
        encoder_every: int = 250,
        augment_noise: float = 24.0,
        ensemble_size: int = 5,
        hidden_size: int = 64,
        n_hidden_layers: int = 2,
        model_learning_rate: float = 1e-3,
        model_batch_size: int = 256,
        model_steps: int = 200,
        fresh_model_steps: int = 2000,
        model_every: int = 10,
        bootstrap: str = "bayesian",
        decay: float = 0.1,
        warmup_steps: int = 300,
        planner: str = "graph",
        planning_horizon: int | None = None,
        search_depth: int = 3,
        max_nodes: int = 1024,
        node_spacing: float = 0.1,
        reward_floor: float | None = 0.9,
        floor_sample: int = 2048,
        absorbing_terminals: bool = True,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        log_interval: int = 1,
    ) -> None:
        check_device(device)
        if planner not in PLANNERS:
            raise ValueError(f"planner must be one of {PLANNERS}, got {planner!r}")
        if bootstrap not in BOOTSTRAP_SCHEMES:
            raise ValueError(f"bootstrap must be one of {BOOTSTRAP_SCHEMES}, got {bootstrap!r}")
        counts = {"features_dim": 1, "encoder_batch_size": 1, "encoder_steps": 1, "encoder_every": 1,
                  "ensemble_size": 2, "hidden_size": 1, "n_hidden_layers": 1, "model_batch_size": 1,
                  "model_steps": 0, "fresh_model_steps": 1, "model_every": 1, "warmup_steps": 1,
                  "search_depth": 1, "max_nodes": 1, "floor_sample": 1, "log_interval": 1}  # fmt: skip
        if planning_horizon is not None:
            counts["planning_horizon"] = 1
        for name, least in counts.items():
            value = locals()[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
        if isinstance(node_spacing, bool) or not isinstance(node_spacing, int | float) or not node_spacing >= 0:
            raise ValueError(f"node_spacing must be a number >= 0, got {node_spacing!r}")
        if not augment_noise >= 0:
            raise ValueError(f"augment_noise must be >= 0, got {augment_noise!r}")
        if reward_floor is not None and not 0.0 <= reward_floor <= 1.0:
            raise ValueError(f"reward_floor must be a quantile in [0, 1] or None, got {reward_floor!r}")
        if not isinstance(absorbing_terminals, bool):
            raise TypeError(f"absorbing_terminals must be a bool, got {absorbing_terminals!r}")
        super().__init__(
            policy=None,  # type: ignore[arg-type]  # the plan is solved again after every refit
            env=env,
            learning_rate=model_learning_rate,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            supported_action_spaces=(spaces.Discrete,),
        )
        self._check_observation_space()
        local = locals()
        for name in PixelMAX.HYPER_PARAMETERS:  # a subclass saves a subset, and fixes the rest
            setattr(self, name, local[name])
        self.channels = tuple(channels)
        self._setup_model()

    # ------------------------------------------------------------------ set-up
    OBSERVATION_DTYPE: ClassVar[type] = np.uint8  # how observations are stored and fed to the encoder

    def _check_observation_space(self) -> None:
        if not is_image_space(self.observation_space, check_channels=True):
            raise TypeError(f"PixelMAX needs a uint8 Box of pictures, got {self.observation_space}")

    def _make_encoder(self) -> nn.Module:
        """The features of observations: a CNN trained by inverse dynamics."""
        return InverseDynamicsEncoder(
            self.observation_space, self.n_actions, features_dim=self.features_dim, norm=self.norm,
            channels=self.channels, sparse_head=self.sparse_head,
        )  # fmt: skip

    def _setup_model(self) -> None:
        self.set_random_seed(self.seed)
        self.n_actions = int(self.action_space.n)
        self.rng = np.random.default_rng(self.seed)
        self.encoder = self._make_encoder().to(self.device)
        trained = list(self.encoder.parameters())
        self.encoder_optimizer = torch.optim.Adam(trained, lr=self.encoder_learning_rate) if trained else None
        self._build_model()
        self.has_model = False
        shape = self.observation_space.shape
        self._observations = np.zeros((0, *shape), dtype=self.OBSERVATION_DTYPE)  # (capacity, C, H, W)
        self._next_observations = np.zeros((0, *shape), dtype=self.OBSERVATION_DTYPE)
        self._actions = np.zeros(0, dtype=np.int64)  # (capacity,)
        self._terminated = np.zeros(0, dtype=bool)  # (capacity,) whether the episode terminated on arrival
        self._weights = np.zeros((self.ensemble_size, 0), dtype=np.float32)  # (E, capacity)
        self.n_real = 0
        self._features = torch.zeros(0, self.features_dim, device=self.device)  # (capacity, f) of the observations
        self._next_features = torch.zeros(0, self.features_dim, device=self.device)  # (capacity, f)
        self.nodes = torch.zeros(0, self.features_dim, device=self.device)  # (n, f) the graph planner's
        self.planned_nodes = self.nodes  # (n', f) the nodes of the last plan (later ones join at the next)
        self.spacing = 0.0  # an observation farther than this from every node becomes one
        # (H, n) each: the nodes' values with 0..H-1 steps left, and once their self-loops have paid
        self.node_values = torch.zeros(0, 0, device=self.device)
        self.node_values_after_loops = torch.zeros(0, 0, device=self.device)
        self.episode_limit = episode_limit(self.env) if self.env is not None else None
        self.floor = 0.0
        self._latest: tuple[np.ndarray, torch.Tensor] | None = None  # the last picture encoded, its features
        self.last_nll = self.last_utility = self.last_inverse_loss = float("nan")

    def _build_model(self) -> None:
        self.model = GaussianDynamicsEnsemble(
            self.features_dim, self.n_actions, ensemble_size=self.ensemble_size, hidden_size=self.hidden_size,
            n_hidden_layers=self.n_hidden_layers,
        ).to(self.device)  # fmt: skip
        self.optimizer = torch.optim.Adam(self.model.net.parameters(), lr=self.model_learning_rate, fused=True)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return [], []

    # ------------------------------------------------------------------ data
    def _store(self, observation: np.ndarray, action: int, next_observation: np.ndarray, terminated: bool) -> None:
        n = self.n_real
        if n == len(self._actions):  # full: double the capacity (a step costs O(1), not O(steps so far))
            grow = max(1024, n)
            room = np.zeros((grow, *self.observation_space.shape), dtype=self.OBSERVATION_DTYPE)
            self._observations = np.concatenate([self._observations, room])
            self._next_observations = np.concatenate([self._next_observations, room])
            self._actions = np.concatenate([self._actions, np.zeros(grow, dtype=np.int64)])
            self._terminated = np.concatenate([self._terminated, np.zeros(grow, dtype=bool)])
            self._weights = np.concatenate([self._weights, np.zeros((self.ensemble_size, grow), np.float32)], 1)
            room = torch.zeros(grow, self.features_dim, device=self.device)
            self._features = torch.cat([self._features, room])
            self._next_features = torch.cat([self._next_features, room])
        # the episode goes on from the last stored outcome: its features are this observation's
        continues = n > 0 and np.array_equal(observation, self._next_observations[n - 1])
        self._observations[n], self._actions[n], self._next_observations[n] = observation, action, next_observation
        self._terminated[n] = terminated
        self._weights[:, n] = bootstrap_weights(1, self.ensemble_size, self.bootstrap, self.rng)[:, 0]
        self.n_real = n + 1
        if self.has_model:  # the encoder exists: keep the features, the nodes and the model's statistics up to date
            z = self._next_features[n - 1 : n] if continues else self._encode_latest(observation)  # (1, f)
            z_next = self._encode_latest(next_observation)  # (1, f)
            if not continues:
                self._add_node(z[0])
            self._add_node(z_next[0])
            self._features[n], self._next_features[n] = z[0], z_next[0]
            self.model.update_normalizers(z, self._one_hot(torch.tensor([action], device=self.device)), z_next)

    # the real transitions so far: (N, C, H, W) pictures, (N,) actions, (N, C, H, W) next pictures, (N,)
    # whether each ended its episode by a termination, and each member's bootstrap weight of each, (E, N)
    @property
    def observations(self) -> np.ndarray:
        return self._observations[: self.n_real]

    @property
    def actions(self) -> np.ndarray:
        return self._actions[: self.n_real]

    @property
    def next_observations(self) -> np.ndarray:
        return self._next_observations[: self.n_real]

    @property
    def terminated(self) -> np.ndarray:
        return self._terminated[: self.n_real]

    @property
    def weights(self) -> np.ndarray:
        return self._weights[:, : self.n_real]

    # (N, f) features of the stored observations and next observations
    @property
    def features(self) -> torch.Tensor:
        return self._features[: self.n_real]

    @property
    def next_features(self) -> torch.Tensor:
        return self._next_features[: self.n_real]

    def _one_hot(self, actions: torch.Tensor) -> torch.Tensor:
        return F.one_hot(actions.long(), self.n_actions).float()  # (B, A)

    @torch.no_grad()
    def _encode(self, pictures: np.ndarray, batch_size: int = 512) -> torch.Tensor:
        """(B, f) features of (B, C, H, W) pictures, the encoder in evaluation mode."""
        return encode_pictures(self.encoder, pictures, self.device, batch_size)

    def _encode_latest(self, picture: np.ndarray) -> torch.Tensor:
        """(1, f) features of one (C, H, W) picture, remembering the last one encoded: the picture the agent
        acts on is the outcome it just stored, so each picture is encoded once."""
        if self._latest is not None and np.array_equal(self._latest[0], picture):
            return self._latest[1]
        z = self._encode(picture[None])  # (1, f)
        self._latest = (picture.copy(), z)
        return z

    # ------------------------------------------------------------------ encoder, model and plan
    def train_encoder(self) -> float:
        """``encoder_steps`` inverse-dynamics steps on random real transitions; returns the last loss."""
        self.last_inverse_loss = train_inverse_dynamics(
            self.encoder, self.encoder_optimizer, self.observations, self.actions, self.next_observations,
            steps=self.encoder_steps, batch_size=self.encoder_batch_size, noise=self.augment_noise, rng=self.rng,
            device=self.device,
        )  # fmt: skip
        return self.last_inverse_loss

    def _encode_stored(self) -> None:
        """Features (N, f) of every stored picture and next picture, with the current encoder; a next picture
        that is the following step's picture (the episode went on) is not encoded twice."""
        n = self.n_real
        self._features = self._encode(self._observations[:n])  # (N, f), capacity N: the next store grows it
        self._next_features = self._features.roll(-1, 0).clone()  # (N, f) the following step's features
        ended = np.ones(n, dtype=bool)  # (N,) whether row i's next picture is not row i + 1's picture
        ended[:-1] = np.any((self._next_observations[: n - 1] != self._observations[1:n]).reshape(n - 1, -1), axis=1)
        rows = torch.as_tensor(np.flatnonzero(ended), device=self.device)
        self._next_features[rows] = self._encode(self._next_observations[:n][ended])
        self._observations, self._next_observations = self._observations[:n], self._next_observations[:n]
        self._actions, self._weights, self._terminated = self._actions[:n], self._weights[:, :n], self._terminated[:n]

    # ------------------------------------------------------------------ the graph's nodes
    def _move_length(self) -> float:
        """Median length, in feature space, of the real steps whose features moved (0 if none did)."""
        lengths = (self.next_features - self.features).norm(dim=1)  # (N,)
        moved = lengths[lengths > 1e-6 * max(float(lengths.max()), 1e-12)] if len(lengths) else lengths
        return float(moved.median()) if len(moved) else 0.0

    def _cover_stored(self) -> None:
        """Nodes anew after the features changed: a greedy cover of every stored observation and outcome at
        ``node_spacing`` times the real steps' median length, from where the agent is now."""
        points = torch.cat([self.features, self.next_features])  # (2N, f)
        self.spacing = self.node_spacing * self._move_length()
        rows, radius = cover(points, self.spacing, self.max_nodes, first=len(points) - 1)
        self.nodes = points[rows]  # (n, f)
        self.spacing = max(self.spacing, radius)

    def _add_node(self, z: torch.Tensor) -> None:
        """Make features ``z`` (f,) a node when they lie farther than ``spacing`` from every node; past
        ``max_nodes`` the spacing grows by a quarter and the nodes are covered again (the newest kept)."""
        if len(self.nodes) and float((self.nodes - z).norm(dim=1).min()) <= self.spacing:
            return
        self.nodes = torch.cat([self.nodes, z[None]])  # (n + 1, f)
        while len(self.nodes) > self.max_nodes:
            self.spacing = max(1.25 * self.spacing, 1e-6)
            rows, _ = cover(self.nodes, self.spacing, self.max_nodes, first=len(self.nodes) - 1)
            self.nodes = self.nodes[rows.sort().values]

    def _refresh(self) -> None:
        """Encode every stored picture again and fit a fresh ensemble on the new features."""
        self._latest = None  # the encoder changed
        self._encode_stored()
        self._build_model()
        actions = self._one_hot(torch.as_tensor(self.actions, device=self.device))  # (N, A)
        self.model.update_normalizers(self.features, actions, self.next_features)
        self.has_model = True
        self._cover_stored()
        self.train(self.fresh_model_steps)

    def train(self, steps: int | None = None) -> float:
        """Refit the ensemble on the features of every real transition (``model_steps`` Adam steps, or
        ``steps``) and solve the exploration MDP again; returns the last step's weighted NLL."""
        steps = self.model_steps if steps is None else steps
        actions = self._one_hot(torch.as_tensor(self.actions, device=self.device))  # (N, A)
        weights = torch.as_tensor(self.weights, device=self.device)  # (E, N)
        self.last_nll = fit_transitions(
            self.model, self.optimizer, self.features, actions, self.next_features, weights, steps=steps,
            batch_size=self.model_batch_size, rng=self.rng, max_grad_norm=5.0,
        )  # fmt: skip
        self._n_updates += steps
        self._solve()
        return self.last_nll

    @torch.no_grad()
    def step_values(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every action's utility (B, A) and the ensemble's mean next features (B, A, f) from features (B, f)."""
        self.model.eval()
        return every_action(self.model, features, self.n_actions, self.decay)

    def utility_module(self) -> ActionUtilities:
        """The encoder and the ensemble as one module: pictures -> every action's utility, for saliency maps."""
        return ActionUtilities(self.encoder, self.model, self.n_actions, self.decay).eval()

    @torch.no_grad()
    def utility(self, pictures: np.ndarray) -> np.ndarray:
        """(B, A) Jensen-Renyi utility of every action from (B, C, H, W) pictures, in the current model."""
        if not self.has_model:
            raise RuntimeError(f"PixelMAX has no model before warmup_steps ({self.warmup_steps}) real steps")
        return self.step_values(self._encode(np.asarray(pictures, dtype=self.OBSERVATION_DTYPE)))[0].cpu().numpy()

    def _horizon(self) -> int:
        """Most steps the graph planner plans over (:func:`~agents.tabular_explorer.planned_horizon`)."""
        return planned_horizon(self.planning_horizon, self.episode_limit, self.longest_episode)

    def _steps_left(self) -> int:
        """Steps to plan over from now: the rest of the episode, capped at the horizon."""
        return steps_to_plan(self.planning_horizon, self.episode_limit, self.longest_episode, self.episode_step)

    @torch.no_grad()
    def _solve(self) -> None:
        """The reward floor from the utilities of at most ``floor_sample`` real transitions (evenly spaced
        over the run: no random draw, so a loaded run computes the same), and the graph planner's node
        values for every number of steps left up to the horizon."""
        rows = torch.linspace(0, self.n_real - 1, min(self.n_real, self.floor_sample), device=self.device).long()
        taken = torch.as_tensor(self.actions, device=self.device)[rows, None]  # (n_floor, 1)
        real_utility = self.step_values(self.features[rows])[0].gather(1, taken)  # (n_floor, 1)
        self.last_utility = float(real_utility.mean())
        self.floor = 0.0 if self.reward_floor is None else float(torch.quantile(real_utility, self.reward_floor))
        if self.planner == "graph":
            self.planned_nodes = self.nodes
            self.node_values, self.node_values_after_loops = graph_values(
                self.step_values, self.planned_nodes, self._horizon(), self.floor, self._terminal_nodes()
            )  # (H, n) each

    def _terminal_nodes(self) -> torch.Tensor | None:
        """(n,) bool over the planned nodes: nearest an outcome where an episode terminated (``None`` when
        ``absorbing_terminals`` is off or no episode terminated)."""
        ends = torch.as_tensor(self.terminated, device=self.device)  # (N,)
        if not self.absorbing_terminals or not bool(ends.any()):
            return None
        terminal = torch.zeros(len(self.planned_nodes), dtype=torch.bool, device=self.device)  # (n,)
        terminal[nearest_nodes(self.next_features[ends], self.planned_nodes)] = True
        return terminal

    @torch.no_grad()
    def action_values(self, pictures: np.ndarray) -> np.ndarray:
        """(B, A) values of every action from (B, C, H, W) pictures in the current exploration MDP, with the
        steps left in the episode."""
        features = self._encode_latest(pictures[0]) if len(pictures) == 1 else self._encode(pictures)  # (B, f)
        if self.planner == "graph":
            steps_left = min(self._steps_left(), len(self.node_values))
            levels = (self.node_values, self.node_values_after_loops)
            values = graph_action_values(
                self.step_values, features, self.planned_nodes, levels, steps_left, self.floor
            )  # fmt: skip
        else:
            values = search_values(self.step_values, features, self.search_depth, self.floor)
        return values.cpu().numpy()

    def _actions_for(self, pictures: np.ndarray, deterministic: bool) -> np.ndarray:
        if not self.has_model:
            return self.rng.integers(0, self.n_actions, size=len(pictures))
        return greedy_actions(self.action_values(pictures), self.rng, deterministic)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """Greedy actions in the current exploration MDP for one picture or a batch, as the env gives them
        ((H, W, C) or (C, H, W)); ties at random unless ``deterministic``; uniformly random before the first
        model."""
        obs = maybe_transpose(np.asarray(observation, dtype=self.OBSERVATION_DTYPE), self.observation_space)
        batch = obs.reshape(-1, *self.observation_space.shape)
        actions = self._actions_for(batch, deterministic)
        return (actions if obs.ndim > 3 else int(actions[0])), state

    # ------------------------------------------------------------------ real steps (agents.max.real_steps)
    def _observation_batch(self, observation) -> np.ndarray:
        return np.asarray(observation, dtype=self.OBSERVATION_DTYPE).reshape(1, *self.observation_space.shape)

    def _act(self, observations: np.ndarray) -> tuple[np.ndarray, int]:
        action = int(self._actions_for(observations, deterministic=False)[0])
        return np.array([action]), action

    def _after_step(self, new_observations: np.ndarray) -> None:
        after_warmup = self.num_timesteps - self.warmup_steps
        if after_warmup >= 0 and after_warmup % self.encoder_every == 0:
            self.train_encoder()
            self._refresh()
        elif after_warmup > 0 and after_warmup % self.model_every == 0:
            self.train()

    def _record_logs(self) -> None:
        self.logger.record("train/inverse_loss", self.last_inverse_loss)
        self.logger.record("model/graph_nodes", len(self.nodes))

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike, exclude=None, include=None) -> None:  # noqa: ARG002
        """Write hyper-parameters, encoder, ensemble, data, counters and random state (pickle-free)."""
        checkpoint = {
            "kind": type(self).__name__,
            "hyper_parameters": {name: getattr(self, name) for name in self.HYPER_PARAMETERS},
            "seed": self.seed,
            "env": env_identity(self.env) if self.env is not None else None,
            "encoder": self.encoder.state_dict(),
            "encoder_optimizer": self.encoder_optimizer.state_dict() if self.encoder_optimizer else {},
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "has_model": self.has_model,
            "data": {
                name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
                for name in ("observations", "actions", "next_observations", "weights", "terminated")
            },  # fmt: skip
            # the features as the run computed them (one picture at a time between refreshes): encoding
            # them again in one batch differs in the last bits, enough to change a later tie
            "features": self.features.cpu(),
            "next_features": self.next_features.cpu(),
            "counters": progress_counters(self),
            "clock": {"episode_step": self.episode_step, "longest_episode": self.longest_episode},
            "nodes": self.nodes.cpu(),
            "planned_nodes": self.planned_nodes.cpu(),
            "spacing": self.spacing,
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(checkpoint, path)

    @classmethod
    def load(cls, path: str | os.PathLike, env: GymEnv | None = None, device: torch.device | str = "auto", **kwargs):
        """Load a checkpoint written by :meth:`save` into ``env`` (needed to continue learning)."""
        checkpoint = load_checkpoint(path, kind=cls.__name__)
        if env is None:
            raise ValueError(f"{cls.__name__}.load needs the env (its spaces size the networks)")
        warn_if_other_env(checkpoint.get("env"), env, path)
        hyper = {**checkpoint["hyper_parameters"], "seed": checkpoint["seed"], **kwargs}
        model = cls(env, device=device, **hyper)
        model.encoder.load_state_dict(checkpoint["encoder"])
        if model.encoder_optimizer is not None:
            model.encoder_optimizer.load_state_dict(checkpoint["encoder_optimizer"])
        data = {name: tensor.numpy() for name, tensor in checkpoint["data"].items()}
        model._observations, model._actions = data["observations"].copy(), data["actions"].copy()
        model._next_observations, model._weights = data["next_observations"].copy(), data["weights"].copy()
        model.n_real = len(model._actions)
        # older checkpoints: no episode known to have terminated
        model._terminated = data["terminated"].copy() if "terminated" in data else np.zeros(model.n_real, dtype=bool)
        restore_progress_counters(model, checkpoint["counters"])
        clock = checkpoint.get("clock", {})  # absent from older checkpoints: a run loaded at an episode's end
        model.episode_step, model.longest_episode = clock.get("episode_step", 0), clock.get("longest_episode", 0)
        if checkpoint["has_model"]:
            if "features" in checkpoint:
                model._features = checkpoint["features"].to(model.device)  # (N, f)
                model._next_features = checkpoint["next_features"].to(model.device)  # (N, f)
            else:  # older checkpoints: encoded again
                model._encode_stored()
            model.model.load_state_dict(checkpoint["model"])
            model.optimizer.load_state_dict(checkpoint["optimizer"])
            model.has_model = True
            if "nodes" in checkpoint:
                model.nodes = checkpoint["planned_nodes"].to(model.device)
                model._solve()  # the plan as it was, then the nodes added since
                model.nodes, model.spacing = checkpoint["nodes"].to(model.device), float(checkpoint["spacing"])
            else:  # older checkpoints: covered anew
                model._cover_stored()
                model._solve()
        else:  # no features before the warm-up ends: buffers as long as the data
            model._features = torch.zeros(model.n_real, model.features_dim, device=model.device)
            model._next_features = torch.zeros(model.n_real, model.features_dim, device=model.device)
        model.rng.bit_generator.state = checkpoint["rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        return model

"""MAX's planner for vector states with discrete actions (CartPole, Acrobot, LunarLander, ...).

Shyam, Jaskowski & Gomez, ICML 2019, on a 1-D ``Box`` of states with ``Discrete`` actions: the planner of
:class:`~agents.max.pixels.PixelMAX` with the state itself as the features. After ``warmup_steps``
uniformly random steps the states are standardised by the mean and standard deviation of the warm-up's
states (frozen from then on, so that every stored state keeps its features), and a Gaussian ensemble over
the change of the standardised state (one-hot actions, each member with its own bootstrap weights) is
fit; it is refit every ``model_every`` steps. The utility of (state, action) is the members'
Jensen-Renyi divergence, as in continuous worlds. The agent acts greedily on the value of every action in
the imagined exploration MDP: value iteration over a graph of real states (each imagined outcome snapped
to the nearest of them, ``planner="graph"``) or a search over short action sequences (``"search"``).
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv
from torch import nn

from agents.max.pixels import PixelMAX

NO_ENCODER_TRAINING = 10**12  # the standardisation is fixed after the warm-up: never "retrained"


class Standardize(nn.Module):
    """(B, d) states -> (B, d) standardised states, ``(x - mean) / std``; the statistics are buffers (saved
    with ``state_dict``), set once by :meth:`fit`. Before that it is the identity.

    :param dim: size d of a state.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, states: torch.Tensor, min_std: float = 1e-6) -> None:
        """Take the mean and standard deviation of ``states`` (N, d); a constant variable keeps std 1."""
        std = states.std(0, unbiased=False)
        self.mean.copy_(states.mean(0))
        self.std.copy_(torch.where(std > min_std, std, torch.ones_like(std)))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return (states.float() - self.mean) / self.std  # (B, d)


class VectorMAX(PixelMAX):
    """Model-Based Active Exploration on a 1-D ``Box`` of states with ``Discrete`` actions.

    :param env: the environment or its id.
    :param ensemble_size: forward models E.
    :param hidden_size: width of each member's hidden layers.
    :param n_hidden_layers: hidden layers per member.
    :param model_learning_rate: Adam learning rate of the ensemble.
    :param model_batch_size: minibatch of a model step.
    :param model_steps: Adam steps per refit of the ensemble.
    :param fresh_model_steps: Adam steps of the first ensemble, after the warm-up.
    :param model_every: refit the ensemble (and plan again) every this many real steps.
    :param bootstrap: members' data weights, see :mod:`world_models.bootstrap`.
    :param decay: Jensen-Renyi variance rescaling (official continuous code: 0.1).
    :param warmup_steps: uniformly random actions first; their states set the standardisation.
    :param planner: ``"graph"`` (value iteration over real states) or ``"search"``.
    :param planning_horizon: most steps the graph planner plans ahead; ``None``: the steps left in the
        episode (CartPole 500, Acrobot 500, LunarLander 1000 at most), as :class:`~agents.max.pixels.PixelMAX`.
    :param search_depth: actions per sequence of the search planner.
    :param max_nodes: most nodes of the graph planner; past it the cover's spacing grows.
    :param node_spacing: a state becomes a node when it lies farther from every node than this fraction of
        the median length of the real (standardised) steps.
    :param reward_floor: quantile of the utilities of real transitions subtracted from every utility
        (floored at 0) before planning; ``None`` plans on the utility as is.
    :param floor_sample: most stored transitions the floor's quantile is taken on.
    :param absorbing_terminals: the graph planner makes the node nearest each state where an episode
        terminated (the lander down, the pole fallen; not a time limit) absorbing and worth nothing.
    :param tensorboard_log: folder for TensorBoard runs.
    :param seed: seed of every random choice.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param verbose: 0 silent, 1 SB3's console logger.
    :param log_interval: dump logs every this many episodes.
    """

    OBSERVATION_DTYPE: ClassVar[type] = np.float32
    HYPER_PARAMETERS: ClassVar[tuple[str, ...]] = (
        "ensemble_size", "hidden_size", "n_hidden_layers", "model_learning_rate", "model_batch_size",
        "model_steps", "fresh_model_steps", "model_every", "bootstrap", "decay", "warmup_steps", "planner",
        "planning_horizon", "search_depth", "max_nodes", "node_spacing", "reward_floor", "floor_sample",
        "absorbing_terminals", "log_interval",
    )  # fmt: skip

    def __init__(
        self,
        env: GymEnv | str,
        *,
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
        space = (gym.make(env) if isinstance(env, str) else env).observation_space
        dim = int(space.shape[0]) if isinstance(space, spaces.Box) and len(space.shape) == 1 else 1
        super().__init__(
            env, features_dim=dim, encoder_every=NO_ENCODER_TRAINING, augment_noise=0.0,
            ensemble_size=ensemble_size, hidden_size=hidden_size, n_hidden_layers=n_hidden_layers,
            model_learning_rate=model_learning_rate, model_batch_size=model_batch_size, model_steps=model_steps,
            fresh_model_steps=fresh_model_steps, model_every=model_every, bootstrap=bootstrap, decay=decay,
            warmup_steps=warmup_steps, planner=planner, planning_horizon=planning_horizon,
            search_depth=search_depth, max_nodes=max_nodes, node_spacing=node_spacing, reward_floor=reward_floor,
            floor_sample=floor_sample, absorbing_terminals=absorbing_terminals,
            tensorboard_log=tensorboard_log, seed=seed, device=device, verbose=verbose, log_interval=log_interval,
        )  # fmt: skip

    def _check_observation_space(self) -> None:
        space = self.observation_space
        if not (isinstance(space, spaces.Box) and len(space.shape) == 1):
            raise TypeError(f"VectorMAX needs a 1-D Box of states, got observation_space={space}")

    def _make_encoder(self) -> nn.Module:
        """The features are the standardised state (:class:`Standardize`), nothing trained."""
        return Standardize(self.features_dim)

    def train_encoder(self) -> float:
        """Fix the standardisation on the states stored so far (the warm-up's); returns NaN (no loss)."""
        states = torch.as_tensor(np.concatenate([self.observations, self.next_observations]), device=self.device)
        self.encoder.fit(states)
        return self.last_inverse_loss

"""Model-Based Active Exploration for discrete worlds.

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
import os
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import safe_mean

from world_models.bootstrap import BOOTSTRAP_SCHEMES, bootstrap_weights, fit
from world_models.discrete import DiscreteDynamicsEnsemble
from world_models.exploration_mdp import greedy_action, value_iteration

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX = ".pt"


def _episode_limit(env: GymEnv) -> int | None:
    """The env's episode length if it states one (``horizon`` attribute or ``spec.max_episode_steps``)."""
    for attr in ("horizon", "spec"):
        try:
            value = env.get_attr(attr)[0] if hasattr(env, "get_attr") else getattr(env.unwrapped, attr, None)
        except AttributeError:
            value = None
        if attr == "spec":
            value = getattr(value, "max_episode_steps", None)
        if isinstance(value, int | np.integer) and value > 0:
            return int(value)
    return None


class MAX(BaseAlgorithm):
    """Model-Based Active Exploration on Discrete observation and action spaces.

    Every ``train_freq`` real steps the ensemble is refit on all data (``gradient_steps`` Adam steps,
    each member weighting each transition by its own bootstrap draw), the exploration MDP is rebuilt
    (transitions: mean of the members; reward: JSD utility) and solved by value iteration over the
    steps left in the episode; actions are greedy on that solution, ties broken at random.

    :param env: the environment (or its registered id); Discrete observations (the state) and actions.
    :param ensemble_size: number of forward models E.
    :param hidden_size: width of each member's hidden layers.
    :param n_hidden_layers: hidden layers per member.
    :param activation: ``"swish"`` (as MAX), ``"relu"`` or ``"tanh"``.
    :param code_scale: the members' random codes of (state, action) pairs are drawn from
        U(-code_scale, code_scale); larger keeps the predictions for unvisited pairs further apart.
    :param learning_rate: Adam learning rate of the ensemble.
    :param gradient_steps: Adam steps per refit.
    :param batch_size: minibatch size of a refit; ``None`` uses all data in every step.
    :param train_freq: refit and re-plan every this many real steps.
    :param learning_starts: uniformly random actions for this many steps before planning starts.
    :param bootstrap: ``"poisson"``, ``"bernoulli"`` or ``"none"`` (see :mod:`world_models.bootstrap`).
    :param planning_horizon: steps to plan over; ``None`` plans over the steps left in the episode, read
        from the env's ``horizon`` attribute or ``spec.max_episode_steps``.
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
        learning_rate: float = 3e-2,
        gradient_steps: int = 10,
        batch_size: int | None = None,
        train_freq: int = 1,
        learning_starts: int = 0,
        bootstrap: str = "bayesian",
        planning_horizon: int | None = None,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        stats_window_size: int = 100,
        log_interval: int = 1,
    ) -> None:
        if isinstance(env, gym.Env | str):
            obs_space = (gym.make(env) if isinstance(env, str) else env).observation_space
            act_space = (gym.make(env) if isinstance(env, str) else env).action_space
        else:
            obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(obs_space, spaces.Discrete) or not isinstance(act_space, spaces.Discrete):
            raise TypeError(
                "MAX supports Discrete observation spaces (the state index) and Discrete action spaces; got "
                f"observation_space={obs_space}, action_space={act_space}. For the chain use encoding='index'."
            )
        for name, value in (
            ("ensemble_size", ensemble_size),
            ("hidden_size", hidden_size),
            ("gradient_steps", gradient_steps),
            ("train_freq", train_freq),
            ("log_interval", log_interval),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if ensemble_size < 2:
            raise ValueError(f"ensemble_size must be at least 2 (disagreement needs two members), got {ensemble_size}")
        if bootstrap not in BOOTSTRAP_SCHEMES:
            raise ValueError(f"bootstrap must be one of {BOOTSTRAP_SCHEMES}, got {bootstrap!r}")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        if learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {learning_starts}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be positive or None, got {batch_size}")
        if planning_horizon is not None and planning_horizon < 1:
            raise ValueError(f"planning_horizon must be positive or None, got {planning_horizon}")

        super().__init__(
            policy=None,  # type: ignore[arg-type]  # MAX plans; it has no policy network
            env=env,
            learning_rate=learning_rate,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            stats_window_size=stats_window_size,
            supported_action_spaces=(spaces.Discrete,),
        )
        self.ensemble_size = ensemble_size
        self.hidden_size = hidden_size
        self.n_hidden_layers = n_hidden_layers
        self.activation = activation
        self.code_scale = code_scale
        self.gradient_steps = gradient_steps
        self.batch_size = batch_size
        self.train_freq = train_freq
        self.learning_starts = learning_starts
        self.bootstrap = bootstrap
        self.planning_horizon = planning_horizon
        self.log_interval = log_interval
        self._setup_model()

    # ------------------------------------------------------------------ set-up
    def _setup_model(self) -> None:
        self.set_random_seed(self.seed)
        self.n_states = int(self.observation_space.n)
        self.n_actions = int(self.action_space.n)
        self.ensemble = DiscreteDynamicsEnsemble(
            self.n_states,
            self.n_actions,
            ensemble_size=self.ensemble_size,
            hidden_size=self.hidden_size,
            n_hidden_layers=self.n_hidden_layers,
            activation=self.activation,
            code_scale=self.code_scale,
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.ensemble.parameters(), lr=self.learning_rate, foreach=True)
        self.rng = np.random.default_rng(self.seed)
        # Distinct real transitions (U, 3) as (s, a, s') rows and each member's summed bootstrap
        # weight of each row (E, U); both grow by doubling.
        self._triples = np.zeros((64, 3), dtype=np.int64)
        self._weights = np.zeros((self.ensemble_size, 64), dtype=np.float32)
        self._rows: dict[tuple[int, int, int], int] = {}
        self.n_unique = 0
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)  # (S, A) real visits
        self.episode_step = 0
        self.episode_limit = _episode_limit(self.env) if self.env is not None else None
        if self.planning_horizon is None and self.env is not None and self.episode_limit is None:
            raise ValueError(
                "planning_horizon must be given: the env states no episode length (no `horizon` attribute "
                "and no spec.max_episode_steps)"
            )
        self.last_nll = float("nan")
        self.utility: np.ndarray | None = None  # (S, A) utility of the last plan
        self._q: np.ndarray | None = None  # (H, S, A) plan
        self._replan()

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["ensemble", "optimizer"], []

    # ------------------------------------------------------------------ data
    def _store(self, state: int, action: int, next_state: int) -> None:
        """Add one real transition. Repeats of a (s, a, s') triple share one row whose bootstrap weights
        add up, so a refit costs the same whatever the number of steps; the weighted loss is unchanged."""
        draw = bootstrap_weights(1, self.ensemble_size, self.bootstrap, self.rng)[:, 0]  # (E,)
        row = self._rows.get((state, action, next_state))
        if row is None:
            row = self.n_unique
            if row == self._triples.shape[0]:  # grow by doubling
                grow = max(64, row)
                self._triples = np.concatenate([self._triples, np.zeros((grow, 3), np.int64)])
                self._weights = np.concatenate([self._weights, np.zeros((self.ensemble_size, grow), np.float32)], 1)
            self._triples[row] = (state, action, next_state)
            self._rows[(state, action, next_state)] = row
            self.n_unique = row + 1
        self._weights[:, row] += draw
        self.visits[state, action] += 1

    @property
    def coverage(self) -> float:
        """Fraction of (state, action) pairs tried at least once."""
        return float((self.visits > 0).mean())

    # ------------------------------------------------------------------ model and plan
    def train(self) -> float:
        """Refit the ensemble on all transitions so far; returns the weighted NLL of the last step."""
        n = self.n_unique
        if n == 0:
            return float("nan")
        triples = torch.as_tensor(self._triples[:n], device=self.device)  # (U, 3)
        states, actions, next_states = triples.unbind(1)  # (U,) each
        weights = torch.as_tensor(self._weights[:, :n], device=self.device)  # (E, U)

        def nll_fn(index: torch.Tensor | None) -> torch.Tensor:
            if index is None:
                return self.ensemble.nll(states, actions, next_states)  # (E, U)
            return self.ensemble.nll(states[index], actions[index], next_states[index])  # (E, b)

        self.ensemble.train()
        self.last_nll = fit(
            nll_fn, weights, self.optimizer, steps=self.gradient_steps, batch_size=self.batch_size, rng=self.rng
        )
        self._n_updates += self.gradient_steps
        return self.last_nll

    def _horizon(self) -> int:
        if self.planning_horizon is not None:
            return self.planning_horizon
        return int(self.episode_limit) if self.episode_limit is not None else 1

    def _replan(self) -> None:
        """Rebuild the exploration MDP from the ensemble and solve it for the longest horizon needed."""
        self.ensemble.eval()
        transitions, utility = self.ensemble.exploration_mdp()  # (S, A, S), (S, A)
        self._q = value_iteration(transitions, utility, self._horizon()).cpu().numpy()  # (H, S, A)
        self.utility = utility.cpu().numpy()

    def _steps_left(self) -> int:
        if self.planning_horizon is None and self.episode_limit is None:  # loaded without env or limit
            return 1
        if self.planning_horizon is not None:
            if self.episode_limit is None:
                return self.planning_horizon
            return max(1, min(self.planning_horizon, self.episode_limit - self.episode_step))
        return max(1, self.episode_limit - self.episode_step)

    def _plan_action(self, state: int) -> int:
        assert self._q is not None
        steps_left = min(self._steps_left(), self._q.shape[0])
        return greedy_action(self._q[steps_left - 1, state], self.rng)

    # ------------------------------------------------------------------ SB3 interface
    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = None,
        tb_log_name: str = "MAX",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> MAX:
        """Explore for ``total_timesteps`` real steps (or until a callback returns False).

        :param total_timesteps: number of environment steps.
        :param callback: SB3 callback(s), called after every step.
        :param log_interval: dump logs every this many episodes (default: the constructor's).
        :param tb_log_name: TensorBoard run name.
        :param reset_num_timesteps: start counting from 0 (``False`` continues a loaded or earlier run).
        :param progress_bar: show a tqdm/rich progress bar.
        """
        if self.env is None:
            raise ValueError("MAX has no env: pass one to the constructor or to MAX.load(..., env=env)")
        log_interval = self.log_interval if log_interval is None else log_interval
        env_will_reset = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if env_will_reset:
            self.episode_step = 0
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            state = int(np.asarray(self._last_obs).reshape(-1)[0])
            if self.num_timesteps < self.learning_starts:
                action = int(self.rng.integers(self.n_actions))
            else:
                action = self._plan_action(state)
            new_obs, rewards, dones, infos = self.env.step(np.array([action]))
            self.num_timesteps += 1
            done = bool(dones[0])
            next_obs = infos[0]["terminal_observation"] if done else new_obs
            self._store(state, action, int(np.asarray(next_obs).reshape(-1)[0]))
            self._update_info_buffer(infos, dones)
            callback.update_locals(locals())
            if not callback.on_step():
                break
            self._last_obs = new_obs
            self.episode_step = 0 if done else self.episode_step + 1
            if done:
                self._episode_num += 1
            if self.num_timesteps % self.train_freq == 0 and self.num_timesteps >= self.learning_starts:
                self.train()
                self._replan()
            if done and self._episode_num % log_interval == 0:
                self._dump_logs()
        callback.on_training_end()
        return self

    def _dump_logs(self) -> None:
        self.logger.record("explore/coverage", self.coverage)
        if self.utility is not None:
            self.logger.record("explore/utility_mean", float(self.utility.mean()))
        self.logger.record("model/nll", self.last_nll)
        if self.ep_info_buffer:
            self.logger.record("rollout/ep_rew_mean", safe_mean([ep["r"] for ep in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([ep["l"] for ep in self.ep_info_buffer]))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    def predict(
        self,
        observation: np.ndarray | int,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy action of the current plan for each observation (the state index).

        The plan is the exploration MDP solved over the steps left in the agent's current episode.
        ``deterministic=True`` breaks ties by the lowest action index instead of at random.
        """
        obs = np.asarray(observation)
        flat = obs.reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n_states):
            raise ValueError(f"observation must hold states in [0, {self.n_states}), got {observation!r}")
        assert self._q is not None
        q = self._q[min(self._steps_left(), self._q.shape[0]) - 1, flat]  # (B, A)
        if deterministic:
            actions = q.argmax(1)
        else:
            actions = np.array([greedy_action(row, self.rng) for row in q], dtype=np.int64)
        return (actions if obs.ndim else actions[0]), state

    # ------------------------------------------------------------------ save / load
    _HYPER = (
        "ensemble_size", "hidden_size", "n_hidden_layers", "activation", "code_scale", "learning_rate",
        "gradient_steps", "batch_size", "train_freq", "learning_starts", "bootstrap", "planning_horizon",
        "log_interval", "seed",
    )  # fmt: skip

    def save(self, path: str | os.PathLike, exclude=None, include=None) -> None:  # noqa: ARG002
        """Write hyper-parameters, ensemble, optimiser, all data and the random state to ``path``.

        ``.pt`` is appended when ``path`` has no suffix. The file is written to a temporary name and
        renamed, so a crash never leaves half a checkpoint.
        """
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(SUFFIX)
        n = self.n_unique
        checkpoint: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "hyper_parameters": {name: getattr(self, name) for name in self._HYPER},
            "spaces": {"n_states": self.n_states, "n_actions": self.n_actions},
            "ensemble": self.ensemble.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data": {
                "triples": torch.as_tensor(self._triples[:n]),
                "weights": torch.as_tensor(self._weights[:, :n]),
                "visits": torch.as_tensor(self.visits),
            },
            "counters": {
                "num_timesteps": self.num_timesteps,
                "episode_num": self._episode_num,
                "n_updates": self._n_updates,
                "episode_step": self.episode_step,
                "episode_limit": self.episode_limit,
            },
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(checkpoint, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | os.PathLike,
        env: GymEnv | None = None,
        device: torch.device | str = "auto",
        **kwargs: Any,
    ) -> MAX:
        """Load a checkpoint written by :meth:`save` without unpickling code (``weights_only=True``).

        :param path: checkpoint path (``.pt`` is tried when ``path`` has no suffix).
        :param env: the env to continue learning in; it must have the same spaces. Without one the
            model can ``predict`` but not ``learn``.
        :param device: where to put the ensemble.
        :param kwargs: hyper-parameters to override (e.g. ``tensorboard_log``, ``verbose``).
        """
        path = Path(path)
        if not path.exists() and not path.suffix:
            path = path.with_suffix(SUFFIX)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if checkpoint.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a MAX checkpoint of format {FORMAT_VERSION}")
        hyper = dict(checkpoint["hyper_parameters"])
        hyper.update(kwargs)
        if env is None:  # a model that can predict but not learn
            model = cls.__new__(cls)
            BaseAlgorithm.__init__(model, policy=None, env=None, learning_rate=hyper["learning_rate"], device=device)
            model.observation_space = spaces.Discrete(checkpoint["spaces"]["n_states"])
            model.action_space = spaces.Discrete(checkpoint["spaces"]["n_actions"])
            for name in cls._HYPER:
                setattr(model, name, hyper[name])
            model.seed = hyper["seed"]
            model._setup_model()
        else:
            model = cls(env, device=device, **hyper)
        if (model.n_states, model.n_actions) != (checkpoint["spaces"]["n_states"], checkpoint["spaces"]["n_actions"]):
            raise ValueError(f"env spaces do not match the checkpoint's {checkpoint['spaces']}")
        model.ensemble.load_state_dict(checkpoint["ensemble"])
        model.optimizer.load_state_dict(checkpoint["optimizer"])
        data = checkpoint["data"]
        model._triples = data["triples"].numpy().copy()
        model._weights = data["weights"].numpy().copy()
        model._rows = {tuple(row): i for i, row in enumerate(model._triples.tolist())}
        model.n_unique = len(model._triples)
        model.visits = data["visits"].numpy().copy()
        counters = checkpoint["counters"]
        model.num_timesteps = counters["num_timesteps"]
        model._episode_num = counters["episode_num"]
        model._n_updates = counters["n_updates"]
        model.episode_step = counters["episode_step"]
        model.episode_limit = counters["episode_limit"]
        model.rng.bit_generator.state = checkpoint["rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        model._replan()
        return model

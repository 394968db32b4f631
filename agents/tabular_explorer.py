"""Shared machinery of the explorers whose state is a Discrete index: MAX, the perfect-memory explorer
and the uniform random agent.

Gives them Stable-Baselines3's interface (``learn`` with callbacks, progress bar and logger,
``predict``, ``save``/``load``, ``get_env``, ``set_logger``) on top of ``BaseAlgorithm``, the step
loop, visit counts, the episode clock (``episode_step`` against the env's episode length) and
checkpoints that load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.callbacks import ProgressBarMixin, dump_episode_logs
from agents.checkpoint import (
    env_identity,
    load_checkpoint,
    progress_counters,
    restore_progress_counters,
    save_checkpoint,
    warn_if_other_env,
)
from agents.devices import check_device
from envs.reachable import reachable_pairs


def ended_by_termination(done: bool, info: dict[str, Any]) -> bool:
    """Whether a vectorised env's step that is ``done`` ended its episode by a termination of the world,
    not a time limit (which Stable-Baselines3 marks ``info["TimeLimit.truncated"]``)."""
    return done and not info.get("TimeLimit.truncated", False)


def episode_limit(env: GymEnv) -> int | None:
    """The env's episode length if it states one: a ``horizon`` attribute or ``spec.max_episode_steps``."""
    for attr in ("horizon", "spec"):
        try:
            if hasattr(env, "get_attr"):  # a VecEnv
                value = env.get_attr(attr)[0]
            else:  # the wrapper chain's spec holds the TimeLimit's max_episode_steps; the horizon is the env's
                value = getattr(env, "spec", None) if attr == "spec" else getattr(env.unwrapped, attr, None)
        except AttributeError:
            value = None
        if attr == "spec":
            value = getattr(value, "max_episode_steps", None)
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


DEFAULT_PLANNING_HORIZON = 100  # steps planned over before any episode has ended, when the env states none
MAX_PLANNING_HORIZON = 1000  # cap of a horizon refined from observed episode lengths


def planned_horizon(planning_horizon: int | None, limit: int | None, longest_episode: int) -> int:
    """Steps a planner plans over: ``planning_horizon`` if given, else the env's episode length ``limit``,
    else the longest episode seen (``DEFAULT_PLANNING_HORIZON`` before any ended), capped at
    ``MAX_PLANNING_HORIZON``."""
    if planning_horizon or limit:
        return int(planning_horizon or limit)
    return min(longest_episode or DEFAULT_PLANNING_HORIZON, MAX_PLANNING_HORIZON)


def steps_to_plan(planning_horizon: int | None, limit: int | None, longest_episode: int, episode_step: int) -> int:
    """Steps to plan over from step ``episode_step`` of an episode: the rest of the episode where the env
    states its length ``limit``, capped at :func:`planned_horizon`; at least 1."""
    horizon = planned_horizon(planning_horizon, limit, longest_episode)
    left = limit - episode_step if limit is not None else horizon
    return max(1, min(horizon, left))


UNSTATED_EPISODE_STEPS = 1000  # steps per episode assumed by step_budget when the env states no episode length


def step_budget(env: GymEnv, episodes: int) -> int:
    """Steps that hold ``episodes`` whole episodes: episodes x the env's episode length, or x
    ``UNSTATED_EPISODE_STEPS`` (1000) when it states none. A callback that counts episodes (such as
    :class:`~agents.callbacks.CoverageCallback`) then stops the run; SB3's schedules (epsilon) are
    fractions of this budget."""
    return episodes * (episode_limit(env) or UNSTATED_EPISODE_STEPS)


def check_discrete_spaces(env: GymEnv | str, agent: str) -> None:
    """Raise ``TypeError`` unless ``env`` has Discrete observation and action spaces."""
    probe = gym.make(env) if isinstance(env, str) else env
    obs_space, act_space = probe.observation_space, probe.action_space
    if not isinstance(obs_space, spaces.Discrete) or not isinstance(act_space, spaces.Discrete):
        raise TypeError(
            f"{agent} needs Discrete observations (a state index) and Discrete actions; got "
            f"observation_space={obs_space}, action_space={act_space} (maxplore/Chain-v0 encoding='index' and "
            "maxplore/Maze-v0 obs_mode='index' give state indices)"
        )


def greedy_actions(values: np.ndarray, rng: np.random.Generator, deterministic: bool) -> np.ndarray:
    """Row-wise argmax of ``values`` (B, A); ties go to the lowest index if ``deterministic``, else at random."""
    if deterministic:
        return values.argmax(1)
    best = values >= values.max(1, keepdims=True) - 1e-9  # (B, A) tied maxima
    noise = rng.random(values.shape)  # a random order among the tied actions
    return np.where(best, noise, -1.0).argmax(1)


class TabularExplorer(ProgressBarMixin, BaseAlgorithm):
    """Base class: subclasses set their hyper-parameters, call :meth:`_setup_model`, and implement
    :meth:`_action_values` (and optionally :meth:`_observe`, :meth:`_record_logs`, the checkpoint hooks).

    :param env: the environment; Discrete observations (the state) and Discrete actions.
    :param learning_rate: learning rate of whatever the subclass trains (0 when nothing is trained).
    :param tensorboard_log: folder for TensorBoard runs (``None``: no TensorBoard).
    :param seed: seed of every random choice of the agent and of the env.
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    :param verbose: 0 silent, 1 SB3's console logger.
    :param stats_window_size: episodes averaged in ``rollout/ep_rew_mean``.
    :param log_interval: dump the logger every this many episodes.
    """

    # names of the constructor's hyper-parameters, written into checkpoints
    HYPER_PARAMETERS: ClassVar[tuple[str, ...]] = ("log_interval",)
    # the "kind" a checkpoint records (default: the class name)
    CHECKPOINT_KIND: ClassVar[str | None] = None

    def __init__(
        self,
        env: GymEnv | str | None,
        *,
        learning_rate: float = 0.0,
        tensorboard_log: str | None = None,
        seed: int | None = None,
        device: torch.device | str = "auto",
        verbose: int = 0,
        stats_window_size: int = 100,
        log_interval: int = 1,
    ) -> None:
        check_device(device)
        if env is not None:
            check_discrete_spaces(env, type(self).__name__)
        if isinstance(log_interval, bool) or not isinstance(log_interval, int) or log_interval < 1:
            raise ValueError(f"log_interval must be a positive int, got {log_interval!r}")
        super().__init__(
            policy=None,  # type: ignore[arg-type]  # these explorers act from tables or plans, not a policy net
            env=env,
            learning_rate=learning_rate,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            stats_window_size=stats_window_size,
            supported_action_spaces=(spaces.Discrete,),
        )
        self.log_interval = log_interval

    # ------------------------------------------------------------------ hooks
    def _setup_model(self) -> None:
        self.set_random_seed(self.seed)
        self.n_states = int(self.observation_space.n)
        self.n_actions = int(self.action_space.n)
        self.rng = np.random.default_rng(self.seed)
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)  # (S, A) real visits
        # (S,) states whose arrival ended an episode (terminated, not truncated): a FrozenLake hole or goal.
        # Their actions can never be tried, so explorers do not head there to try them.
        self.terminal = np.zeros(self.n_states, dtype=bool)
        self.episode_step = 0
        self.longest_episode = 0  # steps of the longest episode ended so far
        self.episode_limit = episode_limit(self.env) if self.env is not None else None
        # (S, A) the pairs that can be tried (envs.reachable_pairs): what coverage counts
        world = self.env.envs[0] if isinstance(self.env, DummyVecEnv) else None
        self.reachable = reachable_pairs(world) if world is not None else np.ones_like(self.visits, dtype=bool)

    def _action_values(self, states: np.ndarray) -> np.ndarray:
        """(B,) states -> (B, A) values; the agent takes the greedy action."""
        raise NotImplementedError

    def _observe(self, state: int, action: int, next_state: int, done: bool) -> None:
        """Called after every real step, once the visit count and the episode clock are updated."""

    def _record_logs(self) -> None:
        """Record the subclass's own logger values before each dump."""

    def _extra_state(self) -> dict[str, Any]:
        """Tensors and plain values the subclass needs in a checkpoint."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_extra_state` wrote."""

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return [], []

    # ------------------------------------------------------------------ SB3 interface
    @property
    def coverage(self) -> float:
        """Fraction of the (state, action) pairs that can be tried (``envs.reachable_pairs``; every pair when
        the env publishes no transition table or state mask) tried at least once."""
        return float((self.visits[self.reachable] > 0).mean())

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = None,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ):
        """Explore for ``total_timesteps`` real steps (or until a callback returns False).

        :param total_timesteps: number of environment steps.
        :param callback: SB3 callback(s), called after every step.
        :param log_interval: dump logs every this many episodes (default: the constructor's).
        :param tb_log_name: TensorBoard run name (default: the class name).
        :param reset_num_timesteps: start counting from 0 (``False`` continues a loaded or earlier run).
        :param progress_bar: show a tqdm/rich progress bar.
        """
        if self.env is None:
            raise ValueError(f"{type(self).__name__} has no env: pass one to the constructor or to load(..., env=env)")
        log_interval = self.log_interval if log_interval is None else log_interval
        env_will_reset = reset_num_timesteps or self._last_obs is None
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name or type(self).__name__, progress_bar
        )
        if env_will_reset:
            self.episode_step = 0
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            state = int(np.asarray(self._last_obs).reshape(-1)[0])
            action = int(greedy_actions(self._action_values(np.array([state])), self.rng, deterministic=False)[0])
            new_obs, _, dones, infos = self.env.step(np.array([action]))
            self.num_timesteps += 1
            done = bool(dones[0])
            next_obs = infos[0]["terminal_observation"] if done else new_obs
            next_state = int(np.asarray(next_obs).reshape(-1)[0])
            self._update_info_buffer(infos, dones)
            self._last_obs = new_obs
            self.visits[state, action] += 1
            if ended_by_termination(done, infos[0]):
                self.terminal[next_state] = True
            if done:
                self.longest_episode = max(self.longest_episode, self.episode_step + 1)
            self.episode_step = 0 if done else self.episode_step + 1
            self._observe(state, action, next_state, done)
            if done:
                self._episode_num += 1
                if self._episode_num % log_interval == 0:
                    self._dump_logs()
            callback.update_locals(locals())
            if not callback.on_step():
                break
        callback.on_training_end()
        return self

    def _dump_logs(self) -> None:
        self.logger.record("explore/coverage", self.coverage)
        self._record_logs()
        dump_episode_logs(self)

    def predict(
        self,
        observation: np.ndarray | int,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy action for each observation (a state index, or an array of them).

        ``deterministic=True`` breaks ties by the lowest action index instead of at random.
        """
        obs = np.asarray(observation)
        flat = obs.reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.n_states):
            raise ValueError(f"observation must hold states in [0, {self.n_states}), got {observation!r}")
        actions = greedy_actions(self._action_values(flat), self.rng, deterministic)
        return (actions if obs.ndim else actions[0]), state

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike, exclude=None, include=None) -> None:  # noqa: ARG002
        """Write hyper-parameters, the agent's state, counters and random state to ``path``.

        ``.pt`` is appended when ``path`` has no suffix; the file appears complete or not at all.
        """
        checkpoint = {
            "kind": self.CHECKPOINT_KIND or type(self).__name__,
            "hyper_parameters": {name: getattr(self, name) for name in self.HYPER_PARAMETERS},
            "seed": self.seed,
            "spaces": {"n_states": self.n_states, "n_actions": self.n_actions},
            "env": env_identity(self.env) if self.env is not None else None,
            "visits": torch.as_tensor(self.visits),
            "terminal": torch.as_tensor(self.terminal),
            "counters": {
                **progress_counters(self),
                "episode_step": self.episode_step,
                "longest_episode": self.longest_episode,
                "episode_limit": self.episode_limit,
            },
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "extra": self._extra_state(),
        }
        save_checkpoint(checkpoint, path)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | os.PathLike,
        env: GymEnv | None = None,
        device: torch.device | str = "auto",
        **kwargs: Any,
    ):
        """Load a checkpoint written by :meth:`save`; nothing in it is unpickled as code.

        :param path: checkpoint path (``.pt`` is tried when ``path`` has no suffix).
        :param env: the env to continue learning in, with the same spaces. Without one the model can
            ``predict`` but not ``learn``.
        :param device: where to put the model's tensors.
        :param kwargs: constructor arguments to override (e.g. ``tensorboard_log``, ``verbose``).
        """
        checkpoint = load_checkpoint(path, kind=cls.CHECKPOINT_KIND or cls.__name__)
        hyper = {**checkpoint["hyper_parameters"], "seed": checkpoint["seed"], **kwargs}
        saved_spaces = checkpoint["spaces"]
        if env is None:
            env = _SpacesOnly(saved_spaces["n_states"], saved_spaces["n_actions"])
            model = cls(env, device=device, **hyper)
            model.env = None
        else:
            warn_if_other_env(checkpoint.get("env"), env, path)
            model = cls(env, device=device, **hyper)
        if (model.n_states, model.n_actions) != (saved_spaces["n_states"], saved_spaces["n_actions"]):
            raise ValueError(f"env spaces do not match the checkpoint's {saved_spaces}")
        model.visits = checkpoint["visits"].numpy().copy()
        if "terminal" in checkpoint:  # absent in checkpoints written before it existed
            model.terminal = checkpoint["terminal"].numpy().copy()
        counters = checkpoint["counters"]
        restore_progress_counters(model, counters)
        model.episode_step = counters["episode_step"]
        model.longest_episode = counters.get("longest_episode", 0)  # absent before this field existed
        model.episode_limit = counters["episode_limit"]
        model.rng.bit_generator.state = checkpoint["rng"]
        torch.set_rng_state(checkpoint["torch_rng"])
        model._load_extra_state(checkpoint["extra"])
        return model


class _SpacesOnly(gym.Env):
    """A stand-in env that only carries spaces, to rebuild a model loaded without an env."""

    def __init__(self, n_states: int, n_actions: int) -> None:
        self.observation_space = spaces.Discrete(n_states)
        self.action_space = spaces.Discrete(n_actions)
        self.horizon = 1  # never stepped; only satisfies agents that need an episode length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        raise RuntimeError("a model loaded without an env cannot learn")

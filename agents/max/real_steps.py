"""The real-step loop the model-learning MAX planners share (continuous states, pictures).

Mixed in before Stable-Baselines3's ``BaseAlgorithm``: each real step the planner acts, the one env steps,
the transition is stored, the planner learns on its own schedule, the episode clock moves on
(``episode_step``, the steps taken in this episode, and ``longest_episode``), the end of an episode dumps
the logs, and the callbacks see the step (and may stop the run), as SB3's own ``learn`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.type_aliases import MaybeCallback

from agents.callbacks import VISIT_COVERAGES, dump_episode_logs
from agents.tabular_explorer import ended_by_termination


class RealStepLoop:
    """``learn`` for a planner that implements the four hooks below and keeps ``last_utility`` and
    ``last_nll`` (logged as ``explore/utility_mean`` and ``model/nll``)."""

    episode_step: int = 0  # steps taken in the current episode
    longest_episode: int = 0  # steps of the longest episode ended so far

    def _observation_batch(self, observation: Any) -> np.ndarray:
        """One observation (or a batch of one) as the planner's (1, ...) array."""
        raise NotImplementedError

    def _act(self, observations: np.ndarray) -> tuple[np.ndarray, Any]:
        """The env's action batch for (1, ...) observations, and the action as the planner stores it."""
        raise NotImplementedError

    def _store(self, observation: np.ndarray, action: Any, next_observation: np.ndarray, terminated: bool) -> None:
        """Keep one real transition; ``terminated``: the episode ended on arriving at ``next_observation``
        (a termination of the world, not a time limit)."""
        raise NotImplementedError

    def _after_step(self, new_observations: np.ndarray) -> None:
        """Learn when the schedule says so; ``new_observations`` is where the env now is (after a reset)."""
        raise NotImplementedError

    def _after_episode(self, new_observations: np.ndarray) -> None:
        """Called after :meth:`_after_step` when the step ended an episode; ``new_observations`` is the
        reset's. Nothing by default."""

    def _record_logs(self) -> None:
        """Record the planner's own logger values (none by default)."""

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = None,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ):
        """Explore for ``total_timesteps`` real steps (or until a callback returns False); arguments as
        Stable-Baselines3's ``learn``."""
        if self.env is None:
            raise ValueError(f"{type(self).__name__} has no env: pass one to the constructor or to load(..., env=env)")
        log_interval = self.log_interval if log_interval is None else log_interval
        env_resets = reset_num_timesteps or self._last_obs is None  # SB3's _setup_learn then resets the env
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name or "MAX", progress_bar
        )
        if env_resets:
            self.episode_step = 0
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            obs = self._observation_batch(self._last_obs)  # (1, ...)
            env_action, action = self._act(obs)
            new_obs, _, dones, infos = self.env.step(env_action)
            self.num_timesteps += 1
            done = bool(dones[0])
            next_obs = infos[0]["terminal_observation"] if done else new_obs[0]
            self._update_info_buffer(infos, dones)
            self._store(obs[0], action, self._observation_batch(next_obs)[0], ended_by_termination(done, infos[0]))
            self._last_obs = new_obs
            self._after_step(new_obs)
            if done:
                self._after_episode(new_obs)
                self.longest_episode = max(self.longest_episode, self.episode_step + 1)
            self.episode_step = 0 if done else self.episode_step + 1
            if done:
                self._episode_num += 1
                if self._episode_num % log_interval == 0:
                    self._dump_logs(infos[0])
            callback.update_locals(locals())
            if not callback.on_step():
                break
        callback.on_training_end()
        return self

    def _dump_logs(self, info: dict[str, Any]) -> None:
        self.logger.record("explore/utility_mean", self.last_utility)
        self.logger.record("model/nll", self.last_nll)
        self._record_logs()
        for key in VISIT_COVERAGES:  # what the world counts of the places visited (maze cells, Ant maze blocks)
            if key in info:
                self.logger.record(f"explore/{key}", float(info[key]))
        dump_episode_logs(self)

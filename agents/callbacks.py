"""SB3 callbacks for exploration runs: coverage tracking, a progress bar that ends where the run ends,
and a Ctrl-C that stops at the end of the current episode."""

from __future__ import annotations

import logging
import signal
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.utils import safe_mean
from tqdm import tqdm

logger = logging.getLogger(__name__)


# coverages of places visited that worlds report in info: maxplore/Maze-v0's free cells, and
# maxplore/AntMaze-v0's maze blocks and finer grid cells; a grid over vector states (envs.StateGridCoverage)
VISIT_COVERAGES = ("cell_coverage", "maze_coverage", "grid_coverage", "state_grid_coverage")


class CoverageCallback(BaseCallback):
    """Track transition coverage from :class:`envs.TransitionCoverage`'s ``info`` and stop when done.

    Records the coverage at the end of every episode (``coverage_per_episode``, and each place coverage of
    the world's ``info`` in ``visits_per_episode``), logs
    ``explore/coverage`` (and ``explore/<key>`` for each key of :data:`VISIT_COVERAGES` in ``info``: the
    maze's cells, the Ant maze's blocks and grid cells) to the model's logger, and stops learning once
    every transition has been tried (``stop_at_full=True``) or ``max_episodes`` episodes have ended. On an
    env without coverage in its ``info`` (states that cannot be counted), it only counts episodes
    (``episodes``) and stops after ``max_episodes``; ``coverage`` stays ``None``.

    :param max_episodes: stop after this many episodes (``None``: no limit).
    :param stop_at_full: stop as soon as coverage reaches 1.0.
    """

    def __init__(self, max_episodes: int | None = None, *, stop_at_full: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        if max_episodes is not None and max_episodes < 1:
            raise ValueError(f"max_episodes must be positive or None, got {max_episodes}")
        self.max_episodes = max_episodes
        self.stop_at_full = stop_at_full
        self.coverage_per_episode: list[float] = []
        self.episodes_to_full_coverage: int | None = None
        self.coverage: float | None = None
        self.visits: dict[str, float] = {}  # the last value of each VISIT_COVERAGES key in info
        self.visits_per_episode: dict[str, list[float]] = {}  # each key's value at the end of every episode
        self.episodes = 0  # episodes ended

    def _on_step(self) -> bool:
        info = self.locals["infos"][0]
        done = bool(self.locals["dones"][0])
        self.episodes += done
        if "coverage" in info:
            self.coverage = float(info["coverage"])
            if self.coverage >= 1.0 and self.episodes_to_full_coverage is None:
                # info["episodes"] counts resets; after the final step of an episode the VecEnv has already
                # reset, so the episode in which coverage completed is the number of episodes ended + 1.
                self.episodes_to_full_coverage = len(self.coverage_per_episode) + 1
            if done:
                self.coverage_per_episode.append(self.coverage)
                self.logger.record("explore/coverage", self.coverage)
        for key in VISIT_COVERAGES:
            if done and key in info:
                self.visits[key] = float(info[key])
                self.visits_per_episode.setdefault(key, []).append(self.visits[key])
                self.logger.record(f"explore/{key}", self.visits[key])
        if self.stop_at_full and self.episodes_to_full_coverage is not None:
            if not done:
                self.coverage_per_episode.append(self.coverage)  # count the partial last episode
            return False
        return self.max_episodes is None or self.episodes < self.max_episodes

    def _on_training_end(self) -> None:
        # The run may end mid-episode (full coverage, a step budget): log where it ended, so the last
        # TensorBoard point is the final coverage, not the one at the last episode's end.
        if self.coverage is not None:
            self.logger.record("explore/coverage", self.coverage)
        for key, value in self.visits.items():
            self.logger.record(f"explore/{key}", value)
        self.logger.dump(step=self.num_timesteps)


class ProgressBar(BaseCallback):
    """A tqdm bar over the step budget that is completed when the run stops early (full coverage, a
    callback, Ctrl-C), instead of freezing at the fraction reached.

    :param desc: text before the bar.
    """

    def __init__(self, desc: str = "steps") -> None:
        super().__init__()
        self.desc = desc
        self.pbar: tqdm | None = None

    def _on_training_start(self) -> None:
        self.pbar = tqdm(total=self.locals["total_timesteps"] - self.model.num_timesteps, desc=self.desc)

    def _on_step(self) -> bool:
        assert self.pbar is not None
        self.pbar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.close()

    def close(self) -> None:
        """Set the total to the steps done, draw the bar once more and close it (safe to call twice)."""
        if self.pbar is None:
            return
        self.pbar.total = self.pbar.n  # the run's real end
        self.pbar.refresh()
        self.pbar.close()
        self.pbar = None


class ProgressBarMixin:
    """Mix in before an SB3 algorithm: ``learn(progress_bar=True)`` shows :class:`ProgressBar` (completed at
    the run's real end) instead of SB3's, which freezes at the fraction reached when a run stops early."""

    def _init_callback(self, callback: MaybeCallback, progress_bar: bool = False) -> BaseCallback:
        if progress_bar:
            given = callback if isinstance(callback, list) else [callback]
            callback = [c for c in given if c is not None] + [ProgressBar(desc=type(self).__name__)]
        return super()._init_callback(callback, False)  # type: ignore[misc]


class StopOnInterrupt(BaseCallback):
    """The first Ctrl-C (SIGINT) during ``learn`` stops training at the end of the current episode, so
    a checkpoint saved afterwards continues exactly as the uninterrupted run would; a second Ctrl-C
    raises ``KeyboardInterrupt`` at once. The previous SIGINT handler is restored when training ends.

    ``interrupted`` tells whether a Ctrl-C arrived. Install it only from the main thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        logger.warning("Ctrl-C: stopping at the end of this episode (Ctrl-C again to stop now)")

    def _on_training_start(self) -> None:
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _on_step(self) -> bool:
        return not (self.interrupted and bool(self.locals["dones"][0]))

    def _on_training_end(self) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the previous SIGINT handler back (safe to call twice)."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def dump_episode_logs(model: BaseAlgorithm) -> None:
    """Record SB3's rollout means over ``model.ep_info_buffer`` and the episode and step counters, then dump
    the logger: the end of every ``log_interval``-th episode of the explorers' own ``learn`` loops (their own
    values are recorded before)."""
    if model.ep_info_buffer:
        model.logger.record("rollout/ep_rew_mean", safe_mean([ep["r"] for ep in model.ep_info_buffer]))
        model.logger.record("rollout/ep_len_mean", safe_mean([ep["l"] for ep in model.ep_info_buffer]))
    model.logger.record("time/episodes", model._episode_num, exclude="tensorboard")
    model.logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
    model.logger.dump(step=model.num_timesteps)

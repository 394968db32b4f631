"""SB3 callbacks for exploration runs."""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback


class CoverageCallback(BaseCallback):
    """Track transition coverage from :class:`envs.TransitionCoverage`'s ``info`` and stop when done.

    Records the coverage at the end of every episode (``coverage_per_episode``), logs
    ``explore/coverage`` (and ``explore/cell_coverage`` when ``info`` has ``cell_coverage``) to the
    model's logger, and stops learning once every transition has been tried
    (``stop_at_full=True``) or ``max_episodes`` episodes have ended.

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
        self.coverage = 0.0
        self.cell_coverage: float | None = None

    def _on_step(self) -> bool:
        info = self.locals["infos"][0]
        if "coverage" not in info:
            raise KeyError("CoverageCallback needs an env wrapped in envs.TransitionCoverage")
        self.coverage = float(info["coverage"])
        if self.coverage >= 1.0 and self.episodes_to_full_coverage is None:
            # info["episodes"] counts resets; after the final step of an episode the VecEnv has already
            # reset, so the episode in which coverage completed is the number of episodes ended + 1.
            self.episodes_to_full_coverage = len(self.coverage_per_episode) + 1
        done = bool(self.locals["dones"][0])
        if done:
            self.coverage_per_episode.append(self.coverage)
            self.logger.record("explore/coverage", self.coverage)
            if "cell_coverage" in info:  # worlds that count visited cells (maxplore/Maze-v0)
                self.cell_coverage = float(info["cell_coverage"])
                self.logger.record("explore/cell_coverage", self.cell_coverage)
        if self.stop_at_full and self.episodes_to_full_coverage is not None:
            if not done:
                self.coverage_per_episode.append(self.coverage)  # count the partial last episode
            return False
        return self.max_episodes is None or len(self.coverage_per_episode) < self.max_episodes

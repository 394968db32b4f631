"""Where a run of MAX on counted states spends its time: the refits, the check that decides whether a
step needs one, building the exploration MDP (the members' predictions and their JSD utility), value
iteration, the env, and logging.

Each part is timed by wrapping the method that does it on one model (and ``value_iteration`` in the
planner's module) with a clock; nothing in the library is changed, and the clocks cost about a
microsecond a call.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

PARTS = ("refit", "refit check", "exploration MDP", "value iteration", "env", "logging")


class _Clock:
    """Total seconds and calls of the functions it wraps, per part."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.calls = dict.fromkeys(PARTS, 0)

    def wrap(self, part: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start
                self.calls[part] += 1

        return timed


def profile_max_run(
    env_id: str,
    env_kwargs: dict[str, Any],
    *,
    seed: int,
    max_episodes: int,
    overrides: dict[str, Any] | None = None,
    max_steps: int | None = None,
    flush_denormals: bool = True,
) -> dict[str, Any]:
    """Run MAX (``agents.registry.make_agent("max", ...)`` with ``overrides``) in ``env_id`` until it has tried
    every reachable pair or spent ``max_episodes`` (or ``max_steps``), timing each part.

    :param env_id: a Gymnasium id with Discrete observations and actions.
    :param env_kwargs: its keyword arguments.
    :param seed: the agent's seed.
    :param max_episodes: episode budget.
    :param overrides: MAX hyper-parameters.
    :param max_steps: stop after this many steps if the episode budget has not run out first.
    :param flush_denormals: ``False`` refits and replans with denormal floats kept (the library always flushes
        them, :mod:`world_models.denormals`): a probe of what flushing saves, not a setting of MAX.
    :return: ``seconds`` (the whole run, from building the agent), ``parts`` (seconds per part of
        :data:`PARTS`), ``calls`` (calls per part: ``refit`` counts refits), ``steps``, ``episodes_to_full``,
        ``max_episodes``, ``tried`` (pairs tried) and ``actions`` (a SHA-1 of the actions taken, in order: equal
        digests mean the same decisions).
    """
    import gymnasium as gym

    import agents.max.tabular as planner
    import envs  # noqa: F401
    from agents.callbacks import CoverageCallback
    from agents.registry import make_agent
    from agents.tabular_explorer import step_budget

    clock = _Clock()
    env = envs.TransitionCoverage(gym.make(env_id, **env_kwargs))
    solve, flushed = planner.value_iteration, planner.flushed_denormals
    planner.value_iteration = clock.wrap("value iteration", solve)
    if not flush_denormals:
        planner.flushed_denormals = contextlib.nullcontext
    actions = hashlib.sha1()

    def step(vec_actions):
        actions.update(np.asarray(vec_actions, dtype=np.int64).tobytes())
        return env_step(vec_actions)

    try:
        start = time.perf_counter()
        model = make_agent("max", env, seed=seed, device="cpu", **(overrides or {}))
        if not isinstance(model, planner.TabularMAX):
            raise TypeError(f"profile_max_run times MAX on counted states; {env_id} built a {type(model).__name__}")
        model.train = clock.wrap("refit", model.train)
        model._predicted = clock.wrap("refit check", model._predicted)
        model._dump_logs = clock.wrap("logging", model._dump_logs)
        model.ensemble.exploration_mdp = clock.wrap("exploration MDP", model.ensemble.exploration_mdp)
        callback = CoverageCallback(max_episodes=max_episodes)
        env_step = model.env.step
        model.env.step = clock.wrap("env", step)
        budget = step_budget(env, max_episodes)
        model.learn(budget if max_steps is None else min(budget, max_steps), callback=callback)
        seconds = time.perf_counter() - start
    finally:
        planner.value_iteration, planner.flushed_denormals = solve, flushed
    return {
        "seconds": seconds,
        "parts": clock.seconds,
        "calls": clock.calls,
        "steps": int(model.num_timesteps),
        "episodes_to_full": callback.episodes_to_full_coverage,
        "max_episodes": max_episodes,
        "tried": int(env.tried.sum()),
        "actions": actions.hexdigest(),
    }

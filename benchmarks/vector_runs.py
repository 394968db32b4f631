"""One run of the vector benchmark: an explorer in a world of vector states with discrete actions
(CartPole, Acrobot, LunarLander) for a step budget, without reward; the record holds the cells of the
world's state grid (:data:`envs.STATE_GRIDS`) visited after every ``every`` steps.

The explorers (:data:`VECTOR_METHODS`): MAX (:class:`~agents.max.vectors.VectorMAX`), uniformly random
actions (the same class, its warm-up never ending), the DQN family with the registry's defaults (bonus
DQN counts SimHash codes of the states) and the curiosity baselines RND and ICM (:mod:`agents.curiosity`).
"""

from __future__ import annotations

import time
from typing import Any

# method -> (agent of agents.registry, hyper-parameters); "random" is MAX whose warm-up never ends
VECTOR_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "max": ("max", {}),
    "random": ("max", {}),
    "dqn": ("dqn", {}),
    "bootdqn": ("bootdqn", {}),
    "bonusdqn": ("bonusdqn", {"bonus": "simhash"}),
    "rnd": ("rnd", {}),
    "icm": ("icm", {}),
}
VECTOR_LABELS = {"max": "MAX", "random": "random", "dqn": "DQN (eps-greedy)", "bootdqn": "Bootstrapped DQN",
                 "bonusdqn": "bonus DQN (SimHash)", "rnd": "RND", "icm": "ICM"}  # fmt: skip
VECTOR_WORLDS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")


def vector_agent_kwargs(job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The agent of a vector job and its hyper-parameters (``random``: a warm-up past the budget)."""
    if job["method"] not in VECTOR_METHODS:
        raise ValueError(f"method must be one of {sorted(VECTOR_METHODS)}, got {job['method']!r}")
    algo, defaults = VECTOR_METHODS[job["method"]]
    kwargs = {**defaults, **job.get("overrides", {})}
    if job["method"] == "random":
        kwargs["warmup_steps"] = job["steps"] + 1
    return algo, kwargs


def with_vector_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` (of :func:`explore_vectors_once`) with its agent's resolved hyper-parameters, which key the run."""
    from benchmarks.runs import agent_hyperparameters

    algo, kwargs = vector_agent_kwargs(job)
    return {**job, "hyperparameters": agent_hyperparameters(algo, job["env"], {}, kwargs)}


def explore_vectors_once(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job["method"]`` in ``job["env"]`` for ``job["steps"]`` steps; return the record.

    ``job`` keys: method (a key of :data:`VECTOR_METHODS`), env (a key of :data:`envs.STATE_GRIDS`), seed,
    steps, every (steps between coverage points), threads, device, tensorboard (folder or None) and
    overrides (hyper-parameters). The record adds ``checkpoints`` (steps), ``cells`` (grid cells visited
    by each), ``n_cells``, ``episodes`` and ``seconds``.
    """
    import gymnasium as gym
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.registry import make_agent
    from envs import StateGridCoverage

    algo, kwargs = vector_agent_kwargs(job)
    torch.set_num_threads(job["threads"])
    env = StateGridCoverage(gym.make(job["env"]))
    env.reset(seed=job["seed"])  # the world's own randomness follows the run's seed

    class Cells(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.points: list[tuple[int, int]] = []

        def _on_step(self) -> bool:
            if self.num_timesteps % job["every"] == 0:
                self.points.append((self.num_timesteps, len(env.visited)))
            return True

    start = time.perf_counter()
    model = make_agent(algo, env, seed=job["seed"], device=job["device"], tensorboard_log=job.get("tensorboard"),
                       **kwargs)  # fmt: skip
    cells = Cells()
    model.learn(job["steps"], callback=cells, tb_log_name=f"{job['method']}_{job['env']}_s{job['seed']}")
    return {
        **job,
        "checkpoints": [p for p, _ in cells.points],
        "cells": [c for _, c in cells.points],
        "n_cells": env.n_cells,
        "episodes": env.episodes,
        "seconds": time.perf_counter() - start,
    }

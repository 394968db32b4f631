"""One run of the continuous benchmark: an explorer in a continuous world for a step budget, without
any task reward; then how far it went (the Ant maze's blocks and cells over the steps, and where it
went) and what its data is worth downstream (HalfCheetah's running and flipping returns of a policy
trained in a model of it). Shyam, Jaskowski & Gomez, ICML 2019, section 5.

The explorers are MAX, the paper's baselines and RND on the same reactive SAC, each a flag of
:class:`~agents.max.continuous.ContinuousMAX` (:data:`METHODS`); ``random`` is uniformly random actions
for the whole budget (MAX's warm-up never ending).
"""

from __future__ import annotations

import inspect
import time
from functools import partial
from typing import Any

import numpy as np

METHODS: dict[str, dict[str, Any]] = {
    "max": {},
    "jdrx": {"imagination": False},
    # JDRX on the twin-Q SAC: the form the continuous ablation measured, before the reduced MAX took the V-SAC
    "jdrx-twin-q": {"imagination": False, "sac_variant": "twin_q"},
    "perx": {"utility": "prediction_error", "imagination": False, "alpha": 0.2},  # the readme's PERX command
    # PERX on the twin-Q SAC: the reactive baselines' other SAC (JDRX explored more on it in the scored Ant grid)
    "perx-twin-q": {"utility": "prediction_error", "imagination": False, "alpha": 0.2, "sac_variant": "twin_q"},
    "tvax": {"utility": "trajectory_variance", "alpha": 0.2},  # and its TVAX command
    "rnd": {"utility": "rnd", "imagination": False},  # RND's error on the reactive SAC (Burda et al. 2019)
    "random": {},  # warmup_steps = the budget + 1, set per run
}
METHOD_LABELS = {
    "max": "MAX",
    "jdrx": "JDRX",
    "jdrx-twin-q": "JDRX (twin-Q SAC)",
    "perx": "PERX",
    "perx-twin-q": "PERX (twin-Q SAC)",
    "tvax": "TVAX",
    "rnd": "RND (reactive SAC)",
    "random": "random",
}
ANT_MAZE, HALF_CHEETAH = "maxplore/AntMaze-v0", "maxplore/HalfCheetah-v0"
HEAT_RANGE, HEAT_BINS = (-1.0, 5.0), 48  # the heat map's square (the maze's free area) and bins per side


def task_rewards(env_id: str) -> dict[str, Any]:
    """The task rewards r(s, a, s') a world's explored data is judged on downstream (none for the Ant maze)."""
    if env_id != HALF_CHEETAH:
        return {}
    from envs.half_cheetah import TASKS, half_cheetah_reward

    return {task: partial(half_cheetah_reward, task) for task in TASKS}


def maze_visits(xy: np.ndarray, every: int) -> dict[str, list]:
    """Coverage of the Ant maze by a run's torso positions (T, 2), one per real step in order: distinct blocks
    and grid cells entered by step ``every``, ``2 every``, ... (and the last), and a visitation histogram
    (HEAT_BINS x HEAT_BINS over HEAT_RANGE squared, rows y, columns x)."""
    from envs.ant_maze import grid_cell, maze_block

    checkpoints = np.unique(np.r_[np.arange(every, len(xy) + 1, every), len(xy)])  # (C,) steps counted so far

    def distinct_by(ids: np.ndarray) -> list[int]:
        inside = ids >= 0
        _, first = np.unique(ids[inside], return_index=True)  # first step of each distinct id
        first = np.flatnonzero(inside)[first]  # (K,) steps, in the run's order
        return np.searchsorted(np.sort(first), checkpoints, side="left").tolist()  # entered before each point

    heat, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=HEAT_BINS, range=[HEAT_RANGE, HEAT_RANGE])
    return {
        "checkpoints": checkpoints.tolist(),
        "blocks": distinct_by(maze_block(xy)),
        "cells": distinct_by(grid_cell(xy)),
        "heat": heat.astype(int).tolist(),
    }


JUDGE_SEED_STRIDE = 10_000  # judge j of exploration seed s has seed s + j * stride (judge 0: the seed itself)


def judge_seeds(seed: int, judges: int) -> list[int]:
    """The seeds of ``judges`` downstream judges of one run's data: the first is the exploration seed (the
    single judge of the paper's evaluation), the others ``JUDGE_SEED_STRIDE`` apart."""
    if judges < 1:
        raise ValueError(f"judges must be at least 1, got {judges}")
    return [seed + j * JUDGE_SEED_STRIDE for j in range(judges)]


def continuous_world(job: dict[str, Any]):
    """The job's world, with ``job["observation_noise"]`` (the std of :class:`envs.ObservationNoise`; the
    paper's runs: 0.02) on its observations when given and positive."""
    import gymnasium as gym

    import envs

    env = gym.make(job["env"])
    return envs.ObservationNoise(env, job["observation_noise"]) if job.get("observation_noise") else env


def explorer_kwargs(job: dict[str, Any]) -> dict[str, Any]:
    """The :class:`~agents.max.continuous.ContinuousMAX` keyword arguments of a continuous job: its
    configuration, its method's flags, its overrides (and, for ``random``, a warm-up past the budget)."""
    from agents.max.continuous import CONFIGS

    if job["method"] not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {job['method']!r}")
    if job["config"] not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)}, got {job['config']!r}")
    kwargs = {**CONFIGS[job["config"]], **METHODS[job["method"]], **job.get("overrides", {})}
    if job["method"] == "random":
        kwargs["warmup_steps"] = job["steps"] + 1
    return kwargs


def with_continuous_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` (of :func:`explore_continuous_once`) with the explorer's resolved hyper-parameters and the
    downstream judge's (``None`` without task rewards), which key the run."""
    from agents.max.continuous import ContinuousMAX
    from agents.max.exploitation import EXPLOIT_CONFIGS, downstream_returns
    from benchmarks.provenance import NOT_HYPERPARAMETERS, constructor_arguments, jsonable

    judge = None
    if job.get("exploit_config"):
        exploit = {**EXPLOIT_CONFIGS[job["exploit_config"]], **job.get("exploit_overrides", {})}
        signature = inspect.signature(downstream_returns).parameters.values()
        judge = jsonable(
            {
                **{
                    p.name: p.default
                    for p in signature
                    if p.kind is p.KEYWORD_ONLY and p.name not in NOT_HYPERPARAMETERS
                },
                **exploit,
            }
        )
    explorer = constructor_arguments(ContinuousMAX, explorer_kwargs(job))
    return {**job, "hyperparameters": {"explorer": explorer, "judge": judge}}


def explore_continuous_once(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job["method"]`` in ``job["env"]`` for ``job["steps"]`` real steps; return the record.

    ``job`` keys: method (a key of :data:`METHODS`), env, seed, steps, config (``"reduced"`` or ``"paper"``,
    :data:`~agents.max.continuous.CONFIGS`), exploit_config (``None`` or a key of
    :data:`~agents.max.exploitation.EXPLOIT_CONFIGS`: judge the data on the world's task rewards), every
    (steps between coverage points), threads, device, tensorboard (folder or None), overrides (explorer
    hyper-parameters), exploit_overrides, observation_noise (:func:`continuous_world`; the judge's world
    gets it too, as the official ``evaluate_tasks`` does) and judge_seeds (the downstream judges' seeds,
    :func:`judge_seeds`; default ``[seed]``). ``record["downstream"][task]`` holds each judge's evaluation
    returns, (judges, episodes).
    """
    import torch

    import envs  # noqa: F401
    from agents.callbacks import CoverageCallback
    from agents.max.continuous import ContinuousMAX
    from agents.max.exploitation import EXPLOIT_CONFIGS, downstream_returns
    from envs.ant_maze import X_INDEX, Y_INDEX

    kwargs = explorer_kwargs(job)
    torch.set_num_threads(job["threads"])
    env = continuous_world(job)
    start = time.perf_counter()
    model = ContinuousMAX(env, seed=job["seed"], device=job["device"], tensorboard_log=job.get("tensorboard"), **kwargs)
    name = f"{job['method']}_{job['env'].split('/')[-1]}_{job['config']}_s{job['seed']}"
    model.learn(job["steps"], callback=CoverageCallback(), tb_log_name=name)
    record: dict[str, Any] = {**job, "explore_seconds": time.perf_counter() - start, "real_steps": model.num_timesteps}
    if job["env"] == ANT_MAZE:
        # (T + 1, 2) where the torso was at each step, and where the last step left it
        xy = torch.cat([model.states, model.next_states[-1:]]).cpu().numpy()[:, [X_INDEX, Y_INDEX]]
        record["maze"] = maze_visits(xy, job["every"])
    if job.get("exploit_config"):
        exploit = {**EXPLOIT_CONFIGS[job["exploit_config"]], **job.get("exploit_overrides", {})}
        # each judge seed fits its own model and policy to the same data: (J, n_eval_episodes) returns a task
        record["downstream"] = {
            task: [
                downstream_returns(
                    model.states, model.actions, model.next_states, continuous_world(job), reward, seed=judge,
                    device=job["device"], **exploit,
                )
                for judge in job.get("judge_seeds") or [job["seed"]]
            ]
            for task, reward in task_rewards(job["env"]).items()
        }  # fmt: skip
    record["seconds"] = time.perf_counter() - start
    return record

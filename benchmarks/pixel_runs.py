"""One run of the pixel benchmark: an explorer in ``maxplore/Maze-v0`` for an episode budget, without any
task reward; the record holds the free cells visited by the end of every episode.

The explorers (:data:`PIXEL_METHODS`) see the textured picture (``obs_mode="rgb"``, texture redrawn at
every reset), except two references that see the cell index: MAX with exact value iteration over cells
(:class:`~agents.max.tabular.TabularMAX`, the tabular ceiling) and uniformly random actions (which look
at nothing, so the observation does not change what they do).
"""

from __future__ import annotations

import time
from typing import Any

# method -> (agent of agents.registry, observation mode, hyper-parameters). The learners' hyper-parameters
# are the choices of the suite's equal tuning grid (``benchmark.py pixel-tune``: tuning layouts 0-2 of the
# 9 x 9 maze, records in docs/records/); MAX from pixels' choice is its agent's default.
PIXEL_METHODS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "max": ("max", "rgb", {}),
    "max-index": ("max", "index", {}),
    "bootdqn": ("bootdqn", "rgb", {"learning_rate": 1e-3, "target_update_interval": 500}),
    "bonusdqn": ("bonusdqn", "rgb", {"bonus": "simhash", "learning_rate": 3e-4, "beta": 0.1}),
    "bonusdqn-features": ("bonusdqn", "rgb", {"bonus": "features"}),  # the grid chose its defaults
    "rnd": ("rnd", "rgb", {"learning_rate": 1e-3, "ent_coef": 0.001}),
    "icm": ("icm", "rgb", {"learning_rate": 1e-3, "ent_coef": 0.01}),
    "random": ("random", "index", {}),
}
PIXEL_LABELS = {
    "max": "MAX from pixels",
    "max-index": "MAX on the cell index",
    "bootdqn": "Bootstrapped DQN",
    "bonusdqn": "bonus DQN (SimHash)",
    "bonusdqn-features": "bonus DQN (feature cells)",
    "rnd": "RND",
    "icm": "ICM",
    "random": "random",
}
# world -> maxplore/Maze-v0 keyword arguments (the layout seed is the run's seed)
PIXEL_WORLDS: dict[str, dict[str, Any]] = {
    "maze-9": {"size": 9, "layout": "maze"},
    "maze-15": {"size": 15, "layout": "maze"},
    "rooms-15": {"size": 15, "layout": "rooms"},
}


# episodes (of HORIZON steps) per run, by maze size: the same budget for every method
PIXEL_EPISODES = {9: 30, 15: 50}
HORIZON = 100


def check_pixel_job(method: str, world: str) -> None:
    """``ValueError`` naming the argument when ``method`` or ``world`` is not one of the suite's."""
    if method not in PIXEL_METHODS:
        raise ValueError(f"method must be one of {sorted(PIXEL_METHODS)}, got {method!r}")
    if world not in PIXEL_WORLDS:
        raise ValueError(f"world must be one of {sorted(PIXEL_WORLDS)}, got {world!r}")


def pixel_job(
    method: str,
    world: str,
    seed: int,
    *,
    episodes: int | None = None,
    threads: int = 1,
    device: str = "cpu",
    tensorboard: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The job of one pixel run (see :func:`explore_pixels_once`); ``episodes`` defaults to the world's
    budget in :data:`PIXEL_EPISODES`."""
    check_pixel_job(method, world)
    job = {"method": method, "world": world, "seed": seed,
           "episodes": episodes or PIXEL_EPISODES[PIXEL_WORLDS[world]["size"]], "horizon": HORIZON,
           "threads": threads, "device": device, "tensorboard": tensorboard, "overrides": overrides or {}}  # fmt: skip
    return {**job, "hyperparameters": pixel_hyperparameters(job)}


def pixel_agent_kwargs(job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The agent of a pixel job (a name of :data:`agents.registry.AGENTS`) and its hyper-parameters."""
    algo, _, defaults = PIXEL_METHODS[job["method"]]
    return algo, {**defaults, **job.get("overrides", {})}


def pixel_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """The resolved hyper-parameters of a pixel job's agent, which key the run."""
    from benchmarks.runs import agent_hyperparameters

    algo, kwargs = pixel_agent_kwargs(job)
    return agent_hyperparameters(algo, "maxplore/Maze-v0", pixel_env_kwargs(job), kwargs)


def pixel_env_kwargs(job: dict[str, Any]) -> dict[str, Any]:
    """``maxplore/Maze-v0`` keyword arguments of a pixel job: its world, layout seed, horizon and view."""
    return {**PIXEL_WORLDS[job["world"]], "layout_seed": job["seed"], "horizon": job["horizon"],
            "obs_mode": PIXEL_METHODS[job["method"]][1]}  # fmt: skip


def explore_pixels_once(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job["method"]`` in ``job["world"]`` for ``job["episodes"]`` episodes; return the record.

    ``job`` keys: method (a key of :data:`PIXEL_METHODS`), world (a key of :data:`PIXEL_WORLDS`), seed (of
    the agent and of the layout), episodes, horizon (steps per episode), threads, device, tensorboard
    (folder or None) and overrides (hyper-parameters). The record adds ``cells_per_episode`` (free cells
    visited by the end of each episode), ``n_free``, ``episodes_to_all_cells`` (``None`` within the budget)
    and ``seconds``.
    """
    import gymnasium as gym
    import torch

    import envs  # noqa: F401
    from agents.callbacks import CoverageCallback
    from agents.registry import make_agent

    check_pixel_job(job["method"], job["world"])
    torch.set_num_threads(job["threads"])
    algo, kwargs = pixel_agent_kwargs(job)
    env = gym.make("maxplore/Maze-v0", **pixel_env_kwargs(job))
    start = time.perf_counter()
    model = make_agent(
        algo, env, seed=job["seed"], device=job["device"], tensorboard_log=job.get("tensorboard"), **kwargs
    )
    callback = CoverageCallback(max_episodes=job["episodes"], stop_at_full=False)
    model.learn(job["episodes"] * job["horizon"], callback=callback,
                tb_log_name=f"{job['method']}_{job['world']}_s{job['seed']}")  # fmt: skip
    n_free = int(env.unwrapped.n_free)
    coverage = callback.visits_per_episode.get("cell_coverage", [])
    cells = [round(c * n_free) for c in coverage]
    return {
        **job,
        "cells_per_episode": cells,
        "n_free": n_free,
        "episodes_to_all_cells": next((i + 1 for i, c in enumerate(cells) if c >= n_free), None),
        "seconds": time.perf_counter() - start,
    }


def texture_check(
    seed: int, *, steps: int = 1000, threads: int = 1, device: str = "cpu", **max_kwargs: Any
) -> dict[str, Any]:
    """Does a texture-only change look new to MAX from pixels? After ``steps`` uniformly random steps in the
    9 x 9 maze (layout ``seed``, 50-step episodes, a new texture each), with the encoder trained (200 steps)
    and a fresh ensemble fit once, every free cell is drawn under a texture never seen. Returns the
    utilities of the (cell, action) pairs tried during the random steps (``tried``) and of every pair of
    the cells never visited (``new``), with their medians and the fraction of ``new`` above the median of
    ``tried``. ``max_kwargs`` replace MAX's hyper-parameters (an ablation of the encoder, for instance)."""
    import gymnasium as gym
    import numpy as np
    import torch

    import envs  # noqa: F401
    from agents.max.pixels import PixelMAX
    from envs import TransitionCoverage

    torch.set_num_threads(threads)
    env = TransitionCoverage(gym.make("maxplore/Maze-v0", size=9, layout_seed=seed, horizon=50))
    kwargs = {"warmup_steps": steps, "encoder_steps": 200, "fresh_model_steps": 1000, **max_kwargs}
    model = PixelMAX(env, seed=seed, device=device, **kwargs)
    model.learn(steps)
    world = env.unwrapped
    world._draw_texture(np.random.default_rng(10_000 + seed))  # a texture no episode had
    free = np.argwhere(~world.walls)  # (n_free, 2)
    pictures = []
    for row, col in free:
        world._pos = (int(row), int(col))
        pictures.append(world.rgb_frame().transpose(2, 0, 1))  # (C, H, W) as the agent sees them
    utility = model.utility(np.stack(pictures))  # (n_free, A)
    cells = [(i, int(r) * world.size + int(c)) for i, (r, c) in enumerate(free)]  # (row of utility, state)
    tried = np.array([utility[i, a] for i, state in cells for a in range(4) if env.tried[state, a]])
    new = np.array([utility[i, a] for i, state in cells if not world.visited.flat[state] for a in range(4)])
    return {
        "seed": seed,
        "tried": tried.tolist(),
        "new": new.tolist(),
        "tried_median": float(np.median(tried)),
        "new_median": float(np.median(new)),
        "new_above_tried_median": float(np.mean(new > np.median(tried))),
    }


def code_census(
    seed: int,
    *,
    steps: int = 3000,
    spacings: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5, 1.0),
    hash_bits: int = 32,
    encoder_every: int = 500,
    encoder_steps: int = 300,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """What bonus DQN's counts count in the 9 x 9 textured maze (layout ``seed``): ``steps`` uniformly random
    steps in 100-step episodes (a new texture each), then every stored picture keyed as bonus DQN keys it:
    by SimHash of the raw picture (``bonus="simhash"``, ``hash_bits``) and by the cells of a cover of its
    inverse-dynamics features (``bonus="features"``, the encoder trained on the steps so far after every
    ``encoder_every`` of them, as the agent trains it), for each cover ``spacing``. Returns one row per
    keying: distinct keys per visited cell (mean; 1 is a count of places) and distinct cells per key (mean;
    above 1, places share a count)."""
    import gymnasium as gym
    import numpy as np
    import torch

    import envs  # noqa: F401
    from agents.bonus_dqn import FeatureCover
    from agents.counts import StateActionCounter

    torch.set_num_threads(threads)
    torch.manual_seed(seed)  # the encoder's initial weights and the pixel noise of its training
    env = gym.make("maxplore/Maze-v0", size=9, layout_seed=seed, horizon=HORIZON)
    rng = np.random.default_rng(seed)
    pictures, actions, next_pictures, cells = [], [], [], []  # per transition: (C, H, W), (), (C, H, W), ()
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        action = int(rng.integers(env.action_space.n))
        next_obs, _, terminated, truncated, next_info = env.step(action)
        pictures.append(obs.transpose(2, 0, 1))
        actions.append(action)
        next_pictures.append(next_obs.transpose(2, 0, 1))
        cells.append(info["state"])
        obs, info = env.reset() if terminated or truncated else (next_obs, next_info)
    pictures, next_pictures = np.stack(pictures), np.stack(next_pictures)  # (N, C, H, W) each
    actions, cells = np.array(actions), np.array(cells)  # (N,) each

    def census(bonus: str, setting: str, keys: np.ndarray) -> dict[str, Any]:
        by_cell = [len(set(keys[cells == c].tolist())) for c in np.unique(cells)]
        by_key = [len(set(cells[keys == k].tolist())) for k in np.unique(keys)]
        return {"bonus": bonus, "setting": setting, "codes_per_cell": float(np.mean(by_cell)),
                "cells_per_code": float(np.mean(by_key)), "cells": len(by_cell), "codes": len(by_key)}  # fmt: skip

    space = env.observation_space
    chw = gym.spaces.Box(0, 255, shape=(space.shape[2], *space.shape[:2]), dtype=np.uint8)
    raw = StateActionCounter(chw, "simhash", hash_bits=hash_bits, seed=seed)
    rows = [census("simhash", f"{hash_bits} bits", raw.keys(pictures))]
    learned = FeatureCover(chw, int(env.action_space.n), spacing=spacings[0], device=device)
    fit_rng = np.random.default_rng(seed)
    for end in range(encoder_every, steps + 1, encoder_every):  # on the transitions stored by step ``end``
        learned.fit(pictures[:end], actions[:end], next_pictures[:end], steps=encoder_steps, batch_size=64,
                    noise=24.0, rng=fit_rng)  # fmt: skip
    trained = learned.state_dict()
    for spacing in spacings:
        cover = FeatureCover(chw, int(env.action_space.n), spacing=spacing, device=device)
        cover.load_state_dict(trained)  # the same encoder, covered at ``spacing``
        cover.fit(pictures, actions, next_pictures, steps=0, batch_size=64, noise=24.0, rng=fit_rng)
        rows.append(census("features", f"spacing {spacing:g}", cover.keys(pictures)))
    return {"seed": seed, "steps": steps, "rows": rows}

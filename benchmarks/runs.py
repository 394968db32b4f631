"""One run of the benchmark: an agent exploring a world from a seed until it has tried every reachable
pair or spent its episode budget. A run is a dict (a job); its record is the job plus its results."""

from __future__ import annotations

import json
import time
from typing import Any

LABELS = {
    "max": "MAX",
    "perfect": "perfect memory",
    "bootdqn": "Bootstrapped DQN",
    "bootdqn-prior": "Bootstrapped DQN + prior",
    "bonusdqn": "bonus DQN",
    "dqn": "DQN (eps-greedy)",
    "rnd": "RND",
    "icm": "ICM",
    "random": "random",
}


# Worlds of the `worlds` suite by name: (label, Gymnasium id, kwargs, whether the layout follows the seed,
# episode budget). FrozenLake is slippery by default; CliffWalking-v1 states no episode length.
MAZE_INDEX = {"obs_mode": "index", "horizon": 100}
COUNTED_WORLDS = {
    "frozenlake-4x4": ("FrozenLake 4x4 slippery", "FrozenLake-v1", {}, False, 200),
    "frozenlake-8x8": ("FrozenLake 8x8 slippery", "FrozenLake-v1", {"map_name": "8x8"}, False, 3000),
    "cliffwalking": ("CliffWalking", "CliffWalking-v1", {}, False, 30),
    "taxi": ("Taxi", "Taxi-v4", {}, False, 100),
    **{
        f"{layout}-{n}": (
            f"{layout} {n}x{n}",
            "maxplore/Maze-v0",
            {**MAZE_INDEX, "layout": layout, "size": n},
            True,
            60,
        )
        for layout in ("maze", "rooms")
        for n in (9, 15)
    },
}
COUNTED_WORLDS_QUICK = ("frozenlake-4x4", "maze-9")

# the keys of a job (see explore_once); a record is a job plus its results and its provenance
JOB_FIELDS = (
    "algo", "length", "seed", "max_episodes", "device", "threads", "overrides", "tensorboard", "env", "env_kwargs",
    "world", "hyperparameters",
)  # fmt: skip


def agent_hyperparameters(algo: str, env_id: str, env_kwargs: dict[str, Any], overrides: dict[str, Any]) -> dict:
    """The resolved hyper-parameters of ``algo`` built by :func:`agents.registry.make_agent` on
    ``gym.make(env_id, **env_kwargs)`` with ``overrides`` (:func:`~benchmarks.provenance.constructor_arguments`)."""
    import gymnasium as gym

    import envs  # noqa: F401
    from agents.registry import agent_spec
    from benchmarks.provenance import constructor_arguments

    cls, _, kwargs = agent_spec(algo, gym.make(env_id, **env_kwargs), **overrides)
    return {"agent": f"{cls.__module__}.{cls.__qualname__}", **constructor_arguments(cls, kwargs)}


def chain_env(job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The world of an explore job: its Gymnasium id and keyword arguments (default: the chain of
    ``length`` states with layout ``seed``)."""
    return job.get("env", "maxplore/Chain-v0"), job.get(
        "env_kwargs", {"length": job["length"], "layout_seed": job["seed"]}
    )


def with_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` (of :func:`explore_once`) with its agent's resolved hyper-parameters, which key the run."""
    env_id, env_kwargs = chain_env(job)
    return {**job, "hyperparameters": agent_hyperparameters(job["algo"], env_id, env_kwargs, job.get("overrides", {}))}


def explore_once(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job["algo"]`` until full coverage or ``job["max_episodes"]``; return the record.

    ``job`` keys: algo, length, seed, max_episodes, device, threads, overrides (hyper-parameters),
    tensorboard (folder or None); optionally env (a Gymnasium id whose states can be counted) and
    env_kwargs, which replace the default world, the chain of ``length`` states with layout ``seed``.
    """
    import gymnasium as gym
    import torch

    import envs  # noqa: F401
    from agents.callbacks import CoverageCallback
    from agents.registry import make_agent
    from agents.tabular_explorer import step_budget
    from envs import TransitionCoverage

    torch.set_num_threads(job["threads"])
    env_id, env_kwargs = chain_env(job)
    env = TransitionCoverage(gym.make(env_id, **env_kwargs))
    start = time.perf_counter()
    model = make_agent(
        job["algo"],
        env,
        seed=job["seed"],
        device=job["device"],
        tensorboard_log=job.get("tensorboard"),
        **job.get("overrides", {}),
    )
    callback = CoverageCallback(max_episodes=job["max_episodes"])
    # the step budget must be the real one: SB3's epsilon schedules are fractions of it
    world = (
        f"L{job['length']}"
        if "env" not in job
        else env_id.split("/")[-1] + "".join(f"_{v}" for k, v in sorted(env_kwargs.items()) if k != "layout_seed")
    )
    model.learn(
        step_budget(env, job["max_episodes"]), callback=callback, tb_log_name=f"{job['algo']}_{world}_s{job['seed']}"
    )
    return {
        **job,
        "episodes_to_full": callback.episodes_to_full_coverage,
        "coverage_per_episode": callback.coverage_per_episode,
        "final_coverage": callback.coverage,  # also when no episode ended (CliffWalking has no time limit)
        "seconds": time.perf_counter() - start,
        "steps": int(model.num_timesteps),
    }


def optimal_chain_return(length: int) -> float:
    """Best return on the chain: walk right from state 1 to L - 1, then stay: H - (L - 2) + 1 rewards of 1."""
    return (length + 9) - (length - 2) + 1


def episodes_to_optimal(algo: str, env_kwargs: dict[str, Any], seed: int, budget: int, device: str = "cpu"):
    """Train ``algo`` on a chain in chunks of 10 episodes; after each chunk evaluate the greedy policy
    (``predict(deterministic=True)``) for one episode. Returns the episodes trained when that return
    first is optimal, or ``None`` within ``budget`` episodes, and the last evaluated return."""
    import gymnasium as gym
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    import envs  # noqa: F401
    from agents.registry import make_agent

    horizon = env_kwargs["length"] + 9
    optimal = optimal_chain_return(env_kwargs["length"])
    model = make_agent(algo, gym.make("maxplore/Chain-v0", **env_kwargs), seed=seed, device=device)
    eval_env = Monitor(gym.make("maxplore/Chain-v0", **env_kwargs))
    ret = float("nan")
    for chunk in range(budget // 10):
        model.learn(10 * horizon, reset_num_timesteps=chunk == 0)
        ret, _ = evaluate_policy(model, eval_env, n_eval_episodes=1, deterministic=True)
        if ret >= optimal - 1e-6:
            return 10 * (chunk + 1), ret
    return None, ret


def with_exploit_hyperparameters(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` (of :func:`exploit_once`) with its agent's resolved hyper-parameters, which key the run."""
    hyperparameters = agent_hyperparameters(job["algo"], "maxplore/Chain-v0", job["env_kwargs"], {})
    return {**job, "hyperparameters": hyperparameters}


def exploit_once(job: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's sanity run: :func:`episodes_to_optimal` for ``job`` (keys algo, env_kwargs, seed,
    budget, device, threads); returns the job plus solved_at, last_return, optimal and seconds."""
    import torch

    torch.set_num_threads(job["threads"])
    start = time.perf_counter()
    solved_at, ret = episodes_to_optimal(job["algo"], job["env_kwargs"], job["seed"], job["budget"], job["device"])
    return {
        **job,
        "optimal": optimal_chain_return(job["env_kwargs"]["length"]),
        "solved_at": solved_at,
        "last_return": float(ret),
        "seconds": time.perf_counter() - start,
    }


def job_key(job: dict[str, Any]) -> str:
    """A run's identity: its configuration as canonical JSON, without where it logs."""
    return json.dumps({k: v for k, v in job.items() if k != "tensorboard"}, sort_keys=True)


def record_key(record: dict[str, Any]) -> str:
    """The key of the job a record (job + results) came from."""
    return job_key({k: v for k, v in record.items() if k in JOB_FIELDS})

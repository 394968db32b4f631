"""Exploration runs on the chain for scripts/benchmark.py: one run per (agent, length, seed), run in
parallel processes, then summarised as markdown tables and PNG plots."""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

LABELS = {
    "max": "MAX",
    "perfect": "perfect memory",
    "bootdqn": "Bootstrapped DQN",
    "bootdqn-prior": "Bootstrapped DQN + prior",
    "bonusdqn": "bonus DQN",
    "dqn": "DQN (eps-greedy)",
    "random": "random",
}


# the keys of a job (see explore_once); a record is a job plus its results
JOB_FIELDS = (
    "algo", "length", "seed", "max_episodes", "device", "threads", "overrides", "tensorboard", "env", "env_kwargs"
)  # fmt: skip


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
    from agents.tabular_explorer import episode_limit
    from envs import TransitionCoverage

    torch.set_num_threads(job["threads"])
    env_kwargs = job.get("env_kwargs", {"length": job["length"], "layout_seed": job["seed"]})
    env = TransitionCoverage(gym.make(job.get("env", "maxplore/Chain-v0"), **env_kwargs))
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
    budget = job["max_episodes"] * episode_limit(env)
    model.learn(budget, callback=callback, tb_log_name=f"{job['algo']}_L{job['length']}_s{job['seed']}")
    return {
        **job,
        "episodes_to_full": callback.episodes_to_full_coverage,
        "coverage_per_episode": callback.coverage_per_episode,
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


def job_key(job: dict[str, Any]) -> str:
    """A run's identity: its configuration as canonical JSON, without where it logs."""
    return json.dumps({k: v for k, v in job.items() if k != "tensorboard"}, sort_keys=True)


def run_jobs(jobs: list[dict[str, Any]], workers: int, cache: Path | None = None) -> list[dict[str, Any]]:
    """Run jobs in ``workers`` processes (1: in this process) with a progress bar, in job order.

    With ``cache`` (a JSON-lines file), each finished run is appended as it finishes, and runs already
    in the file are not run again, so an interrupted grid resumes where it stopped.
    """
    done: dict[str, dict[str, Any]] = {}
    if cache is not None and cache.exists():
        for line in cache.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[job_key({k: record[k] for k in record if k in JOB_FIELDS})] = record
    results: list[dict[str, Any] | None] = [done.get(job_key(job)) for job in jobs]
    todo = [i for i, r in enumerate(results) if r is None]

    def finish(i: int, record: dict[str, Any]) -> None:
        results[i] = record
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with cache.open("a") as f:  # one line per run, appended whole
                f.write(json.dumps(record) + "\n")

    if workers <= 1:
        for i in tqdm(todo, desc="runs"):
            finish(i, explore_once(jobs[i]))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(explore_once, jobs[i]): i for i in todo}
            for future in tqdm(as_completed(futures), total=len(futures), desc="runs"):
                finish(futures[future], future.result())
    return results  # type: ignore[return-value]


def coverage_curve(run: dict[str, Any]) -> np.ndarray:
    """Coverage after each episode 1..max_episodes (held at its last value once the run stopped)."""
    curve = np.asarray(run["coverage_per_episode"], dtype=float)
    pad = run["max_episodes"] - len(curve)
    return np.concatenate([curve, np.full(max(pad, 0), curve[-1] if len(curve) else 0.0)])


def coverage_after(run: dict[str, Any], episodes: int) -> float:
    curve = coverage_curve(run)
    return float(curve[min(episodes, len(curve)) - 1])


def summary_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (agent, length): episodes to full coverage (censored at the budget), coverage, time."""
    rows = []
    keys = sorted({(r["algo"], r["length"]) for r in runs}, key=lambda k: (k[1], list(LABELS).index(k[0])))
    for algo, length in keys:
        group = [r for r in runs if r["algo"] == algo and r["length"] == length]
        budget = group[0]["max_episodes"]
        eps = np.array([r["episodes_to_full"] if r["episodes_to_full"] is not None else np.inf for r in group])
        rows.append(
            {
                "algo": algo,
                "length": length,
                "seeds": len(group),
                "budget": budget,
                "eps_median": float(np.median(eps)),
                "eps_min": float(eps.min()),
                "eps_max": float(eps.max()),
                "reached": int(np.isfinite(eps).sum()),
                "cov15": float(np.median([coverage_after(r, 15) for r in group])),
                "cov60": float(np.median([coverage_after(r, budget) for r in group])),
                "seconds": float(np.median([r["seconds"] for r in group])),
            }
        )
    return rows


def format_episodes(value: float, budget: int) -> str:
    """Episodes to full coverage for a table: ``>budget`` when not reached (inf)."""
    return f">{budget}" if not np.isfinite(value) else f"{value:g}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    budget = rows[0]["budget"]
    lines = [
        f"| L | agent | episodes to full coverage: median (min to max) | reached | coverage @15 | coverage @{budget} "
        "| wall s (median) |",
        "| ---: | --- | :---: | :---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        median, low, high = (format_episodes(r[k], r["budget"]) for k in ("eps_median", "eps_min", "eps_max"))
        lines.append(
            f"| {r['length']} | {LABELS[r['algo']]} | {median} ({low} to {high}) | {r['reached']}/{r['seeds']} "
            f"| {r['cov15']:.0%} | {r['cov60']:.0%} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def plot_coverage(runs: list[dict[str, Any]], path: Path) -> None:
    """Coverage vs episode, one panel per chain length, one line per agent, band = min-max over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = sorted({r["length"] for r in runs})
    fig, axes = plt.subplots(1, len(lengths), figsize=(4.2 * len(lengths), 3.6), sharey=True, squeeze=False)
    for ax, length in zip(axes[0], lengths, strict=True):
        for algo in LABELS:
            group = [r for r in runs if r["algo"] == algo and r["length"] == length]
            if not group:
                continue
            curves = np.stack([coverage_curve(r) for r in group])  # (seeds, episodes)
            x = np.arange(1, curves.shape[1] + 1)
            (line,) = ax.plot(x, np.median(curves, 0), label=LABELS[algo], lw=1.8)
            ax.fill_between(x, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.2)
        ax.set_title(f"chain length {length}")
        ax.set_xlabel("episode")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("transitions tried (fraction)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> None:
    """Median episodes to full coverage vs chain length (log scale); open markers: not reached in budget."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for algo in LABELS:
        group = sorted((r for r in rows if r["algo"] == algo), key=lambda r: r["length"])
        if not group:
            continue
        lengths = [r["length"] for r in group]
        values = [min(r["eps_median"], r["budget"]) for r in group]
        (line,) = ax.plot(lengths, values, marker="o", label=LABELS[algo])
        censored = [(n, v) for n, v, r in zip(lengths, values, group, strict=True) if not np.isfinite(r["eps_median"])]
        if censored:
            ax.scatter(*zip(*censored, strict=True), s=90, facecolors="white", edgecolors=line.get_color(), zorder=3)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([1, 2, 5, 10, 20, 50, 100])
    ax.set_xlabel("chain length L")
    ax.set_ylabel("episodes to try every transition (median)")
    ax.set_title("open marker: not reached within the budget")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

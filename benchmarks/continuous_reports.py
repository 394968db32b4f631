"""Tables and plots of the continuous benchmark's records (:mod:`benchmarks.continuous_runs`):
Ant maze coverage over the steps, where each method went, and downstream returns per method. Across seeds:
the interquartile mean with its 95% bootstrap interval and MAX's probability of doing better (rliable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.continuous_runs import HEAT_RANGE, METHOD_LABELS
from benchmarks.reports import format_poi, pyplot, save_figure
from benchmarks.statistics import format_interval, iqm_curves, seed_statistics


def _by_method(runs: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if key in run:
            groups.setdefault(run["method"], []).append(run)
    return groups


def _spread(values: list[float], fmt: str = "{:g}") -> str:
    return f"{fmt.format(np.median(values))} ({fmt.format(min(values))} to {fmt.format(max(values))})"


def maze_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per method, grid cells (of 112) visited at the budget (IQM over seeds [95% CI], MAX's
    probability of visiting more), blocks (of 7) and cells as median (min to max), and the median wall time."""
    lines = ["| method | seeds | steps | grid cells visited: IQM [95% CI] | P(MAX visits more cells) [95% CI] "
             "| maze blocks visited (of 7) | grid cells visited (of 112) | wall s |",
             "| --- | ---: | ---: | :---: | :---: | :---: | :---: | ---: |"]  # fmt: skip
    groups = _by_method(runs, "maze")
    stats = seed_statistics({m: [r["maze"]["cells"][-1] for r in g] for m, g in groups.items()})
    for method, group in groups.items():
        blocks = [r["maze"]["blocks"][-1] for r in group]
        cells = [r["maze"]["cells"][-1] for r in group]
        lines.append(
            f"| {METHOD_LABELS[method]} | {len(group)} | {group[0]['steps']} "
            f"| {format_interval(*stats[method]['iqm'], digits=1)} | {format_poi(stats[method]['poi'])} "
            f"| {_spread(blocks)} | {_spread(cells)} | {np.median([r['seconds'] for r in group]):.0f} |"
        )
    return "\n".join(lines)


def ablation_table(runs: list[dict[str, Any]], reference: str, *, versus_reference: bool = False) -> str:
    """Markdown: per ablation setting (``run["setting"]``), grid cells (of 112) and blocks (of 7) visited at the
    budget (IQM over seeds [95% CI] and median (min to max)), ``reference``'s probability of visiting more
    cells (``versus_reference``: each setting's probability of visiting more than ``reference``), and the
    median wall time."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(run["setting"], []).append(run)
    # P(reference visits fewer) = P(setting visits more): rliable counts a tie as half either way
    stats = seed_statistics({name: [r["maze"]["cells"][-1] for r in g] for name, g in groups.items()}, reference,
                            lower_is_better=versus_reference)  # fmt: skip
    column = f"P(it visits more cells than {reference})" if versus_reference else f"P({reference} visits more cells)"
    lines = [f"| setting | seeds | steps | grid cells visited: IQM [95% CI] | {column} "
             "[95% CI] | maze blocks visited (of 7) | grid cells visited (of 112) | wall s |",
             "| --- | ---: | ---: | :---: | :---: | :---: | :---: | ---: |"]  # fmt: skip
    for name, group in groups.items():
        lines.append(
            f"| {name} | {len(group)} | {group[0]['steps']} | {format_interval(*stats[name]['iqm'], digits=1)} "
            f"| {format_poi(stats[name]['poi'])} | {_spread([r['maze']['blocks'][-1] for r in group])} "
            f"| {_spread([r['maze']['cells'][-1] for r in group])} | {np.median([r['seconds'] for r in group]):.0f} |"
        )
    return "\n".join(lines)


def judged_returns(run: dict[str, Any], task: str) -> np.ndarray:
    """(J, n) evaluation returns of a run's ``J`` downstream judges on ``task``, ``n`` episodes each
    (records made before judge seeds hold one judge's (n,) returns: J = 1)."""
    return np.atleast_2d(np.asarray(run["downstream"][task], dtype=float))


def run_return(run: dict[str, Any], task: str) -> float:
    """A run's downstream score on ``task``: the mean over its judges of their mean evaluation return."""
    return float(judged_returns(run, task).mean())


def judge_noise(runs: list[dict[str, Any]], task: str) -> dict[str, float] | None:
    """The judge's own noise on ``task`` over ``runs`` that each have two or more judges (None otherwise):

    - ``judge_sd``: the standard deviation of one judge's mean return over judge seeds on the same data,
      pooled over the runs (root of the mean of the per-run variances, ddof 1);
    - ``episode_sd``: the part of it from the evaluation episodes alone, the standard error of a judge's
      mean over its episodes, pooled over runs and judges (0 with one episode);
    - ``seed_sd``: the standard deviation over the runs of their score (:func:`run_return`; nan with one run);
    - ``mean_sd``: the noise left in a run's score, ``judge_sd / sqrt(J)``.
    """
    returns = [judged_returns(run, task) for run in runs]  # each (J, n)
    if not returns or min(len(r) for r in returns) < 2:
        return None
    judge_means = [r.mean(1) for r in returns]  # each (J,)
    judge_sd = float(np.sqrt(np.mean([m.var(ddof=1) for m in judge_means])))
    n = returns[0].shape[1]
    episode_var = [r.var(1, ddof=1).mean() / n for r in returns] if n > 1 else [0.0]  # of a judge's mean
    scores = [m.mean() for m in judge_means]
    return {"judge_sd": judge_sd, "episode_sd": float(np.sqrt(np.mean(episode_var))),
            "seed_sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else float("nan"),
            "mean_sd": judge_sd / np.sqrt(min(len(r) for r in returns))}  # fmt: skip


def downstream_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per method and task, the IQM over seeds of each run's score (:func:`run_return`) [95% CI]
    with MAX's probability of a higher score, the median (min to max), and the judge's own noise (the
    standard deviation over judge seeds, :func:`judge_noise`; a dash with one judge a run)."""
    groups = _by_method(runs, "downstream")
    if not groups:
        return ""
    tasks = list(next(iter(groups.values()))[0]["downstream"])
    returns = {t: {m: [run_return(r, t) for r in g] for m, g in groups.items()} for t in tasks}
    stats = {t: seed_statistics(returns[t]) for t in tasks}
    header = " | ".join(f"{t} return: IQM [95% CI] | P(MAX higher) | median (min to max) | judge sd"
                        for t in tasks)  # fmt: skip
    lines = ["| method | seeds | steps | judges | " + header + " | wall s |",
             "| --- | ---: | ---: | ---: | " + " | ".join(":---: | :---: | :---: | ---:" for _ in tasks)
             + " | ---: |"]  # fmt: skip
    for method, group in groups.items():
        noise = {t: judge_noise(group, t) for t in tasks}
        cells = [
            f"{format_interval(*stats[t][method]['iqm'], digits=1)} | {format_poi(stats[t][method]['poi'])} "
            f"| {_spread(returns[t][method], '{:.1f}')} "
            f"| {'—' if noise[t] is None else format(noise[t]['judge_sd'], '.1f')}"
            for t in tasks
        ]
        judges = sorted({len(judged_returns(r, tasks[0])) for r in group})
        lines.append(
            f"| {METHOD_LABELS[method]} | {len(group)} | {group[0]['steps']} | {'/'.join(map(str, judges))} | "
            + " | ".join(cells) + f" | {np.median([r['seconds'] for r in group]):.0f} |"
        )  # fmt: skip
    return "\n".join(lines)


def judge_noise_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per method and task, how noisy the downstream judge is on the same data (:func:`judge_noise`)
    against the spread of the scores over exploration seeds, and per task the spread between the methods'
    mean scores; each score is the mean of ``J`` judges, so its own noise is ``judge sd / sqrt(J)``."""
    groups = _by_method(runs, "downstream")
    if not groups:
        return ""
    tasks = list(next(iter(groups.values()))[0]["downstream"])
    lines = ["| method | task | runs | judges x episodes | score: median (min to max) | judge sd (one judge) "
             "| episodes' part (sd within a judge / sqrt n) | sd over exploration seeds "
             "| noise of a score (judge sd / sqrt J) |",
             "| --- | --- | ---: | :---: | :---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for task in tasks:
        for method, group in groups.items():
            noise = judge_noise(group, task)
            if noise is None:
                continue
            shape = "x".join(map(str, judged_returns(group[0], task).shape))
            lines.append(
                f"| {METHOD_LABELS[method]} | {task} | {len(group)} | {shape} "
                f"| {_spread([run_return(r, task) for r in group], '{:.1f}')} | {noise['judge_sd']:.1f} "
                f"| {noise['episode_sd']:.1f} | {noise['seed_sd']:.1f} | {noise['mean_sd']:.1f} |"
            )
    for task in tasks:
        means = [np.mean([run_return(r, task) for r in g]) for g in groups.values()]
        if len(means) > 1:
            lines.append(f"\n{task}: the methods' mean scores span {min(means):.1f} to {max(means):.1f} "
                         f"(sd {np.std(means, ddof=1):.1f} between methods)")  # fmt: skip
    return "\n".join(lines)


def plot_maze_coverage(runs: list[dict[str, Any]], path: Path) -> None:
    """Blocks and grid cells visited against real steps: each method's IQM over seeds with its 95% band."""
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 3.8))
    for method, group in _by_method(runs, "maze").items():
        steps = np.array(group[0]["maze"]["checkpoints"])
        for ax, key in zip(axes, ("blocks", "cells"), strict=True):
            curves = np.array([r["maze"][key] for r in group])  # (seeds, C)
            iqm, low, high = iqm_curves({method: curves})[method]  # each (C,)
            line = ax.plot(steps, iqm, label=METHOD_LABELS[method])[0]
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    for ax, title, top in zip(axes, ("maze blocks visited", "grid cells visited"), (7, 112), strict=True):
        ax.set(xlabel="real steps", title=title, ylim=(0, top * 1.05))
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_maze_heat(runs: list[dict[str, Any]], path: Path) -> None:
    """Where each method went: its visits (all seeds) on the maze's layout, log colour scale, walls grey."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    from envs.ant_maze import BLOCK_SIZE, wall_blocks

    groups = _by_method(runs, "maze")
    fig, axes = pyplot().subplots(1, len(groups), figsize=(3.2 * len(groups), 3.4), squeeze=False)
    for ax, (method, group) in zip(axes[0], groups.items(), strict=True):
        heat = np.sum([np.array(r["maze"]["heat"]) for r in group], 0).astype(float)  # (bins, bins) rows y
        ax.imshow(np.where(heat > 0, heat, np.nan), origin="lower", extent=[*HEAT_RANGE, *HEAT_RANGE],
                  norm=LogNorm(vmin=1, vmax=max(heat.max(), 2)), cmap="viridis")  # fmt: skip
        for x, y in wall_blocks():
            ax.add_patch(Rectangle((x - BLOCK_SIZE / 2, y - BLOCK_SIZE / 2), BLOCK_SIZE, BLOCK_SIZE, color="0.6"))
        ax.set(xlim=HEAT_RANGE, ylim=HEAT_RANGE, xticks=[], yticks=[],
               title=f"{METHOD_LABELS[method]} ({len(group)} seeds)")  # fmt: skip
    fig.tight_layout()
    save_figure(fig, path)


def plot_downstream(runs: list[dict[str, Any]], path: Path) -> None:
    """Each run's mean evaluation return per task, one column of points per method."""
    groups = _by_method(runs, "downstream")
    tasks = list(next(iter(groups.values()))[0]["downstream"])
    fig, axes = pyplot().subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.5), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, group in enumerate(groups.values()):
            returns = [run_return(r, task) for r in group]
            ax.scatter(np.full(len(returns), i), returns, s=18)
            ax.hlines(np.median(returns), i - 0.3, i + 0.3, color="k")
        ax.set_xticks(range(len(groups)), [METHOD_LABELS[m] for m in groups])
        ax.set(title=f"{task}: return of a policy trained in the model", ylabel="return (judges' mean)")
    fig.tight_layout()
    save_figure(fig, path)

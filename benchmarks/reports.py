"""Tables and plots of benchmark runs: coverage curves held at their last value, episodes to full
coverage censored at the budget (shown as ``>budget``), and across seeds the interquartile mean with its
95% bootstrap interval and the probability that MAX needs fewer episodes than each other agent
(:mod:`benchmarks.statistics`, rliable). A run that did not reach full coverage counts as the budget in
the IQM and as a tie among such runs in the probability."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.runs import LABELS
from benchmarks.statistics import format_interval, iqm_curves, performance_profiles, seed_statistics


def coverage_curve(run: dict[str, Any]) -> np.ndarray:
    """Coverage after each episode 1..max_episodes (held at its last value once the run stopped; a run in
    which no episode ended holds its final coverage, where the record has it)."""
    curve = np.asarray(run["coverage_per_episode"], dtype=float)
    last = curve[-1] if len(curve) else (run.get("final_coverage") or 0.0)
    pad = run["max_episodes"] - len(curve)
    return np.concatenate([curve, np.full(max(pad, 0), last)])


def coverage_after(run: dict[str, Any], episodes: int) -> float:
    curve = coverage_curve(run)
    return float(curve[min(episodes, len(curve)) - 1])


def episodes_needed(runs: list[dict[str, Any]]) -> np.ndarray:
    """Episodes to full coverage per run, ``inf`` where the budget ran out: (runs,)."""
    return np.array([r["episodes_to_full"] if r["episodes_to_full"] is not None else np.inf for r in runs], float)


def episode_statistics(groups: dict[str, list[dict[str, Any]]], seed: int = 0) -> dict[str, dict]:
    """:func:`~benchmarks.statistics.seed_statistics` of the episodes each agent's runs needed (censored at
    the budget), MAX as the reference: per agent ``{"iqm": ..., "poi": P(MAX needs fewer) ...}``."""
    scores = {algo: np.minimum(episodes_needed(g), g[0]["max_episodes"]) for algo, g in groups.items()}
    return seed_statistics(scores, "max", lower_is_better=True, seed=seed)


def summary_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (agent, length): episodes to full coverage (censored at the budget; median, range, IQM
    with its interval, MAX's probability of needing fewer), coverage, time."""
    rows = []
    keys = sorted({(r["algo"], r["length"]) for r in runs}, key=lambda k: (k[1], list(LABELS).index(k[0])))
    stats = {
        length: episode_statistics({a: [r for r in runs if r["algo"] == a and r["length"] == length]
                                    for a, n in keys if n == length})
        for length in {n for _, n in keys}
    }  # fmt: skip
    for algo, length in keys:
        group = [r for r in runs if r["algo"] == algo and r["length"] == length]
        budget = group[0]["max_episodes"]
        eps = episodes_needed(group)
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
                "eps_iqm": stats[length][algo]["iqm"],
                "poi": stats[length][algo]["poi"],
                "cov15": float(np.median([coverage_after(r, 15) for r in group])),
                "cov60": float(np.median([coverage_after(r, budget) for r in group])),
                "seconds": float(np.median([r["seconds"] for r in group])),
            }
        )
    return rows


def format_episodes(value: float, budget: int) -> str:
    """Episodes to full coverage for a table: ``>budget`` when not reached (inf)."""
    return f">{budget}" if not np.isfinite(value) else f"{value:g}"


def format_poi(poi: tuple[float, float, float] | None) -> str:
    """A probability of improvement with its interval, or an em dash for the reference's own row."""
    return "\u2014" if poi is None else format_interval(*poi)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The chain table: per (length, agent) the IQM of episodes to full coverage with its 95% interval,
    MAX's probability of needing fewer, median and range, runs that reached, coverage, wall time."""
    budget = rows[0]["budget"]
    lines = [
        "| L | agent | episodes to full coverage: IQM [95% CI] | P(MAX needs fewer) [95% CI] "
        f"| median (min to max) | reached | coverage @15 | coverage @{budget} | wall s (median) |",
        "| ---: | --- | :---: | :---: | :---: | :---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        median, low, high = (format_episodes(r[k], r["budget"]) for k in ("eps_median", "eps_min", "eps_max"))
        lines.append(
            f"| {r['length']} | {LABELS[r['algo']]} | {format_interval(*r['eps_iqm'], digits=1)} "
            f"| {format_poi(r['poi'])} "
            f"| {median} ({low} to {high}) | {r['reached']}/{r['seeds']} "
            f"| {r['cov15']:.0%} | {r['cov60']:.0%} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported lazily: plotting is optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> None:
    """Write ``fig`` to ``path`` whole or not at all (a temporary file, then a rename), and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial{path.suffix}")
    fig.savefig(partial, dpi=110)
    os.replace(partial, path)
    pyplot().close(fig)


def plot_coverage(runs: list[dict[str, Any]], path: Path, panel: Callable[[dict[str, Any]], str] | None = None) -> None:
    """Coverage vs episode, one panel per ``panel(run)`` title (default: the chain length, in run order),
    one line per agent: the IQM over seeds with its 95% bootstrap band."""
    plt = pyplot()
    panel = panel or (lambda r: f"chain length {r['length']}")
    titles = list(dict.fromkeys(panel(r) for r in runs))
    cols = min(len(titles), 4)
    rows = -(-len(titles) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), sharey=True, squeeze=False)
    for ax, title in zip(axes.flat, titles, strict=False):
        for algo in LABELS:
            group = [r for r in runs if r["algo"] == algo and panel(r) == title]
            if not group:
                continue
            curves = np.stack([coverage_curve(r) for r in group])  # (seeds, episodes)
            x = np.arange(1, curves.shape[1] + 1)
            iqm, low, high = iqm_curves({algo: curves})[algo]  # each (episodes,)
            (line,) = ax.plot(x, iqm, label=LABELS[algo], lw=1.8)
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("episode")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(titles) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("pairs tried (fraction, IQM)")
    axes.flat[len(titles) - 1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> None:
    """Median episodes to full coverage vs chain length (log scale); open markers: not reached in budget."""
    import matplotlib.ticker

    fig, ax = pyplot().subplots(figsize=(5.5, 4))
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
    save_figure(fig, path)


def coverage_area(run: dict[str, Any]) -> float:
    """Mean coverage over a run's whole episode budget (its curve held at the last value): 1 for a run
    that tried everything in its first episode, comparable across worlds and budgets."""
    return float(coverage_curve(run).mean())


def plot_profiles(runs: list[dict[str, Any]], path: Path, task: Callable[[dict[str, Any]], str]) -> None:
    """Performance profiles across worlds (``task(run)`` names a run's world): per agent, the fraction of
    runs whose coverage area (:func:`coverage_area`) exceeds each threshold, with 95% bootstrap bands.
    Agents need the same number of runs in every world (rliable's layout, runs x tasks)."""
    plt = pyplot()
    tasks = list(dict.fromkeys(task(r) for r in runs))
    scores = {}
    for algo in LABELS:
        columns = [[coverage_area(r) for r in runs if r["algo"] == algo and task(r) == t] for t in tasks]
        if all(columns) and len({len(c) for c in columns}) == 1:
            scores[algo] = np.array(columns).T  # (runs, tasks)
    taus = np.linspace(0.0, 1.0, 101)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for algo, (profile, low, high) in performance_profiles(scores, taus).items():
        (line,) = ax.plot(taus, profile, label=LABELS[algo], lw=1.8)
        ax.fill_between(taus, low, high, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("coverage area tau (mean fraction of pairs tried over the budget)")
    ax.set_ylabel("fraction of runs with area > tau")
    ax.set_title(f"performance profiles over {len(tasks)} worlds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)

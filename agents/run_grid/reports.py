"""Tables and plots of benchmark runs: coverage curves held at their last value, episodes to full
coverage censored at the budget (shown as ``>budget``), medians over seeds."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents.run_grid.runs import LABELS


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
    one line per agent (median over seeds), band = min-max over seeds."""
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
            (line,) = ax.plot(x, np.median(curves, 0), label=LABELS[algo], lw=1.8)
            ax.fill_between(x, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("episode")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(titles) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("pairs tried (fraction)")
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

"""Table and plot of the vector benchmark's records (:mod:`benchmarks.vector_runs`): cells of each world's
state grid visited per method at the budget (IQM over seeds with its 95% interval, MAX's probability of
visiting more, rliable) and over the steps (IQM curves with 95% bands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.reports import format_poi, pyplot, save_figure
from benchmarks.statistics import format_interval, iqm_curves, seed_statistics
from benchmarks.vector_runs import VECTOR_LABELS


def _groups(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Records by world, then by method, in the order they come."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        groups.setdefault(run["env"], {}).setdefault(run["method"], []).append(run)
    return groups


def vector_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per world and method, the state-grid cells visited at the budget (IQM [95% CI], MAX's
    probability of visiting more, median and range), episodes and the median wall time."""
    lines = ["| world | method | seeds | steps | grid cells visited: IQM [95% CI] | P(MAX visits more) [95% CI] "
             "| median (min to max) | episodes (median) | wall s (median) |",
             "| --- | --- | ---: | ---: | :---: | :---: | :---: | ---: | ---: |"]  # fmt: skip
    for world, methods in _groups(runs).items():
        stats = seed_statistics({m: [r["cells"][-1] for r in g] for m, g in methods.items()})
        for method, group in methods.items():
            cells = [r["cells"][-1] for r in group]
            lines.append(
                f"| {world} ({group[0]['n_cells']} cells) | {VECTOR_LABELS[method]} | {len(group)} "
                f"| {group[0]['steps']} | {format_interval(*stats[method]['iqm'], digits=1)} "
                f"| {format_poi(stats[method]['poi'])} | {np.median(cells):g} ({min(cells)} to {max(cells)}) "
                f"| {np.median([r['episodes'] for r in group]):g} | {np.median([r['seconds'] for r in group]):.0f} |"
            )
    return "\n".join(lines)


def plot_vector_coverage(runs: list[dict[str, Any]], path: Path) -> None:
    """State-grid cells visited against steps, one panel per world: each method's IQM with a 95% band."""
    plt = pyplot()
    groups = _groups(runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 3.6), squeeze=False)
    for ax, (world, methods) in zip(axes[0], groups.items(), strict=True):
        for method, group in methods.items():
            steps = np.array(group[0]["checkpoints"])
            curves = np.array([r["cells"] for r in group], dtype=float)  # (seeds, points)
            iqm, low, high = iqm_curves({method: curves})[method]  # each (points,)
            (line,) = ax.plot(steps, iqm, label=VECTOR_LABELS[method])
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
        ax.set(title=world, xlabel="steps", ylabel="state-grid cells visited (IQM)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)

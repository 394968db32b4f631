"""Table and plot of the pixel benchmark's records (:mod:`benchmarks.pixel_runs`): free cells of
``maxplore/Maze-v0`` visited per method, at the budget and over the episodes, with the interquartile
mean over seeds, its 95% bootstrap interval and MAX's probability of visiting more (rliable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pixel_runs import PIXEL_LABELS
from benchmarks.reports import format_poi, pyplot, save_figure
from benchmarks.statistics import format_interval, iqm_curves, seed_statistics


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Records by (world, method), in the order they come."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["world"], run["method"]), []).append(run)
    return groups


def pixel_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: per world and method, free cells visited at the budget (IQM over seeds with its 95%
    interval, MAX from pixels' probability of visiting more, median and each seed), the episodes to visit
    every free cell (each seed; ">budget" when it did not) and the median wall time."""
    lines = ["| world | method | seeds | free cells visited at the budget: IQM [95% CI] | P(MAX from pixels "
             "visits more) [95% CI] | median (per seed) | episodes to visit every free cell (per seed) "
             "| wall s (median) |",
             "| --- | --- | ---: | :---: | :---: | :---: | :---: | ---: |"]  # fmt: skip
    groups = _groups(runs)
    stats = {
        world: seed_statistics({m: [r["cells_per_episode"][-1] for r in g] for (w, m), g in groups.items()
                                if w == world})
        for world in {w for w, _ in groups}
    }  # fmt: skip
    for (world, method), group in groups.items():
        budget, n_free = group[0]["episodes"], group[0]["n_free"]
        cells = [r["cells_per_episode"][-1] for r in group]
        every = ", ".join(str(r["episodes_to_all_cells"] or f">{budget}") for r in group)
        row = stats[world][method]
        lines.append(
            f"| {world} ({n_free} free, {budget} episodes) | {PIXEL_LABELS[method]} | {len(group)} | "
            f"{format_interval(*row['iqm'], digits=1)} | {format_poi(row['poi'])} | "
            f"{np.median(cells):g} ({', '.join(map(str, cells))}) | {every} | "
            f"{np.median([r['seconds'] for r in group]):.0f} |"
        )
    return "\n".join(lines)


def plot_pixel_coverage(runs: list[dict[str, Any]], path: Path) -> None:
    """Free cells visited against episodes, one panel per world: each method's IQM over seeds with its 95%
    bootstrap band."""
    plt = pyplot()
    worlds = list(dict.fromkeys(r["world"] for r in runs))
    fig, axes = plt.subplots(1, len(worlds), figsize=(4.6 * len(worlds), 3.6), squeeze=False)
    for ax, world in zip(axes[0], worlds, strict=True):
        for (w, method), group in _groups(runs).items():
            if w != world:
                continue
            curves = np.array([r["cells_per_episode"] for r in group], dtype=float)  # (seeds, episodes)
            episodes = np.arange(1, curves.shape[1] + 1)
            iqm, low, high = iqm_curves({method: curves})[method]  # each (episodes,)
            (line,) = ax.plot(episodes, iqm, label=f"{PIXEL_LABELS[method]} ({len(group)})")
            ax.fill_between(episodes, low, high, color=line.get_color(), alpha=0.15)
        ax.axhline(next(r["n_free"] for r in runs if r["world"] == world), color="grey", lw=0.8, ls=":")
        ax.set_title(f"maxplore/Maze-v0 {world}", fontsize=9)
        ax.set_xlabel("episodes (100 steps)")
        ax.set_ylabel("free cells visited")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def best_settings(runs: list[dict[str, Any]], settings: list[tuple[str, dict[str, Any]]]) -> dict[str, dict]:
    """Per method of ``settings`` (``(method, overrides)`` pairs), the overrides whose runs end with the most
    free cells visited: the highest median over the tuning layouts, ties broken by the mean, then by the
    fewest episodes to visit every free cell (median; a run that never did counts as its budget plus one),
    then by the order of ``settings``."""
    best: dict[str, tuple[tuple[float, float, float], dict[str, Any]]] = {}
    for method, overrides in settings:
        cells = _setting_cells(runs, method, overrides)
        episodes = [r["episodes_to_all_cells"] or len(r["cells_per_episode"]) + 1
                    for r in _setting_runs(runs, method, overrides)]  # fmt: skip
        score = (float(np.median(cells)), float(np.mean(cells)), -float(np.median(episodes)))
        if method not in best or score > best[method][0]:
            best[method] = (score, overrides)
    return {method: overrides for method, (_, overrides) in best.items()}


def tune_table(runs: list[dict[str, Any]], settings: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown: per ``(method, overrides)`` setting, the free cells its runs visited at the budget (median,
    min, per layout), the episode each first visited every free cell (``>budget`` where none did) and
    whether it is its method's best (:func:`best_settings`)."""
    best = best_settings(runs, settings)
    lines = ["| method | setting | free cells visited at the budget: median (min), per layout "
             "| episodes to all cells, per layout | best of its method |",
             "| --- | --- | :---: | :---: | :---: |"]  # fmt: skip
    for method, overrides in settings:
        cells = _setting_cells(runs, method, overrides)
        every = ", ".join(str(r["episodes_to_all_cells"] or f">{len(r['cells_per_episode'])}")
                          for r in _setting_runs(runs, method, overrides))  # fmt: skip
        setting = ", ".join(f"{k}={v}" for k, v in overrides.items())
        mark = "yes" if best[method] == overrides else ""
        lines.append(f"| {PIXEL_LABELS[method]} | {setting} | {np.median(cells):g} ({min(cells)}), "
                     f"{', '.join(map(str, cells))} | {every} | {mark} |")  # fmt: skip
    return "\n".join(lines)


def _setting_runs(runs: list[dict[str, Any]], method: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs of ``method`` with ``overrides`` in layout order; a ``ValueError`` when there are none."""
    chosen = (
        r for r in runs if r["method"] == method and all(r["overrides"].get(k) == v for k, v in overrides.items())
    )
    group = sorted(chosen, key=lambda r: r["seed"])
    if not group:
        raise ValueError(f"no runs of {method} with {overrides}")
    return group


def _setting_cells(runs: list[dict[str, Any]], method: str, overrides: dict[str, Any]) -> list[int]:
    """Free cells visited at the budget by the runs of ``method`` with ``overrides`` (in layout order)."""
    return [r["cells_per_episode"][-1] for r in _setting_runs(runs, method, overrides)]

"""How the cost of a run grows with the world: seconds per run against the number of reachable
(state, action) pairs, for MAX and the perfect-memory explorer, and the profile of a MAX run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.max_profile import PARTS
from benchmarks.reports import format_episodes, pyplot, save_figure

COST_AGENTS = ("max", "perfect")
COST_LABELS = {"max": "MAX", "perfect": "perfect memory"}


def cost_rows(runs: list[dict[str, Any]], pairs: dict[str, int]) -> list[dict[str, Any]]:
    """One row per (world, agent): reachable pairs, medians of seconds and episodes to try every pair.

    :param runs: records with ``world`` (a label, e.g. ``"chain L=100"``), ``algo``, ``seconds``,
        ``episodes_to_full`` and ``max_episodes``.
    :param pairs: reachable pairs of each world label.
    """
    rows = []
    for world in sorted({r["world"] for r in runs}, key=lambda w: (pairs[w], w)):
        for algo in COST_AGENTS:
            group = [r for r in runs if r["world"] == world and r["algo"] == algo]
            if not group:
                continue
            eps = np.array([r["episodes_to_full"] or np.inf for r in group], dtype=float)
            rows.append(
                {
                    "world": world,
                    "pairs": pairs[world],
                    "algo": algo,
                    "seeds": len(group),
                    "seconds": float(np.median([r["seconds"] for r in group])),
                    "seconds_min": float(min(r["seconds"] for r in group)),
                    "seconds_max": float(max(r["seconds"] for r in group)),
                    "episodes": float(np.median(eps)),
                    "budget": group[0]["max_episodes"],
                }
            )
    return rows


def cost_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per world, MAX's and the perfect-memory explorer's seconds and episodes."""
    lines = [
        "| world | reachable pairs | MAX s: median (min-max) | perfect memory s | MAX episodes (median) "
        "| perfect memory episodes (median) |",
        "| --- | ---: | :---: | ---: | ---: | ---: |",
    ]
    by_key = {(r["world"], r["algo"]): r for r in rows}
    for world in dict.fromkeys(r["world"] for r in rows):
        ours, ref = by_key.get((world, "max")), by_key.get((world, "perfect"))
        pairs = (ours or ref)["pairs"]
        ours_s = f"{ours['seconds']:.1f} ({ours['seconds_min']:.1f}-{ours['seconds_max']:.1f})" if ours else "-"
        ref_s = f"{ref['seconds']:.2f}" if ref else "-"
        ours_e = format_episodes(ours["episodes"], ours["budget"]) if ours else "-"
        ref_e = format_episodes(ref["episodes"], ref["budget"]) if ref else "-"
        lines.append(f"| {world} | {pairs} | {ours_s} | {ref_s} | {ours_e} | {ref_e} |")
    return "\n".join(lines)


def plot_cost(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Median seconds per run against reachable pairs (log-log): chains as lines, other worlds as points, an
    open marker where the median run did not try every pair within its budget."""
    fig, ax = pyplot().subplots(figsize=(6, 4.2))
    for algo, color in zip(COST_AGENTS, ("tab:blue", "tab:gray"), strict=True):
        mine = [r for r in rows if r["algo"] == algo]
        chain = sorted((r for r in mine if r["world"].startswith("chain")), key=lambda r: r["pairs"])
        other = [r for r in mine if not r["world"].startswith("chain")]
        if chain:
            ax.plot([r["pairs"] for r in chain], [r["seconds"] for r in chain], marker="o", color=color,
                    label=f"{COST_LABELS[algo]}: chain L = 25..400")  # fmt: skip
        censored = [r for r in mine if not np.isfinite(r["episodes"])]  # the budget ran out first
        if censored:
            ax.scatter([r["pairs"] for r in censored], [r["seconds"] for r in censored], s=90, facecolors="white",
                       edgecolors=color, zorder=3)  # fmt: skip
        if other:
            ax.scatter([r["pairs"] for r in other], [r["seconds"] for r in other], marker="s", color=color,
                       label=f"{COST_LABELS[algo]}: toy-text and maze worlds")  # fmt: skip
            for r in other:
                ax.annotate(r["world"], (r["pairs"], r["seconds"]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("reachable (state, action) pairs")
    ax.set_ylabel("seconds per run (median over seeds, one thread)")
    ax.set_title("open marker: not every pair tried within the budget", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def profile_table(profiles: dict[str, dict[str, Any]]) -> str:
    """Markdown: seconds and share of each part of each profiled run (see
    :func:`benchmarks.max_profile.profile_max_run`), and the rest (agent set-up, acting, callbacks)."""
    names = list(profiles)
    lines = ["| part | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for part in (*PARTS, "rest"):
        cells = []
        for name in names:
            p = profiles[name]
            secs = p["seconds"] - sum(p["parts"].values()) if part == "rest" else p["parts"][part]
            calls = "" if part == "rest" else f", {p['calls'][part]:,} calls"
            cells.append(f"{secs:.1f} s ({secs / p['seconds']:.0%}{calls})")
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append("| whole run | " + " | ".join(f"{profiles[n]['seconds']:.1f} s" for n in names) + " |")
    steps = " | ".join(
        f"{p['steps']:,} steps, {format_episodes(p['episodes_to_full'] or np.inf, p['max_episodes'])} episodes"
        for p in profiles.values()
    )
    lines.append(f"| steps, episodes to try every pair | {steps} |")
    return "\n".join(lines)

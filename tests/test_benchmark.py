"""The benchmark's bookkeeping: coverage curves, censoring, tables, plots, on tiny runs."""

import json

import numpy as np

from benchmarks import run_jobs
from benchmarks.config import BenchmarkConfig
from benchmarks.reports import coverage_after, coverage_curve, markdown_table, summary_rows
from benchmarks.runs import explore_once
from benchmarks.suites.chain import chain


def fake_run(algo, length, seed, curve, full, budget=10):
    return {"algo": algo, "length": length, "seed": seed, "max_episodes": budget, "coverage_per_episode": curve,
            "episodes_to_full": full, "seconds": 1.0}  # fmt: skip


def test_curves_are_held_at_their_last_value_and_censored_runs_show_as_over_budget():
    done = fake_run("max", 10, 0, [0.5, 1.0], 2)
    assert coverage_curve(done).tolist() == [0.5] + [1.0] * 9
    assert coverage_after(done, 1) == 0.5 and coverage_after(done, 10) == 1.0
    runs = [done, fake_run("max", 10, 1, [0.6, 0.9, 1.0], 3), fake_run("dqn", 10, 0, [0.1] * 10, None)]
    rows = summary_rows(runs)
    assert [r["algo"] for r in rows] == ["max", "dqn"]
    assert rows[0]["eps_median"] == 2.5 and rows[0]["reached"] == 2
    assert not np.isfinite(rows[1]["eps_median"]) and rows[1]["reached"] == 0
    no_episode_ended = {**fake_run("dqn", 10, 1, [], None), "final_coverage": 0.4}  # CliffWalking's case
    assert coverage_curve(no_episode_ended).tolist() == [0.4] * 10
    table = markdown_table(rows)
    assert "| 10 | MAX | 2.5 [2.0, 3.0] | \u2014 | 2.5 (2 to 3) | 2/2 |" in table  # the IQM of 2 runs: their mean
    # every MAX run needed fewer episodes than DQN's censored one: probability 1 in every resample
    assert (
        "| 10 | DQN (eps-greedy) | 10.0 [10.0, 10.0] | 1.00 [1.00, 1.00] | >10 (>10 to >10) | 0/1 | 10% | 10% |"
        in table
    )


def test_chain_suite_end_to_end(tmp_path):
    cfg = BenchmarkConfig(suite="chain", out=str(tmp_path), seeds=2, lengths=[6], episodes=6, workers=1,
                          agents=["perfect", "random"], tensorboard=False)  # fmt: skip
    runs = chain(cfg)
    assert len(runs) == 4
    perfect = [r for r in runs if r["algo"] == "perfect"]
    assert all(r["episodes_to_full"] is not None for r in perfect)
    assert (tmp_path / "chain-coverage.png").stat().st_size > 1000
    assert (tmp_path / "chain-scaling.png").stat().st_size > 1000
    json.dumps(runs)  # the raw record is JSON-serialisable


def test_run_cache_appends_each_run_and_skips_finished_ones(tmp_path):
    cache = tmp_path / "runs.jsonl"
    jobs = [{"algo": "perfect", "length": 6, "seed": s, "max_episodes": 5, "device": "cpu", "threads": 1,
             "tensorboard": None} for s in range(3)]  # fmt: skip
    first = run_jobs(jobs[:2], workers=1, cache=cache)
    assert len(cache.read_text().splitlines()) == 2

    calls = []
    again = run_jobs(jobs, workers=1, cache=cache, run=lambda job: calls.append(job["seed"]) or explore_once(job))
    assert calls == [2]  # only the new run ran
    assert [r["seed"] for r in again] == [0, 1, 2] and again[:2] == first
    assert len(cache.read_text().splitlines()) == 3  # no duplicates
    assert run_jobs(jobs, workers=1, cache=cache, run=lambda job: calls.append(job)) == again  # nothing runs
    assert calls == [2]


def test_worlds_suite_end_to_end_and_its_verdict(tmp_path, capsys):
    from benchmarks.suites.worlds import worlds

    cfg = BenchmarkConfig(suite="worlds", out=str(tmp_path), quick=True, workers=1, agents=["max", "perfect"],
                          tensorboard=False)  # fmt: skip
    runs = worlds(cfg, emit=print)
    assert {r["world"] for r in runs} == {"FrozenLake 4x4 slippery", "maze 9x9"} and len(runs) == 8
    out = capsys.readouterr().out
    assert "| FrozenLake 4x4 slippery | 44 | MAX |" in out and "| maze 9x9 | 124 | perfect memory |" in out
    assert "| maze 9x9 | 2 | 2 | 1.00 | yes |" in out  # measured: both need 2 episodes on layouts 0-1
    assert (tmp_path / "worlds-coverage-quick.png").stat().st_size > 1000
    assert len((tmp_path / "worlds-runs-quick.jsonl").read_text().splitlines()) == 8


def test_max_chain_table_has_the_iqm_and_the_probability_against_the_reference(tmp_path):
    from benchmarks.suites.chain import max_chain

    lines: list[str] = []
    cfg = BenchmarkConfig(suite="max-chain", out=str(tmp_path), quick=True, workers=1, tensorboard=False)
    runs = max_chain(cfg, emit=lines.append)
    assert {r["seed"] for r in runs} == {100, 101}  # the scored layouts, not the tuning ones
    # measured: 2 episodes for both on every scored layout of L = 10, so every pair ties
    assert "| 10 | 2.0 [2.0, 2.0] | 2 (2-2) | 2.0 [2.0, 2.0] | 0.50 [0.50, 0.50] |" in "\n".join(lines)


def test_worlds_suite_runs_the_named_worlds_only(tmp_path, capsys):
    from benchmarks.suites.worlds import worlds

    cfg = BenchmarkConfig(suite="worlds", out=str(tmp_path), workers=1, seeds=1, agents=["perfect", "random"],
                          counted_worlds=["cliffwalking", "rooms-9"], tensorboard=False)  # fmt: skip
    runs = worlds(cfg, emit=print)
    assert sorted((r["world"], r["algo"]) for r in runs) == [
        ("CliffWalking", "perfect"), ("CliffWalking", "random"), ("rooms 9x9", "perfect"), ("rooms 9x9", "random")
    ]  # fmt: skip
    assert [r["seed"] for r in runs] == [100] * 4  # scored seeds only
    assert "| CliffWalking | 148 | perfect memory |" in capsys.readouterr().out


def reprint_worlds(tmp_path, capsys, kept, **options):
    """Run the worlds command over a store holding only ``kept``; check that it ran nothing (the store is
    unchanged in length) and return its runs and what it printed."""
    from benchmarks.suites.worlds import worlds

    (tmp_path / "worlds-runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    cfg = BenchmarkConfig(suite="worlds", out=str(tmp_path), workers=1, seeds=3, device="cpu",
                          agents=["max", "perfect"], tensorboard=False, **options)  # fmt: skip
    runs = worlds(cfg, emit=print)
    assert len((tmp_path / "worlds-runs.jsonl").read_text().splitlines()) == len(kept)
    return runs, capsys.readouterr().out


def test_the_readme_frozen_lake_figures_are_the_kept_worlds_records(tmp_path, capsys, kept_records, readme):
    """The worlds command over its kept store finds every run done and prints the README's figures."""
    kept = [r for r in kept_records("worlds-runs-562ceb1.jsonl.gz") if r["world"].startswith("FrozenLake")]
    runs, out = reprint_worlds(tmp_path, capsys, kept, counted_worlds=["frozenlake-4x4", "frozenlake-8x8"])
    assert len(runs) == 12
    assert "| FrozenLake 8x8 slippery | 212 | MAX | 620.7 [462.0, 900.0] | — | 500 (462 to 900) |" in out
    assert "| FrozenLake 8x8 slippery | 212 | perfect memory | 702.0 [471.0, 1094.0] | 0.67 [0.11, 1.00] |" in out
    assert "| FrozenLake 4x4 slippery | 29 | 34 | 0.85 | yes |" in out
    assert "slippery FrozenLake 8x8 500 against 541 (IQM 621 [462, 900] against 702 [471, 1,094]; MAX" in readme
    assert "needs fewer with probability 0.67 [0.11, 1.00]" in readme and "FrozenLake 4x4 29 against 34" in readme


def test_the_readme_taxi_figures_are_the_kept_max_records(tmp_path, capsys, kept_records, readme):
    """The Taxi command over its kept stores finds every run done and prints the README's figures."""
    names = ("worlds-taxi-runs-562ceb1.jsonl.gz", "worlds-taxi-max-runs-52c5cd6.jsonl.gz",
             "worlds-taxi-max-runs-ce05f44.jsonl.gz")  # fmt: skip
    kept = kept_records(*names)
    maxes = {
        (r["seed"], r["episodes_to_full"], r["provenance"]["code"]["commit"][:7]) for r in kept if r["algo"] == "max"
    }
    assert maxes == {(100, 31, "52c5cd6"), (101, 24, "52c5cd6"), (102, 32, "ce05f44")}
    runs, out = reprint_worlds(tmp_path, capsys, kept, counted_worlds=["taxi"], mix_versions=True)
    assert len(runs) == 6
    assert "| Taxi | 2400 | MAX | 29.0 [24.0, 32.0] | — | 31 (24 to 32) | 3/3 |" in out
    assert "| Taxi | 2400 | perfect memory | 25.3 [24.0, 28.0] | 0.22 [0.00, 0.67] | 24 (24 to 28) |" in out
    assert "| Taxi | 31 | 24 | 1.29 | yes |" in out
    assert "On Taxi-v4 MAX needed 31, 24 and 32 episodes on seeds 100-102 where the perfect-memory" in readme
    assert "(median 31 against 24, 1.29x; IQM 29.0 [24.0, 32.0] against 25.3 [24.0, 28.0])" in readme

"""The cost suite's profiler and reports: MAX's time split into its parts, seconds against reachable pairs."""

from benchmarks.config import BenchmarkConfig
from benchmarks.cost_reports import cost_rows, cost_table, plot_cost, profile_table
from benchmarks.max_profile import PARTS, profile_max_run
from benchmarks.suites.worlds import denormals, max_cost


def test_profile_times_every_part_and_counts_one_refit_per_step():
    """MAX refits and replans after every step by default; the parts add up to no more than the run, the
    env is stepped once a step, and value iteration runs once per replan (plus at most once per episode
    start, when a plan made late in an episode is extended)."""
    run = profile_max_run("maxplore/Chain-v0", {"length": 8, "layout_seed": 0}, seed=0, max_episodes=5)
    calls, steps = run["calls"], run["steps"]
    assert run["episodes_to_full"] is not None and steps <= 17 * run["episodes_to_full"]
    assert calls["refit"] == calls["exploration MDP"] == calls["env"] == steps
    assert calls["refit check"] == 0  # only with a refit_tolerance
    assert steps <= calls["value iteration"] <= steps + 1 + run["episodes_to_full"]
    assert set(run["parts"]) == set(PARTS) and 0 < sum(run["parts"].values()) <= run["seconds"]
    gated = profile_max_run(
        "maxplore/Chain-v0",
        {"length": 8, "layout_seed": 0},
        seed=0,
        max_episodes=5,
        overrides={"refit_tolerance": 1e-3},
    )
    assert gated["calls"]["refit"] < gated["steps"] and gated["calls"]["refit check"] > 0
    table = profile_table({"chain": run})
    assert table.count("\n") == len(PARTS) + 4 and "| refit |" in table and "| rest |" in table


def record(world, algo, seconds, episodes):
    return {"world": world, "algo": algo, "seconds": seconds, "episodes_to_full": episodes, "max_episodes": 9}


def test_cost_rows_order_by_pairs_and_censor_runs_that_did_not_finish(tmp_path):
    runs = [
        record("Taxi", "max", 100.0, 30), record("Taxi", "max", 300.0, None), record("Taxi", "max", 200.0, 28),
        record("chain L=25", "max", 1.0, 3), record("chain L=25", "perfect", 0.1, 3),
    ]  # fmt: skip
    rows = cost_rows(runs, {"Taxi": 2400, "chain L=25": 50})
    assert [(r["world"], r["algo"]) for r in rows] == [
        ("chain L=25", "max"),
        ("chain L=25", "perfect"),
        ("Taxi", "max"),
    ]
    taxi = rows[-1]
    assert taxi["seconds"] == 200.0 and (taxi["seconds_min"], taxi["seconds_max"]) == (100.0, 300.0)
    assert taxi["episodes"] == 30  # median of 28, 30 and not reached
    table = cost_table(rows)
    assert "| chain L=25 | 50 | 1.0 (1.0-1.0) | 0.10 | 3 | 3 |" in table
    assert "| Taxi | 2400 | 200.0 (100.0-300.0) | - | 30 | - |" in table
    plot_cost(rows, tmp_path / "cost.png")
    assert (tmp_path / "cost.png").stat().st_size > 0


def test_cost_suite_quick_end_to_end(tmp_path):
    """--quick: no profiles, chains of 25 and 50 states, 2 layouts, MAX and the perfect-memory explorer;
    both try every pair, and a rerun reads the stored runs instead of running again."""
    cfg = BenchmarkConfig(suite="max-cost", out=str(tmp_path), quick=True, workers=1, tensorboard=False)
    result = max_cost(cfg)
    assert result["profiles"] == {}
    assert {(r["world"], r["algo"]) for r in result["rows"]} == {
        (f"chain L={n}", a) for n in (25, 50) for a in ("max", "perfect")
    }
    assert all(r["episodes"] <= 5 for r in result["rows"])
    assert (tmp_path / "max-cost-quick.png").exists()
    stored = (tmp_path / "max-cost-runs-quick.jsonl").read_text()
    max_cost(cfg)
    assert (tmp_path / "max-cost-runs-quick.jsonl").read_text() == stored


def test_profile_with_denormals_kept_takes_the_same_actions_and_restores_the_flush():
    """Flushing denormals changes only values below 1.2e-38, so a short chain run makes the same decisions
    either way; the probe puts the library's flushing back afterwards, and ``max_steps`` caps the run."""
    import agents.max.tabular as planner

    flush = planner.flushed_denormals
    kwargs = {"length": 8, "layout_seed": 0}
    flushed = profile_max_run("maxplore/Chain-v0", kwargs, seed=0, max_episodes=5)
    kept = profile_max_run("maxplore/Chain-v0", kwargs, seed=0, max_episodes=5, flush_denormals=False)
    assert planner.flushed_denormals is flush
    assert kept["actions"] == flushed["actions"] and kept["steps"] == flushed["steps"]
    assert kept["tried"] == flushed["tried"] == 16  # every pair of the 8-state chain
    other = profile_max_run("maxplore/Chain-v0", kwargs, seed=1, max_episodes=5)
    assert other["actions"] != flushed["actions"]  # the digest sees the decisions
    capped = profile_max_run("maxplore/Chain-v0", kwargs, seed=0, max_episodes=5, max_steps=7)
    assert capped["steps"] == 7 and capped["tried"] <= 7


def test_denormal_suite_tables_both_runs_of_each_world():
    lines = []
    results = denormals(BenchmarkConfig(suite="denormals", quick=True, threads=1), emit=lines.append)
    (row,) = results["rows"]
    assert row["flushed"]["steps"] == row["kept"]["steps"] > 0
    table = lines[-1].splitlines()
    assert table[-1].startswith("| chain L=25, layout 0 |") and table[-1].endswith("| yes |")

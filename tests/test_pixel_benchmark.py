"""The pixels suite: its runs, their records, the table and the plot; and the README's pixel headline."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.pixel_reports import pixel_table, plot_pixel_coverage
from benchmarks.pixel_runs import PIXEL_METHODS, explore_pixels_once, pixel_job

ROOT = Path(__file__).resolve().parents[1]
TINY_MAX = {"warmup_steps": 50, "encoder_steps": 3, "encoder_every": 10**6, "fresh_model_steps": 3, "model_steps": 2,
            "channels": (8, 8, 8), "features_dim": 8, "hidden_size": 16, "ensemble_size": 2}  # fmt: skip


@pytest.mark.parametrize(("kwargs", "match"), [({"method": "dqn"}, "method"), ({"world": "maze-99"}, "world")])
def test_bad_jobs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pixel_job(**{"method": "max", "world": "maze-9", "seed": 0, **kwargs})


def test_a_job_has_the_worlds_budget_and_the_records_count_cells_per_episode():
    job = pixel_job("random", "maze-9", 0)
    assert job["episodes"] == 30 and job["horizon"] == 100
    record = explore_pixels_once({**job, "episodes": 4})
    cells = record["cells_per_episode"]
    assert len(cells) == 4 and cells == sorted(cells) and cells[0] >= 1 and cells[-1] <= record["n_free"] == 31


@pytest.mark.parametrize("method", list(PIXEL_METHODS))
def test_every_method_runs_and_is_seeded(method):
    job = pixel_job(method, "maze-9", 1, episodes=1, overrides=TINY_MAX if method == "max" else None)
    first, second = explore_pixels_once(job), explore_pixels_once(job)
    assert first["cells_per_episode"] == second["cells_per_episode"]


def test_table_and_plot(tmp_path):
    runs = [{**pixel_job(m, "maze-9", s), "cells_per_episode": [3, 5 + s, 9], "n_free": 31,
             "episodes_to_all_cells": None, "seconds": 1.0} for m in ("max", "random") for s in (0, 1)]  # fmt: skip
    table = pixel_table(runs)
    assert (
        "| maze-9 (31 free, 30 episodes) | MAX from pixels | 2 | 9.0 [9.0, 9.0] | \u2014 | 9 (9, 9) | >30, >30 | 1 |"
        in table
    )
    # every pair of runs ties at 9 cells: MAX visits more with probability one half
    assert "| random | 2 | 9.0 [9.0, 9.0] | 0.50 [0.50, 0.50] | 9 (9, 9) |" in table
    plot_pixel_coverage(runs, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.slow
def test_the_pixels_suite_runs_end_to_end_and_resumes(tmp_path):
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "pixels", "--quick", "--workers", "2",
               "--out", str(tmp_path), "--tensorboard", "false"]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    assert "| MAX from pixels | 1 |" in first.stdout and (tmp_path / "pixels-coverage-quick.png").stat().st_size > 0
    assert len((tmp_path / "pixels-runs-quick.jsonl").read_text().splitlines()) == len(PIXEL_METHODS)
    second = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    assert len((tmp_path / "pixels-runs-quick.jsonl").read_text().splitlines()) == len(PIXEL_METHODS)
    assert second.stdout.split("raw results")[0] == first.stdout.split("raw results")[0]


@pytest.mark.slow
@pytest.mark.parametrize("layout", [100, 101])
def test_max_from_pixels_visits_every_cell_of_the_textured_maze(layout):
    """The README's pixel figure, on scored layouts (tuning used 0-4): the suite's job (maze 9, 30 episodes,
    one thread; 5-9 minutes under load). Measured with the planner over the steps left and the encoder
    trained every 500 steps (before the tuning grid chose 250): every one of the 31 free cells by episode
    13 (layout 100) and 16 (layout 101). The tuned default is not yet measured on these layouts."""
    record = explore_pixels_once(pixel_job("max", "maze-9", layout))
    assert record["cells_per_episode"][-1] == record["n_free"] == 31
    assert record["episodes_to_all_cells"] <= 20


def test_the_code_census_counts_keys_per_cell_and_a_tiny_spacing_counts_pictures():
    from benchmarks.pixel_runs import code_census

    result = code_census(0, steps=300, spacings=(1e-9, 0.5), encoder_every=150, encoder_steps=5)
    simhash, tiny, cover = result["rows"]
    assert simhash["bonus"] == "simhash" and tiny["setting"] == "spacing 1e-09"
    assert tiny["cells_per_code"] == 1.0 and tiny["codes_per_cell"] >= cover["codes_per_cell"] >= 1.0
    assert tiny["codes"] > 1.5 * tiny["cells"]  # 3 textures over 300 steps: a cell seen under several
    assert simhash["cells"] == tiny["cells"] == cover["cells"]


def test_the_bonus_census_suite_prints_its_table(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "scripts" / "benchmark.py"),
        "bonus-census",
        "--quick",
        "--out",
        str(tmp_path),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    assert "| 100 | SimHash of the raw picture, 32 bits |" in out
    assert "| 100 | cover of inverse-dynamics features, spacing 0.5 |" in out


@pytest.mark.slow
def test_the_feature_cover_counts_places_where_simhash_counts_pictures():
    """The census that chose bonus DQN's spacing 0.5, on scored layout 100 (the choice used layouts 0-2):
    measured once, SimHash of raw pictures 11.0 keys per visited cell, the cover at 0.5 1.00 and 1.00 cell
    per key (on layouts 0-2: SimHash 8-19, the cover 1.00 and 1.00)."""
    from benchmarks.pixel_runs import code_census

    simhash, cover = code_census(100, spacings=(0.5,))["rows"]
    assert simhash["codes_per_cell"] > 4
    assert cover["codes_per_cell"] < 1.3 and cover["cells_per_code"] < 1.1


def test_every_learning_method_gets_the_same_tuning_budget():
    from benchmarks.suites.pixels import PIXEL_TUNE_GRID, tune_settings

    learners = set(PIXEL_METHODS) - {"max-index", "random"}  # the references learn nothing
    assert set(PIXEL_TUNE_GRID) == learners
    counts = {m: sum(1 for method, _ in tune_settings(list(PIXEL_METHODS)) if method == m) for m in learners}
    assert set(counts.values()) == {4}
    assert tune_settings(["rnd", "random"]) == [(m, o) for m, o in tune_settings(list(PIXEL_METHODS)) if m == "rnd"]


def test_the_tuning_table_picks_the_highest_median_then_the_highest_mean_then_the_fewest_episodes():
    from benchmarks.pixel_reports import best_settings, tune_table

    def run(method, seed, cells, every=None, **overrides):
        return {"method": method, "seed": seed, "overrides": {"channels": [8, 8], **overrides},
                "cells_per_episode": [1, cells, cells], "episodes_to_all_cells": every}  # fmt: skip

    runs = [run("rnd", 0, 20, ent_coef=0.01), run("rnd", 1, 25, ent_coef=0.01), run("rnd", 2, 22, ent_coef=0.01),
            run("rnd", 0, 22, ent_coef=0.001), run("rnd", 1, 24, ent_coef=0.001), run("rnd", 2, 22, ent_coef=0.001),
            run("icm", 0, 10, beta=1), run("icm", 1, 31, beta=1),
            run("max", 0, 31, 3, steps=1), run("max", 1, 31, None, steps=1),  # episodes: 3 and 4 (never: 3 + 1)
            run("max", 0, 31, 2, steps=2), run("max", 1, 31, 2, steps=2),
            run("max", 0, 31, 2, steps=3), run("max", 1, 31, 2, steps=3)]  # fmt: skip
    settings = [("rnd", {"ent_coef": 0.01}), ("rnd", {"ent_coef": 0.001}), ("icm", {"beta": 1}),
                ("max", {"steps": 1}), ("max", {"steps": 2}), ("max", {"steps": 3})]  # fmt: skip
    # rnd: equal medians (22), the higher mean (22.67 against 22.33) wins; max: equal cells, the fewest
    # median episodes to all cells (2 against 3.5) wins, and of two equal settings the first listed
    assert best_settings(runs, settings) == {"rnd": {"ent_coef": 0.001}, "icm": {"beta": 1}, "max": {"steps": 2}}
    table = tune_table(runs, settings)
    assert "| RND | ent_coef=0.001 | 22 (22), 22, 24, 22 | >3, >3, >3 | yes |" in table
    assert "| RND | ent_coef=0.01 | 22 (20), 20, 25, 22 | >3, >3, >3 |  |" in table
    assert "| MAX from pixels | steps=1 | 31 (31), 31, 31 | 3, >3 |  |" in table
    with pytest.raises(ValueError, match="no runs of icm"):
        best_settings(runs, [("icm", {"beta": 0.1})])


def test_tuning_refuses_scored_layouts(tmp_path):
    from benchmarks.config import BenchmarkConfig
    from benchmarks.suites.pixels import pixel_tune

    cfg = BenchmarkConfig(suite="pixel-tune", out=str(tmp_path), seeds=4, first_seed=3, tensorboard=False)
    with pytest.raises(ValueError, match="first-seed"):
        pixel_tune(cfg)
    assert not any(tmp_path.iterdir())


def test_the_readme_pixel_figures_are_the_kept_scored_records(kept_records, readme):
    runs = kept_records("pixels-runs-406c877.jsonl.gz")
    assert sorted((r["method"], r["seed"]) for r in runs) == [
        (m, s) for m in ("icm", "max", "max-index", "random", "rnd") for s in range(100, 103)
    ]
    assert {r["provenance"]["code"]["commit"][:7] for r in runs} == {"406c877"}  # one code version
    table = pixel_table(runs)
    assert "| MAX from pixels | 3 | 31.0 [31.0, 31.0] | — | 31 (31, 31, 31) | 13, 14, 16 |" in table
    assert "| RND | 3 | 20.0 [18.0, 21.0] | 1.00 [1.00, 1.00] | 21 (18, 21, 21) |" in table
    assert "| ICM | 3 | 18.3 [12.0, 22.0] | 1.00 [1.00, 1.00] | 21 (12, 21, 22) |" in table
    assert "| random | 3 | 21.7 [14.0, 26.0] | 1.00 [1.00, 1.00] |" in table
    assert "by episodes 13, 14 and 16; RND ends at an IQM of 20.0 [18.0, 21.0] cells and ICM at 18.3" in readme
    assert "[12.0, 22.0], random actions at 21.7 [14.0, 26.0]**; P(MAX visits more) is 1.00 [1.00, 1.00]" in readme


def test_the_five_layout_pixel_table_is_the_kept_records(kept_records, readme):
    runs = kept_records(
        "pixels-runs-406c877.jsonl.gz", "pixels-runs-29129dc-f3add73.jsonl.gz", "pixels-runs-ce05f44.jsonl.gz"
    )
    assert {r["provenance"]["code"]["source"] for r in kept_records("pixels-runs-29129dc-f3add73.jsonl.gz")} == {
        "42b376c1f9cf"
    }
    assert {(r["method"], r["seed"]) for r in kept_records("pixels-runs-ce05f44.jsonl.gz")} == {
        (m, s) for m in ("bootdqn", "bonusdqn", "bonusdqn-features") for s in (103, 104)
    }
    five = pixel_table(runs)
    assert "| MAX from pixels | 5 | 31.0 [31.0, 31.0] | — | 31 (31, 31, 31, 31, 31) | 13, 14, 16, 15, 6 |" in five
    assert "| RND | 5 | 20.0 [18.0, 25.0] | 1.00 [1.00, 1.00] |" in five
    assert "| ICM | 5 | 20.7 [14.3, 23.3] | 1.00 [1.00, 1.00] |" in five
    assert "| random | 5 | 23.3 [16.3, 25.7] | 1.00 [1.00, 1.00] |" in five
    assert "| Bootstrapped DQN | 5 | 20.7 [17.3, 23.0] | 1.00 [1.00, 1.00] |" in five
    assert "| bonus DQN (SimHash) | 5 | 23.0 [17.0, 28.7] | 0.90 [0.70, 1.00] | 24 (26, 24, 16, 19, 31) |" in five
    assert "| bonus DQN (feature cells) | 5 | 20.3 [17.0, 22.7] | 1.00 [1.00, 1.00] |" in five
    assert "on all five scored layouts 100-104, by episodes 6-16" in readme
    assert "20.7 (Bootstrapped DQN), 23.0 (bonus DQN with SimHash, which visits all 31 on one layout of five)" in readme


def test_the_fifteen_by_fifteen_pixel_table_is_the_kept_records(kept_records, readme):
    runs = kept_records("pixels-15-runs-f8fc1d8.jsonl.gz")
    assert {(r["world"], r["seed"]) for r in runs} == {(w, s) for w in ("maze-15", "rooms-15") for s in (100, 101, 102)}
    table = pixel_table(runs)
    assert "| maze-15 (97 free, 50 episodes) | MAX from pixels | 3 | 48.3 [37.0, 60.0] | — | 48 (60, 48, 37) |" in table
    assert "| maze-15 (97 free, 50 episodes) | RND | 3 | 17.7 [16.0, 21.0] | 1.00 [1.00, 1.00] |" in table
    assert "| rooms-15 (148 free, 50 episodes) | MAX from pixels | 3 | 138.7 [120.0, 148.0] | — |" in table
    assert "| rooms-15 (148 free, 50 episodes) | random | 3 | 104.0 [86.0, 138.0] | 0.89 [0.56, 1.00] |" in table
    assert "| rooms-15 (148 free, 50 episodes) | ICM | 3 | 61.0 [51.0, 69.0] | 1.00 [1.00, 1.00] |" in table
    assert "MAX from pixels visits IQMs of 48.3 [37.0, 60.0] of the maze's 97 cells (all on no layout)" in readme
    assert "except 0.89 [0.56, 1.00] against random actions in the rooms" in readme


def test_the_pixel_tuning_table_is_the_kept_records_and_its_choices_are_the_suites_defaults(kept_records):
    from benchmarks.pixel_reports import best_settings, tune_table
    from benchmarks.suites.pixels import PIXEL_TUNE_GRID, tune_settings

    runs = kept_records("pixel-tune-runs-dcbe639.jsonl.gz")
    settings = tune_settings(list(PIXEL_TUNE_GRID))
    assert sorted((r["method"], sorted(r["overrides"].items()), r["seed"]) for r in runs) == sorted(
        (method, sorted(overrides.items()), seed) for method, overrides in settings for seed in range(3)
    )  # every setting on tuning layouts 0-2, nothing scored
    assert {r["provenance"]["code"]["commit"][:7] for r in runs} == {"dcbe639"}
    table = tune_table(runs, settings)
    assert "| MAX from pixels | encoder_every=250, model_steps=200 | 31 (31), 31, 31, 31 | 7, 13, 9 | yes |" in table
    assert "| MAX from pixels | encoder_every=500, model_steps=200 | 31 (31), 31, 31, 31 | 10, 9, 18 |  |" in table
    assert "| Bootstrapped DQN | learning_rate=0.001, target_update_interval=500 | 19 (15), 19, 15, 24 |" in table
    assert "| bonus DQN (SimHash) | learning_rate=0.0003, beta=0.1 | 20 (14), 20, 25, 14 |" in table
    assert "| bonus DQN (feature cells) | beta=1.0, spacing=0.5 | 25 (14), 25, 14, 26 | >30, >30, >30 | yes |" in table
    assert "| RND | learning_rate=0.001, ent_coef=0.001 | 17 (17), 21, 17, 17 | >30, >30, >30 | yes |" in table
    assert "| ICM | learning_rate=0.001, ent_coef=0.01 | 17 (14), 14, 17, 25 | >30, >30, >30 | yes |" in table
    for method, overrides in best_settings(runs, settings).items():  # the suite runs each method's choice
        default = pixel_job(method, "maze-9", 100)["hyperparameters"]
        assert default == pixel_job(method, "maze-9", 100, overrides=overrides)["hyperparameters"], method


def test_the_tuned_curiosity_rows_are_the_kept_records(kept_records, readme):
    tuned = kept_records("pixels-tuned-runs-0f0a17e.jsonl.gz")
    assert sorted((r["method"], r["seed"]) for r in tuned) == [
        (m, s) for m in ("icm", "random", "rnd") for s in range(100, 105)
    ]
    for r in tuned:  # made with the grid's choices, which are the suite's settings
        assert r["hyperparameters"] == pixel_job(r["method"], "maze-9", r["seed"])["hyperparameters"]
    max_runs = [r for r in kept_records("pixels-runs-406c877.jsonl.gz", "pixels-runs-29129dc-f3add73.jsonl.gz")
                if r["method"] == "max"]  # fmt: skip
    table = pixel_table(max_runs + tuned)
    assert "| RND | 5 | 20.7 [17.3, 24.3] | 1.00 [1.00, 1.00] | 21 (17, 25, 21, 18, 23) |" in table
    assert "| ICM | 5 | 21.3 [19.3, 25.7] | 1.00 [1.00, 1.00] | 21 (20, 21, 23, 19, 27) |" in table
    assert "| random | 5 | 23.3 [16.3, 25.7] | 1.00 [1.00, 1.00] | 24 (25, 14, 26, 21, 24) |" in table
    assert "tuned by the equal grid, RND and ICM end at IQMs of 20.7 [17.3, 24.3] and 21.3 [19.3, 25.7]" in readme

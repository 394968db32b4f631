"""The run grid's backends: the same records locally and on Ray, runs that survive a killed worker and
Ctrl-C, and a grid started again that runs nothing."""

import json
import os
import signal
import threading
import time

import psutil
import pytest

from benchmarks import ResultStore, job_key, run_jobs
from benchmarks.runs import explore_once

RESULTS = ("episodes_to_full", "coverage_per_episode", "steps")


def tiny_jobs(n=4, episodes=4, algo="perfect", length=8):
    return [{"algo": algo, "length": length, "seed": s, "max_episodes": episodes, "device": "cpu", "threads": 1,
             "tensorboard": None} for s in range(n)]  # fmt: skip


def outcomes(records):
    return [(job_key({k: r[k] for k in ("algo", "length", "seed")}), *(json.dumps(r[k]) for k in RESULTS))
            for r in records]  # fmt: skip


def interrupt_on_third(job):
    if job["seed"] == 2:
        raise KeyboardInterrupt
    return explore_once(job)


def test_bad_backend_arguments():
    with pytest.raises(ValueError, match="backend"):
        run_jobs(tiny_jobs(1), 1, backend="slurm")
    with pytest.raises(ValueError, match="address"):
        run_jobs(tiny_jobs(1), 1, address="auto")
    with pytest.raises(ValueError, match="workers"):
        run_jobs(tiny_jobs(1), 0)


def test_ctrl_c_keeps_the_finished_runs_and_a_restart_runs_only_the_rest(tmp_path):
    cache = tmp_path / "runs.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_jobs(tiny_jobs(), 1, cache, run=interrupt_on_third)
    assert sorted(ResultStore(cache).load()) == sorted(job_key(j) for j in tiny_jobs()[:2])
    ran = []
    records = run_jobs(tiny_jobs(), 1, cache, run=lambda job: ran.append(job["seed"]) or explore_once(job))
    assert ran == [2, 3] and [r["seed"] for r in records] == [0, 1, 2, 3]


def test_a_line_cut_short_is_skipped_and_the_next_record_stays_whole(tmp_path):
    cache = tmp_path / "runs.jsonl"
    job = tiny_jobs(1)[0]
    cache.write_text('{"algo": "perfect", "len')  # a crash in the middle of a write
    run_jobs([job], 1, cache)
    assert list(ResultStore(cache).load()) == [job_key(job)]


def kill_first_worker_running(title: str, killed: list[int], parent: int | None = None) -> None:
    """Poll for a process whose command line mentions ``title`` (a child of ``parent`` when given) and
    SIGKILL the first one found."""
    deadline = time.time() + 60
    while time.time() < deadline and not killed:
        candidates = psutil.Process(parent).children(recursive=True) if parent else psutil.process_iter()
        for proc in candidates:
            try:
                if title in " ".join(proc.cmdline()):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                    return
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        time.sleep(0.05)


def slow_jobs():
    return tiny_jobs(n=4, episodes=40, algo="random", length=30)  # ~1-2 s each


def test_local_pool_restarts_the_runs_of_a_killed_worker_without_losing_or_duplicating_one(tmp_path):
    cache = tmp_path / "runs.jsonl"
    expected = outcomes(run_jobs(slow_jobs(), 1))
    killed: list[int] = []
    killer = threading.Thread(target=kill_first_worker_running, args=("", killed, os.getpid()))
    killer.start()
    records = run_jobs(slow_jobs(), 2, cache, retries=2)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert outcomes(records) == expected
    lines = cache.read_text().splitlines()
    assert len(lines) == 4 and len({json.loads(line)["key"] for line in lines}) == 4


@pytest.fixture(scope="module")
def local_ray():
    """Ray on this machine for the Ray tests; only they skip when the distributed extra is missing."""
    ray = pytest.importorskip("ray", reason="the distributed extra (Ray) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_gives_the_local_records_and_a_finished_grid_runs_nothing(tmp_path, local_ray):
    cache = tmp_path / "runs.jsonl"
    local = run_jobs(tiny_jobs(), 1)
    on_ray = run_jobs(tiny_jobs(), 2, cache, backend="ray")
    assert outcomes(on_ray) == outcomes(local)
    again = run_jobs(tiny_jobs(), 2, cache, backend="ray", run=lambda job: pytest.fail("ran a stored run"))
    assert outcomes(again) == outcomes(local)


def test_ray_retries_the_run_of_a_killed_worker_without_losing_or_duplicating_one(tmp_path, local_ray):
    cache = tmp_path / "runs.jsonl"
    expected = outcomes(run_jobs(slow_jobs(), 1))
    killed: list[int] = []
    killer = threading.Thread(target=kill_first_worker_running, args=("ray::run_recorded", killed))
    killer.start()
    records = run_jobs(slow_jobs(), 2, cache, backend="ray", retries=2)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert outcomes(records) == expected
    lines = cache.read_text().splitlines()
    assert len(lines) == 4 and len({json.loads(line)["key"] for line in lines}) == 4


@pytest.mark.slow  # Ray Tune's experiment set-up: ~1 min on 2 idle cores, 4 under load
def test_tune_suite_on_ray_tune_matches_the_local_grid_and_is_not_rerun(tmp_path, local_ray, capsys):
    from benchmarks.config import BenchmarkConfig
    from benchmarks.suites.chain import tune

    def config(out, **kwargs):
        return BenchmarkConfig(suite="tune", out=str(out), quick=True, episodes=2, agents=["dqn"], workers=2,
                               tensorboard=False, **kwargs)  # fmt: skip

    local = tune(config(tmp_path / "local"), emit=print)
    on_ray = tune(config(tmp_path / "ray", backend="ray"), emit=print)
    assert len(on_ray) == len(local) == 8  # 4 settings x 2 seeds
    assert sorted(outcomes(on_ray)) == sorted(outcomes(local))
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| DQN")]
    assert len(rows) == 8 and rows[:4] == rows[4:]  # the same printed table
    stored = (tmp_path / "ray" / "tune-runs-quick.jsonl").read_text().splitlines()
    assert len(stored) == 8
    again = tune(config(tmp_path / "ray", backend="ray", search="asha"), emit=print)  # everything stored: no trial runs
    assert sorted(outcomes(again)) == sorted(outcomes(local))
    assert len((tmp_path / "ray" / "tune-runs-quick.jsonl").read_text().splitlines()) == 8

"""Records know what made them: resolved hyper-parameters in the key (a changed default reruns the runs
it touches), code and libraries beside the results, reports that refuse to mix code versions, and
``--fresh`` that sets aside only the runs it selects."""

import json
import re

import pytest
import torch

from agents import registry
from agents.bootstrapped_dqn import BootstrappedDQN
from agents.max.tabular import TabularMAX
from benchmarks import ResultStore, backends, run_jobs
from benchmarks.config import BenchmarkConfig
from benchmarks.provenance import check_versions, code_version, constructor_arguments, source_hash
from benchmarks.runs import explore_once, with_hyperparameters
from benchmarks.store import selection
from benchmarks.suites.chain import chain


def test_constructor_arguments_are_the_defaults_replaced_by_what_was_given():
    resolved = constructor_arguments(TabularMAX, {"ensemble_size": 7})
    assert resolved["ensemble_size"] == 7
    assert resolved["refit_tolerance"] is None  # a default nobody passed is still recorded
    assert "seed" not in resolved and "device" not in resolved  # where a run happens is not a hyper-parameter
    # BootstrappedDQN forwards **kwargs to SB3's DQN: the parent's defaults are resolved too
    boot = constructor_arguments(BootstrappedDQN, {"n_heads": 3})
    assert boot["n_heads"] == 3 and "learning_rate" in boot and "gamma" in boot
    json.dumps(boot)  # plain JSON values (classes become dotted names)
    with pytest.raises(TypeError, match="no hyper-parameter"):
        constructor_arguments(TabularMAX, {"not_an_option": 1})


def test_a_record_carries_its_code_libraries_and_threads():
    job = with_hyperparameters({"algo": "perfect", "length": 6, "seed": 0, "max_episodes": 3, "device": "cpu",
                                "threads": 1, "tensorboard": None})  # fmt: skip
    (record,) = run_jobs([job], workers=1)
    made = record["provenance"]
    assert made["code"]["source"] == source_hash() and re.fullmatch(r"[0-9a-f]{12}", made["code"]["source"])
    assert made["code"]["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", made["code"]["commit"])
    assert made["libraries"]["torch"] and made["libraries"]["gymnasium"] and made["threads"] == 1
    assert made["cpu"]["model"] != "" and made["cpu"]["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["hyperparameters"]["agent"] == "agents.reference_explorers.PerfectMemoryExplorer"


def test_provenance_is_read_before_the_run_starts(monkeypatch):
    # a long run outliving an edit of the sources must be recorded with the code it ran
    order = []
    monkeypatch.setattr(backends, "provenance", lambda job: order.append("provenance") or {"code": {"source": "x"}})
    record = backends.run_recorded(lambda job: order.append("run") or {"result": 1}, {"seed": 0})
    assert order == ["provenance", "run"]
    assert record["provenance"]["code"] == {"source": "x"} and record["provenance"]["finished"]


def chain_config(out, **kwargs):
    return BenchmarkConfig(suite="chain", out=str(out), seeds=2, lengths=[6], episodes=3, workers=1,
                           agents=["dqn", "random"], tensorboard=False, first_seed=0, **kwargs)  # fmt: skip


def test_a_changed_default_reruns_the_runs_it_touches_and_no_other(tmp_path, monkeypatch):
    store = tmp_path / "chain-runs.jsonl"
    first = chain(chain_config(tmp_path))
    assert len(store.read_text().splitlines()) == 4
    assert chain(chain_config(tmp_path)) == first  # unchanged: nothing runs, the same records
    monkeypatch.setitem(registry.CHAIN_HYPER_PARAMETERS, "dqn", {"learning_rate": 1e-2, "exploration_fraction": 0.5})
    again = chain(chain_config(tmp_path))
    lines = store.read_text().splitlines()
    assert len(lines) == 6  # DQN's 2 runs made again, the random walk's reused
    dqn = [r for r in again if r["algo"] == "dqn"]
    assert [r["hyperparameters"]["learning_rate"] for r in dqn] == [1e-2, 1e-2]  # the table is the new runs
    assert [r for r in again if r["algo"] == "random"] == [r for r in first if r["algo"] == "random"]


def test_a_table_refuses_runs_of_two_code_versions_unless_told(tmp_path):
    chain(chain_config(tmp_path))
    store = tmp_path / "chain-runs.jsonl"
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    lines[0]["provenance"]["code"] = {**lines[0]["provenance"]["code"], "source": "0123456789ab"}  # older code
    store.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(ValueError, match="2 code versions .*--fresh"):
        chain(chain_config(tmp_path))
    out = []
    chain(chain_config(tmp_path, mix_versions=True), emit=out.append)
    assert any("source 0123456789ab" in line and "(1 runs)" in line for line in out)


def test_the_version_line_names_the_code_and_today_when_it_differs():
    today = code_version()
    ours = [{"provenance": {"code": today}}] * 2
    assert check_versions(ours).startswith(f"runs made by source {today['source']} (")
    assert "today's code" not in check_versions(ours)
    old = [{"provenance": {"code": {**today, "source": "aaaaaaaaaaaa"}}}]
    assert "today's code is source " + today["source"] in check_versions(old)
    assert "unknown code" in check_versions([{}])  # records written before provenance


def test_fresh_sets_aside_only_the_selected_runs_and_they_run_again(tmp_path):
    jobs = [with_hyperparameters({"algo": algo, "length": 6, "seed": s, "max_episodes": 3, "device": "cpu",
                                  "threads": 1, "tensorboard": None})
            for algo in ("perfect", "random") for s in range(3)]  # fmt: skip
    cache = tmp_path / "runs.jsonl"
    run_jobs(jobs, workers=1, cache=cache)
    moved, aside = ResultStore(cache).set_aside(selection(["algo=random", "seed=0,2"]))
    assert moved == 2 and {(r["algo"], r["seed"]) for r in ResultStore(aside).load().values()} == {
        ("random", 0),
        ("random", 2),
    }
    assert len(ResultStore(cache).load()) == 4
    ran = []
    run_jobs(jobs, workers=1, cache=cache, run=lambda job: ran.append((job["algo"], job["seed"])) or explore_once(job))
    assert ran == [("random", 0), ("random", 2)]
    assert ResultStore(cache).set_aside(selection(["algo=max"])) == (0, None)
    assert ResultStore(cache).set_aside(selection(["all"]))[0] == 6 and ResultStore(cache).load() == {}
    with pytest.raises(ValueError, match="field=value"):
        selection(["seed"])

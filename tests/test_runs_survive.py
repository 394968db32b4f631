"""Runs that survive: Ctrl-C saves and resumes exactly, clear one-line errors, honest TensorBoard and
progress bar, thread counts on purpose."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import envs  # noqa: F401
from agents import MAX, BootstrappedDQN
from agents.callbacks import CoverageCallback, ProgressBar, StopOnInterrupt
from benchmarks.commands.train import TrainConfig, main
from envs import TransitionCoverage

ROOT = Path(__file__).resolve().parents[1]


def chain(length=10, layout_seed=0):
    return TransitionCoverage(gym.make("maxplore/Chain-v0", length=length, layout_seed=layout_seed))


class SendSigint(BaseCallback):
    """Sends this process a SIGINT at the given steps, as a user's Ctrl-C would."""

    def __init__(self, at_steps):
        super().__init__()
        self.at_steps = set(at_steps)

    def _on_step(self) -> bool:
        if self.num_timesteps in self.at_steps:
            os.kill(os.getpid(), signal.SIGINT)
        return True


def test_first_ctrl_c_stops_at_the_end_of_the_episode():
    horizon = 19  # length 10 + 9
    model = MAX(chain(), seed=0)
    stop = StopOnInterrupt()
    handler_before = signal.getsignal(signal.SIGINT)
    model.learn(10 * horizon, callback=[SendSigint([5]), stop])
    assert stop.interrupted and model.num_timesteps == horizon  # finished episode 1, then stopped
    assert signal.getsignal(signal.SIGINT) is handler_before  # the user's handler is back


def test_second_ctrl_c_stops_at_once():
    model = MAX(chain(), seed=0)
    stop = StopOnInterrupt()
    handler_before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job
    with pytest.raises(KeyboardInterrupt):
        model.learn(10 * 19, callback=[SendSigint([5, 7]), stop])
    assert model.num_timesteps == 7
    stop.restore()
    assert signal.getsignal(signal.SIGINT) is handler_before


def final_state(path):
    raw = torch.load(path, weights_only=True)
    return raw["visits"], raw["extra"]["ensemble"], raw["counters"]


def test_ctrl_c_in_the_script_saves_and_the_resumed_run_ends_as_the_uninterrupted_one(tmp_path):
    args = ["--env-kwargs", "length=50", "layout_seed=2", "--logdir", str(tmp_path / "runs"), "--progress-bar", "false"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *args, "--save", str(tmp_path / "cut.pt")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    # the run takes several seconds after imports; interrupt it once it has started stepping
    deadline = 60
    while not list((tmp_path / "runs").glob("*_1/events*")) and deadline > 0:
        try:
            proc.wait(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            deadline -= 0.05
    time.sleep(0.5)  # past SB3's set-up, into the steps
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "Error" not in err, err
    assert f"model saved to {tmp_path / 'cut.pt'}" in out and "--resume" in out
    cut_steps = torch.load(tmp_path / "cut.pt", weights_only=True)["counters"]["num_timesteps"]
    assert cut_steps > 0 and cut_steps % 59 == 0  # stopped at an episode's end, before full coverage

    common = {"env_kwargs": ["length=50", "layout_seed=2"], "logdir": "", "progress_bar": False}
    resumed = main(TrainConfig(**common, resume=str(tmp_path / "cut.pt"), save=str(tmp_path / "resumed.pt")))
    straight = main(TrainConfig(**common, save=str(tmp_path / "straight.pt")))
    assert resumed["coverage"] == straight["coverage"] == 1.0
    assert resumed["episodes"] == straight["episodes"]
    visits_a, ensemble_a, counters_a = final_state(tmp_path / "resumed.pt")
    visits_b, ensemble_b, counters_b = final_state(tmp_path / "straight.pt")
    assert torch.equal(visits_a, visits_b) and counters_a == counters_b
    for key in ensemble_a:
        assert torch.equal(ensemble_a[key], ensemble_b[key]), key


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"env": "maxplore/Nope-v0"}, "--env 'maxplore/Nope-v0'"),
        ({"env_kwargs": ["length"]}, "expected key=value"),
        ({"env_kwargs": ["colour=3"]}, "--env-kwargs colour=3 do not fit"),
        ({"agent_kwargs": ["n_members=3"]}, "max: .*n_members"),
        ({"timesteps": -5}, "--timesteps must be >= 0"),
        ({"episodes": 0}, "--episodes must be at least 1"),
        ({"resume": "nowhere.pt"}, "no checkpoint at nowhere.pt"),
    ],
)
def test_user_errors_are_one_line_messages(overrides, message, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(TrainConfig(logdir=str(tmp_path), progress_bar=False, **overrides))
    text = str(exit_info.value.code)
    assert text.startswith("error: ") and "\n" not in text
    assert __import__("re").search(message, text), text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("build", [lambda: MAX(chain(), device="cuda"),
                                   lambda: BootstrappedDQN("MlpPolicy", chain(), device="cuda")])  # fmt: skip
def test_cuda_without_cuda_is_refused_not_silently_cpu(build):
    with pytest.raises(ValueError, match="CUDA is not available"):
        build()


def test_bad_checkpoint_files_name_the_file(tmp_path):
    model = MAX(chain(), seed=0)
    model.save(tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"kind": "MAX", "weights": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")  # a pickled object
    for name, reason in [("truncated", "truncated"), ("text", "truncated"), ("list", "without 'kind'"),
                         ("module", "objects other than tensors")]:  # fmt: skip
        with pytest.raises(ValueError, match=rf"{name}\.pt.*{reason}"):
            MAX.load(tmp_path / f"{name}.pt", env=chain())
    with pytest.raises(ValueError, match="'MAX' checkpoint, expected 'BootstrappedDQN'"):
        BootstrappedDQN.load(tmp_path / "good.pt", env=chain())


@pytest.mark.parametrize("cls", ["max", "bootdqn"])
def test_loading_into_another_world_warns(cls, tmp_path):
    from agents.registry import load_agent, make_agent

    make_agent(cls, chain(10, layout_seed=0), seed=0).save(tmp_path / "m.pt")
    with pytest.warns(UserWarning, match=r"layout_seed': 0.*layout_seed': 3"):
        load_agent(cls, tmp_path / "m.pt", env=chain(10, layout_seed=3))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_agent(cls, tmp_path / "m.pt", env=chain(10, layout_seed=0))  # the same world: silent


def test_tensorboard_ends_at_the_final_coverage(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = main(TrainConfig(env_kwargs=["length=20", "layout_seed=1"], logdir=str(tmp_path), progress_bar=False))
    assert result["coverage"] == 1.0
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    events = EventAccumulator(str(run)).Reload().Scalars("explore/coverage")
    final_steps = torch.load(result["save_path"], weights_only=True)["counters"]["num_timesteps"]
    assert events[-1].value == 1.0 and events[-1].step == final_steps
    assert final_steps % 29 != 0  # the run ended mid-episode, where no episode-end point is written


@pytest.mark.parametrize("how", ["callback", "learn(progress_bar=True)"])
def test_progress_bar_ends_at_the_real_end(how, capsys):
    model = MAX(chain(), seed=0)
    coverage = CoverageCallback(max_episodes=50)
    if how == "callback":
        model.learn(50 * 19, callback=[coverage, ProgressBar(desc="max")])  # stops at full coverage
    else:
        model.learn(50 * 19, callback=coverage, progress_bar=True)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    steps = model.num_timesteps
    assert steps < 50 * 19 and f"{steps}/{steps}" in last and "100%" in last, last


def test_script_threads_option(tmp_path):
    result = main(TrainConfig(env_kwargs=["length=5"], logdir="", threads=1, save=str(tmp_path / "m.pt"),
                              progress_bar=False))  # fmt: skip
    assert result["torch_threads"] == 1
    assert torch.get_num_threads() == 1  # conftest.py: the test suite runs on one thread
    np.testing.assert_equal(result["coverage"], 1.0)


def test_auto_resolves_to_the_device_this_machine_has():
    from agents.devices import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")

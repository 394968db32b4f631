"""The scripts' command lines and the main job, end to end on small chains."""

import re
from pathlib import Path

import pytest

from benchmarks.commands.config_cli import parse_config, parse_kwargs
from benchmarks.commands.train import TrainConfig, main


def test_parse_config_types():
    cfg = parse_config(
        TrainConfig,
        "t",
        ["--env-kwargs", "length=7", "layout_seed=2", "--seed", "3", "--stop-at-full", "false", "--progress-bar"],
    )
    assert cfg.env_kwargs == ["length=7", "layout_seed=2"] and cfg.seed == 3
    assert cfg.stop_at_full is False and cfg.progress_bar is True
    with pytest.raises(SystemExit):
        parse_config(TrainConfig, "t", ["--algo", "nope"])


def test_parse_kwargs():
    assert parse_kwargs(["length=20", "encoding=onehot", "randomize_actions=False"]) == {
        "length": 20,
        "encoding": "onehot",
        "randomize_actions": False,
    }
    assert parse_kwargs(["a=true", "b=FALSE", "c=truly"]) == {"a": True, "b": False, "c": "truly"}
    with pytest.raises(ValueError, match="key=value"):
        parse_kwargs(["length"])


def test_train_main_job_reports_full_coverage(tmp_path, capsys):
    cfg = TrainConfig(env_kwargs=["length=10", "layout_seed=1"], logdir=str(tmp_path), progress_bar=False)
    result = main(cfg)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"explored 100% of 20 transitions in \d+ episodes \(\d+\.\d s\)", last), last
    assert result["episodes_to_full_coverage"] <= 3
    assert list(tmp_path.glob("max__Chain-v0*_1"))  # a TensorBoard run
    assert Path(result["save_path"]).exists()


def test_train_resume_continues(tmp_path, capsys):
    first = main(TrainConfig(env_kwargs=["length=30"], episodes=1, logdir=str(tmp_path), progress_bar=False))
    assert first["coverage"] < 1.0
    second = main(
        TrainConfig(
            env_kwargs=["length=30"],
            episodes=10,
            logdir="",
            resume=first["save_path"],
            save=str(tmp_path / "resumed.pt"),
            progress_bar=False,
        )
    )
    out = capsys.readouterr().out
    assert "resumed" in out
    assert second["coverage"] == 1.0


def test_pixel_maze_run_logs_cell_coverage(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    maze = ["obs_mode=rgb", "image_size=16", "horizon=30"]
    cfg = TrainConfig(algo="bootdqn", env="maxplore/Maze-v0", env_kwargs=maze, timesteps=130, logdir=str(tmp_path),
                      progress_bar=False)  # fmt: skip
    main(cfg)
    assert "of the free cells" in capsys.readouterr().out
    runs = list(tmp_path.glob("bootdqn__Maze-v0*_1"))
    tags = set(EventAccumulator(str(runs[0])).Reload().Tags()["scalars"])
    assert {"explore/cell_coverage", "explore/coverage", "rollout/ep_rew_mean"} <= tags


def test_cyclegan_script_reports_every_variant(tmp_path, capsys):
    from cyclegan import CycleGANConfig
    from cyclegan import main as cyclegan_main

    cfg = CycleGANConfig(steps=2, supervised_steps=2, n_train=8, n_eval=4, maze_size=5, image_size=32,
                         gen_channels=4, n_blocks=1, disc_channels=4, stds=[0.0, 0.1], workers=1, threads=1,
                         logdir=str(tmp_path / "runs"), figures=str(tmp_path / "img"))  # fmt: skip
    summary = cyclegan_main(cfg)
    out = capsys.readouterr().out
    for variant in ("baseline", "noise", "guess", "both"):
        row = summary["variants"][variant]
        assert f"| {variant} |" in out and len(row["curve"]) == 2
        assert row["honesty_gap"] == pytest.approx(row["reconstruction"] - summary["supervised_error"])
        assert 0 <= row["mean_iou"] <= 1
    assert (tmp_path / "img" / "cyclegan_grid.png").stat().st_size > 0
    assert (tmp_path / "img" / "cyclegan_sensitivity.png").stat().st_size > 0
    assert (tmp_path / "runs" / "results.json").exists()


def test_sparsify_sweeps_kl_weights_and_thresholds(tmp_path, capsys):
    from sparsify import SparsifyConfig
    from sparsify import main as sparsify_main

    cfg = SparsifyConfig(nets=["lenet300"], dense_epochs=1, sparse_epochs=2, anneal_epochs=1, kl_weights=[1.0, 0.05],
                         out=str(tmp_path), plot=str(tmp_path / "sparsify.png"))  # fmt: skip
    results = sparsify_main(cfg)
    assert [r["kl_weight"] for r in results] == [1.0, 0.05]
    assert results[0]["dense_error"] == results[1]["dense_error"]  # one dense net per architecture
    for r in results:
        curve = r["threshold_curve"]
        compressions = [c["compression"] for c in curve]
        assert compressions == sorted(compressions, reverse=True)  # a higher threshold keeps more weights
        at_trained = next(c for c in curve if c["threshold"] == cfg.threshold)
        assert at_trained["compression"] == pytest.approx(r["compression"])
        assert at_trained["test_error"] == pytest.approx(r["sparse_error"])
    assert results[0]["compression"] > results[1]["compression"]  # a stronger prior prunes more
    assert "log alpha > 3" in capsys.readouterr().out and (tmp_path / "sparsify.png").exists()


@pytest.mark.parametrize(
    ("algo", "env_id", "closing"),
    [
        ("max", "FrozenLake-v1", r"explored \d+% of 44 transitions in 2 episodes"),
        ("max", "CliffWalking-v1", r"explored \d+% of 148 transitions in 2 episodes"),  # no stated episode length
        ("perfect", "Taxi-v4", r"explored \d+% of 2400 transitions in 2 episodes"),
        ("dqn", "CartPole-v1", r"ran 2 episodes, \d+ steps, mean return [\d.]+ over the last \d"),
        ("max", "CartPole-v1", r"ran 2 episodes, \d+ steps, mean return [\d.]+ over the last \d"),
        ("bootdqn", "MountainCar-v0", r"ran 2 episodes, 400 steps, mean return -200.00"),
    ],
)
def test_train_runs_any_gymnasium_id_with_no_other_flag(algo, env_id, closing, tmp_path, capsys):
    main(TrainConfig(algo=algo, env=env_id, episodes=2, logdir=str(tmp_path), progress_bar=False))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(closing, last), last


@pytest.mark.parametrize(
    ("algo", "env_id", "message"),
    [
        ("max", "Blackjack-v1", r"error: max: MAX plans over Discrete states .* got observation_space=Tuple"),
        ("dqn", "Pendulum-v1", r"error: dqn: dqn \(DQN\) needs a Discrete action space; got action_space=Box"),
        ("random", "maxplore/Maze-v0", r"error: random: RandomExplorer needs Discrete observations"),
    ],
)
def test_spaces_that_do_not_fit_name_the_algorithm_and_the_spaces(algo, env_id, message, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(TrainConfig(algo=algo, env=env_id, logdir=str(tmp_path), progress_bar=False))
    assert re.match(message, str(exit_info.value.code)), exit_info.value.code

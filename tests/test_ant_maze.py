"""The MAX paper's U-shaped Ant maze on Gymnasium's Ant-v5: the layout, the block and grid coverage
measures, the paper's observation, walls that hold the ant, and coverage reported in ``info``."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.ant_maze import FREE_BLOCKS, GRID_CELL, X_INDEX, Y_INDEX, grid_cell, grid_cells, maze_block, wall_blocks

pytest.importorskip("mujoco", reason="the mujoco extra is not installed")


def test_the_layout_is_the_official_u():
    walls = {tuple(w) for w in wall_blocks()}
    assert len(walls) == 18 and not walls & {tuple(b) for b in FREE_BLOCKS}
    assert (2.0, 2.0) in walls and (0.0, 2.0) in walls  # the U's inside, both walls in the official XML
    steps = np.abs(np.diff(FREE_BLOCKS, axis=0)).sum(1)
    assert np.all(steps == 2.0)  # consecutive blocks touch: the U is one corridor from the start


def test_blocks_and_cells_of_known_positions():
    assert maze_block(FREE_BLOCKS).tolist() == list(range(7))
    assert maze_block(np.array([[2.0, 2.0], [-1.5, 0.0], [0.9, -0.9]])).tolist() == [-1, -1, 0]
    centres = grid_cells()
    assert len(centres) == 7 * int(2 / GRID_CELL) ** 2 and grid_cell(centres).tolist() == list(range(len(centres)))
    assert grid_cell(np.array([-0.99, -0.99])) == 0 and grid_cell(np.array([0.99, 0.99])) == 15
    assert grid_cell(np.array([2.0, 2.0])) == -1


def test_observation_is_the_papers_and_info_counts_coverage():
    env = gym.make("maxplore/AntMaze-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (31,) and env.spec.max_episode_steps == 300
    assert obs[X_INDEX] == pytest.approx(info["x_position"]) and obs[Y_INDEX] == pytest.approx(info["y_position"])
    assert info["block"] == 0 and info["blocks_visited"] == 1 and info["maze_coverage"] == pytest.approx(1 / 7)
    env.action_space.seed(0)
    cells = [info["cells_visited"]]
    for step in range(300):
        before = env.unwrapped.get_body_com("torso")[:2].copy()
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        after = env.unwrapped.get_body_com("torso")[:2]
        assert obs[:2] == pytest.approx((after - before) / env.unwrapped.dt)  # the torso's velocity over the step
        cells.append(info["cells_visited"])
        assert reward == 0.0 and not terminated and truncated == (step == 299)
    assert np.all(np.diff(cells) >= 0) and cells[-1] > 1  # 300-step episodes; coverage grows
    _, info = env.reset(seed=1)
    assert info["cells_visited"] >= cells[-1]  # kept across episodes


def test_gymnasium_and_sb3_accept_it_and_seeded_rollouts_repeat():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(gym.make("maxplore/AntMaze-v0").unwrapped, skip_render_check=True)
    sb3_check_env(gym.make("maxplore/AntMaze-v0"), warn=True)

    def rollout(seed):
        env = gym.make("maxplore/AntMaze-v0")
        env.action_space.seed(seed)
        return np.stack([env.reset(seed=seed)[0]] + [env.step(env.action_space.sample())[0] for _ in range(20)])

    assert np.array_equal(rollout(3), rollout(3)) and not np.array_equal(rollout(3), rollout(4))


def test_walls_hold_the_ant():
    """Pushed hard towards the U's inner wall (x = 2, y = 2 is a wall block) the torso stays out of it."""
    env = gym.make("maxplore/AntMaze-v0")
    env.reset(seed=0)
    sim = env.unwrapped
    for _ in range(200):
        qvel = sim.data.qvel.copy()
        qvel[:2] = [0.0, 3.0]  # drive the torso towards +y, into the wall above the start block
        sim.set_state(sim.data.qpos.copy(), qvel)
        env.step(np.zeros(8, dtype=np.float32))
    xy = sim.get_body_com("torso")[:2]
    assert xy[1] < 1.0 + 0.3  # the wall's face is at y = 1; the torso's radius is 0.25
    assert maze_block(xy) == 0


def test_max_logs_the_mazes_coverage_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from agents import MAX

    tiny = {"warmup_steps": 100, "policy_every": 100, "model_steps": 5, "imagined_episodes": 1, "warmup_episodes": 0,
            "horizon": 3, "n_actors": 8, "ensemble_size": 2, "hidden_size": 16, "sac_hidden_size": 16,
            "sac_batch_size": 16}  # fmt: skip
    env = gym.make("maxplore/AntMaze-v0")
    model = MAX(env, seed=0, tensorboard_log=str(tmp_path), **tiny)
    model.learn(300)
    events = EventAccumulator(str(next(tmp_path.iterdir())))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"explore/maze_coverage", "explore/grid_coverage", "explore/utility_mean", "model/nll"} <= tags
    coverage = events.Scalars("explore/maze_coverage")[-1].value
    assert coverage == pytest.approx(model.env.get_attr("blocks")[0].mean())

"""maxplore/Maze-v0: layouts, moves, coverage, goal, and the two renderings of one state."""

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.maze import AGENT, FLOOR, GOAL, WALL, MazeEnv


def reachable(walls, start):
    seen, queue = {start}, deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            n = (r + dr, c + dc)
            if not walls[n] and n not in seen:
                seen.add(n)
                queue.append(n)
    return seen


@pytest.mark.parametrize("layout", ["maze", "rooms"])
def test_layout_is_seeded_connected_and_walled(layout):
    a, b, c = (MazeEnv(size=11, layout_seed=s, layout=layout) for s in (0, 0, 1))
    assert np.array_equal(a.walls, b.walls) and not np.array_equal(a.walls, c.walls)
    assert a.walls[[0, -1], :].all() and a.walls[:, [0, -1]].all()
    assert len(reachable(a.walls, a.start)) == a.n_free  # every free cell can be reached


def test_moves_and_walls():
    env = MazeEnv(size=7, layout="rooms", obs_mode="index", layout_seed=0)
    _, info = env.reset(seed=0)
    assert env.start == (1, 1) and info["state"] == 8
    _, _, _, _, info = env.step(0)  # up: the outer wall, stay
    assert info["state"] == 8
    _, _, _, _, info = env.step(1)  # right: free
    assert info["state"] == 9
    _, _, _, _, info = env.step(2)  # down: free
    assert info["state"] == 16


def test_cell_coverage_accumulates_across_resets():
    env = MazeEnv(size=7, layout="rooms", obs_mode="index", horizon=2)
    _, info = env.reset(seed=0)
    assert info["cells_visited"] == 1
    env.step(1)
    _, _, _, truncated, info = env.step(2)
    assert truncated and info["cells_visited"] == 3
    _, info = env.reset()
    assert info["cells_visited"] == 3 and info["cell_coverage"] == pytest.approx(3 / env.n_free)


def test_reward_free_by_default_and_goal_when_asked():
    env = MazeEnv(size=5, layout="rooms", obs_mode="index", layout_seed=0)
    env.reset(seed=0)
    assert all(env.step(a)[1] == 0.0 for a in (1, 2, 1, 2, 3))
    env = MazeEnv(size=5, layout="rooms", obs_mode="index", goal=True, layout_seed=0)
    env.reset(seed=0)
    assert env.goal_cell == (3, 3)
    env._pos = (3, 2)
    _, reward, terminated, _, _ = env.step(1)
    assert reward == 1.0 and terminated


def semantic_reference(env: MazeEnv) -> np.ndarray:
    """Pixel by pixel: the slow, obvious version of the vectorised semantic map."""
    grid = env.class_grid()
    out = np.zeros((env.image_size, env.image_size), dtype=np.uint8)
    for y in range(env.image_size):
        for x in range(env.image_size):
            out[y, x] = grid[y * env.size // env.image_size, x * env.size // env.image_size]
    return out


@pytest.mark.parametrize("image_size", [16, 37, 64])
def test_semantic_map_matches_pixel_loop_and_rgb_follows_it(image_size):
    env = MazeEnv(size=9, image_size=image_size, goal=True)
    env.reset(seed=3)
    env.step(1)
    semantic = env.semantic_map()
    assert np.array_equal(semantic, semantic_reference(env))
    assert set(np.unique(semantic)) == {FLOOR, WALL, AGENT, GOAL}
    rgb = env.rgb_frame().astype(float)
    assert rgb.shape == (image_size, image_size, 3)
    # the agent is red, walls are dark blue-grey: class colours survive texture and shading on average
    assert rgb[semantic == AGENT][:, 0].mean() > rgb[semantic == AGENT][:, 2].mean() + 80
    assert rgb[semantic == WALL].mean() < rgb[semantic == FLOOR].mean() - 60


def test_texture_is_redrawn_at_reset_unless_fixed():
    env = MazeEnv(size=7, texture="random")
    first, _ = env.reset(seed=0)
    second, _ = env.reset(seed=1)
    again, _ = env.reset(seed=0)
    assert not np.array_equal(first, second) and np.array_equal(first, again)
    fixed = MazeEnv(size=7, texture="fixed")
    a, _ = fixed.reset(seed=0)
    b, _ = fixed.reset(seed=1)
    assert np.array_equal(a, b)
    # same state, different textures: the semantic map is the same, the picture is not
    assert np.array_equal(MazeEnv(size=7, obs_mode="semantic").reset(seed=0)[0],
                          MazeEnv(size=7, obs_mode="semantic").reset(seed=1)[0])  # fmt: skip


def test_render_is_the_picture():
    env = gym.make("maxplore/Maze-v0", obs_mode="rgb", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    assert np.array_equal(env.render(), obs)
    assert MazeEnv.colourise(np.array([[0, 1], [2, 3]])).shape == (2, 2, 3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"size": 3}, "size"), ({"obs_mode": "depth"}, "obs_mode"), ({"layout": "cave"}, "layout"),
     ({"texture": "wood"}, "texture"), ({"image_size": 4}, "image_size"), ({"horizon": 0}, "horizon")],
)  # fmt: skip
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MazeEnv(**kwargs)

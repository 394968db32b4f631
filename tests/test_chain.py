"""The chain's rules as DESIGN.md states them, probed from outside through gym.make."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers maxplore/ ids)


def make(**kwargs):
    return gym.make("maxplore/Chain-v0", **kwargs)


def right_action_of(env, state):
    """Find which action moves right in ``state`` by trying both from a copy of the env."""
    moves = {}
    for a in (0, 1):
        env.unwrapped._state = state
        _, _, _, _, info = env.unwrapped.step(a)
        moves[a] = info["state"]
    return moves


def test_starts_in_state_one():
    env = make(length=10, layout_seed=0)
    obs, info = env.reset(seed=0)
    assert obs == 1 and info["state"] == 1


@pytest.mark.parametrize("layout_seed", [0, 1, 2])
def test_one_action_right_one_left_and_ends_stay(layout_seed):
    length = 12
    env = make(length=length, layout_seed=layout_seed)
    env.reset(seed=0)
    for s in range(length):
        moves = right_action_of(env, s)
        assert sorted(moves.values()) == sorted([max(s - 1, 0), min(s + 1, length - 1)])
    assert sorted(right_action_of(env, 0).values()) == [0, 1]
    assert sorted(right_action_of(env, length - 1).values()) == [length - 2, length - 1]


def test_truncated_at_length_plus_nine():
    env = make(length=20, layout_seed=0)
    env.reset(seed=0)
    for t in range(1, 30):
        _, _, terminated, truncated, _ = env.step(0)
        assert not terminated
        assert truncated == (t == 29)


def test_horizon_kwarg():
    env = make(length=5, horizon=3)
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(3)] == [False, False, True]


def test_rewards_small_left_large_right():
    env = make(length=6, layout_seed=4)
    env.reset(seed=0)
    right = env.unwrapped.right_action
    _, r, *_ = env.step(1 - right[1])  # 1 -> 0
    assert r == pytest.approx(0.001)
    _, r, *_ = env.step(1 - right[0])  # stay in 0
    assert r == pytest.approx(0.001)
    rewards = []
    state = 0
    for _ in range(5):
        _, r, _, _, info = env.step(right[state])
        state = info["state"]
        rewards.append(r)
    assert state == 5 and rewards == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_layout_seed_changes_layout_and_is_fixed_across_resets():
    a = make(length=50, layout_seed=0).unwrapped.right_action
    b = make(length=50, layout_seed=1).unwrapped.right_action
    assert not np.array_equal(a, b)
    env = make(length=50, layout_seed=0)
    env.reset(seed=123)
    assert np.array_equal(env.unwrapped.right_action, a)
    assert np.array_equal(make(length=50, layout_seed=0).unwrapped.right_action, a)


def test_randomize_actions_false_is_osbands_chain():
    env = make(length=15, layout_seed=3, randomize_actions=False)
    env.reset(seed=0)
    for s in range(15):
        assert right_action_of(env, s)[1] == min(s + 1, 14)


def test_encodings():
    length = 7
    env = make(length=length, encoding="index")
    assert isinstance(env.observation_space, gym.spaces.Discrete) and env.observation_space.n == length
    for encoding, expected in [
        ("onehot", [0, 1, 0, 0, 0, 0, 0]),
        ("thermometer", [1, 1, 0, 0, 0, 0, 0]),
    ]:
        env = make(length=length, encoding=encoding, layout_seed=0)
        obs, _ = env.reset(seed=0)
        assert obs.dtype == np.float32 and obs.shape == (length,)
        assert obs.tolist() == expected
        obs, _, _, _, info = env.step(env.unwrapped.right_action[1])
        assert info["state"] == 2
        expected_after = (np.arange(length) == 2) if encoding == "onehot" else (np.arange(length) <= 2)
        assert obs.tolist() == expected_after.astype(np.float32).tolist()
        obs[:] = 5  # the env must hand out copies, not its own table
        assert env.unwrapped._obs().max() == 1


def test_render_ansi_shows_agent():  # the registry tests cover rgb_array
    env = make(length=5, render_mode="ansi")
    env.reset(seed=0)
    assert env.render().startswith("[o@..G]")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"length": 1}, "length"),
        ({"length": 0}, "length"),
        ({"encoding": "pixels"}, "encoding"),
        ({"horizon": 0}, "horizon"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        envs.ChainEnv(**kwargs)


def test_bad_types():
    with pytest.raises(TypeError, match="length"):
        envs.ChainEnv(length=5.5)


def test_bad_action():
    env = make(length=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.unwrapped.step(2)

"""TransitionCoverage on hand-written action sequences."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import TransitionCoverage


def test_coverage_counts_distinct_pairs_across_resets():
    # randomize_actions=False: action 1 moves right, action 0 left, 4 states, 8 pairs.
    env = TransitionCoverage(gym.make("maxplore/Chain-v0", length=4, randomize_actions=False, horizon=3))
    _, info = env.reset(seed=0)
    assert info["coverage"] == 0.0 and info["episodes"] == 1 and info["transitions_seen"] == 0
    seen = []
    for a in (1, 1, 1):  # (1,1) (2,1) (3,1); truncated after 3 steps
        _, _, _, truncated, info = env.step(a)
        seen.append(info["transitions_seen"])
    assert truncated and seen == [1, 2, 3]
    assert info["coverage"] == pytest.approx(3 / 8)
    _, info = env.reset()
    assert info["episodes"] == 2 and info["transitions_seen"] == 3  # kept across resets
    for a in (1, 0, 0):  # (1,1) again, then (2,0) (1,0)
        _, _, _, _, info = env.step(a)
    assert info["transitions_seen"] == 5
    assert env.episodes_to_full_coverage is None
    env.reset()
    for a in (0, 0, 1):  # (1,0) again, (0,0), (0,1)
        _, _, _, _, info = env.step(a)
    assert info["transitions_seen"] == 7
    env.reset()
    for a in (1, 1, 0):  # (1,1) (2,1) (3,0): the last untried pair, in episode 4
        _, _, _, _, info = env.step(a)
    assert info["coverage"] == 1.0 and env.episodes_to_full_coverage == 4
    env.reset()
    assert env.episodes_to_full_coverage == 4


def test_coverage_reads_info_state_for_box_observations():
    env = TransitionCoverage(gym.make("maxplore/Chain-v0", length=3, encoding="onehot", randomize_actions=False))
    env.reset(seed=0)
    env.step(1)  # (1,1) -> 2
    _, _, _, _, info = env.step(1)  # (2,1)
    assert info["transitions_seen"] == 2 and env.tried[1, 1] and env.tried[2, 1]
    assert env.n_states == 3


def test_coverage_rejects_continuous_actions():
    env = gym.make("Pendulum-v1")
    with pytest.raises(TypeError, match="Discrete action space"):
        TransitionCoverage(env)


def test_coverage_needs_state_count():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="n_states"):
        TransitionCoverage(env)


def test_step_before_reset_is_an_error():
    env = TransitionCoverage(envs.ChainEnv(length=3))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_mark_tried_for_resumed_runs():
    env = TransitionCoverage(envs.ChainEnv(length=3))
    tried = np.zeros((3, 2), dtype=bool)
    tried[0, 1] = tried[2, 0] = True
    env.mark_tried(tried)
    _, info = env.reset(seed=0)
    assert info["transitions_seen"] == 2 and info["coverage"] == pytest.approx(2 / 6)
    env.step(0)  # a new pair counts on top
    assert env.transitions_seen == 3
    with pytest.raises(ValueError, match="tried"):
        env.mark_tried(np.zeros((2, 2), dtype=bool))


def test_coverage_counts_only_existing_states_when_the_env_says_which():
    env = TransitionCoverage(gym.make("maxplore/Maze-v0", size=5, layout="rooms", obs_mode="rgb", image_size=16))
    free = int(env.unwrapped.state_mask.sum())
    assert env.n_states == 25 and env.n_pairs == 4 * free < 100
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert info["coverage"] == pytest.approx(1 / (4 * free))


def test_observation_noise_is_seeded_has_the_asked_spread_and_leaves_the_world_alone():
    def rollout(std, seed=0):
        env = envs.ObservationNoise(gym.make("Pendulum-v1"), std)
        obs = [env.reset(seed=seed)[0]]
        env.action_space.seed(seed)
        for _ in range(300):
            obs.append(env.step(env.action_space.sample())[0])
        return np.array(obs), env

    clean, _ = rollout(0.0)
    noisy, env = rollout(0.02)
    again, _ = rollout(0.02)
    other, _ = rollout(0.02, seed=1)
    np.testing.assert_array_equal(noisy, again)  # seeded by reset(seed=...)
    assert not np.array_equal(noisy[:1], other[:1])
    noise = noisy - clean  # the world's own trajectory is the noise-free one: it never sees the noise
    assert abs(noise.std() - 0.02) < 0.002 and abs(noise.mean()) < 0.002
    assert env.observation_space.shape == (3,) and np.isinf(env.observation_space.high).all()


def test_observation_noise_refuses_bad_input():
    with pytest.raises(ValueError, match="std"):
        envs.ObservationNoise(gym.make("Pendulum-v1"), -0.1)
    with pytest.raises(TypeError, match="Box"):
        envs.ObservationNoise(gym.make("FrozenLake-v1"), 0.02)

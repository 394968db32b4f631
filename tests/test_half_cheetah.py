"""HalfCheetah as the MAX paper saw it: its 19-value observation rebuilt on Gymnasium's HalfCheetah-v5,
reward-free by default, and the running and flipping rewards as functions of (s, a, s')."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from envs.half_cheetah import half_cheetah_reward

pytest.importorskip("mujoco", reason="the mujoco extra is not installed")


def test_observation_rewards_and_velocities_match_the_simulator():
    env = gym.make("maxplore/HalfCheetah-v0", task="running")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (19,) and env.observation_space.shape == (19,)
    sim = env.unwrapped
    x_before = float(sim.get_body_com("torso")[0])
    action = np.full(6, 0.5, dtype=np.float32)
    next_obs, reward, terminated, truncated, _ = env.step(action)
    x_after = float(sim.get_body_com("torso")[0])
    assert next_obs[0] == pytest.approx((x_after - x_before) / sim.dt)  # the averaged torso velocity
    assert next_obs[12] == pytest.approx(sim.data.qvel[2])  # the pitch's angular velocity
    assert np.sin(sim.data.qpos[2]) == pytest.approx(next_obs[2])
    assert reward == pytest.approx(next_obs[0] - 0.1 * 6 * 0.25)
    assert not terminated and not truncated
    free = gym.make("maxplore/HalfCheetah-v0")
    free.reset(seed=0)
    assert free.step(action)[1] == 0.0  # exploration is reward-free


def test_gymnasium_and_sb3_accept_it_and_seeded_rollouts_repeat():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("maxplore/HalfCheetah-v0", task="flipping")
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)

    def rollout(seed):
        env = gym.make("maxplore/HalfCheetah-v0")
        env.action_space.seed(seed)
        obs = [env.reset(seed=seed)[0]] + [env.step(env.action_space.sample())[0] for _ in range(20)]
        return np.stack(obs)

    assert np.array_equal(rollout(3), rollout(3)) and not np.array_equal(rollout(3), rollout(4))


def test_task_rewards_work_on_batches_of_numpy_and_torch():
    next_states = np.zeros((4, 19))
    next_states[:, 0], next_states[:, 12] = [1, 2, 3, 4], [-1, 0, 1, 2]
    actions = np.ones((4, 6))
    assert np.allclose(half_cheetah_reward("running", None, actions, next_states), [0.4, 1.4, 2.4, 3.4])
    flips = half_cheetah_reward("flipping", None, torch.as_tensor(actions), torch.as_tensor(next_states))
    assert torch.allclose(flips, torch.tensor([-1.6, -0.6, 0.4, 1.4], dtype=torch.float64))
    with pytest.raises(ValueError, match="task"):
        half_cheetah_reward("jumping", None, actions, next_states)
    with pytest.raises(ValueError, match="task"):
        gym.make("maxplore/HalfCheetah-v0", task="jumping")


def test_max_explores_it_with_a_tiny_configuration():
    from agents import MAX

    model = MAX(gym.make("maxplore/HalfCheetah-v0"), seed=0, warmup_steps=40, policy_every=40, model_steps=20,
                imagined_episodes=1, warmup_episodes=0, horizon=5, n_actors=8, ensemble_size=2, hidden_size=32,
                sac_hidden_size=32, sac_batch_size=32)  # fmt: skip
    model.learn(80)
    assert model.states.shape == (80, 19) and model.has_policy and np.isfinite(model.last_utility)

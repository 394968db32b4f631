"""The curiosity baselines (RND, ICM): their defining behaviour, the two-stream PPO against slow references,
and the SB3 interface (spaces, save/load, determinism)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from torch.nn import functional as F

import envs  # noqa: F401
from agents.curiosity import ICM, RND, ICMModule, RNDModule
from agents.curiosity.icm import icm_reward_reference
from agents.curiosity.ppo import ReturnScale, TwoStreamRolloutBuffer, gae, gae_reference
from agents.curiosity.rnd import rnd_errors_reference
from agents.registry import make_agent

CURIOSITY = {"rnd": RND, "icm": ICM}


def chain(length=8):
    return gym.make("maxplore/Chain-v0", length=length, layout_seed=1)


def maze():
    return gym.make("maxplore/Maze-v0", size=9, layout_seed=0, obs_mode="rgb")


def test_gae_matches_the_slow_sum_and_sb3s_buffer():
    rng = np.random.default_rng(0)
    steps, n_envs = 12, 3
    rewards, values = rng.normal(size=(steps, n_envs)), rng.normal(size=(steps, n_envs))
    starts = (rng.random((steps, n_envs)) < 0.25).astype(float)
    last_values, last_dones = rng.normal(size=n_envs), np.array([1.0, 0.0, 1.0])
    fast = gae(rewards, values, last_values, starts, last_dones, 0.97, 0.9)
    np.testing.assert_allclose(fast, gae_reference(rewards, values, last_values, starts, last_dones, 0.97, 0.9),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    sb3 = RolloutBuffer(steps, spaces.Box(-1, 1, (1,)), spaces.Discrete(2), gamma=0.97, gae_lambda=0.9, n_envs=n_envs)
    sb3.rewards, sb3.values, sb3.episode_starts = (a.astype(np.float32) for a in (rewards, values, starts))
    sb3.compute_returns_and_advantage(torch.tensor(last_values), last_dones)
    np.testing.assert_allclose(fast, sb3.advantages, rtol=1e-5, atol=1e-5)


def test_the_intrinsic_stream_runs_through_episode_ends_the_extrinsic_one_stops():
    buffer = TwoStreamRolloutBuffer(4, spaces.Box(-1, 1, (1,)), spaces.Discrete(2), gamma=0.9, gae_lambda=1.0,
                                    gamma_int=0.5, int_coef=1.0, ext_coef=2.0)  # fmt: skip
    for t in range(4):
        value = torch.zeros(1, 2)
        buffer.add(np.zeros((1, 1)), np.zeros((1, 1)), np.array([1.0 if t == 3 else 0.0]), np.array([t == 2]),
                   value, torch.zeros(1), next_obs=np.zeros((1, 1)))  # fmt: skip
    buffer.intrinsic_rewards[:, 0] = [0.0, 0.0, 0.0, 8.0]
    buffer.compute_returns_and_advantage(torch.zeros(1, 2), np.array([False]))
    # an episode ended after step 1: the extrinsic return of steps 0-1 stops there, the intrinsic one does not
    np.testing.assert_allclose(buffer.returns[:, 0, 0], [1.0, 2.0, 4.0, 8.0])  # 8 * 0.5^(3-t)
    np.testing.assert_allclose(buffer.returns[:, 0, 1], [0.0, 0.0, 0.9, 1.0])
    np.testing.assert_allclose(buffer.advantages[:, 0], buffer.returns[:, 0, 0] + 2 * buffer.returns[:, 0, 1])


def test_return_scale_divides_by_the_std_of_the_discounted_return():
    scale = ReturnScale(1, 0.5)
    rewards = np.array([[1.0], [3.0], [2.0]])
    returns = np.array([1.0, 3.5, 3.75])  # r_t + 0.5 * R_(t-1)
    np.testing.assert_allclose(scale(rewards)[:, 0], rewards[:, 0] / returns.std(), rtol=1e-6)


@pytest.mark.parametrize("space", [spaces.Discrete(7), spaces.Box(-2, 2, (5,)),
                                   spaces.Box(0, 255, (3, 16, 16), np.uint8)])  # fmt: skip
def test_fast_routines_match_their_references(space):
    torch.manual_seed(0)
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(6)]))
    actions = torch.randint(0, 3, (6, 1)).float()
    rnd = RNDModule(space)
    rnd.observe(obs)
    torch.testing.assert_close(rnd.errors(obs), rnd_errors_reference(rnd, obs), rtol=1e-4, atol=1e-6)
    icm = ICMModule(space, 3).eval()
    torch.testing.assert_close(icm.reward(obs, actions, obs.flip(0)), icm_reward_reference(icm, obs, actions,
                               obs.flip(0)), rtol=1e-4, atol=1e-7)  # fmt: skip


def test_rnd_error_falls_on_visited_states_and_stays_high_on_the_others():
    torch.manual_seed(0)
    space = spaces.Discrete(20)
    module = RNDModule(space)
    visited, unvisited = torch.arange(10), torch.arange(10, 20)
    module.observe(torch.cat([visited, visited]))  # the whitening statistics of the states seen
    before = module.errors(visited).mean().item()
    optimizer = torch.optim.Adam(module.predictor.parameters(), lr=1e-3)
    for _ in range(300):
        loss = module.loss(visited, visited, visited)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        seen, unseen = module.errors(visited).mean().item(), module.errors(unvisited).mean().item()
    assert seen < 0.05 * before
    assert unseen > 20 * seen


def _ring_transitions(n, states, generator, n_states=12, noise=8):
    """A ring of one-hot states with ``noise`` N(0, 1) channels no action affects; action 1 steps right."""
    s = states[torch.randint(0, len(states), (n,), generator=generator)]
    a = torch.randint(0, 2, (n,), generator=generator)
    nxt = (s + 2 * a - 1) % n_states

    def obs(state):
        return torch.cat([F.one_hot(state, n_states).float(), torch.randn(n, noise, generator=generator)], 1)

    return obs(s), a, obs(nxt)


@pytest.mark.parametrize("train_phi", [True, False])
def test_icm_reward_ignores_noise_the_action_cannot_affect(train_phi):
    """Trained on a noisy ring's states 0-7, ICM pays far more for transitions among unseen states than for
    seen ones; with phi frozen at its initialisation (the noise kept in the features) the noise drowns that."""
    torch.manual_seed(0)
    space = spaces.Box(-np.inf, np.inf, (20,), np.float32)
    module = ICMModule(space, 2)
    module.phi.requires_grad_(train_phi)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(1500):
        loss = module.loss(*_ring_transitions(64, torch.arange(1, 7), g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        seen = module.reward(*_ring_transitions(1000, torch.arange(1, 7), g)).mean()
        unseen = module.reward(*_ring_transitions(1000, torch.arange(9, 11), g)).mean()
    if train_phi:
        assert unseen > 5 * seen  # measured 14-42 over seeds 0-2
    else:
        assert unseen < 2 * seen  # measured 1.08-1.10


@pytest.mark.parametrize("algo", list(CURIOSITY))
@pytest.mark.parametrize(
    "make_env", [chain, lambda: gym.make("CartPole-v1"), maze], ids=["counted", "vector", "pixels"]
)
def test_runs_on_counted_states_vectors_and_pictures(algo, make_env):
    model = make_agent(algo, make_env(), seed=0, device="cpu", n_steps=32, batch_size=16, n_epochs=1)
    assert isinstance(model, CURIOSITY[algo])
    model.learn(64)
    assert model.num_timesteps == 64 and model._n_updates > 0
    assert model.policy.value_net.out_features == 2  # intrinsic and extrinsic heads
    rewards = model.rollout_buffer.intrinsic_rewards
    assert rewards.shape == (32, 1) and np.all(np.isfinite(rewards)) and rewards.std() > 0


@pytest.mark.parametrize("algo", list(CURIOSITY))
def test_save_load_round_trip_and_seeded_determinism(algo, tmp_path):
    kwargs = {"n_steps": 32, "batch_size": 16, "n_epochs": 2}
    model = make_agent(algo, chain(), seed=3, device="cpu", **kwargs)
    model.learn(96)
    twin = make_agent(algo, chain(), seed=3, device="cpu", **kwargs)
    twin.learn(96)
    for (name, a), b in zip(model.curiosity.state_dict().items(), twin.curiosity.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    model.save(tmp_path / "agent")
    assert torch.load(tmp_path / "agent.pt", weights_only=True)["kind"] == CURIOSITY[algo].__name__
    loaded = CURIOSITY[algo].load(tmp_path / "agent", env=chain(), device="cpu")
    for module in ("policy", "curiosity", "return_scale"):
        for (name, a), b in zip(getattr(model, module).state_dict().items(),
                                getattr(loaded, module).state_dict().values(), strict=True):  # fmt: skip
            assert torch.equal(a, b), f"{module}.{name}"
    states = np.arange(8)
    assert np.array_equal(model.predict(states, deterministic=True)[0], loaded.predict(states, deterministic=True)[0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="int_coef"):
        RND("MlpPolicy", chain(), int_coef=-1.0)
    with pytest.raises(ValueError, match="gamma_int"):
        ICM("MlpPolicy", chain(), gamma_int=1.0)
    with pytest.raises(ValueError, match="rollout_buffer_class"):
        RND("MlpPolicy", chain(), rollout_buffer_class=RolloutBuffer)
    with pytest.raises(TypeError, match="Discrete action"):
        make_agent("icm", gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="beta"):
        ICMModule(spaces.Discrete(4), 2, beta=2.0)

"""SB3-based baselines after sb3-contrib's pattern: short runs, save/load, determinism, and their science."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.logger import configure

import envs  # noqa: F401
from agents.bonus_dqn import BonusDQN, CountBonusReplayBuffer, FeatureCover
from agents.bootstrapped_dqn import BootstrappedDQN, vote
from agents.counts import StateActionCounter
from agents.dqn import DQN, SMALL_WORLD_DEFAULTS
from agents.registry import CHAIN_HYPER_PARAMETERS, make_agent

SB3_AGENTS = {"bootdqn": BootstrappedDQN, "bootdqn-prior": BootstrappedDQN, "bonusdqn": BonusDQN, "dqn": DQN}


def chain(length=6, **kwargs):
    return gym.make("maxplore/Chain-v0", length=length, layout_seed=1, **kwargs)


@pytest.mark.parametrize("algo", list(SB3_AGENTS))
def test_short_run_save_load_same_actions(algo, tmp_path):
    model = make_agent(algo, chain(), seed=0, device="cpu")
    model.learn(300)
    assert model.num_timesteps == 300 and model._n_updates > 0
    model.save(tmp_path / "agent")
    raw = torch.load(tmp_path / "agent.pt", weights_only=True)  # plain tensors and values only
    assert raw["kind"] == SB3_AGENTS[algo].__name__
    loaded = SB3_AGENTS[algo].load(tmp_path / "agent", env=chain(), device="cpu")
    states = np.arange(6)
    assert np.array_equal(model.predict(states, deterministic=True)[0], loaded.predict(states, deterministic=True)[0])
    for (name, a), b in zip(model.policy.state_dict().items(), loaded.policy.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 350


@pytest.mark.parametrize("algo", list(SB3_AGENTS))
def test_same_seed_same_result(algo):
    def params(seed):
        model = make_agent(algo, chain(), seed=seed, device="cpu")
        model.learn(250)
        return torch.cat([p.detach().flatten() for p in model.policy.parameters()])

    assert torch.equal(params(3), params(3))
    assert not torch.equal(params(3), params(4))


def test_load_needs_env(tmp_path):
    model = make_agent("dqn", chain(), seed=0, device="cpu")
    model.save(tmp_path / "d")
    with pytest.raises(ValueError, match="env"):
        DQN.load(tmp_path / "d")
    with pytest.raises(ValueError, match="BonusDQN"):
        BonusDQN.load(tmp_path / "d", env=chain())  # a DQN checkpoint is not a BonusDQN one


def _filled_bootstrapped(n_heads=4):
    model = BootstrappedDQN("MlpPolicy", chain(), n_heads=n_heads, seed=0, learning_starts=0, device="cpu")
    model.set_logger(configure(folder=None, format_strings=[]))
    buffer = model.replay_buffer
    for s in range(5):
        buffer.add(np.array([s]), np.array([s + 1]), np.array([1]), np.array([1.0]), np.array([False]), [{}])
    return model, buffer


def test_masks_select_which_heads_learn():
    model, buffer = _filled_bootstrapped(n_heads=4)
    buffer.masks[:] = 1.0
    buffer.masks[:, 2] = 0.0  # head 2 is in no transition's bootstrap sample
    before = model.q_net.heads.weight.detach().clone().view(4, 2, -1)  # (K, A, hidden)
    bias_before = model.q_net.heads.bias.detach().clone().view(4, 2)
    model.train(gradient_steps=1, batch_size=8)
    after = model.q_net.heads.weight.detach().view(4, 2, -1)
    changed = (after - before).abs().sum((1, 2)) + (model.q_net.heads.bias.detach().view(4, 2) - bias_before).abs().sum(
        1
    )
    assert changed[2] == 0
    assert (changed[[0, 1, 3]] > 0).all()


def test_masks_are_bernoulli_with_mask_prob():
    model = BootstrappedDQN("MlpPolicy", chain(), n_heads=10, mask_prob=0.3, seed=0, device="cpu")
    model.learn(2000)
    masks = model.replay_buffer.masks[: model.replay_buffer.pos]
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert masks.mean() == pytest.approx(0.3, abs=0.03)


def test_torso_gradient_is_the_heads_average():
    model, _ = _filled_bootstrapped(n_heads=5)
    net = model.q_net
    obs = torch.arange(6)  # Discrete states; the network one-hot encodes them
    net.zero_grad()
    net(obs).sum().backward()
    hooked = [p.grad.clone() for p in net.torso.parameters()]
    net.zero_grad()
    h = net.torso(net.extract_features(obs, net.features_extractor))
    net.heads(h).sum().backward()  # no hook: the sum of the heads' gradients
    for g_hook, p in zip(hooked, net.torso.parameters(), strict=True):
        assert torch.allclose(g_hook, p.grad / 5, atol=1e-6)


def test_active_head_drives_exploration_and_vote_drives_evaluation():
    model, _ = _filled_bootstrapped(n_heads=3)
    obs = np.arange(6)
    with torch.no_grad():
        q = model.q_net(model.policy.obs_to_tensor(obs)[0])  # (B, K, A)
    for head in range(3):
        model.active_head = head
        assert np.array_equal(model.predict(obs)[0], q[:, head].argmax(-1).numpy())
    assert np.array_equal(model.predict(obs, deterministic=True)[0], vote(q).numpy())


def test_vote_hand_example():
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]])  # heads vote 0, 1, 0
    assert vote(q).tolist() == [0]
    tie = torch.tensor([[[1.0, 0.0], [0.0, 3.0]]])  # 1 vote each; action 1 has the higher mean Q
    assert vote(tie).tolist() == [1]


def test_a_new_head_is_drawn_each_episode():
    model = BootstrappedDQN("MlpPolicy", chain(3), n_heads=50, seed=0, device="cpu")
    heads = []
    original = model._sample_head

    def record():
        original()
        heads.append(model.active_head)

    model._sample_head = record
    model.learn(12 * 8)  # 8 episodes of 12 steps
    assert len(heads) == 1 + 8 and len(set(heads)) > 3


def test_bonus_shrinks_as_a_pair_is_visited():
    model = BonusDQN("MlpPolicy", chain(), beta=0.5, seed=0, device="cpu")
    buffer = model.replay_buffer
    assert isinstance(buffer, CountBonusReplayBuffer)

    def add(s, a, r=0.0):
        buffer.add(np.array([s]), np.array([s]), np.array([a]), np.array([r]), np.array([False]), [{}])

    add(2, 1, r=1.0)
    first = buffer._get_samples(np.array([0])).rewards.item()
    assert first == pytest.approx(1.0 + 0.5)  # N = 1
    for _ in range(3):
        add(2, 1)  # the same pair, visited again
    add(3, 0)  # another pair does not count for (2, 1)
    again = buffer._get_samples(np.array([0])).rewards.item()
    assert again == pytest.approx(1.0 + 0.5 / 2)  # N = 4: the stored transition's bonus is fresh
    assert model.counter.counts(np.array([[3]]), np.array([0])).tolist() == [1]


def test_stored_keys_give_the_counts_of_the_stored_pictures():
    env = gym.make("maxplore/Maze-v0", size=5, image_size=16, horizon=10)
    model = make_agent("bonusdqn", env, seed=0, device="cpu", bonus="simhash", learning_starts=10)
    model.learn(40)
    buffer, rows = model.replay_buffer, np.arange(40)
    pictures, actions = buffer.observations[rows, 0], buffer.actions[rows, 0]
    np.testing.assert_array_equal(buffer.state_keys[rows], model.counter.keys(pictures))
    np.testing.assert_array_equal(model.counter.key_counts(buffer.state_keys[rows], actions),
                                  model.counter.counts(pictures, actions))  # fmt: skip


def test_bonus_counts_saved_with_model(tmp_path):
    model = make_agent("bonusdqn", chain(), seed=0, device="cpu")
    model.learn(200)
    model.save(tmp_path / "b")
    loaded = BonusDQN.load(tmp_path / "b", env=chain(), device="cpu")
    assert loaded.counter.table == model.counter.table and sum(loaded.counter.table.values()) == 200


def test_simhash_groups_similar_observations_and_exact_count_does_not():
    space = gym.spaces.Box(0, 1, shape=(64,), dtype=np.float32)
    rng = np.random.default_rng(0)
    base = rng.random((1, 64)).astype(np.float32)
    near = base + 1e-4
    far = rng.random((1, 64)).astype(np.float32)
    simhash = StateActionCounter(space, "simhash", hash_bits=16)
    exact = StateActionCounter(space, "count")
    assert simhash.keys(base) == simhash.keys(near) and simhash.keys(base) != simhash.keys(far)
    assert exact.keys(base) != exact.keys(near) and exact.keys(base) == exact.keys(base.copy())


def small_maze(**kwargs):
    return gym.make("maxplore/Maze-v0", size=5, image_size=16, horizon=10, **kwargs)


def feature_agent(**kwargs):
    kwargs = {"bonus": "features", "learning_starts": 10, "encoder_every": 40, "encoder_steps": 20, **kwargs}
    return make_agent("bonusdqn", small_maze(), seed=0, device="cpu", **kwargs)


def test_feature_cover_keys_equal_the_slow_reference_and_cover_what_it_was_fitted_on():
    rng = np.random.default_rng(0)
    space = gym.spaces.Box(0, 255, shape=(3, 16, 16), dtype=np.uint8)
    pictures = rng.integers(0, 256, size=(60, 3, 16, 16), dtype=np.uint8)
    fast = FeatureCover(space, 4, spacing=1.5)
    fast.fit(pictures[:-1], rng.integers(0, 4, size=59), pictures[1:], steps=5, batch_size=8, noise=0.0, rng=rng)
    assert fast.radius > 0 and 1 <= len(fast.nodes) < 59
    slow = FeatureCover(space, 4, spacing=1.5)
    slow.load_state_dict(fast.state_dict())
    fitted = fast.keys(pictures[:-1])
    assert len(fast.nodes) == len(slow.nodes)  # every fitted picture lies within the radius of a node
    new = np.concatenate([pictures[:10], 255 - pictures[10:20]])  # inverted pictures: some lie far away
    np.testing.assert_array_equal(fast.keys(new), slow.keys_reference(new))
    torch.testing.assert_close(fast.nodes, slow.nodes)  # the same new nodes, in the same order
    np.testing.assert_array_equal(fitted, slow.keys_reference(pictures[:-1]))


class FirstTwoPixels(torch.nn.Module):
    """A stand-in encoder: the features of a picture are its first two pixel values (so distances are known)."""

    features_dim = 2

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return pictures.float()[:, 0, 0, :2]  # (B, 2)


def test_feature_cover_keys_do_not_move_when_later_pictures_add_nodes():
    """A picture at distance 9 of node 0 (radius 10) keeps key 0 after a later picture, 15 from node 0 and
    so a node of its own, lands 6 from it: keying the stored pictures again gives their stored keys."""
    cover = FeatureCover(gym.spaces.Box(0, 255, shape=(1, 16, 16), dtype=np.uint8), 4)
    cover.encoder, cover.nodes, cover.radius = FirstTwoPixels(), torch.zeros(1, 2), 10.0
    pictures = np.zeros((2, 1, 16, 16), dtype=np.uint8)
    pictures[0, 0, 0, 0], pictures[1, 0, 0, 0] = 9, 15
    stored = np.concatenate([cover.keys(picture[None]) for picture in pictures])
    np.testing.assert_array_equal(stored, [0, 1])
    np.testing.assert_array_equal(cover.keys(pictures), stored)
    np.testing.assert_array_equal(cover.keys_reference(pictures), stored)


def test_feature_bonus_encoder_follows_the_seed_not_the_global_generator():
    torch.manual_seed(1)
    first = feature_agent().feature_cover.encoder.state_dict()
    torch.manual_seed(2)
    second = feature_agent().feature_cover.encoder.state_dict()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_feature_bonus_counts_the_stored_transitions_under_the_retrained_encoder():
    model = feature_agent()
    model.learn(100)
    assert model.encoder_trainings == 2  # trained at 40 and 80 steps
    buffer, rows = model.replay_buffer, np.arange(100)
    pictures, actions = buffer.observations[rows, 0], buffer.actions[rows, 0].reshape(-1)
    np.testing.assert_array_equal(buffer.state_keys[rows], model.feature_cover.keys(pictures))
    assert sum(model.counter.table.values()) == 100
    expected = np.array([sum(1 for k, b in zip(buffer.state_keys[rows], actions, strict=True) if (k, b) == (key, a))
                         for key, a in zip(buffer.state_keys[rows], actions, strict=True)])  # fmt: skip
    np.testing.assert_array_equal(model.counter.key_counts(buffer.state_keys[rows], actions), expected)


def test_feature_bonus_checkpoint_keeps_the_encoder_the_nodes_and_the_counts(tmp_path):
    half = feature_agent()
    half.learn(60)
    half.save(tmp_path / "f")
    loaded = BonusDQN.load(tmp_path / "f", env=small_maze(), device="cpu")
    torch.testing.assert_close(loaded.feature_cover.nodes, half.feature_cover.nodes)
    assert loaded.counter.table == half.counter.table and loaded.encoder_trainings == 1
    for (name, a), b in zip(half.feature_cover.encoder.state_dict().items(),
                            loaded.feature_cover.encoder.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), name
    loaded.learn(10, reset_num_timesteps=False)  # before the next training: the saved counts go on
    assert loaded.encoder_trainings == 1 and sum(loaded.counter.table.values()) == 70


def test_feature_bonus_needs_pictures_and_discrete_actions():
    with pytest.raises(TypeError, match="pictures"):
        BonusDQN("MlpPolicy", chain(), bonus="features")


@pytest.mark.parametrize(
    ("cls", "kwargs", "name"),
    [
        (BootstrappedDQN, {"n_heads": 0}, "n_heads"),
        (BootstrappedDQN, {"mask_prob": 0.0}, "mask_prob"),
        (BootstrappedDQN, {"prior_scale": -1.0}, "prior_scale"),
        (BootstrappedDQN, {"replay_buffer_class": None}, "replay_buffer_class"),
        (BonusDQN, {"beta": -0.1}, "beta"),
        (BonusDQN, {"bonus": "rnd"}, "bonus"),
        (BonusDQN, {"spacing": 0.0}, "spacing"),
        (BonusDQN, {"encoder_every": 0}, "encoder_every"),
    ],
)
def test_bad_arguments(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls("MlpPolicy", chain(), **kwargs)


def test_registry_rejects_unknown_algo_and_keeps_tuned_values():
    with pytest.raises(ValueError, match="algo"):
        make_agent("ppo", chain())
    model = make_agent("dqn", chain(), seed=0, device="cpu")
    assert model.learning_rate == CHAIN_HYPER_PARAMETERS["dqn"]["learning_rate"]
    assert make_agent("bootdqn-prior", chain(), seed=0).policy.prior_scale == 1.0


@pytest.mark.parametrize("cls", [BootstrappedDQN, BonusDQN, DQN])
def test_the_family_defaults_are_the_small_world_values(cls):
    """What a user gets from `Cls("MlpPolicy", env)` is what the tuning grid chose, not SB3's Atari values."""
    model = cls("MlpPolicy", chain())
    got = {name: getattr(model, name) for name in SMALL_WORLD_DEFAULTS}
    got["train_freq"] = model.train_freq.frequency
    assert got == SMALL_WORLD_DEFAULTS
    assert model.learning_rate == 1e-3 and model.target_update_interval == 100
    assert DQN("MlpPolicy", chain(), learning_rate=1e-4).learning_rate == 1e-4  # still overridable


def _prior_model(prior_scale=3.0, seed=0):
    return BootstrappedDQN("MlpPolicy", chain(), n_heads=4, prior_scale=prior_scale, seed=seed, learning_starts=20)


def test_prior_is_added_to_every_head_scaled_and_is_shared_with_the_target():
    model = _prior_model(prior_scale=3.0)
    q_net = model.q_net
    obs = torch.eye(6)  # the six one-hot states
    with torch.no_grad():
        trainable = q_net.heads(q_net.torso(obs)).view(6, 4, 2)  # (B, K, A)
        prior = q_net.prior["heads"](q_net.prior["torso"](obs)).view(6, 4, 2)  # (B, K, A)
        assert torch.allclose(q_net(torch.arange(6)), trainable + 3.0 * prior, atol=1e-6)
        assert torch.allclose(model.q_net_target(torch.arange(6)), q_net(torch.arange(6)))
    assert prior.std() > 0.05  # a random function, different per head and state
    assert _prior_model(prior_scale=0.0).q_net.prior is None  # 0: the 2016 agent, no prior at all


def test_prior_never_trains_while_the_heads_do(tmp_path):
    model = _prior_model()
    before = {k: v.clone() for k, v in model.q_net.state_dict().items()}
    model.learn(200)
    after = model.q_net.state_dict()
    prior_keys = [k for k in before if k.startswith("prior.")]
    assert prior_keys and all(torch.equal(before[k], after[k]) for k in prior_keys)
    assert not torch.equal(before["heads.weight"], after["heads.weight"])
    model.save(tmp_path / "p")
    loaded = BootstrappedDQN.load(tmp_path / "p", env=chain())
    assert loaded.policy.prior_scale == 3.0
    for k in prior_keys:
        assert torch.equal(loaded.q_net.state_dict()[k], after[k])


def test_priors_differ_by_seed_and_make_heads_disagree():
    a, b = _prior_model(seed=0), _prior_model(seed=1)
    assert not torch.equal(a.q_net.prior["heads"].weight, b.q_net.prior["heads"].weight)
    with torch.no_grad():
        greedy = a.q_net(torch.arange(6)).argmax(-1)  # (6, K)
    assert (greedy != greedy[:, :1]).any()  # at least two heads prefer different actions somewhere

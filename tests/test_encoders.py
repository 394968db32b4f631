"""SmallCNN: sizes 16..84, GroupNorm's batch independence, BatchNorm handled right inside DQN."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import envs  # noqa: F401
from agents.bootstrapped_dqn import BootstrappedDQN
from agents.encoders import SmallCNN
from agents.registry import make_agent


@pytest.mark.parametrize("size", [16, 21, 36, 64, 84])
@pytest.mark.parametrize("norm", ["group", "batch", "layer", "instance", None])
def test_sizes_from_16_to_84(size, norm):
    space = spaces.Box(0, 255, shape=(3, size, size), dtype=np.uint8)
    net = SmallCNN(space, features_dim=32, norm=norm)
    assert net(torch.rand(2, 3, size, size)).shape == (2, 32)


def test_too_small_or_not_an_image():
    with pytest.raises(ValueError, match="16x16"):
        SmallCNN(spaces.Box(0, 255, shape=(3, 12, 12), dtype=np.uint8))
    with pytest.raises(TypeError, match="C, H, W"):
        SmallCNN(spaces.Box(0, 1, shape=(10,)))


def test_group_norm_features_do_not_depend_on_the_batch_but_batch_norm_ones_do():
    torch.manual_seed(0)
    space = spaces.Box(0, 255, shape=(3, 32, 32), dtype=np.uint8)
    batch = torch.rand(8, 3, 32, 32)
    gn = SmallCNN(space, norm="group").train()
    assert torch.allclose(gn(batch[:1]), gn(batch)[:1], atol=1e-5)
    bn = SmallCNN(space, norm="batch").train()
    assert not torch.allclose(bn(batch[:2])[:1], bn(batch)[:1], atol=1e-3)


def pixel_maze():
    return gym.make("maxplore/Maze-v0", size=5, layout="rooms", obs_mode="rgb", image_size=16, horizon=20)


def test_batch_norm_inside_dqn_eval_mode_and_target_network():
    policy_kwargs = {"features_extractor_class": SmallCNN, "features_extractor_kwargs": {"norm": "batch"},
                     "net_arch": [32]}  # fmt: skip
    model = make_agent("dqn", pixel_maze(), seed=0, device="cpu", policy_kwargs=policy_kwargs,
                       learning_starts=20, target_update_interval=25, buffer_size=500)  # fmt: skip
    model.learn(100)
    online = model.q_net.features_extractor.cnn[1]
    target = model.q_net_target.features_extractor.cnn[1]
    assert isinstance(online, torch.nn.BatchNorm2d) and online.num_batches_tracked > 0
    assert not torch.equal(online.running_mean, target.running_mean)  # one gradient step since the last copy
    for _ in range(25):  # the next target update (every 25 steps) must copy the running statistics too
        model._on_step()
    assert torch.equal(online.running_mean, target.running_mean)
    assert torch.equal(online.running_var, target.running_var)
    assert not model.q_net_target.training
    # predict runs in eval mode: it leaves the running statistics alone and treats samples independently
    obs = np.stack([pixel_maze().reset(seed=s)[0] for s in range(4)])
    before = online.running_mean.clone()
    batch_actions, _ = model.predict(obs, deterministic=True)
    single = [model.predict(o, deterministic=True)[0] for o in obs]
    assert torch.equal(online.running_mean, before)
    assert batch_actions.tolist() == [int(a) for a in single]


def test_pixel_bootstrapped_dqn_with_gn_encoder_learns_and_round_trips(tmp_path):
    kwargs = {"features_extractor_class": SmallCNN, "features_extractor_kwargs": {"features_dim": 64}, "net_arch": []}
    model = BootstrappedDQN("CnnPolicy", pixel_maze(), n_heads=3, seed=0, device="cpu", learning_starts=10,
                            buffer_size=500, policy_kwargs=kwargs)  # fmt: skip
    model.learn(60)
    model.save(tmp_path / "pix")
    loaded = BootstrappedDQN.load(tmp_path / "pix", env=pixel_maze(), device="cpu")
    obs = np.stack([pixel_maze().reset(seed=s)[0] for s in range(3)])
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])

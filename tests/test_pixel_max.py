"""MAX from pixels: the latent planners against their references, the texture check, and the agent's interface."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from agents import MAX
from agents.max.latent_planning import (
    graph_action_values,
    graph_values,
    search_values,
    search_values_reference,
    value_iteration,
    value_iteration_reference,
)
from agents.max.pixels import PixelMAX
from agents.max.tabular import TabularMAX
from benchmarks.pixel_runs import texture_check

# a small, fast configuration: the encoder and the model are fit once, at step 60
TINY = {"warmup_steps": 60, "encoder_steps": 5, "encoder_every": 10**6, "fresh_model_steps": 5, "model_steps": 2,
        "model_every": 10, "channels": (8, 8, 8), "features_dim": 8, "hidden_size": 16, "ensemble_size": 3,
        "planning_horizon": 5, "max_nodes": 32}  # fmt: skip


def maze(size=5, **kwargs):
    return gym.make("maxplore/Maze-v0", size=size, layout_seed=0, image_size=16, horizon=20, **kwargs)


def linear_step(weights: torch.Tensor, shifts: torch.Tensor):
    """A toy model: utility (B, A) = relu(z @ weights), next features z + shifts[a]."""

    def step(z):
        return torch.relu(z @ weights), z[:, None, :] + shifts[None]  # (B, A), (B, A, f)

    return step


def test_value_iteration_matches_its_reference():
    g = torch.Generator().manual_seed(0)
    rewards = torch.rand(7, 3, generator=g, dtype=torch.float64)
    successors = torch.randint(7, (7, 3), generator=g)
    for steps in (0, 1, 4):
        torch.testing.assert_close(value_iteration(rewards, successors, steps),
                                   value_iteration_reference(rewards, successors, steps))  # fmt: skip


def test_value_iteration_walks_to_the_only_reward():
    # a line of 5 nodes, action 0 left, action 1 right (staying put at the ends); only "right at the last
    # node" pays 1, at every step it is taken: node n reaches it in 4 - n steps and collects the rest
    successors = torch.tensor([[max(n - 1, 0), min(n + 1, 4)] for n in range(5)])
    rewards = torch.zeros(5, 2)
    rewards[4, 1] = 1.0
    assert value_iteration(rewards, successors, 4).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert value_iteration(rewards, successors, 6).tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_search_values_match_their_reference():
    g = torch.Generator().manual_seed(1)
    step = linear_step(torch.randn(4, 3, generator=g, dtype=torch.float64),
                       torch.randn(3, 4, generator=g, dtype=torch.float64))  # fmt: skip
    z = torch.randn(5, 4, generator=g, dtype=torch.float64)
    for depth, floor in ((1, 0.0), (3, 0.0), (3, 0.5)):
        torch.testing.assert_close(search_values(step, z, depth, floor), search_values_reference(step, z, depth, floor))


def test_graph_planner_prefers_the_way_to_the_frontier():
    # features on a line (x = 0, 1, ..., 5); actions: 0 left, 1 right; utility only for "right" at x = 5
    shifts = torch.tensor([[-1.0], [1.0]])

    def step(z):
        utility = torch.zeros(z.shape[0], 2)
        utility[:, 1] = (z[:, 0] > 4.5).float()
        return utility, z[:, None, :] + shifts[None]

    nodes = torch.arange(6.0)[:, None]  # (6, 1)
    values = graph_values(step, nodes, horizon=10)
    q = graph_action_values(step, torch.tensor([[1.0]]), nodes, values)
    assert q[0, 1] > q[0, 0]  # go right, towards the utility
    # a floor above every utility leaves nothing to plan for
    assert graph_values(step, nodes, horizon=10, reward_floor=2.0).abs().max() == 0


def test_max_dispatches_pictures_to_the_pixel_planner():
    assert isinstance(MAX(maze(), seed=0, **TINY), PixelMAX)
    assert isinstance(MAX(maze(obs_mode="index"), seed=0), TabularMAX)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"planner": "tree"}, "planner"),
        ({"reward_floor": 1.5}, "reward_floor"),
        ({"ensemble_size": 1}, "ensemble_size"),
        ({"encoder_steps": 0}, "encoder_steps"),
        ({"warmup_steps": 2.5}, "warmup_steps"),
        ({"augment_noise": -1.0}, "augment_noise"),
        ({"bootstrap": "jackknife"}, "bootstrap"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PixelMAX(maze(), **kwargs)


def test_other_spaces_are_refused():
    with pytest.raises(TypeError, match="pictures"):
        PixelMAX(gym.make("maxplore/Chain-v0", length=5, encoding="onehot"))
    with pytest.raises(TypeError, match="pictures"):
        MAX(gym.make("maxplore/Maze-v0", size=5, obs_mode="semantic", image_size=16))


def test_utility_before_the_first_model_is_an_error():
    model = PixelMAX(maze(), seed=0, **TINY)
    with pytest.raises(RuntimeError, match="warmup_steps"):
        model.utility(np.zeros((1, 3, 16, 16), dtype=np.uint8))


def run(seed=0, steps=100, **kwargs):
    model = PixelMAX(maze(), seed=seed, **{**TINY, **kwargs})
    return model.learn(steps)


def test_seeded_runs_repeat_and_other_seeds_differ():
    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a.actions, b.actions)
    torch.testing.assert_close(a.features, b.features)
    assert not np.array_equal(a.actions, c.actions)


def test_learning_keeps_features_for_every_transition_and_acts_greedily():
    model = run(0, steps=100)
    assert model.has_model and model.n_real == 100
    assert model.features.shape == model.next_features.shape == (100, TINY["features_dim"])
    # the stored features are the encoder's features of the stored pictures
    torch.testing.assert_close(model.features, model._encode(model.observations))
    obs = np.asarray(model._last_obs)  # (1, C, H, W) as SB3 transposes them
    values = model.action_values(obs)  # (1, A)
    action, _ = model.predict(obs[0].transpose(1, 2, 0), deterministic=True)  # (H, W, C) as the env
    assert action == int(values[0].argmax())


@pytest.mark.parametrize("planner", ["graph", "search"])
def test_save_and_load_round_trip(tmp_path, planner):
    model = run(0, steps=90, planner=planner, search_depth=2)
    model.save(tmp_path / "pixel_max")
    loaded = MAX.load(tmp_path / "pixel_max", env=maze())
    assert isinstance(loaded, PixelMAX) and loaded.planner == planner
    np.testing.assert_array_equal(loaded.observations, model.observations)
    torch.testing.assert_close(loaded.features, model.features)
    pictures = model.observations[:7]
    np.testing.assert_allclose(loaded.utility(pictures), model.utility(pictures), rtol=1e-5, atol=1e-6)
    assert loaded.num_timesteps == 90
    loaded.learn(30, reset_num_timesteps=False)
    assert loaded.num_timesteps == 120 and loaded.n_real == 120


def test_tensorboard_logs_cell_coverage(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = PixelMAX(maze(), seed=0, tensorboard_log=str(tmp_path), **TINY)
    model.learn(100, tb_log_name="pixel")
    runs = list(tmp_path.glob("pixel_*"))
    assert len(runs) == 1
    tags = set(EventAccumulator(str(runs[0])).Reload().Tags()["scalars"])
    assert {"explore/cell_coverage", "explore/utility_mean", "model/nll", "train/inverse_loss"} <= tags


@pytest.mark.parametrize("kwargs", [{"sparse_head": True}, {"norm": "batch"}, {"norm": None}])
def test_encoder_choices_run(kwargs):
    model = run(0, steps=80, **kwargs)
    assert np.isfinite(model.utility(model.observations[:4])).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_matches_the_interface():
    model = PixelMAX(maze(), seed=0, device="cuda", **TINY).learn(80)
    assert model.features.device.type == "cuda"
    assert model.utility(model.observations[:2]).shape == (2, 4)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a_new_texture_gets_low_utility_and_a_new_cell_high(seed):
    """Measured (docs/BENCHMARKS.md, "Texture check"): medians 0.51 vs 1.34 (seed 0), 0.64 vs 0.92 (seed 1),
    0.70 vs 1.05 (seed 2); 98-100% of the unvisited cells' pairs above the tried pairs' median."""
    check = texture_check(seed)
    assert check["new_median"] > 1.25 * check["tried_median"]
    assert check["new_above_tried_median"] > 0.9


def test_sb3_callbacks_see_every_step_and_can_stop_learning():
    from stable_baselines3.common.callbacks import BaseCallback

    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.n_calls < 70

    model = PixelMAX(maze(), seed=0, **TINY).learn(200, callback=StopAt())
    assert model.num_timesteps == 70 and model.has_model  # past the warm-up, stopped by the callback


@pytest.mark.parametrize("planner", ["graph", "search"])
def test_a_resumed_run_continues_exactly_as_an_uninterrupted_one(tmp_path, planner):
    """Save at an episode's end (every episode starts from the same picture: a fixed texture), load, go on:
    the same actions, data and model as one run of all the steps."""
    kwargs = {**TINY, "planner": planner, "search_depth": 2}
    whole = PixelMAX(maze(texture="fixed"), seed=3, **kwargs).learn(140)
    first = PixelMAX(maze(texture="fixed"), seed=3, **kwargs).learn(80)
    first.save(tmp_path / "cut")
    resumed = MAX.load(tmp_path / "cut", env=maze(texture="fixed")).learn(60, reset_num_timesteps=False)
    np.testing.assert_array_equal(resumed.actions, whole.actions)
    np.testing.assert_array_equal(resumed.observations, whole.observations)
    torch.testing.assert_close(resumed.features, whole.features)


class ScrambledRewardAndInfo(gym.Wrapper):
    """Random rewards and an info dict of noise: what the agent must not read."""

    def __init__(self, env, seed):
        super().__init__(env)
        self.noise = np.random.default_rng(seed)

    def reset(self, **kwargs):
        obs, _ = self.env.reset(**kwargs)
        return obs, {"noise": self.noise.random()}

    def step(self, action):
        obs, _, terminated, truncated, _ = self.env.step(action)
        return obs, float(self.noise.normal()), terminated, truncated, {"noise": self.noise.random()}


@pytest.mark.parametrize(
    "make",
    [lambda: maze(texture="fixed"), lambda: gym.make("maxplore/Chain-v0", length=8, layout_seed=1)],
    ids=["pixels", "counted states"],
)
def test_decisions_read_only_observations_actions_and_episode_ends(make):
    """Scrambling the reward and ``info`` leaves every action of a seeded run unchanged."""
    kwargs = TINY if make().observation_space.shape else {}

    def actions(env):
        model = MAX(env, seed=2, **kwargs)
        trace = []
        model.learn(120, callback=lambda locals_, _: trace.append(int(locals_["action"])) or True)
        return trace

    plain = actions(make())
    assert len(plain) == 120
    assert actions(ScrambledRewardAndInfo(make(), seed=0)) == plain
    assert actions(ScrambledRewardAndInfo(make(), seed=1)) == plain

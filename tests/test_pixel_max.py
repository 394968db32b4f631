"""MAX from pixels: the latent planners against their references, the texture check, and the agent's interface."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from agents import MAX
from agents.max.latent_planning import (
    cover,
    cover_reference,
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
    successors[:3, 0] = torch.arange(3)  # some self-loops
    for terminal in (None, torch.tensor([0, 0, 1, 0, 0, 1, 0], dtype=torch.bool)):
        for steps in (0, 1, 4, 9):
            for fast, slow in zip(value_iteration(rewards, successors, steps, terminal),
                                  value_iteration_reference(rewards, successors, steps, terminal),
                                  strict=True):  # fmt: skip
                torch.testing.assert_close(fast, slow)


def test_a_terminal_node_is_absorbing_and_worth_nothing():
    # the line of 5 nodes below; "right from node 2" (into node 3) and the bump at node 4 pay 1. With node 3
    # terminal an episode ends on arriving there: node 2 gets its move's 1 and nothing after, node 4 its
    # bump and nothing after (leaving means node 3), nodes 0-1 only what lies before node 3
    successors = torch.tensor([[max(n - 1, 0), min(n + 1, 4)] for n in range(5)])
    rewards = torch.zeros(5, 2)
    rewards[2, 1] = rewards[4, 1] = 1.0
    V, W = value_iteration(rewards, successors, 6, torch.tensor([False, False, False, True, False]))
    assert V[6].tolist() == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert W[6, 3] == 0.0
    assert value_iteration(rewards, successors, 6)[0][6].tolist() == [2.0, 3.0, 3.0, 3.0, 3.0]  # it goes on


def test_value_iteration_walks_to_the_only_reward_and_a_bump_pays_once_per_arrival():
    # a line of 5 nodes, action 0 left, action 1 right (staying put at the ends); only "right at the last
    # node" (a bump: it stays) pays 1. It pays once on each arrival: from node 4 the best 4 steps are
    # bump, left, right, bump (2), not four bumps (4); node n < 4 reaches it in 4 - n steps
    successors = torch.tensor([[max(n - 1, 0), min(n + 1, 4)] for n in range(5)])
    rewards = torch.zeros(5, 2)
    rewards[4, 1] = 1.0
    V, W = value_iteration(rewards, successors, 6)
    assert V[4].tolist() == [0.0, 1.0, 1.0, 1.0, 2.0]
    assert V[6].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]  # a third bump from node 4 needs 7 steps
    assert W[4, 4] == 1.0  # after its bump paid, node 4 must leave and come back: left, right, bump
    # the same line, the reward on "left at node 3" (a move): paid at every visit, as before
    rewards = torch.zeros(5, 2)
    rewards[3, 0] = 1.0
    assert value_iteration(rewards, successors, 4)[0][4].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]


def test_cover_matches_its_reference_and_keeps_an_outlier():
    g = torch.Generator().manual_seed(3)
    # 200 points around 4 places (spread 0.05) and one point seen once, far from them
    places = torch.randn(4, 5, generator=g, dtype=torch.float64) * 5
    points = torch.cat([places.repeat(50, 1) + 0.05 * torch.randn(200, 5, generator=g, dtype=torch.float64),
                        torch.full((1, 5), 20.0, dtype=torch.float64)])  # fmt: skip
    for spacing, most in ((0.5, 100), (0.0, 7), (0.5, 3)):
        rows, radius = cover(points, spacing, most, first=0)
        ref_rows, ref_radius = cover_reference(points, spacing, most, first=0)
        assert rows.tolist() == ref_rows
        assert radius == pytest.approx(ref_radius)
    rows, radius = cover(points, 0.5, 100, first=0)
    assert len(rows) == 5 and 200 in rows.tolist() and radius <= 0.5  # one node a place, the outlier among them
    rows, _ = cover(points, 0.5, 2, first=0)
    assert rows.tolist() == [0, 200]  # at two nodes, the outlier is the second


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
    levels = graph_values(step, nodes, horizon=10)
    assert levels[0].shape == (10, 6)
    q = graph_action_values(step, torch.tensor([[1.0]]), nodes, levels, steps_left=9)
    assert q[0, 1] > q[0, 0]  # go right, towards the utility: two bumps at x = 5 in 9 steps, against one
    # with 4 steps left the utility 4 nodes away is out of reach: nothing to plan for
    assert graph_action_values(step, torch.tensor([[1.0]]), nodes, levels, steps_left=4).abs().max() == 0
    # a floor above every utility leaves nothing to plan for
    assert graph_values(step, nodes, horizon=10, reward_floor=2.0)[0].abs().max() == 0


def test_a_bump_from_the_current_features_continues_with_the_value_after_loops():
    # one node; action 0 bumps (stays, utility 1), action 1 leaves to a second node with nothing
    def step(z):
        utility = torch.tensor([[1.0, 0.0]]).expand(z.shape[0], 2)
        return utility, torch.stack([z, z + 10.0], 1)  # (B, A, f)

    nodes = torch.tensor([[0.0], [10.0], [20.0]])
    levels = graph_values(step, nodes, horizon=6)
    q = graph_action_values(step, torch.tensor([[0.1]]), nodes, levels, steps_left=6)
    # bump once (1), then leave: every node pays its bump once on arrival -> 1 + 1 + 1 over 5 more steps
    assert q[0, 0].item() == 3.0


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
    with pytest.raises(TypeError, match="absorbing_terminals"):
        PixelMAX(maze(), absorbing_terminals="yes")


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


def test_the_graph_planner_plans_over_the_steps_left_in_the_episode():
    """The maze states its length (20 steps): the plan covers 19 steps after the first, and each action is
    valued with the steps left; an env that states none gets the tabular planner's fallback."""
    model = run(0, steps=95, planning_horizon=None)
    assert model.episode_limit == 20 and model.node_values.shape[0] == 20
    assert model.episode_step == 95 % 20 and model._steps_left() == 20 - 95 % 20
    assert run(0, steps=95, planning_horizon=7).node_values.shape[0] == 7  # a cap
    free = PixelMAX(gym.wrappers.TimeLimit(maze().unwrapped, 10**9), seed=0, **TINY)
    free.episode_limit = None  # an env that states no length: 100 steps until an episode ends
    free.planning_horizon = None
    assert free._horizon() == 100


def test_every_observation_lies_near_a_node_and_a_bounded_graph_keeps_the_newest():
    model = run(0, steps=160, max_nodes=10**4)
    seen = torch.cat([model.features[60:], model.next_features[60:]])  # (M, f) since the encoder's training
    gap = (seen[:, None] - model.nodes[None]).norm(dim=-1).min(1).values  # (M,) to the nearest node
    assert gap.max() <= model.spacing + 1e-6 and model.spacing > 0
    assert len(model.nodes) < len(seen)  # repeats of a place are not nodes again
    small = run(0, steps=160, max_nodes=6)
    assert len(small.nodes) <= 6
    assert (small.nodes - small.next_features[-1]).norm(dim=1).min() <= small.spacing + 1e-6  # where it is now


def test_a_picture_is_encoded_once(monkeypatch):
    model = run(0, steps=70)  # past the warm-up: the encoder exists
    encoded = []
    encode = model._encode
    monkeypatch.setattr(model, "_encode", lambda pictures, **kw: encoded.append(len(pictures)) or encode(pictures))
    model.learn(30, reset_num_timesteps=False)
    # 30 steps of the 20-step maze, one reset among them: each picture the agent sees is encoded once, to
    # act and to store (a bump shows the same picture again: not encoded again)
    goes_on = np.all(model.next_observations[:-1] == model.observations[1:], axis=(1, 2, 3))  # (99,)
    assert goes_on.sum() == 99 - 4  # episodes end at steps 20, 40, 60 and 80
    seen = [model.observations[69]]
    for i in range(70, 100):
        seen += ([] if goes_on[i - 1] else [model.observations[i]]) + [model.next_observations[i]]
    changes = sum(not np.array_equal(a, b) for a, b in itertools.pairwise(seen))
    assert set(encoded) == {1} and sum(encoded) == changes and len(model.features) == 100
    torch.testing.assert_close(model.next_features[:-1][goes_on], model.features[1:][goes_on], rtol=0, atol=0)
    # encoding every stored picture again (an encoder training) gives the same features
    before = model.features.clone(), model.next_features.clone()
    model._encode_stored()
    torch.testing.assert_close((model.features, model.next_features), before)


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

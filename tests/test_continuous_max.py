"""MAX on continuous states: one public MAX choosing its planner, the lean SAC, the baselines as flags,
seeded runs and pickle-free checkpoints."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import MAX
from agents.max.continuous import CONFIGS, ContinuousMAX
from agents.max.sac import SAC
from agents.max.tabular import TabularMAX
from agents.max.vectors import VectorMAX

TINY = {"warmup_steps": 40, "policy_every": 40, "model_steps": 30, "imagined_episodes": 2, "warmup_episodes": 1,
        "horizon": 8, "n_actors": 16, "ensemble_size": 3, "hidden_size": 32, "sac_hidden_size": 32,
        "sac_batch_size": 64}  # fmt: skip


def pendulum():
    return gym.make("Pendulum-v1")


def test_max_builds_the_planner_that_fits_the_spaces():
    assert type(MAX(pendulum(), seed=0, **TINY)) is ContinuousMAX
    assert type(MAX(gym.make("FrozenLake-v1"), seed=0)) is TabularMAX
    assert isinstance(MAX(pendulum(), seed=0, **TINY), MAX)
    assert type(MAX(gym.make("CartPole-v1"), seed=0)) is VectorMAX  # Box states, Discrete actions


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"utility": "prediction_error"}, "imagination=False"),
        ({"utility": "rnd"}, "imagination=False"),
        ({"utility": "trajectory_variance", "imagination": False}, "imagination=True"),
        ({"utility": "surprise"}, "utility"),
        ({"ensemble_size": 1}, "at least 2"),
        ({"model_steps": None}, "exactly one"),
        ({"horizon": 0}, "horizon"),
        ({"imagined_episodes": 6, "warmup_episodes": 7}, "warmup_episodes"),
        ({"reactive_updates": -1}, "reactive_updates"),
        ({"model_steps": 0}, "model_steps"),
        ({"model_steps": None, "model_epochs": 0}, "model_epochs"),
        ({"init": "he"}, "init"),
        ({"grad_clip": "scale"}, "grad_clip"),
        ({"member_data": "all"}, "member_data"),
        ({"sac_variant": "td3"}, "sac_variant"),
        ({"refit_clock": "episode"}, "refit_clock"),
        ({"model_loss": "sum"}, "model_loss"),
        ({"member_data": "shuffle"}, "model_epochs"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ContinuousMAX(pendulum(), **kwargs)


def test_sac_learns_a_one_step_bandit():
    """Reward -(a - 0.5)^2 and every episode one step long: the mean action must approach 0.5 (seeds 0-2
    measured 0.503-0.507 at MAX's alpha 0.02)."""
    torch.manual_seed(0)
    sac = SAC(1, 1, hidden_size=32, learning_rate=1e-3, alpha=0.02)
    states = torch.zeros(256, 1)
    for _ in range(500):
        actions = sac.actor(states)[0].detach()
        sac.update(states, actions, -((actions[:, 0] - 0.5) ** 2), states, torch.ones(256))
    assert abs(float(sac.act(states[:1], deterministic=True)) - 0.5) < 0.05


def test_random_warm_up_episodes_fill_the_buffer_without_updating_the_policy():
    """The official ``sac.py``: warm-up episodes act uniformly at random and update nothing; each later
    episode is followed by one update per imagined step."""
    from agents.max.imagined_training import train_in_imagination
    from world_models.imagination import ImaginedExploration

    model = MAX(pendulum(), seed=0, **TINY)
    model.learn(40)  # one refit
    start = model.states[-1]

    def trained(episodes, warmup_episodes):
        torch.manual_seed(0)
        sac = SAC(3, 1, hidden_size=16)
        before = [p.clone() for p in sac.parameters()]
        imagined = ImaginedExploration(model.model, n_actors=8, horizon=4, generator=torch.Generator().manual_seed(0))
        utility = train_in_imagination(sac, imagined, start, episodes=episodes, warmup_episodes=warmup_episodes,
                                       batch_size=16)  # fmt: skip
        return not all(torch.equal(a, b) for a, b in zip(before, sac.parameters(), strict=True)), utility

    assert trained(2, 2)[0] is False and trained(2, 1)[0] is True
    assert trained(2, 2)[1] > 0  # the random episodes' mean utility when no episode is the policy's
    with pytest.raises(ValueError, match="warmup_episodes"):
        trained(2, 3)


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"imagination": False},
        {"utility": "prediction_error", "imagination": False},
        {"utility": "trajectory_variance"},
        {"utility": "rnd", "imagination": False},
    ],  # fmt: skip
    ids=["MAX", "JDRX", "PERX", "TVAX", "RND"],
)
def test_every_variant_runs_seeded_and_learns_its_model(flags):
    runs = []
    for _ in range(2):
        model = MAX(pendulum(), seed=3, **TINY, **flags)
        model.learn(120)
        runs.append(model)
    a, b = runs
    assert len(a.states) == 120 and a.has_policy and np.isfinite(a.last_utility)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    for pa, pb in zip(a.sac.parameters(), b.sac.parameters(), strict=True):
        assert torch.equal(pa, pb)
    untrained = ContinuousMAX(pendulum(), seed=3, **TINY).model
    untrained.load_state_dict({k: v for k, v in a.model.state_dict().items() if "_norm." in k}, strict=False)
    with torch.no_grad():
        before = float(untrained.nll(a.states, a.actions, a.next_states).mean())
    assert a.last_nll < 0.2 * before  # two refits of 30 steps


def test_save_load_round_trip_without_pickles(tmp_path):
    model = MAX(pendulum(), seed=0, **TINY)
    model.learn(100)
    model.save(tmp_path / "cmax")
    loaded = MAX.load(tmp_path / "cmax", env=pendulum())
    assert type(loaded) is ContinuousMAX and loaded.num_timesteps == 100
    obs = np.random.default_rng(0).uniform(-1, 1, size=(5, 3)).astype(np.float32)
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    assert torch.equal(loaded.weights, model.weights) and torch.equal(loaded.next_states, model.next_states)
    assert torch.equal(loaded.model.delta_norm.m2, model.model.delta_norm.m2)
    loaded.learn(40, reset_num_timesteps=False)
    assert loaded.num_timesteps == 140
    checkpoint = torch.load(tmp_path / "cmax.pt", weights_only=True)  # nothing but tensors and values
    assert checkpoint["kind"] == "ContinuousMAX"
    with pytest.raises(ValueError, match="expected 'MAX'"):
        TabularMAX.load(tmp_path / "cmax")


def test_configs_name_the_official_values():
    paper = CONFIGS["paper"]
    assert (paper["ensemble_size"], paper["hidden_size"], paper["n_hidden_layers"]) == (32, 512, 4)
    assert (paper["n_actors"], paper["horizon"], paper["imagined_episodes"], paper["policy_every"]) == (128, 50, 50, 25)
    assert paper["sac_batch_size"] == 4096 and paper["warmup_steps"] == 256 and paper["sac_learning_rate"] == 1e-3
    assert (paper["reactive_updates"], paper["warmup_episodes"]) == (100, 3)
    model = ContinuousMAX(pendulum(), **CONFIGS["reduced"])
    assert model.ensemble_size == 8 and model.horizon == 50 and model.imagined_episodes == 15


def test_train_config_applies_only_to_the_continuous_planner():
    from agents.max.continuous import continuous_config

    assert continuous_config(pendulum(), "paper") == CONFIGS["paper"]
    assert continuous_config(gym.make("FrozenLake-v1"), "paper") == {}
    with pytest.raises(ValueError, match="config"):
        continuous_config(pendulum(), "huge")


class FixedStart(gym.Wrapper):
    """Every episode starts from the same state, so a resumed run sees what an uninterrupted one sees."""

    def reset(self, **kwargs):
        return self.env.reset(seed=0)


OFFICIAL_PATHS = (
    "init", "grad_clip", "terminal_horizon", "frozen_normalizer", "policy_each_episode", "member_data", "sac_variant",
    "refit_clock", "model_loss",
)  # fmt: skip
OFFICIAL = {**{name: CONFIGS["paper"][name] for name in OFFICIAL_PATHS}, "model_steps": None, "model_epochs": 2}


@pytest.mark.parametrize(
    "flags", [{}, {"utility": "rnd", "imagination": False}, OFFICIAL], ids=["MAX", "RND", "MAX-official-paths"]
)
def test_a_resumed_run_continues_exactly_as_an_uninterrupted_one(tmp_path, flags):
    def env():
        return FixedStart(gym.make("Pendulum-v1", max_episode_steps=50))

    model = MAX(env(), seed=0, **{**TINY, **flags})
    model.learn(100)  # two whole episodes, two policies
    model.save(tmp_path / "cmax")
    model.learn(100, reset_num_timesteps=False)
    resumed = MAX.load(tmp_path / "cmax", env=env())  # restores the RNGs as they were at the save
    resumed.learn(100, reset_num_timesteps=False)
    assert resumed.num_timesteps == model.num_timesteps == 200
    for name in ("states", "actions", "next_states", "weights"):
        assert torch.equal(getattr(resumed, name), getattr(model, name)), name
    for a, b in zip(resumed.model.state_dict().values(), model.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(resumed.sac.state_dict().values(), model.sac.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    if model.rnd is not None:
        assert resumed.rnd_scale == model.rnd_scale and resumed.rnd_seen == model.rnd_seen == 200
        for a, b in zip(resumed.rnd.state_dict().values(), model.rnd.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_the_rnd_utility_is_low_where_the_explorer_has_been():
    """RND on the reactive SAC (Burda et al. 2019): after 200 Pendulum steps the relabelled utility of the
    stored transitions is far below that of states no step can reach (the same states with (cos, sin) on a
    circle of radius 3); measured seeds 0-3: unseen/seen mean ratio 43-307."""
    ratios = []
    for seed in range(3):
        model = MAX(pendulum(), seed=seed, **TINY, utility="rnd", imagination=False)
        model.learn(200)
        seen = model._real_utility(torch.arange(model.n_real))  # (N,)
        far = model.next_states.clone()
        far[:, :2] *= 3
        with torch.no_grad():
            unseen = model.rnd.errors(far) / model.rnd_scale  # (N,)
        ratios.append(float(unseen.mean() / seen.mean()))
    assert min(ratios) > 10, ratios


@pytest.mark.slow
def test_max_covers_more_of_mountain_car_than_random_actions():
    """1,000 steps of MountainCarContinuous-v0, a small MAX: distinct cells of a 12 x 12 (position, velocity)
    grid visited, median over seeds 0-4. Measured MAX 63 (39-85), random 29 (12-42)."""

    def cells(model):
        s = model.next_states.numpy()  # (N, 2) position, velocity
        i = np.clip(((s[:, 0] + 1.2) / 1.8 * 12).astype(int), 0, 11)
        j = np.clip(((s[:, 1] + 0.07) / 0.14 * 12).astype(int), 0, 11)
        return len(set(zip(i.tolist(), j.tolist(), strict=True)))

    small = {"warmup_steps": 100, "policy_every": 50, "model_steps": 50, "imagined_episodes": 3, "warmup_episodes": 1,
             "horizon": 15,
             "n_actors": 32, "ensemble_size": 4, "hidden_size": 64, "sac_hidden_size": 64,
             "sac_batch_size": 128}  # fmt: skip
    torch.set_num_threads(1)
    covered = {"max": [], "random": []}
    for seed in range(5):
        for name, extra in (("max", {}), ("random", {"warmup_steps": 10**6})):  # random: a warm-up never ending
            model = ContinuousMAX(gym.make("MountainCarContinuous-v0"), seed=seed, **{**small, **extra})
            model.learn(1000)
            covered[name].append(cells(model))
    assert np.median(covered["max"]) >= 1.5 * np.median(covered["random"]), covered


def test_the_paper_configuration_runs_a_few_steps_on_cpu():
    """The official sizes (32 members of 4 x 512, SAC 2 x 256 at batch 4096, 128 actors) with the budget cut:
    one refit of 2 epochs and one policy of 2 imagined episodes (one random) of 2 steps."""
    cut = {"warmup_steps": 32, "model_epochs": 2, "imagined_episodes": 2, "warmup_episodes": 1, "horizon": 2}
    model = MAX(pendulum(), seed=0, device="cpu", **{**CONFIGS["paper"], **cut})
    model.learn(33)
    assert model.model.net.ensemble_size == 32 and model.sac_batch_size == 4096 and model.n_actors == 128
    assert model.has_policy and np.isfinite(model.last_nll) and np.isfinite(model.last_utility)


def test_the_official_paths_are_the_paper_configuration_and_not_the_reduced_one():
    assert {name: OFFICIAL[name] for name in OFFICIAL_PATHS} == {
        "init": "xavier", "grad_clip": "value", "terminal_horizon": False, "frozen_normalizer": True,
        "policy_each_episode": True, "member_data": "shuffle", "sac_variant": "v", "refit_clock": "step",
        "model_loss": "mean"}  # fmt: skip
    reduced = ContinuousMAX(pendulum(), **CONFIGS["reduced"])
    assert (reduced.init, reduced.grad_clip, reduced.terminal_horizon, reduced.member_data, reduced.model_loss) == (
        "default", "norm", True, "bootstrap", "half_sum")  # fmt: skip
    assert not reduced.frozen_normalizer and not reduced.policy_each_episode
    assert reduced.sac_variant == "v"  # the ablation chose the authors' SAC (docs/BENCHMARKS.md)


def test_reduced_differs_from_paper_only_in_its_named_cuts():
    from agents.max.continuous import REDUCED_CUTS

    paper, reduced = CONFIGS["paper"], CONFIGS["reduced"]
    assert set(paper) == set(reduced)
    assert {name for name in paper if paper[name] != reduced[name]} == set(REDUCED_CUTS)


def test_a_frozen_normalizer_changes_only_at_a_refit_and_then_equals_the_data():
    from world_models.normalizer import welford_reference

    model = MAX(pendulum(), seed=0, **TINY, frozen_normalizer=True)
    model.learn(60)  # refit at step 40
    mean_40, _ = welford_reference(model.states[:40].double())
    torch.testing.assert_close(model.model.state_norm.mean, mean_40)  # the copy taken at the refit
    mean_60, _ = welford_reference(model.states.double())
    torch.testing.assert_close(model.data_norms["state_norm"].mean, mean_60)  # the data's, kept running
    model.learn(20, reset_num_timesteps=False)  # refit at step 80
    torch.testing.assert_close(model.model.delta_norm.m2, model.data_norms["delta_norm"].m2)


def test_an_episode_end_gets_a_fresh_policy_and_a_refit_on_the_same_step_only_one():
    def steps_of_policies(**flags):
        model = MAX(gym.make("Pendulum-v1", max_episode_steps=30), seed=0, **{**TINY, **flags})
        trained = []
        original = model._train_policy

        def spy(start):
            trained.append(model.num_timesteps)
            original(start)

        model._train_policy = spy
        model.learn(120)
        return trained

    assert steps_of_policies() == [40, 80, 120]  # every policy_every steps after the warm-up
    assert steps_of_policies(warmup_steps=30) == [30, 70, 110]
    assert steps_of_policies(warmup_steps=30, refit_clock="step") == [30, 40, 80, 120]  # the official clock
    assert steps_of_policies(policy_each_episode=True) == [40, 60, 80, 90, 120]  # episodes end at 30, 60, 90, 120


def test_a_non_terminal_horizon_never_ends_an_imagined_episode():
    from agents.max.imagined_training import train_in_imagination
    from world_models.imagination import ImaginedExploration

    model = MAX(pendulum(), seed=0, **TINY)
    model.learn(40)
    for terminal in (True, False):
        sac = SAC(3, 1, hidden_size=16)
        ends = []
        update = sac.update
        sac.update = lambda *batch, ends=ends, update=update: (ends.append(batch[4]), update(*batch))
        imagined = ImaginedExploration(model.model, n_actors=8, horizon=4, generator=torch.Generator().manual_seed(0))
        train_in_imagination(sac, imagined, model.states[-1], episodes=3, warmup_episodes=1, batch_size=64,
                             terminal_horizon=terminal)  # fmt: skip
        seen = torch.cat(ends)  # every update's batch of ends: all 64 rows of 2 episodes x 4 steps x 8 actors
        assert bool(seen.sum() > 0) == terminal and set(seen.tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("utility", ["jensen_renyi", "prediction_error", "trajectory_variance"])
def test_the_real_data_is_labelled_once_per_policy_as_the_official_code_labels_it(utility):
    flags = {"imagination": False} if utility == "prediction_error" else {}
    model = MAX(pendulum(), seed=0, **{**TINY, "warmup_steps": 1100}, utility=utility, **flags)
    model.learn(1100)
    labels = model._label_real_data()  # (N,)
    s, a, s_next = model.states, model.actions, model.next_states
    with torch.no_grad():
        if utility == "prediction_error":  # the official PredictionErrorUtilityMeasure: in units of state std
            predicted = model.model.predict_next(s, a)[0].mean(0)  # (N, d)
            expected = (((predicted - s_next) / model.model.state_norm.std.float()) ** 2).sum(1)
        elif utility == "trajectory_variance":  # the spread of 1,024-row chunks of normalised real changes
            changes = model.model.delta_norm.normalize(s_next - s)  # (N, d)
            expected = torch.cat([changes[:1024].std(0).sum().expand(1024), changes[1024:].std(0).sum().expand(76)])
        else:
            expected = model._jensen_renyi(s, a)
    torch.testing.assert_close(labels, expected, rtol=1e-4, atol=1e-5)


def test_predict_samples_unless_deterministic_and_the_experience_novelty_is_logged():
    from stable_baselines3.common.logger import configure

    model = MAX(pendulum(), seed=0, **TINY)
    model.learn(60)  # a policy from step 40; real steps 41-60 counted
    obs = np.zeros((64, 3), dtype=np.float32)
    mean = model.predict(obs, deterministic=True)[0]
    assert np.array_equal(mean, model.predict(obs, deterministic=True)[0])
    drawn = model.predict(obs)[0]
    assert np.abs(drawn - mean).max() > 1e-3 and np.std(drawn) > 0
    assert model.novelty_n == 20 and model.novelty_sum > 0
    model.set_logger(configure(None, []))
    model._record_logs()
    assert model.logger.name_to_value["explore/experience_novelty"] > 0 and model.novelty_n == 0


def test_the_authors_sac_learns_a_one_step_bandit_and_its_log_prob_is_the_squashed_gaussians():
    """VSAC (the official ``sac.py``): reward -(a - 0.5)^2, one-step episodes; and its log-probability is
    that of a tanh-squashed Gaussian (up to the official 1e-6 inside the log)."""
    from torch.distributions import Normal, TanhTransform, TransformedDistribution

    from agents.max.v_sac import VSAC

    torch.manual_seed(0)
    sac = VSAC(1, 1, hidden_size=32, learning_rate=1e-3, alpha=0.02)
    states = torch.zeros(256, 1)
    for _ in range(500):
        actions = sac.actor(states)[0].detach()
        sac.update(states, actions, -((actions[:, 0] - 0.5) ** 2), states, torch.ones(256))
    assert abs(float(sac.act(states[:1], deterministic=True)) - 0.5) < 0.05
    torch.manual_seed(1)
    x = torch.randn(64, 3)
    actor = VSAC(3, 2, hidden_size=16).actor
    torch.manual_seed(2)
    action, log_prob, _, log_std = actor(x)
    torch.manual_seed(2)
    mean = actor.net(x)[0].chunk(2, -1)[0]
    squashed = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    expected = squashed.log_prob(action.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1)
    near_bounds = (action.abs() > 0.999).any(-1)  # where the official epsilon dominates
    torch.testing.assert_close(log_prob[~near_bounds], expected[~near_bounds], rtol=1e-3, atol=1e-3)


def test_the_authors_sac_clips_every_gradient_entry_and_keeps_q_out_of_the_policy_step():
    from agents.max.v_sac import VSAC

    torch.manual_seed(0)
    sac = VSAC(3, 1, hidden_size=16, alpha=1e4)  # a large entropy weight: large policy gradients
    critics = [p.detach().clone() for p in sac.critics.parameters()]
    sgd = torch.optim.SGD(sac.actor.parameters(), lr=1.0)
    sac.actor_optimizer = sgd  # plain steps: the parameter change is minus the clipped gradient
    sac.critic_optimizer = torch.optim.SGD([*sac.critics.parameters(), *sac.value.parameters()], lr=0.0)
    before = [p.detach().clone() for p in sac.actor.parameters()]
    states = torch.randn(32, 3) * 50
    sac.update(states, torch.rand(32, 1) * 2 - 1, torch.full((32,), 1e4), states, torch.zeros(32))
    steps = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, sac.actor.parameters(), strict=True)])
    assert float(steps.abs().max()) == pytest.approx(5.0)
    assert all(torch.equal(a, b) for a, b in zip(critics, sac.critics.parameters(), strict=True))

"""MAX on discrete worlds: exploration, the noisy-TV property, SB3 interface, save/load, determinism."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

import envs  # noqa: F401
from agents.callbacks import CoverageCallback
from agents.max import MAX
from envs import TransitionCoverage
from world_models.bootstrap import bootstrap_weights, fit
from world_models.discrete import DiscreteDynamicsEnsemble


def chain(length=10, layout_seed=0, **kwargs):
    return TransitionCoverage(gym.make("maxplore/Chain-v0", length=length, layout_seed=layout_seed, **kwargs))


@pytest.mark.parametrize("layout_seed", [0, 1, 2])
def test_max_tries_every_transition_of_a_10_state_chain_within_3_episodes(layout_seed):
    # A random walk needs tens of episodes here; MAX measured 2 on every layout seed.
    model = MAX(chain(10, layout_seed), seed=layout_seed)
    callback = CoverageCallback(max_episodes=10)
    model.learn(10_000, callback=callback)
    assert callback.episodes_to_full_coverage is not None
    assert callback.episodes_to_full_coverage <= 3
    assert model.coverage == 1.0


@pytest.mark.parametrize("states", ["all", "observed"])
@pytest.mark.parametrize("layout_seed", range(5))
def test_untried_pairs_stay_far_more_interesting_than_tried_ones(layout_seed, states):
    """After one episode of the 50-state chain (layouts 0-4 measured): tried pairs <= 0.020, untried pairs
    >= 0.33, at least 16x apart. This gap is what sends MAX to the untried pairs. With states="observed"
    only the seen states have a utility (the others are NaN: no prediction), and the same gap holds."""
    model = MAX(chain(50, layout_seed), seed=layout_seed, states=states)
    model.learn(59)
    tried = model.visits > 0
    untried = ~tried & ~np.isnan(model.utility)
    assert untried.any() and (np.isnan(model.utility).any() == (states == "observed"))
    assert model.utility[tried].max() < 0.05
    assert model.utility[untried].min() > 0.15
    assert model.utility[untried].min() > 5 * model.utility[tried].max()


def test_noisy_tv_utility_falls_while_prediction_error_stays_high():
    """An action with a uniformly random outcome: the ensemble learns it is noise, so JSD -> 0, while
    the error of predicting the outcome (what a curiosity bonus rewards) stays near log S."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    S, E = 8, 5
    model = DiscreteDynamicsEnsemble(S, 2, ensemble_size=E, code_scale=2.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    # deterministic pairs (s, 0) -> s - 1 for s = 4..7, and the noisy TV (0, 1) -> uniform
    det_s = torch.arange(4, 8)
    states, actions, outcomes = [det_s], [torch.zeros(4, dtype=torch.long)], [det_s - 1]
    utilities, errors = [], []
    n_seen = 0
    for n in (8, 32, 128, 512, 2048):
        k = n - n_seen
        n_seen = n
        states.append(torch.zeros(k, dtype=torch.long))
        actions.append(torch.ones(k, dtype=torch.long))
        outcomes.append(torch.as_tensor(rng.integers(0, S, k)))
        s, a, o = torch.cat(states), torch.cat(actions), torch.cat(outcomes)
        weights = torch.as_tensor(bootstrap_weights(len(s), E, "bayesian", np.random.default_rng(n)))
        fit(lambda _, s=s, a=a, o=o: model.nll(s, a, o), weights, optimizer, steps=200)
        _, utility = model.exploration_mdp()
        utilities.append(utility[0, 1].item())
        with torch.no_grad():
            fresh = torch.as_tensor(rng.integers(0, S, 512))
            ones = torch.ones(512, dtype=torch.long)
            errors.append(model.nll(ones * 0, ones, fresh).mean().item())
    assert utilities[-1] < 0.02 and utilities[-1] < 0.1 * utilities[0]
    assert all(b <= a * 1.05 for a, b in zip(utilities, utilities[1:], strict=False))  # keeps falling
    assert min(errors) > 0.95 * np.log(S)  # prediction error stays at the noise floor
    _, utility = model.exploration_mdp()
    assert utility[5, 0] < 0.01  # a deterministic pair, learned
    assert utility[3, 0] > 10 * utility[0, 1]  # an untried pair stays far more interesting than the TV


def test_without_a_stated_episode_length_max_plans_over_the_default_then_the_longest_episode(caplog):
    from agents.max import DEFAULT_PLANNING_HORIZON

    env = gym.make("FrozenLake-v1").unwrapped  # no TimeLimit: episodes end only in a hole or at the goal
    with caplog.at_level("INFO", logger="agents.max"):
        model = MAX(env, seed=0)
        assert model._horizon() == DEFAULT_PLANNING_HORIZON
        model.learn(200)
    lengths = [int(info["l"]) for info in model.ep_info_buffer]
    assert lengths and model.longest_episode >= max(lengths) and model._horizon() == model.longest_episode
    assert "states no episode length" in caplog.text and f"plans over {model._horizon()} steps" in caplog.text


def test_observed_states_keeps_the_chain_headline_and_never_credits_unseen_states(tmp_path):
    model = MAX(chain(50, 0), seed=0, states="observed")
    callback = CoverageCallback(max_episodes=10)
    model.learn(10 * 59, callback=callback)
    assert callback.episodes_to_full_coverage == 5  # as with states="all"
    partial = MAX(chain(50, 1), seed=1, states="observed")
    partial.learn(30)
    seen = partial.ensemble.seen.numpy()
    assert 0 < seen.sum() < 50
    assert np.isnan(partial.utility[~seen]).all() and np.isfinite(partial.utility[seen]).all()
    partial.save(tmp_path / "observed")
    loaded = MAX.load(tmp_path / "observed", env=chain(50, 1))
    assert torch.equal(loaded.ensemble.seen, partial.ensemble.seen)
    states = np.flatnonzero(seen)
    assert np.array_equal(loaded._action_values(states), partial._action_values(states))


def test_observed_states_utility_falls_on_a_noisy_tv():
    """The noisy-TV property with the seen-states model: an action whose outcome is uniformly random over
    8 seen states loses its utility as data grows, while an untried pair keeps far more."""
    from world_models.discrete import SeenStatesDynamicsEnsemble

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    S, E = 8, 5
    model = SeenStatesDynamicsEnsemble(S, 2, ensemble_size=E, code_scale=2.0)
    model.mark_seen(torch.arange(S))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    utilities = []
    for n in (8, 128, 2048):
        o = torch.as_tensor(rng.integers(0, S, n))
        s, a = torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)
        weights = torch.as_tensor(bootstrap_weights(n, E, "bayesian", np.random.default_rng(n)))
        fit(lambda _, s=s, a=a, o=o: model.nll(s, a, o), weights, optimizer, steps=200)
        _, _, utility = model.exploration_mdp()
        utilities.append(utility[0, 1].item())
    assert utilities[-1] < 0.02 and utilities[-1] < 0.2 * utilities[0]
    assert utility[3, 0] > 10 * utilities[-1]  # an untried pair stays far more interesting


@pytest.mark.parametrize("states", ["all", "observed"])
def test_max_tries_every_reachable_pair_of_slippery_frozen_lake(states):
    """The noisy-TV property on a world no one here wrote: slippery moves are noise, holes and the goal end
    the episode. Measured (seeds 0-7): all 44 reachable pairs in 23-47 episodes; a random walk reaches
    84-93% in 60 episodes, and MAX itself stalled at 66-91% while it still headed for the holes' actions."""
    env = TransitionCoverage(gym.make("FrozenLake-v1"))
    callback = CoverageCallback(max_episodes=60)
    model = MAX(env, seed=0, states=states)
    model.learn(60 * 100, callback=callback)
    assert env.n_pairs == 44 and callback.episodes_to_full_coverage is not None
    terminal = np.flatnonzero(model.terminal)
    assert len(terminal) and np.all(model.utility[terminal] == 0)  # nothing to gain where episodes end


def test_rejects_spaces_no_planner_fits():
    with pytest.raises(TypeError, match="encoding='index'"):  # a 2-D Box of class ids: neither vectors nor pictures
        MAX(gym.make("maxplore/Maze-v0", obs_mode="semantic", size=5, image_size=16))
    with pytest.raises(TypeError, match="1-D Box states"):
        MAX(gym.make("Blackjack-v1"))  # a Tuple of observations


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ensemble_size": 1}, "ensemble_size"),
        ({"gradient_steps": 0}, "gradient_steps"),
        ({"train_freq": 0}, "train_freq"),
        ({"bootstrap": "jackknife"}, "bootstrap"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"planning_horizon": 0}, "planning_horizon"),
        ({"learning_starts": -1}, "learning_starts"),
        ({"refit_tolerance": 0.0}, "refit_tolerance"),
        ({"refit_tolerance": 1.0}, "refit_tolerance"),
        ({"inputs": "onehot"}, "inputs"),
        ({"states": "seen"}, "states"),
        ({"states": "observed", "sparse": True}, "pass states='all'"),
        ({"sparse": True}, "pass states='all'"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MAX(chain(5), **kwargs)


def test_callback_returning_false_stops_learning():
    class StopAfterFive(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 5

    model = MAX(chain(5), seed=0)
    model.learn(100, callback=StopAfterFive())
    assert model.num_timesteps == 5


def run_trace(seed: int, steps: int = 80):
    model = MAX(chain(12, layout_seed=4), seed=seed)
    model.learn(steps)
    return model


def test_same_seed_same_run():
    a, b = run_trace(3), run_trace(3)
    assert np.array_equal(a.visits, b.visits)
    assert np.array_equal(a.memory.weights, b.memory.weights)
    for pa, pb in zip(a.ensemble.parameters(), b.ensemble.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = run_trace(4)
    assert not np.array_equal(a.memory.weights, c.memory.weights)


def test_save_load_same_actions_and_continue(tmp_path):
    horizon = 19  # length 10 + 9
    model = MAX(chain(10, layout_seed=2), seed=1)
    model.learn(2 * horizon)  # stop on an episode boundary
    model.save(tmp_path / "max_chain")
    path = tmp_path / "max_chain.pt"
    assert path.exists() and not list(tmp_path.glob("*.tmp"))
    raw = torch.load(path, weights_only=True)  # plain tensors and values only
    assert raw["counters"]["num_timesteps"] == 2 * horizon

    loaded = MAX.load(tmp_path / "max_chain", env=chain(10, layout_seed=2))
    states = np.arange(10)
    assert np.array_equal(model.predict(states, deterministic=True)[0], loaded.predict(states, deterministic=True)[0])
    assert np.array_equal(loaded.visits, model.visits)

    model.learn(horizon, reset_num_timesteps=False)
    loaded.learn(horizon, reset_num_timesteps=False)
    assert loaded.num_timesteps == model.num_timesteps == 3 * horizon
    assert np.array_equal(loaded.visits, model.visits)  # continued exactly as the original did
    for pa, pb in zip(model.ensemble.parameters(), loaded.ensemble.parameters(), strict=True):
        assert torch.allclose(pa, pb)


def test_load_without_env_predicts(tmp_path):
    model = MAX(chain(6), seed=0)
    model.learn(30)
    model.save(tmp_path / "m.pt")
    loaded = MAX.load(tmp_path / "m.pt")
    obs = np.array([0, 3, 5])
    assert np.array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    action, _ = loaded.predict(2)
    assert np.ndim(action) == 0 and action in (0, 1)
    with pytest.raises(ValueError, match="no env"):
        loaded.learn(10)
    with pytest.raises(ValueError, match="observation"):
        loaded.predict(np.array([6]))


def test_load_rejects_other_spaces(tmp_path):
    model = MAX(chain(6), seed=0)
    model.save(tmp_path / "m")
    with pytest.raises(ValueError, match="spaces"), pytest.warns(UserWarning, match="length': 7"):
        MAX.load(tmp_path / "m", env=chain(7))


def test_tensorboard_tags(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = MAX(chain(6), seed=0, tensorboard_log=str(tmp_path))
    model.learn(3 * 15, tb_log_name="max")
    runs = list(tmp_path.glob("max_*"))
    assert len(runs) == 1
    tags = set(EventAccumulator(str(runs[0])).Reload().Tags()["scalars"])
    assert {"explore/coverage", "explore/utility_mean", "model/nll", "rollout/ep_rew_mean"} <= tags


def count_refits(model):
    """Wrap ``model.train`` to count refits; returns the list the count is appended to."""
    refits, train = [], model.train

    def counted():
        refits.append(model.num_timesteps)
        return train()

    model.train = counted
    return refits


def test_refits_are_skipped_on_known_transitions_and_not_without_a_tolerance():
    """On the 20-state chain, 3 episodes (87 steps; 40 pairs): with a ``refit_tolerance`` every new transition
    refits, and walks over transitions every member already predicts do not (measured: 55 refits at 1e-3 on
    layouts 0-2); without one (the default) every step refits, as MAX was published."""
    gated = MAX(chain(20, layout_seed=1), seed=0, refit_tolerance=1e-3)
    refits = count_refits(gated)
    gated.learn(87)
    assert gated.coverage == 1.0
    assert gated.memory.n_unique <= len(refits) < 0.8 * 87
    every = MAX(chain(20, layout_seed=1), seed=0)
    every_refits = count_refits(every)
    every.learn(87)
    assert every_refits == list(range(1, 88))


def test_a_noisy_outcome_keeps_refitting():
    """A pair whose outcome is random is never predicted with certainty: its repeats always refit."""

    class NoisyTV(gym.Env):
        observation_space = gym.spaces.Discrete(4)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return 0, {}

        def step(self, action):
            return int(self.np_random.integers(0, 4)), 0.0, False, False, {}

    model = MAX(gym.wrappers.TimeLimit(NoisyTV(), 10), seed=0, refit_tolerance=1e-3)
    refits = count_refits(model)
    model.learn(60)
    assert refits == list(range(1, 61))


def test_plans_solved_as_far_as_asked_equal_the_full_solution():
    """Value iteration runs only as far as the steps left; its levels equal those of a full solve."""
    from world_models.exploration_mdp import value_iteration

    model = MAX(chain(10, layout_seed=0), seed=0)
    model.learn(25)  # mid-episode: 13 of 19 steps left
    assert model._q is None or len(model._q) <= 19
    full = value_iteration(*model._mdp, 19).numpy()
    assert np.array_equal(model._solve(19), full)
    assert np.array_equal(model._solve(5)[:5], full[:5])


def test_resume_with_minibatches_continues_as_the_uninterrupted_run(tmp_path):
    """Which transitions are new since the last refit (always in the minibatches) is saved too."""
    model = MAX(chain(10, layout_seed=2), seed=1, batch_size=4)
    model.learn(2 * 19)  # two whole episodes: a loaded model starts a new one
    model.save(tmp_path / "m")
    loaded = MAX.load(tmp_path / "m", env=chain(10, layout_seed=2))
    model.learn(19, reset_num_timesteps=False)
    loaded.learn(19, reset_num_timesteps=False)
    assert np.array_equal(loaded.visits, model.visits)
    for pa, pb in zip(model.ensemble.parameters(), loaded.ensemble.parameters(), strict=True):
        assert torch.equal(pa, pb)

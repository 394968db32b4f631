"""The perfect-memory explorer (the greedy reference MAX is compared with) and the random agent."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from agents.callbacks import CoverageCallback
from agents.checkpoint import decode_value, encode_value
from agents.reference_explorers import PerfectMemoryExplorer, RandomExplorer
from envs import TransitionCoverage


def chain(length, seed=0):
    return TransitionCoverage(gym.make("maxplore/Chain-v0", length=length, layout_seed=seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_perfect_memory_needs_five_episodes_on_the_50_state_chain(seed):
    model = PerfectMemoryExplorer(chain(50, seed), seed=seed)
    callback = CoverageCallback(max_episodes=60)
    model.learn(10**6, callback=callback)
    assert callback.episodes_to_full_coverage == 5  # DESIGN.md: 5 at L = 50


def test_pair_values_on_a_hand_made_memory_follow_the_shortest_known_path():
    model = PerfectMemoryExplorer(chain(4), seed=0)
    # known: (0,0)->0 (0,1)->1 (1,0)->0 (1,1)->2 (2,0)->1 ; untried: (2,1), (3,*)
    for s, a, s_next in [(0, 0, 0), (0, 1, 1), (1, 0, 0), (1, 1, 2), (2, 0, 1)]:
        model.memory.add(s, a, s_next)
    q = model.pair_values()
    assert q.max(1) == pytest.approx([0.9**2, 0.9, 1, 1])  # discount ** (steps to the nearest untried pair)
    assert q[0] == pytest.approx([0.9**3, 0.9**2])  # via state 1 is shorter
    assert q[2] == pytest.approx([0.9**2, 1])  # the untried action
    assert model.predict(np.array([0, 1, 2]), deterministic=True)[0].tolist() == [1, 1, 1]


def test_pair_values_prefer_a_sure_path_to_a_slippery_one():
    """From state 0, action 0 reaches the untried state 2 half the time in one step and otherwise ends
    the episode (state 3); action 1 reaches it surely in two steps. 0.9 * 0.5 < 0.9 ** 2."""
    model = PerfectMemoryExplorer(chain(4), seed=0)
    for s, a, s_next in [(0, 0, 2), (0, 0, 3), (0, 1, 1), (1, 0, 2), (1, 1, 2), (2, 0, 2)]:
        model.memory.add(s, a, s_next)
    model.terminal[3] = True  # untried pairs: (2, 1) only
    q = model.pair_values()
    assert q[0] == pytest.approx([0.9 * 0.5, 0.9**2])
    assert model.predict(np.array([0]), deterministic=True)[0].tolist() == [1]
    with pytest.raises(ValueError, match="discount"):
        PerfectMemoryExplorer(chain(4), discount=1.0)


def test_random_explorer_is_a_floor():
    """README and docs/BENCHMARKS.md: a uniform random walk tries 43% of the 50-state chain's transitions
    in 60 episodes (median of layouts 0-4). 50 runs (10 seeds x 5 layouts) measured 29%-50%, median 41%."""
    coverage = []
    for layout in range(5):
        callback = CoverageCallback(max_episodes=60)
        RandomExplorer(chain(50, seed=layout), seed=layout).learn(10**6, callback=callback)
        assert callback.episodes_to_full_coverage is None
        coverage.append(callback.coverage)
    assert 0.38 <= np.median(coverage) <= 0.48
    actions = RandomExplorer(chain(5), seed=0).predict(np.zeros(400, dtype=np.int64))[0]
    assert 150 < actions.sum() < 250  # both actions, about equally often


def test_save_load_perfect_memory(tmp_path):
    model = PerfectMemoryExplorer(chain(10), seed=0)
    model.learn(30)
    model.save(tmp_path / "p")
    loaded = PerfectMemoryExplorer.load(tmp_path / "p")
    assert np.array_equal(loaded.memory.triples, model.memory.triples)
    assert np.array_equal(loaded.memory.weights, model.memory.weights)
    assert loaded.discount == model.discount
    assert (
        loaded.predict(np.arange(10), deterministic=True)[0].tolist()
        == model.predict(np.arange(10), deterministic=True)[0].tolist()
    )


def test_checkpoint_classes_round_trip_but_only_from_the_allow_list():
    import torch

    encoded = encode_value({"activation_fn": torch.nn.ReLU, "net_arch": (64, 64)})
    assert decode_value(encoded) == {"activation_fn": torch.nn.ReLU, "net_arch": [64, 64]}
    with pytest.raises(ValueError, match="refusing"):
        decode_value({"__class__": "os:system"})
    with pytest.raises(TypeError, match="cannot store"):
        encode_value(object())


def test_perfect_memory_does_not_walk_into_terminal_states_to_try_their_actions():
    """FrozenLake's holes and goal end the episode on arrival: their actions can never be tried. Before
    the explorer knew, it stalled at 52% of the 44 reachable pairs; measured now: 10-11 episodes."""
    env = TransitionCoverage(gym.make("FrozenLake-v1", is_slippery=False))
    callback = CoverageCallback(max_episodes=30)
    model = PerfectMemoryExplorer(env, seed=0)
    model.learn(30 * 100, callback=callback)
    assert callback.episodes_to_full_coverage is not None and callback.episodes_to_full_coverage <= 15
    desc = env.unwrapped.desc.astype(str).reshape(-1)
    assert set(np.flatnonzero(model.terminal)) <= set(np.flatnonzero((desc == "H") | (desc == "G")))

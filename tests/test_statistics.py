"""The reports' statistics across seeds (rliable) against their slow, obvious definitions."""

import numpy as np
import pytest

from benchmarks.statistics import (
    improvement_probabilities,
    improvement_reference,
    iqm_curves,
    iqm_intervals,
    iqm_reference,
    performance_profiles,
    seed_statistics,
)


@pytest.mark.parametrize("runs", [4, 5, 10, 13])
def test_rliables_iqm_is_the_interquartile_mean_and_its_interval_holds_it(runs):
    rng = np.random.default_rng(runs)
    scores = {"a": rng.normal(size=runs), "b": rng.exponential(size=(runs, 3))}
    out = iqm_intervals(scores, reps=500)
    for name, values in scores.items():
        point, low, high = out[name]
        assert point == pytest.approx(iqm_reference(values))
        assert low <= point <= high
    assert iqm_reference([1, 2, 3, 100]) == 2.5  # the top and bottom quarter dropped: the outlier is gone


def test_probability_of_improvement_counts_pairs_and_ties_as_one_half():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, size=(7, 2)), rng.integers(0, 4, size=(6, 2))  # small integers: many ties
    point, low, high = improvement_probabilities({"x": x, "y": y}, "x", reps=500)["y"]
    assert point == pytest.approx(improvement_reference(x, y)) and low <= point <= high
    assert improvement_reference([3, 3], [1, 3]) == 0.75  # (3 > 1) twice, (3 = 3) twice at one half
    assert improvement_probabilities({"x": [5.0, 6.0], "y": [1.0, 2.0]}, "x", reps=200)["y"] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="reference"):
        improvement_probabilities({"x": [1.0]}, "max")


def test_costs_turn_into_the_probability_of_needing_less():
    stats = seed_statistics({"max": [5, 5, 6], "dqn": [60, 60, 9]}, lower_is_better=True)
    assert stats["max"]["poi"] is None and stats["dqn"]["poi"][0] == 1.0  # MAX needs fewer in every pair
    assert stats["max"]["iqm"][0] == pytest.approx(iqm_reference([5, 5, 6]))


def test_the_bootstrap_is_seeded_and_curves_band_their_iqm():
    rng = np.random.default_rng(1)
    curves = {"a": np.sort(rng.random((6, 9)), axis=1)}
    first, again = iqm_curves(curves, reps=300, seed=3)["a"], iqm_curves(curves, reps=300, seed=3)["a"]
    assert all(np.array_equal(u, v) for u, v in zip(first, again, strict=True))
    iqm, low, high = first
    assert iqm.shape == low.shape == high.shape == (9,)
    assert np.allclose(iqm, [iqm_reference(curves["a"][:, t]) for t in range(9)])
    assert np.all(low <= iqm + 1e-12) and np.all(iqm <= high + 1e-12)


def test_performance_profile_is_the_fraction_of_runs_above_each_threshold():
    scores = {"a": np.array([[0.1, 0.5], [0.9, 0.7], [0.3, 0.95]])}  # (runs, tasks)
    taus = np.array([0.0, 0.2, 0.6, 0.92, 1.0])
    profile, low, high = performance_profiles(scores, taus, reps=200)["a"]
    reference = [np.mean(scores["a"] > tau) for tau in taus]
    assert np.allclose(profile, reference)
    assert np.all(low <= profile + 1e-12) and np.all(profile <= high + 1e-12)


def test_bad_scores_name_the_method():
    with pytest.raises(ValueError, match="'a'.*shape"):
        iqm_intervals({"a": np.zeros((2, 2, 2))})

"""CycleGAN, its self-defences and the hiding measures (vision_tools.cyclegan)."""

import math

import numpy as np
import pytest
import torch

from envs.maze import CLASS_NAMES, SEMANTIC_PALETTE, MazeEnv, sample_renderings
from vision_tools.cyclegan import (
    CycleGAN,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    fit,
    fit_supervised,
    guess_pairs,
    honesty_gap,
    image_strip,
    l1_loss,
    lsgan_loss,
    noise_sensitivity,
    palette_classes,
    per_class_iou,
    reconstruction_errors,
    to_tensor,
    to_uint8,
)

TINY = {"gen_channels": 4, "n_blocks": 1, "disc_channels": 4}


def tiny_data(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    rgb, classes = sample_renderings(n, seed=seed, n_layouts=2, size=5, image_size=32)
    return to_tensor(rgb), to_tensor(MazeEnv.colourise(classes)), classes


# ------------------------------------------------------------------ networks
def test_generator_keeps_shape_and_range():
    g = ResnetGenerator(3, 1, channels=8, n_blocks=2)
    x = torch.randn(2, 3, 64, 64) * 5
    y = g(x)
    assert y.shape == (2, 1, 64, 64)
    assert y.abs().max() <= 1.0  # tanh output
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match="channels"):
        ResnetGenerator(3, 3, channels=0)


def test_patch_discriminator_scores_70px_patches():
    d = PatchDiscriminator(6, 8)
    assert d(torch.randn(2, 6, 64, 64)).shape == (2, 1, 6, 6)
    assert d(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # the reference 30x30 map at 256 px
    # receptive field: one output score depends on exactly a 70x70 window (instance norm, which mixes
    # every position into the statistics, taken out)
    for i, layer in enumerate(d.net):
        if isinstance(layer, torch.nn.InstanceNorm2d):
            d.net[i] = torch.nn.Identity()
    x = torch.randn(1, 6, 128, 128, requires_grad=True)
    d(x)[0, 0, 5, 5].backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1, 3)))
    assert int(rows.max() - rows.min()) + 1 == 70
    with pytest.raises(ValueError, match=">= 24"):
        d(torch.randn(1, 6, 16, 16))


# ------------------------------------------------------------------ losses
def test_lsgan_loss_known_values():
    scores = torch.tensor([[[[0.0, 1.0]]], [[[2.0, 0.5]]]])  # (2, 1, 1, 2)
    assert float(lsgan_loss(scores, True)) == pytest.approx((1 + 0 + 1 + 0.25) / 4)
    assert float(lsgan_loss(scores, False)) == pytest.approx((0 + 1 + 4 + 0.25) / 4)
    # per-image targets: image 0 wants 1, image 1 wants 0
    assert float(lsgan_loss(scores, torch.tensor([1.0, 0.0]))) == pytest.approx((1 + 0 + 4 + 0.25) / 4)
    with pytest.raises(ValueError, match="one value per image"):
        lsgan_loss(scores, torch.tensor([1.0, 0.0, 1.0]))


def test_l1_loss_known_value_and_shape_check():
    assert float(l1_loss(torch.tensor([1.0, -1.0, 0.5]), torch.tensor([0.0, 0.0, 0.0]))) == pytest.approx(2.5 / 3)
    with pytest.raises(ValueError, match="same shape"):
        l1_loss(torch.zeros(2), torch.zeros(3))


def test_guess_pairs_order_is_random_and_labels_match():
    real = torch.zeros(200, 3, 4, 4)
    rec = torch.ones(200, 3, 4, 4)
    pairs, labels = guess_pairs(real, rec, torch.Generator().manual_seed(0))
    assert pairs.shape == (200, 6, 4, 4) and labels.shape == (200,)
    first_is_rec = pairs[:, :3].flatten(1).mean(1) == 1
    second_is_real = pairs[:, 3:].flatten(1).mean(1) == 0
    assert torch.equal(first_is_rec, labels.bool()) and torch.equal(second_is_real, labels.bool())
    assert 70 < int(labels.sum()) < 130  # both orders, about half each
    again, labels_again = guess_pairs(real, rec, torch.Generator().manual_seed(0))
    assert torch.equal(labels, labels_again) and torch.equal(pairs, again)


# ------------------------------------------------------------------ pool
def test_pool_fills_then_swaps_half():
    pool = ImagePool(3, seed=0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 3  # filling: passed through
    swapped = 0
    for i in range(200):
        new = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(new)
        assert len(pool) == 3
        if float(out) != 100.0 + i:  # an older image came back, and the new one took its place
            swapped += 1
            assert 100.0 + i in [float(x) for x in pool.images]
    assert 70 < swapped < 130


def test_pool_size_zero_passes_through_and_rejects_negative():
    images = torch.randn(4, 3, 2, 2)
    assert torch.equal(ImagePool(0).query(images), images)
    with pytest.raises(ValueError, match="size"):
        ImagePool(-1)


# ------------------------------------------------------------------ model
def test_noise_defence_is_on_in_training_only():
    model = CycleGAN(noise_std=0.5, seed=0, **TINY)
    a, b, _ = tiny_data(2)
    model.eval()
    with torch.no_grad():
        out1, out2 = model(a, b), model(a, b)
        expected = model.g_ba(model.g_ab(a))
    assert torch.equal(out1["rec_a"], out2["rec_a"]) and torch.allclose(out1["rec_a"], expected)
    model.train()
    with torch.no_grad():
        noisy = model(a, b)
    assert not torch.allclose(noisy["rec_a"], expected, atol=1e-3)


def test_guess_discriminators_exist_only_when_weighted():
    a, b, _ = tiny_data(2)
    plain = CycleGAN(seed=0, **TINY)
    assert plain.guess_a is None and len(plain.discriminators()) == 2
    assert "g/guess" not in plain.training_step(a, b)
    guarded = CycleGAN(guess_weight=2.0, seed=0, **TINY)
    logs = guarded.training_step(a, b)
    assert len(guarded.discriminators()) == 4 and {"g/guess", "d/guess"} <= logs.keys()
    assert all(p.requires_grad for p in guarded.discriminators().parameters())  # unfrozen after the step


def test_training_step_is_seeded():
    a, b, _ = tiny_data(4)
    logs = [CycleGAN(noise_std=0.1, guess_weight=2.0, seed=3, **TINY).training_step(a, b) for _ in range(2)]
    assert logs[0] == logs[1]


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="noise_std"):
        CycleGAN(noise_std=-0.1)
    with pytest.raises(ValueError, match="identity_weight"):
        CycleGAN(3, 1)
    with pytest.raises(ValueError, match="steps"):
        fit(CycleGAN(**TINY), torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), 0)


def test_short_training_lowers_the_cycle_loss():
    a, b, _ = tiny_data(32)
    model = CycleGAN(seed=0, **TINY)
    history = fit(model, a, b, 80, batch_size=4, seed=0)
    first = np.mean([h["g/cycle_a"] + h["g/cycle_b"] for h in history[:10]])
    last = np.mean([h["g/cycle_a"] + h["g/cycle_b"] for h in history[-10:]])
    assert last < 0.7 * first
    assert model.optimizer_g.param_groups[0]["lr"] == pytest.approx(0.0)  # linear decay to 0


def test_fit_writes_tensorboard_scalars_and_images(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    a, b, _ = tiny_data(8)
    writer = SummaryWriter(str(tmp_path))
    fit(CycleGAN(seed=0, **TINY), a, b, 3, batch_size=2, writer=writer)
    writer.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path)).Reload()
    assert "cyclegan/g/cycle_a" in events.Tags()["scalars"]
    assert "cycle_a/input-translation-reconstruction" in events.Tags()["images"]
    assert image_strip(a[:2], a[:2]).shape == (3, 64, 64)


# ------------------------------------------------------------------ images and metrics
def test_uint8_round_trip_and_palette_classes():
    rgb, classes = sample_renderings(3, seed=0, size=5, image_size=32)
    assert np.array_equal(to_uint8(to_tensor(rgb)), rgb)
    semantic = to_tensor(MazeEnv.colourise(classes))
    assert semantic.min() >= -1 and semantic.max() <= 1
    assert torch.equal(palette_classes(semantic + 0.2 * torch.rand_like(semantic) - 0.1, SEMANTIC_PALETTE),
                       torch.as_tensor(classes, dtype=torch.long))  # fmt: skip
    with pytest.raises(ValueError, match="uint8"):
        to_tensor(rgb.astype(np.float32))


def iou_reference(predicted, target, n_classes):
    out = []
    for k in range(n_classes):
        inter = sum(1 for p, t in zip(predicted.ravel(), target.ravel(), strict=True) if p == k and t == k)
        union = sum(1 for p, t in zip(predicted.ravel(), target.ravel(), strict=True) if p == k or t == k)
        out.append(inter / union if union else math.nan)
    return np.array(out)


def test_per_class_iou_matches_the_loop_reference():
    rng = np.random.default_rng(0)
    predicted, target = rng.integers(0, 3, (5, 8, 8)), rng.integers(0, 3, (5, 8, 8))  # class 3 absent
    fast = per_class_iou(predicted, target, 4)
    np.testing.assert_allclose(fast, iou_reference(predicted, target, 4))
    assert np.isnan(fast[3])
    assert per_class_iou(np.array([0, 1, 1]), np.array([0, 1, 0]), 2).tolist() == [0.5, 0.5]


def test_identity_cycle_sensitivity_is_the_gaussian_mean_absolute_value():
    images = torch.rand(64, 3, 16, 16) * 2 - 1
    curve = noise_sensitivity(lambda x: x, lambda x: x, images, [0.0, 0.1, 0.2], seed=0)
    np.testing.assert_allclose(curve, [0.0, 0.1 * math.sqrt(2 / math.pi), 0.2 * math.sqrt(2 / math.pi)], rtol=0.02)


def test_measures_expose_a_translator_that_hides_its_input():
    """forward keeps the class colour and hides the texture at 1/100 amplitude; backward reads it back."""
    a, b, _ = tiny_data(32)
    predictor = ResnetGenerator(3, 3, **{"channels": 4, "n_blocks": 1})
    losses = fit_supervised(predictor, b, a, 60, batch_size=8, seed=0)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])

    def hide(x):  # true semantic image plus the picture at 1/100 amplitude
        return b[: len(x)] + 0.01 * x

    def reveal(y):
        return (y - b[: len(y)]) * 100

    gap = honesty_gap(hide, reveal, predictor, a, b)
    assert gap["reconstruction"] < 1e-4 and gap["gap"] < -0.1  # too good to be honest
    errors = noise_sensitivity(hide, reveal, a, [0.0, 0.01], seed=0, batch_size=10)
    assert errors[1] > 0.5 > 1e-4 > errors[0]  # collapses at noise 0.01
    assert reconstruction_errors(hide, reveal, a).shape == (32,)
    # the curve translates once but draws the same noise as one reconstruction_errors call per std
    expected = [float(reconstruction_errors(hide, reveal, a, noise_std=s, seed=0, batch_size=10).mean())
                for s in (0.0, 0.01)]  # fmt: skip
    assert errors.tolist() == expected


def test_sample_renderings_are_paired_and_seeded():
    rgb, classes = sample_renderings(20, seed=4, size=7, image_size=28)
    assert rgb.shape == (20, 28, 28, 3) and classes.shape == (20, 28, 28)
    assert rgb.dtype == np.uint8 and classes.dtype == np.uint8 and classes.max() < len(CLASS_NAMES)
    # the pair shows the same state: agent pixels are red in the picture, wall pixels dark
    agent, wall = classes == 2, classes == 1
    assert rgb[agent][:, 0].mean() > rgb[agent][:, 1].mean() + 80
    assert rgb[wall].mean() < rgb[classes == 0].mean() - 60
    assert np.all(agent.reshape(20, -1).sum(1) > 0)  # one agent per state
    again, _ = sample_renderings(20, seed=4, size=7, image_size=28)
    other, _ = sample_renderings(20, seed=5, size=7, image_size=28)
    assert np.array_equal(rgb, again) and not np.array_equal(rgb, other)
    with pytest.raises(ValueError, match="n must be"):
        sample_renderings(0)

"""Saliency methods against closed forms, similarity metrics at their extremes, and the randomisation tests."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from vision_tools.saliency import METHODS, gradcam_layer, saliency
from vision_tools.sanity_checks import (
    cascading_randomization,
    data_randomization,
    independent_randomization,
    layers_in_forward_order,
    normalize_map,
    permute_labels,
    random_map_control,
    similarity,
)


def linear_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 4))


def test_linear_model_closed_forms():
    """For f(x) = W x + b: gradient = W[t]; gradient x input = integrated gradients (zero baseline) = x * W[t]."""
    model = linear_model()
    x = torch.randn(3, 2, 6, 6)
    w = model[1].weight[2].detach().view(2, 6, 6)
    grad = saliency(model, x, target=2, method="gradient")
    assert torch.allclose(grad, w.expand(3, 2, 6, 6), atol=1e-6)
    gxi = saliency(model, x, target=2, method="gradient_x_input")
    ig = saliency(model, x, target=2, method="integrated_gradients")
    assert torch.allclose(gxi, x * w, atol=1e-6)
    assert torch.allclose(ig, x * w, atol=1e-5)
    baseline = torch.randn_like(x)
    ig_b = saliency(model, x, target=2, method="integrated_gradients", baseline=baseline)
    assert torch.allclose(ig_b, (x - baseline) * w, atol=1e-5)


def tiny_cnn(width: int = 8, hidden: int = 32):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width * 8 * 8, hidden),
        nn.ReLU(inplace=True), nn.Linear(hidden, 10),
    )  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_on_a_cnn_with_inplace_relus_and_leaves_it_untouched(method):
    model = tiny_cnn().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 1, 16, 16)
    maps = saliency(model, x, target=torch.tensor([1, 3]), method=method, n_samples=4, n_steps=8)
    assert maps.shape[0] == 2 and maps.shape[-2:] == (16, 16)
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    assert model.training and all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_q_network_target_is_the_action():
    q_net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.randn(1, 1, 4, 4)
    for action in range(3):
        grad = saliency(q_net, x, target=action, method="gradient")
        assert torch.allclose(grad.flatten(), q_net[1].weight[action].detach(), atol=1e-6)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        saliency(linear_model(), torch.randn(1, 2, 6, 6), 0, method="lime")
    with pytest.raises(ValueError, match="convolutional"):
        saliency(linear_model(), torch.randn(1, 2, 6, 6), 0, method="gradcam")


def test_gradcam_layer_is_the_rectified_output_of_the_last_convolution():
    model = tiny_cnn()
    x = torch.randn(1, 1, 16, 16)
    assert gradcam_layer(model, x) is model[3]  # conv, relu, conv, relu(3), pool, ...
    normalised = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(), nn.Linear(784, 3))
    assert gradcam_layer(normalised, x) is normalised[2]
    no_relu = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 14 * 14, 3))
    assert gradcam_layer(no_relu, x) is no_relu[0]

    class SharedRelu(nn.Module):  # one ReLU module after both convs: which call GradCAM means is ambiguous
        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.relu = nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), nn.ReLU()
            self.head = nn.Linear(2 * 12 * 12, 3)

        def forward(self, x):
            return self.head(self.relu(self.c2(self.relu(self.c1(x)))).flatten(1))

    shared = SharedRelu()
    assert gradcam_layer(shared, x) is shared.c2


def reference_gradcam(model: nn.Sequential, x: torch.Tensor, target: int, offset: float) -> torch.Tensor:
    """Slow, obvious GradCAM at ``model[3]`` (16x16 maps, so no upsampling): per sample, the feature maps'
    spatially averaged gradients weight the maps, plus the offset, then the positive part."""
    cams = []
    for sample in x:
        features = model[:4](sample[None]).detach().requires_grad_(True)  # (1, K, 16, 16), rectified
        score = model[4:](features)[0, target]
        (grads,) = torch.autograd.grad(score, features)
        alpha = grads.mean(dim=(2, 3))  # (1, K)
        weighted = sum(alpha[0, k] * features[0, k] for k in range(features.shape[1]))  # (16, 16)
        cams.append(torch.relu(weighted + offset)[None].detach())
    return torch.stack(cams)  # (N, 1, 16, 16)


@pytest.mark.parametrize("offset", [0.0, 0.05])
def test_gradcam_and_guided_gradcam_match_a_slow_reference(offset):
    model = tiny_cnn().eval()
    x = torch.randn(3, 1, 16, 16)
    expected = reference_gradcam(model, x, target=4, offset=offset)
    assert expected.abs().sum() > 0
    cam = saliency(model, x, 4, "gradcam", cam_offset=offset)
    assert torch.allclose(cam, expected, atol=1e-6)
    guided = saliency(model, x, 4, "guided_gradcam", cam_offset=offset)
    assert torch.allclose(guided, saliency(model, x, 4, "guided_backprop") * expected, atol=1e-6)


def test_a_large_cam_offset_makes_guided_gradcam_a_copy_of_guided_backprop():
    """The authors' +1 swamps a small weighted sum: the CAM is then nearly uniform."""
    model = tiny_cnn()
    x = torch.randn(2, 1, 16, 16)
    guided = saliency(model, x, 1, "guided_gradcam", cam_offset=1e6)
    backprop = saliency(model, x, 1, "guided_backprop")
    assert all(similarity(guided[i], backprop[i]).spearman_abs > 0.999 for i in range(2))
    plain = saliency(model, x, 1, "guided_gradcam")
    assert min(similarity(plain[i], backprop[i]).spearman_abs for i in range(2)) < 0.99
    with pytest.raises(TypeError, match="cam_offset"):
        saliency(model, x, 1, "gradcam", cam_offset="1")


def test_identical_maps_score_one_and_random_maps_near_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 32, 32))
    same = similarity(a, a.copy())
    assert same.spearman_abs == pytest.approx(1) and same.spearman_signed == pytest.approx(1)
    assert same.ssim == pytest.approx(1) and same.hog == pytest.approx(1)
    control = random_map_control((3, 32, 32), pairs=10)
    assert abs(control.spearman_abs) < 0.05 and abs(control.spearman_signed) < 0.05
    assert abs(control.ssim) < 0.1 and abs(control.hog) < 0.1
    pearson = similarity(a, a.copy(), hog_method="pearson")
    assert pearson.hog == pytest.approx(1)


def test_normalize_map_ranges():
    a = np.random.default_rng(1).normal(size=(2, 20, 20))
    absolute, signed = normalize_map(a), normalize_map(a, absolute=False)
    assert absolute.shape == (20, 20) and absolute.min() >= 0 and absolute.max() == pytest.approx(1)
    assert signed.min() == pytest.approx(-1) or signed.max() == pytest.approx(1)
    assert np.all(np.abs(signed) <= 1)


def test_cascading_randomization_goes_top_down_in_forward_order_on_a_copy():
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 1, 16, 16)
    order = layers_in_forward_order(model, x)
    assert order == ["0", "2", "6", "8"]
    stages = cascading_randomization(model, x, target=1, method="gradient")
    assert [s.randomized for s in stages] == [[], ["8"], ["8", "6"], ["8", "6", "2"], ["8", "6", "2", "0"]]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing restored: never touched
    independent = independent_randomization(model, x, target=1, method="gradient")
    assert [s.randomized for s in independent] == [["0"], ["2"], ["6"], ["8"]]


def test_data_randomization_compares_two_models_of_one_architecture():
    labels = torch.arange(20) % 4
    permuted = permute_labels(labels, seed=3)
    assert torch.equal(permuted, permute_labels(labels, seed=3)) and not torch.equal(permuted, labels)
    assert torch.equal(permuted.sort().values, labels.sort().values)  # same labels, other images
    model, other = tiny_cnn(), tiny_cnn()
    for p in other.parameters():
        p.data.add_(0.5 * torch.randn_like(p))
    x = torch.randn(3, 1, 16, 16)
    same = data_randomization(model, copy.deepcopy(model), x, target=2, method="gradient")
    assert all(s.spearman_abs == pytest.approx(1) and s.ssim == pytest.approx(1) for s in same.scores)
    differ = data_randomization(model, other, x, target=2, method="gradient")
    assert torch.equal(differ.original, same.original) and len(differ.scores) == 3
    assert max(s.spearman_signed for s in differ.scores) < 0.9
    reused = data_randomization(model, other, x, target=2, method="gradient", original=same.original)
    assert [s.spearman_abs for s in reused.scores] == [s.spearman_abs for s in differ.scores]
    with pytest.raises(ValueError, match="one map per input"):
        data_randomization(model, other, x, target=2, original=same.original[:2])
    with pytest.raises(ValueError, match="architecture"):
        data_randomization(model, tiny_cnn(width=4), x, target=2)
    with pytest.raises(ValueError, match="one-dimensional"):
        permute_labels(torch.zeros(2, 3))


def test_guided_backprop_barely_changes_when_the_top_layer_is_randomised_but_the_gradient_does():
    """The paper's finding in miniature: guided backprop acts like an edge detector of the input, so its
    map survives re-initialising the logits layer while the plain gradient's does not (measured rank
    correlation with the original map: guided backprop 0.60, gradient 0.06)."""
    model = tiny_cnn(width=16, hidden=128)
    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 4:12, 6:10] = 1.0  # a bar: edges for an edge detector to find
    x += 0.05 * torch.randn_like(x)
    stages = {m: cascading_randomization(model, x, target=3, method=m) for m in ("guided_backprop", "gradient")}

    def mean_rank_similarity(method, stage):
        return np.mean([similarity(stages[method][0].maps[i], stages[method][stage].maps[i]).spearman_abs
                        for i in range(4)])  # fmt: skip

    guided_top = mean_rank_similarity("guided_backprop", 1)  # logits layer re-initialised
    gradient_top = mean_rank_similarity("gradient", 1)
    assert guided_top > 0.45
    assert gradient_top < 0.2


def test_sanity_checks_script_end_to_end(tmp_path, capsys):
    """Part (a) on 3 digits with two methods, and part (b) on a freshly built pixel agent."""

    import gymnasium as gym
    from sanity_checks import SanityConfig, main

    import envs  # noqa: F401
    from agents.registry import make_agent

    agent = make_agent("bootdqn", gym.make("maxplore/Maze-v0", obs_mode="rgb"), seed=0, device="cpu", n_heads=2)
    agent.save(tmp_path / "agent")
    cfg = SanityConfig(
        methods=["gradient", "gradcam"], epochs=1, random_label_epochs=1, quick=True,
        agent=str(tmp_path / "agent.pt"), out=str(tmp_path), record=str(tmp_path / "r.json"),
    )  # fmt: skip
    record = main(cfg)
    assert "warning: the permuted-label CNN fits only" in capsys.readouterr().out  # one epoch cannot memorise
    assert record["stages"][0] == "original" and len(record["stages"]) == 5  # 4 layers with weights
    assert len(record["blank_maps"]["gradcam"]) == 5
    assert record["test_error"] < 0.5
    for method in ("gradient", "gradcam"):
        first_stage = np.mean(record["cascading"][method]["spearman_abs"][0])
        assert first_stage == pytest.approx(1.0)  # the original map against itself
        untrained = record["untrained_control"][method]["spearman_abs"]  # one score per image, below identity
        assert len(untrained) == 3 and max(untrained) < 0.99
    for name in ("sanity_cascading-quick.png", "sanity_grid-quick.png", "sanity_agent-quick.png", "r.json"):
        assert (tmp_path / name).stat().st_size > 0

"""The normalisation study's data split and model, and one tiny training run."""

import numpy as np
import pytest
import torch
from mnist_subset import load_digits_split
from norm_study import NORM_LABELS, make_cnn, train_once


def test_split_is_fixed_balanced_and_standardised():
    X_train, y_train, X_test, y_test = load_digits_split()
    assert X_train.shape == (4000, 1, 28, 28) and X_test.shape == (1000, 1, 28, 28)
    assert np.array_equal(load_digits_split()[3], y_test)  # the same split every time
    assert set(np.bincount(y_test)) <= set(range(70, 130))  # about 100 per class
    assert abs(float(X_train.mean())) < 0.2


@pytest.mark.parametrize("arch", ["small", "deep", "head"])
@pytest.mark.parametrize("norm", list(NORM_LABELS))
def test_models_classify_28x28_digits(norm, arch):
    if arch == "head" and norm == "instance":
        with pytest.raises(ValueError, match="instance norm is undefined"):
            make_cnn(norm, groups=4, arch=arch)
        return
    model = make_cnn(norm, groups=4, arch=arch)
    logits = model(torch.randn(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    # the deep net's last stage is 3x3: what BatchNorm pools at batch 2 is 18 values per channel
    sizes = []
    pool = next(m for m in model if isinstance(m, torch.nn.AdaptiveAvgPool2d))
    pool.register_forward_pre_hook(lambda _m, args: sizes.append(args[0].shape[-1]))
    model(torch.randn(2, 1, 28, 28))
    assert sizes == [3 if arch == "deep" else 7]


def test_head_normalises_a_feature_vector_per_batch_or_per_sample():
    """BatchNorm on the hidden features depends on the other samples in the batch; GroupNorm does not."""
    x = torch.randn(4, 1, 28, 28)
    for norm, batch_dependent in (("batch", True), ("group", False)):
        torch.manual_seed(0)
        model = make_cnn(norm, groups=4, arch="head").train()
        alone, together = model(x[:2]), model(x)[:2]
        assert torch.allclose(alone, together, atol=1e-5) is not batch_dependent


def test_one_short_training_beats_chance():
    result = train_once({"norm": "batch", "batch_size": 32, "seed": 0, "epochs": 1, "groups": 4, "base_lr": 0.4})
    assert result["test_error"] < 0.7  # chance is 0.9
    assert result["lr"] == pytest.approx(0.4)

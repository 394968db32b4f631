"""Networks the curiosity modules (RND, ICM) build over any observation space SB3's policies take.

Observations arrive as SB3 preprocesses them for its policies (:func:`observation_tensor`): a Discrete state
as a one-hot vector (counted states), a Box as floats, a picture (C, H, W) divided by 255. Pictures go
through the suite's :class:`~agents.encoders.SmallCNN`; vectors through a two-layer MLP.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space, preprocess_obs
from torch import nn

from agents.encoders import SmallCNN


def check_curiosity_space(observation_space: spaces.Space, owner: str) -> None:
    """Raise ``TypeError`` unless ``observation_space`` is Discrete, a Box of vectors or (C, H, W) pictures."""
    if isinstance(observation_space, spaces.Discrete):
        return
    if isinstance(observation_space, spaces.Box) and (
        len(observation_space.shape) == 1 or is_image_space(observation_space, check_channels=False)
    ):
        return
    raise TypeError(
        f"{owner} needs Discrete observations, a 1-D Box or (C, H, W) uint8 pictures; got observation_space="
        f"{observation_space}"
    )


def observation_tensor(observations: torch.Tensor, observation_space: spaces.Space) -> torch.Tensor:
    """SB3's preprocessing of a batch: Discrete -> one-hot (B, n), Box -> float (B, d), pictures -> (B, C, H, W)
    floats in [0, 1]."""
    return preprocess_obs(observations, observation_space, normalize_images=True).float()


def input_dim(observation_space: spaces.Space) -> int:
    """Length of a preprocessed, flattened observation."""
    return int(get_flattened_obs_dim(observation_space))


def observation_body(
    observation_space: spaces.Space, out_dim: int, *, hidden_size: int = 128, norm: str | None = "group"
) -> nn.Module:
    """A network from a preprocessed observation batch to (B, out_dim): :class:`SmallCNN` (``norm``, no final
    ReLU) on pictures, ``Linear-ReLU-Linear-ReLU-Linear`` (``hidden_size`` wide) otherwise."""
    if is_image_space(observation_space, check_channels=False):
        chw = spaces.Box(0.0, 1.0, shape=observation_space.shape, dtype=np.float32)
        cnn = SmallCNN(chw, out_dim, norm=norm)
        cnn.linear = nn.Sequential(cnn.linear[0])  # the raw linear output: features may be negative
        return cnn
    d = input_dim(observation_space)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d, hidden_size), nn.ReLU(), nn.Linear(hidden_size, hidden_size), nn.ReLU(),
        nn.Linear(hidden_size, out_dim),
    )  # fmt: skip

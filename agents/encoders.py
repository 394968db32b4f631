"""A CNN features extractor for small images, with the normalisation layer as a choice.

SB3's NatureCNN needs at least 36x36 inputs (an 8x8 stride-4 first layer). :class:`SmallCNN` works
from 16x16 up: three 3x3 convolutions (strides 2, 2, 1) each followed by a normalisation layer and a
ReLU, an adaptive average pool to 4x4, and a linear layer. Group Normalization is the default
(Wu & He, ECCV 2018): it does not depend on the batch, so a sample's features are the same alone or in
a batch, which matters for RL's small and correlated batches. Use it in the DQN family with
``policy_kwargs={"features_extractor_class": SmallCNN, "features_extractor_kwargs": {"norm": "group"}}``.
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from vision_tools.normalization import make_norm


class SmallCNN(BaseFeaturesExtractor):
    """CNN features for channel-first images of 16x16 pixels and more.

    :param observation_space: a Box of shape (C, H, W) (SB3 transposes HxWxC image envs for you).
    :param features_dim: size of the output features.
    :param norm: ``"group"``, ``"batch"``, ``"layer"``, ``"instance"`` or ``None`` (see
        :func:`vision_tools.normalization.make_norm`).
    :param groups: groups of GroupNorm.
    :param channels: output channels of the three convolutions.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        features_dim: int = 256,
        *,
        norm: str | None = "group",
        groups: int = 8,
        channels: tuple[int, int, int] = (32, 64, 64),
    ) -> None:
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 3:
            raise TypeError(f"SmallCNN needs a (C, H, W) Box observation space, got {observation_space}")
        n_input, height, width = observation_space.shape
        if min(height, width) < 16:
            raise ValueError(f"SmallCNN needs images of at least 16x16, got {height}x{width}")
        super().__init__(observation_space, features_dim)
        c1, c2, c3 = channels
        layers: list[nn.Module] = []
        for c_in, c_out, stride in ((n_input, c1, 2), (c1, c2, 2), (c2, c3, 1)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), make_norm(norm, c_out, groups), nn.ReLU()]
        self.cnn = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.linear = nn.Sequential(nn.Linear(c3 * 16, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, features_dim). SB3 already divides uint8 images by 255."""
        return self.linear(self.cnn(observations))  # (N, features_dim)

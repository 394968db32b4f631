"""A CNN features extractor for small images, with the normalisation layer as a choice.

SB3's NatureCNN needs at least 36x36 inputs (an 8x8 stride-4 first layer). :class:`SmallCNN` works
from 16x16 up: three 3x3 convolutions (strides 2, 2, 1) each followed by a normalisation layer and a
ReLU, an adaptive average pool to 4x4, and a linear layer. Group Normalization is the default
(Wu & He, ECCV 2018): it does not depend on the batch, so a sample's features are the same alone or in
a batch, which matters for RL's small and correlated batches. Use it in the DQN family with
``policy_kwargs={"features_extractor_class": SmallCNN, "features_extractor_kwargs": {"norm": "group"}}``.

:class:`InverseDynamicsEncoder` is the encoder of MAX from pixels: a :class:`SmallCNN` trained only
through a head that tells which action led from one picture to the next; :func:`train_inverse_dynamics`
trains it and :func:`encode_pictures` applies it (MAX from pixels and bonus DQN's feature counts share them).
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn
from torch.nn import functional as F

from vision_tools.normalization import make_norm
from vision_tools.sparse_vd import LinearSVDO, kl_divergence


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


class InverseDynamicsEncoder(nn.Module):
    """phi: (C, H, W) pictures -> features, trained by telling the action between two consecutive pictures.

    Inverse dynamics (Pathak, Agrawal, Efros & Darrell, "Curiosity-driven Exploration by Self-supervised
    Prediction", ICML 2017, section 2.2): the encoder gets gradient only through a head that predicts the
    action ``a`` from ``(phi(o), phi(o'))``, so pixels that do not help tell actions apart (the maze's
    texture, redrawn at every reset) are not kept, while where the agent stands is. MAX from pixels fits its
    forward ensemble and measures disagreement in this feature space, as latent disagreement explorers do
    (Plan2Explore, Sekar et al., ICML 2020).

    :param observation_space: a Box of channel-first (C, H, W) pictures with values in [0, 255], at least
        16 x 16 (SB3 transposes (H, W, C) image envs such as ``maxplore/Maze-v0`` with ``obs_mode="rgb"``).
    :param n_actions: discrete actions the inverse head tells apart.
    :param features_dim: size of the features.
    :param norm: the CNN's normalisation, ``"group"`` (default), ``"batch"``, ``"layer"``, ``"instance"`` or
        ``None`` (:func:`vision_tools.normalization.make_norm`).
    :param channels: output channels of the CNN's three convolutions.
    :param sparse_head: the CNN's last linear layer is a Sparse Variational Dropout layer (Molchanov et al.,
        ICML 2017); its KL term joins the loss with weight ``kl_weight``.
    :param kl_weight: weight of the Sparse VD layer's KL per training sample.
    :param hidden_size: width of the inverse head's hidden layer.
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        n_actions: int,
        *,
        features_dim: int = 32,
        norm: str | None = "group",
        channels: tuple[int, int, int] = (16, 32, 32),
        sparse_head: bool = False,
        kl_weight: float = 1e-4,
        hidden_size: int = 128,
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 3:
            raise TypeError(f"observation_space must be a Box of (C, H, W) pictures, got {observation_space}")
        if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 2:
            raise ValueError(f"n_actions must be an int >= 2, got {n_actions!r}")
        if kl_weight < 0:
            raise ValueError(f"kl_weight must be >= 0, got {kl_weight!r}")
        self.features_dim, self.n_actions, self.kl_weight = features_dim, n_actions, kl_weight
        chw = spaces.Box(0.0, 1.0, shape=observation_space.shape)
        self.cnn = SmallCNN(chw, features_dim, norm=norm, groups=8, channels=channels)
        # the features are the last linear layer's output, without SmallCNN's final ReLU: with it, every
        # feature of the 15 x 15 maze's encoder died (all zero, so no disagreement anywhere)
        head = LinearSVDO(channels[2] * 16, features_dim) if sparse_head else self.cnn.linear[0]
        self.cnn.linear = nn.Sequential(head)
        self.inverse_head = nn.Sequential(
            nn.Linear(2 * features_dim, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_actions)
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) pictures in [0, 255] (any dtype) -> (B, features_dim) features."""
        return self.cnn(observations.float() / 255.0)  # (B, f)

    def action_logits(self, observations: torch.Tensor, next_observations: torch.Tensor) -> torch.Tensor:
        """(B, n_actions) logits of the action taken between two (B, C, H, W) batches of pictures."""
        pair = torch.cat([self(observations), self(next_observations)], -1)  # (B, 2f)
        return self.inverse_head(pair)  # (B, n_actions)

    def loss(self, observations: torch.Tensor, actions: torch.Tensor, next_observations: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the inverse head on pictures (B, C, H, W), actions (B,) and next pictures, plus
        the Sparse VD head's weighted KL (0 without one)."""
        logits = self.action_logits(observations, next_observations)  # (B, n_actions)
        return F.cross_entropy(logits, actions.long()) + self.kl_weight * kl_divergence(self)


def encode_pictures(
    encoder: InverseDynamicsEncoder, pictures: np.ndarray, device: torch.device | str, batch_size: int = 512
) -> torch.Tensor:
    """(B, f) features of (B, C, H, W) pictures in [0, 255], in chunks of ``batch_size``, the encoder in
    evaluation mode (no gradient is kept only if the caller runs under ``torch.no_grad``)."""
    encoder.eval()
    chunks = [encoder(torch.as_tensor(pictures[i : i + batch_size], device=device))
              for i in range(0, len(pictures), batch_size)]  # fmt: skip
    return torch.cat(chunks) if chunks else torch.zeros(0, encoder.features_dim, device=device)


def add_pixel_noise(pictures: torch.Tensor, std: float) -> torch.Tensor:
    """(b, C, H, W) float pictures with Gaussian pixel noise of ``std`` (colour units), clipped to [0, 255]."""
    pictures = pictures.float()
    if std == 0:
        return pictures
    return (pictures + std * torch.randn_like(pictures)).clamp(0.0, 255.0)


def train_inverse_dynamics(
    encoder: InverseDynamicsEncoder,
    optimizer: torch.optim.Optimizer,
    observations: np.ndarray,
    actions: np.ndarray,
    next_observations: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    noise: float,
    rng: np.random.Generator,
    device: torch.device | str,
) -> float:
    """``steps`` inverse-dynamics steps (Pathak et al. 2017) of ``encoder`` on minibatches of ``batch_size``
    transitions drawn with ``rng`` from (N, C, H, W) pictures, (N,) actions and (N, C, H, W) next pictures,
    each picture with fresh pixel noise of std ``noise``; returns the last loss (0 for no steps)."""
    encoder.train()
    loss = torch.zeros(())
    for _ in range(steps):
        index = rng.integers(0, len(observations), size=batch_size)
        # (b, C, H, W) pictures and next pictures, each with fresh pixel noise
        obs, next_obs = (add_pixel_noise(torch.as_tensor(x[index], device=device), noise)
                         for x in (observations, next_observations))  # fmt: skip
        loss = encoder.loss(obs, torch.as_tensor(actions[index], device=device), next_obs)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return float(loss.detach())

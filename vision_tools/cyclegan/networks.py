"""CycleGAN's networks (Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", ICCV 2017), sized for small images on a CPU.

- :class:`ResnetGenerator`: 7x7 stem, ``n_downsampling`` stride-2 convolutions, ``n_blocks`` residual
  blocks, as many transposed convolutions back up, a 7x7 head and ``tanh`` (outputs in [-1, 1]).
  Instance normalisation without affine parameters and reflection padding, as in the reference code.
  The paper used 64 channels and 9 blocks at 256 px; 16 channels and 3 blocks suit 64 px on 2 cores.
- :class:`PatchDiscriminator`: the "70x70 PatchGAN": three stride-2 4x4 convolutions, one stride-1 and a
  1-channel stride-1 output, so every output scores a 70x70 receptive field (a 6x6 map on 64 px).
  It also serves as the guess discriminator, fed a pair of images stacked along channels.
"""

from __future__ import annotations

import torch
from torch import nn


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """The reference initialisation: conv weights ~ N(0, std), biases 0 (applied to every submodule)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ResnetBlock(nn.Module):
    """x + (pad-conv3x3-IN-ReLU-pad-conv3x3-IN)(x): shape-preserving, (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Image-to-image generator of CycleGAN: (B, in_channels, H, W) -> (B, out_channels, H, W) in [-1, 1].

    :param in_channels: channels of the input image.
    :param out_channels: channels of the output image.
    :param channels: channels after the stem; each downsampling doubles them.
    :param n_blocks: residual blocks at the lowest resolution.
    :param n_downsampling: stride-2 stages; H and W must be divisible by ``2 ** n_downsampling``.
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, *, channels: int = 16, n_blocks: int = 3,
        n_downsampling: int = 2,
    ) -> None:  # fmt: skip
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("channels", channels),
                            ("n_blocks", n_blocks), ("n_downsampling", n_downsampling)):  # fmt: skip
            _check_positive(name, value)
        self.stride = 2**n_downsampling
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, channels, 7), nn.InstanceNorm2d(channels), nn.ReLU(True),
        ]  # fmt: skip
        c = channels
        for _ in range(n_downsampling):  # (B, c, H, W) -> (B, 2c, H/2, W/2)
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResnetBlock(c) for _ in range(n_blocks)]
        for _ in range(n_downsampling):  # (B, c, H, W) -> (B, c/2, 2H, 2W)
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(c // 2), nn.ReLU(True)]  # fmt: skip
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] % self.stride or x.shape[-2] % self.stride:
            raise ValueError(f"x must be (B, C, H, W) with H and W divisible by {self.stride}, got {tuple(x.shape)}")
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: (B, in_channels, H, W) -> (B, 1, H', W') raw scores, one per image patch.

    With ``n_layers=3`` each score sees a 70x70 receptive field (H' = H / 8 - 2). The scores are not
    squashed: the least-squares GAN loss compares them with 1 (real) and 0 (fake).

    :param in_channels: channels of the input (6 for a guess discriminator fed two RGB images).
    :param channels: channels of the first layer; each later layer doubles them, up to 8x.
    :param n_layers: stride-2 layers after the first.
    """

    def __init__(self, in_channels: int = 3, channels: int = 16, *, n_layers: int = 3) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("channels", channels), ("n_layers", n_layers)):
            _check_positive(name, value)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(channels * prev, channels * mult, 4, stride=stride, padding=1),
                       nn.InstanceNorm2d(channels * mult), nn.LeakyReLU(0.2, True)]  # fmt: skip
        layers.append(nn.Conv2d(channels * mult, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)
        self.min_size = 3 * 2**n_layers  # n_layers halvings, then two 4x4 stride-1 convolutions need 3 pixels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"x must be (B, C, H, W) with H, W >= {self.min_size}, got {tuple(x.shape)}")
        return self.net(x)

"""Conversions between uint8 pictures (N, H, W, C) in 0..255 and the generators' tensors (N, C, H, W)
in [-1, 1], and from palette-coloured semantic images back to class ids."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float32 in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (N, H, W, C), got {images.dtype} {images.shape}")
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) float in [-1, 1] (clipped) -> (N, H, W, C) uint8, for plots and TensorBoard."""
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    scaled = (images.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5  # (N, C, H, W)
    return scaled.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def palette_classes(images: torch.Tensor, palette: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Class of every pixel: the index of the nearest palette colour.

    :param images: (N, C, H, W) in [-1, 1], e.g. a translation into the semantic domain.
    :param palette: (K, C) colours in 0..255, one per class (e.g. ``envs.maze.SEMANTIC_PALETTE``).
    :returns: (N, H, W) int64 class ids in 0..K-1.
    """
    colours = torch.as_tensor(np.asarray(palette), dtype=torch.float32, device=images.device) / 127.5 - 1.0  # (K, C)
    if colours.ndim != 2 or colours.shape[1] != images.shape[1]:
        raise ValueError(f"palette must be (K, {images.shape[1]}), got {tuple(colours.shape)}")
    pixels = images.permute(0, 2, 3, 1).unsqueeze(-2)  # (N, H, W, 1, C)
    distances = (pixels - colours).square().sum(-1)  # (N, H, W, K)
    return distances.argmin(-1)

"""CycleGAN's losses, and the guess discriminator's pairs (Bashkirova, Usman & Saenko, "Adversarial
Self-Defense for Cycle-Consistent GANs", NeurIPS 2019).

- Least-squares GAN loss (Mao et al. 2017), as in CycleGAN: mean (D(x) - 1)^2 for "real", D(x)^2 for
  "fake"; the discriminator sees real as 1 and fakes as 0, the generator wants its fakes scored 1.
- Cycle and identity losses are mean absolute errors (L1).
- The guess discriminator sees an image and its reconstruction stacked along channels in a random order
  and regresses which of the two comes first: label 1 when the reconstruction is first, 0 when second.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def lsgan_loss(scores: torch.Tensor, target: bool | float | torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the discriminator's ``scores`` (B, 1, H', W') from ``target``.

    :param target: ``True``/1.0 for "real", ``False``/0.0 for "fake", or a (B,) tensor of per-image
        targets (the guess discriminator's labels), broadcast over each image's score map.
    """
    if isinstance(target, torch.Tensor):
        if target.shape != scores.shape[:1]:
            raise ValueError(f"target must hold one value per image, shape {tuple(scores.shape[:1])}, "
                             f"got {tuple(target.shape)}")  # fmt: skip
        target = target.to(scores.dtype).view(-1, *([1] * (scores.ndim - 1))).expand_as(scores)  # (B, 1, H', W')
    else:
        target = torch.full_like(scores, float(target))
    return F.mse_loss(scores, target)


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, the cycle-consistency and identity loss."""
    if output.shape != target.shape:
        raise ValueError(f"output and target must have the same shape, got {tuple(output.shape)} and "
                         f"{tuple(target.shape)}")  # fmt: skip
    return (output - target).abs().mean()


def guess_pairs(
    real: torch.Tensor, reconstruction: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack each image with its reconstruction in a random order, for the guess discriminator.

    :param real: (B, C, H, W) original images.
    :param reconstruction: (B, C, H, W) their cycle reconstructions.
    :param generator: random source of the order (``None``: torch's global one).
    :returns: pairs (B, 2C, H, W) and labels (B,) float, 1.0 where the reconstruction comes first.
    """
    if real.shape != reconstruction.shape:
        raise ValueError(f"real and reconstruction must have the same shape, got {tuple(real.shape)} and "
                         f"{tuple(reconstruction.shape)}")  # fmt: skip
    first_is_rec = torch.randint(0, 2, (real.shape[0],), generator=generator, device="cpu").to(real.device)  # (B,)
    flag = first_is_rec.bool().view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    first = torch.where(flag, reconstruction, real)  # (B, C, H, W)
    second = torch.where(flag, real, reconstruction)  # (B, C, H, W)
    return torch.cat([first, second], dim=1), first_is_rec.to(real.dtype)  # (B, 2C, H, W), (B,)

"""The history of generated images that CycleGAN's discriminators learn from (Shrivastava et al. 2017,
used by Zhu et al. 2017 with 50 images).

Until the pool is full every new image is stored and passed through. Afterwards each new image is, with
probability 1/2, passed through unchanged, and otherwise swapped for a random stored one, which the new
image replaces. The discriminator thus sees a mix of current and past fakes, which damps oscillation.
"""

from __future__ import annotations

import torch


class ImagePool:
    """Buffer of up to ``size`` past generated images.

    :param size: images kept; 0 turns the pool off (``query`` returns its input).
    :param seed: seed of the pool's own random choices (``None``: unseeded).
    """

    def __init__(self, size: int = 50, seed: int | None = None) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a non-negative int, got {size!r}")
        self.size = size
        self.images: list[torch.Tensor] = []  # each (C, H, W), detached
        self._rng = torch.Generator()
        if seed is None:
            self._rng.seed()
        else:
            self._rng.manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) new fakes -> (B, C, H, W) fakes for the discriminator (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self._rng) < 0.5:
                index = int(torch.randint(0, self.size, (), generator=self._rng))
                out.append(self.images[index])
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

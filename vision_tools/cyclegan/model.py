"""CycleGAN with the two self-defences of Bashkirova, Usman & Saenko ("Adversarial Self-Defense for
Cycle-Consistent GANs", NeurIPS 2019).

Domain A is the detailed one (textured pictures), domain B the poor one (semantic maps): A -> B forgets
detail, so a plain CycleGAN learns to hide A's detail as low-amplitude noise in G_AB(a) and to read it
back in G_BA (Chu, Zhmoginov & Sandler 2017). The defences, both off by default:

- ``noise_std``: reconstruct from a noisy translation, G_BA(G_AB(a) + eps) with eps ~ N(0, sigma^2), in
  both cycles and in training only (sigma 0.1 in the paper, in [-1, 1] image units). A code hidden at
  low amplitude no longer survives, so hiding stops paying.
- ``guess_weight``: a guess discriminator per domain sees an image and its reconstruction stacked in a
  random order and learns which is the reconstruction; the generators are trained to fool it (weight
  about 2 in the paper, near the cycle weight). Reconstructions that are too good become suspicious.

Everything else follows CycleGAN (Zhu et al. 2017): least-squares GAN losses, L1 cycle loss weighted 10
per direction, identity loss at half the cycle weight, a pool of 50 past fakes per discriminator, Adam
with lr 2e-4 and beta1 0.5.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from vision_tools.cyclegan.losses import guess_pairs, l1_loss, lsgan_loss
from vision_tools.cyclegan.networks import PatchDiscriminator, ResnetGenerator
from vision_tools.cyclegan.pool import ImagePool


class CycleGAN(nn.Module):
    """Two generators, two PatchGAN discriminators and, with ``guess_weight > 0``, two guess discriminators.

    :param channels_a: channels of domain A's images.
    :param channels_b: channels of domain B's images.
    :param gen_channels: generator channels after the stem (:class:`ResnetGenerator`).
    :param n_blocks: residual blocks per generator.
    :param disc_channels: first-layer channels of every discriminator.
    :param cycle_weight_a: weight of the L1 cycle loss a -> b -> a.
    :param cycle_weight_b: weight of the L1 cycle loss b -> a -> b (``None``: same as ``cycle_weight_a``).
    :param identity_weight: identity loss weight as a fraction of each domain's cycle weight (0.5 in
        CycleGAN; needs ``channels_a == channels_b`` unless 0).
    :param noise_std: defence 1, std of the Gaussian noise added to translations before reconstruction
        during training (0 turns it off; 0.1 in the paper). Never applied in ``eval()`` mode.
    :param guess_weight: defence 2, weight of the generators' loss against the guess discriminators
        (0 turns it off; about 2 in the paper).
    :param pool_size: past fakes kept per discriminator (:class:`ImagePool`).
    :param lr: Adam learning rate of generators and discriminators.
    :param beta1: Adam's first-moment decay.
    :param seed: seeds the weights, the noise, the guess order and the pools (``None``: unseeded).
    :param device: where the networks live; inputs are moved there.
    """

    def __init__(
        self,
        channels_a: int = 3,
        channels_b: int = 3,
        *,
        gen_channels: int = 16,
        n_blocks: int = 3,
        disc_channels: int = 16,
        cycle_weight_a: float = 10.0,
        cycle_weight_b: float | None = None,
        identity_weight: float = 0.5,
        noise_std: float = 0.0,
        guess_weight: float = 0.0,
        pool_size: int = 50,
        lr: float = 2e-4,
        beta1: float = 0.5,
        seed: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        cycle_weight_b = cycle_weight_a if cycle_weight_b is None else cycle_weight_b
        for name, value in (("cycle_weight_a", cycle_weight_a), ("cycle_weight_b", cycle_weight_b),
                            ("identity_weight", identity_weight), ("noise_std", noise_std),
                            ("guess_weight", guess_weight), ("lr", lr)):  # fmt: skip
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if identity_weight > 0 and channels_a != channels_b:
            raise ValueError(f"identity_weight must be 0 when channels_a ({channels_a}) != channels_b ({channels_b})")
        if not 0 <= beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
        self.cycle_weight_a, self.cycle_weight_b = float(cycle_weight_a), float(cycle_weight_b)
        self.identity_weight = float(identity_weight)
        self.noise_std = float(noise_std)
        self.guess_weight = float(guess_weight)
        self._rng = torch.Generator()  # the defences' noise and the guess order
        if seed is None:
            self._rng.seed()
        else:
            self._rng.manual_seed(seed)
            torch.manual_seed(seed)  # the weights' initialisation
        gen = {"channels": gen_channels, "n_blocks": n_blocks}
        self.g_ab = ResnetGenerator(channels_a, channels_b, **gen)
        self.g_ba = ResnetGenerator(channels_b, channels_a, **gen)
        self.d_a = PatchDiscriminator(channels_a, disc_channels)
        self.d_b = PatchDiscriminator(channels_b, disc_channels)
        # guess discriminators see (image, reconstruction) pairs stacked along channels
        self.guess_a = PatchDiscriminator(2 * channels_a, disc_channels) if guess_weight > 0 else None
        self.guess_b = PatchDiscriminator(2 * channels_b, disc_channels) if guess_weight > 0 else None
        pool_seeds = (None, None) if seed is None else (seed + 1, seed + 2)
        self.pool_a = ImagePool(pool_size, seed=pool_seeds[0])  # past G_BA outputs, for d_a
        self.pool_b = ImagePool(pool_size, seed=pool_seeds[1])  # past G_AB outputs, for d_b
        self.to(device)
        self.optimizer_g = torch.optim.Adam(
            itertools.chain(self.g_ab.parameters(), self.g_ba.parameters()), lr=lr, betas=(beta1, 0.999)
        )
        self.optimizer_d = torch.optim.Adam(self.discriminators().parameters(), lr=lr, betas=(beta1, 0.999))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def discriminators(self) -> nn.ModuleList:
        """The discriminators this model trains: d_a, d_b and the guess discriminators when on."""
        return nn.ModuleList(d for d in (self.d_a, self.d_b, self.guess_a, self.guess_b) if d is not None)

    def _perturb(self, translation: torch.Tensor) -> torch.Tensor:
        """Defence 1: add N(0, noise_std^2) to a translation in training mode; identity in eval mode."""
        if not self.training or self.noise_std == 0:
            return translation
        noise = torch.randn(translation.shape, generator=self._rng).to(translation.device)  # (B, C, H, W)
        return translation + self.noise_std * noise

    def forward(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both cycles: translations ``fake_b`` = G_AB(a), ``fake_a`` = G_BA(b) and reconstructions
        ``rec_a`` = G_BA(fake_b [+ noise]), ``rec_b`` = G_AB(fake_a [+ noise]); all (B, C, H, W)."""
        fake_b = self.g_ab(real_a)  # (B, Cb, H, W)
        fake_a = self.g_ba(real_b)  # (B, Ca, H, W)
        rec_a = self.g_ba(self._perturb(fake_b))  # (B, Ca, H, W)
        rec_b = self.g_ab(self._perturb(fake_a))  # (B, Cb, H, W)
        return {"fake_b": fake_b, "rec_a": rec_a, "fake_a": fake_a, "rec_b": rec_b}

    def training_step(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, float]:
        """One Adam step of the generators, then one of the discriminators, on unpaired batches.

        :param real_a: (B, Ca, H, W) images of domain A in [-1, 1].
        :param real_b: (B, Cb, H, W) images of domain B in [-1, 1].
        :returns: every loss term as a float (``g/...`` generator terms, ``d/...`` discriminator losses).
        """
        self.train()
        real_a, real_b = real_a.to(self.device), real_b.to(self.device)
        discriminators = self.discriminators()
        # --- generators, with the discriminators frozen
        discriminators.requires_grad_(False)
        out = self(real_a, real_b)
        terms = {
            "g/gan_ab": lsgan_loss(self.d_b(out["fake_b"]), True),
            "g/gan_ba": lsgan_loss(self.d_a(out["fake_a"]), True),
            "g/cycle_a": self.cycle_weight_a * l1_loss(out["rec_a"], real_a),
            "g/cycle_b": self.cycle_weight_b * l1_loss(out["rec_b"], real_b),
        }
        if self.identity_weight > 0:
            terms["g/identity_a"] = self.identity_weight * self.cycle_weight_a * l1_loss(self.g_ba(real_a), real_a)
            terms["g/identity_b"] = self.identity_weight * self.cycle_weight_b * l1_loss(self.g_ab(real_b), real_b)
        pairs = {}
        if self.guess_a is not None and self.guess_b is not None:
            pairs["a"] = guess_pairs(real_a, out["rec_a"], self._rng)  # (B, 2Ca, H, W), (B,)
            pairs["b"] = guess_pairs(real_b, out["rec_b"], self._rng)  # (B, 2Cb, H, W), (B,)
            # fool them: the generators want the opposite of the true order guessed
            terms["g/guess"] = self.guess_weight * (
                lsgan_loss(self.guess_a(pairs["a"][0]), 1 - pairs["a"][1])
                + lsgan_loss(self.guess_b(pairs["b"][0]), 1 - pairs["b"][1])
            )
        loss_g = sum(terms.values())
        self.optimizer_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizer_g.step()
        # --- discriminators: real images vs pooled fakes; guess discriminators on the detached pairs
        discriminators.requires_grad_(True)
        fake_a, fake_b = self.pool_a.query(out["fake_a"]), self.pool_b.query(out["fake_b"])
        d_terms = {
            "d/a": 0.5 * (lsgan_loss(self.d_a(real_a), True) + lsgan_loss(self.d_a(fake_a), False)),
            "d/b": 0.5 * (lsgan_loss(self.d_b(real_b), True) + lsgan_loss(self.d_b(fake_b), False)),
        }
        if pairs:
            d_terms["d/guess"] = 0.5 * (
                lsgan_loss(self.guess_a(pairs["a"][0].detach()), pairs["a"][1])
                + lsgan_loss(self.guess_b(pairs["b"][0].detach()), pairs["b"][1])
            )
        self.optimizer_d.zero_grad(set_to_none=True)
        sum(d_terms.values()).backward()
        self.optimizer_d.step()
        logs = {name: float(value.detach()) for name, value in {**terms, **d_terms}.items()}
        logs["g/total"] = float(loss_g.detach())
        return logs

    @torch.no_grad()
    def translate_ab(self, images: torch.Tensor) -> torch.Tensor:
        """G_AB in eval mode: (B, Ca, H, W) -> (B, Cb, H, W) on the model's device."""
        self.eval()
        return self.g_ab(images.to(self.device))

    @torch.no_grad()
    def translate_ba(self, images: torch.Tensor) -> torch.Tensor:
        """G_BA in eval mode: (B, Cb, H, W) -> (B, Ca, H, W) on the model's device."""
        self.eval()
        return self.g_ba(images.to(self.device))

"""Training loop of :class:`~vision_tools.cyclegan.model.CycleGAN` on two unpaired image sets, with the
reference schedule (constant learning rate, then linear decay to 0), TensorBoard scalars and image
strips, and an optional progress bar."""

from __future__ import annotations

import logging

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import trange

from vision_tools.cyclegan.model import CycleGAN

logger = logging.getLogger(__name__)


def image_strip(*rows: torch.Tensor) -> torch.Tensor:
    """Rows of (n, C, H, W) images in [-1, 1] -> one (C, rows * H, n * W) image in [0, 1] for TensorBoard."""
    lines = [torch.cat(list(row.detach().cpu().clamp(-1, 1)), dim=-1) for row in rows]  # each (C, H, n * W)
    return (torch.cat(lines, dim=-2) + 1) / 2


def fit(
    model: CycleGAN,
    images_a: torch.Tensor,
    images_b: torch.Tensor,
    steps: int,
    *,
    batch_size: int = 4,
    decay_from: float = 0.5,
    seed: int = 0,
    writer: SummaryWriter | None = None,
    log_every: int = 25,
    image_every: int = 250,
    progress_bar: bool = False,
) -> list[dict[str, float]]:
    """Train ``model`` for ``steps`` steps on random, independent batches of the two domains.

    :param model: the CycleGAN to train (its optimisers are used as they are).
    :param images_a: (N_a, Ca, H, W) domain-A images in [-1, 1].
    :param images_b: (N_b, Cb, H, W) domain-B images in [-1, 1]; never paired with ``images_a``.
    :param steps: optimisation steps (each one generator and one discriminator update).
    :param batch_size: images per domain per step (CycleGAN used 1).
    :param decay_from: fraction of ``steps`` after which the learning rate decays linearly to 0.
    :param seed: seed of the batch sampling.
    :param writer: TensorBoard writer for scalars (``cyclegan/...``) and image strips (``None``: none).
    :param log_every: steps between scalar logs.
    :param image_every: steps between image strips (input, translation, reconstruction per domain).
    :param progress_bar: show a tqdm progress bar.
    :returns: the losses of every step.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    if not 0 <= decay_from <= 1:
        raise ValueError(f"decay_from must be in [0, 1], got {decay_from!r}")
    for name, images in (("images_a", images_a), ("images_b", images_b)):
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(f"{name} must be a non-empty (N, C, H, W) tensor, got shape {tuple(images.shape)}")
    decay_start = int(decay_from * steps)

    def lr_factor(step: int) -> float:
        return 1.0 if step < decay_start else max(0.0, 1.0 - (step - decay_start) / max(1, steps - decay_start))

    schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, lr_factor) for opt in (model.optimizer_g, model.optimizer_d)]
    rng = torch.Generator().manual_seed(seed)
    preview_a, preview_b = images_a[:4], images_b[:4]
    history = []
    for step in trange(steps, desc="cyclegan", disable=not progress_bar, leave=False):
        index_a = torch.randint(0, len(images_a), (batch_size,), generator=rng)  # (B,)
        index_b = torch.randint(0, len(images_b), (batch_size,), generator=rng)  # (B,), independent of index_a
        logs = model.training_step(images_a[index_a], images_b[index_b])
        history.append(logs)
        for scheduler in schedulers:
            scheduler.step()
        if writer is not None and (step % log_every == 0 or step == steps - 1):
            for name, value in logs.items():
                writer.add_scalar(f"cyclegan/{name}", value, step)
            writer.add_scalar("cyclegan/lr", model.optimizer_g.param_groups[0]["lr"], step)
        if writer is not None and (step % image_every == 0 or step == steps - 1):
            model.eval()
            with torch.no_grad():
                out = model(preview_a.to(model.device), preview_b.to(model.device))
            writer.add_image("cycle_a/input-translation-reconstruction",
                             image_strip(preview_a, out["fake_b"], out["rec_a"]), step)  # fmt: skip
            writer.add_image("cycle_b/input-translation-reconstruction",
                             image_strip(preview_b, out["fake_a"], out["rec_b"]), step)  # fmt: skip
    logger.info("trained %d steps, final cycle_a %.4f", steps, history[-1]["g/cycle_a"])
    return history

"""Measures that expose information hidden in a translation (Bashkirova, Usman & Saenko, NeurIPS 2019;
Chu, Zhmoginov & Sandler 2017), and the semantic accuracy of a translation.

All errors are mean absolute errors in [-1, 1] image units, the unit of CycleGAN's L1 cycle loss.

- Noise sensitivity: reconstruction error of backward(forward(x) + eps), eps ~ N(0, std^2), over several
  stds. An honest translator degrades gently; one that reads a low-amplitude hidden code back collapses
  as soon as the noise reaches the code's amplitude.
- Honesty gap: cycle reconstruction error of the detailed domain minus the error of a supervised
  predictor that maps the *true* poor-domain image back to the detailed one (trained on true pairs).
  The poor domain does not determine the detail, so no honest translator can beat the predictor by
  much; a negative gap means the detail travelled through the translation, hidden.
- Per-class IoU of the translation into the semantic domain, read out by nearest palette colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import trange

from vision_tools.cyclegan.losses import l1_loss

Translator = Callable[[torch.Tensor], torch.Tensor]


def _batches(n: int, batch_size: int) -> list[slice]:
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


@torch.no_grad()
def paired_errors(
    predict: Translator, inputs: torch.Tensor, targets: torch.Tensor, *, batch_size: int = 64
) -> torch.Tensor:
    """Per-image mean absolute error of ``predict(inputs)`` against ``targets``: (N,) on the CPU.

    :param predict: a translation (b, C, H, W) -> (b, C', H, W), called on batches of ``batch_size``.
    :param inputs: (N, C, H, W) inputs in [-1, 1].
    :param targets: (N, C', H, W) the expected outputs in [-1, 1].
    """
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets must be paired, got {len(inputs)} and {len(targets)}")
    errors = [(predict(inputs[part]).cpu() - targets[part].cpu()).abs().flatten(1).mean(1)  # (b,)
              for part in _batches(len(inputs), batch_size)]  # fmt: skip
    return torch.cat(errors)


def reconstruction_errors(
    forward: Translator, backward: Translator, images: torch.Tensor, *, noise_std: float = 0.0, seed: int = 0,
    batch_size: int = 64,
) -> torch.Tensor:  # fmt: skip
    """Per-image mean absolute error of ``backward(forward(images) + noise)`` against ``images``.

    :param forward: translation out of the images' domain, (N, C, H, W) -> (N, C', H, W).
    :param backward: translation back, (N, C', H, W) -> (N, C, H, W).
    :param images: (N, C, H, W) in [-1, 1].
    :param noise_std: std of the Gaussian noise added to the translation (0: none).
    :param seed: seed of the noise.
    :param batch_size: images per forward pass.
    :returns: (N,) errors on the CPU.
    """
    translations = _translate(forward, images, batch_size)  # (N, C', H, W)
    return _errors_after_noise(translations, backward, images, noise_std, seed, batch_size)


@torch.no_grad()
def _translate(forward: Translator, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``forward`` over ``images`` in batches: (N, C, H, W) -> (N, C', H, W) on forward's device."""
    return torch.cat([forward(images[part]) for part in _batches(len(images), batch_size)])


def _errors_after_noise(
    translations: torch.Tensor, backward: Translator, images: torch.Tensor, noise_std: float, seed: int,
    batch_size: int,
) -> torch.Tensor:  # fmt: skip
    """(N,) errors of ``backward(translations + noise)`` against ``images``, noise drawn batch by batch."""
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
    rng = torch.Generator().manual_seed(seed)

    def cycle(translation: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(translation.shape, generator=rng).to(translation.device)  # (b, C', H, W)
        return backward(translation + noise_std * noise)  # (b, C, H, W)

    return paired_errors(cycle, translations, images, batch_size=batch_size)


def noise_sensitivity(
    forward: Translator, backward: Translator, images: torch.Tensor, stds: Sequence[float], *, seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:  # fmt: skip
    """Mean reconstruction error for each noise std in ``stds``: the sensitivity curve, shape (len(stds),).

    The images are translated once; each std then gets the noise :func:`reconstruction_errors` would draw.
    """
    translations = _translate(forward, images, batch_size)  # (N, C', H, W)
    return np.array([float(_errors_after_noise(translations, backward, images, s, seed, batch_size).mean())
                     for s in stds])  # fmt: skip


def fit_supervised(
    predictor: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, steps: int, *, batch_size: int = 8,
    lr: float = 2e-4, seed: int = 0, progress_bar: bool = False,
) -> list[float]:  # fmt: skip
    """Train ``predictor`` to map ``inputs`` to their paired ``targets`` with the L1 loss (Adam, beta1 0.5).

    The honest reference of :func:`honesty_gap`: with the poor domain as input and the detailed one as
    target, its error is what an image can tell about its detailed counterpart without hidden help.

    :param predictor: a network (N, C, H, W) -> (N, C', H, W), e.g. a ``ResnetGenerator``.
    :param inputs: (N, C, H, W) inputs in [-1, 1].
    :param targets: (N, C', H, W) the paired targets in [-1, 1].
    :param steps: Adam steps on random batches.
    :returns: the loss of every step.
    """
    if len(inputs) != len(targets) or len(inputs) == 0:
        raise ValueError(f"inputs and targets must be paired and non-empty, got {len(inputs)} and {len(targets)}")
    device = next(predictor.parameters()).device
    optimizer = torch.optim.Adam(predictor.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(seed)
    predictor.train()
    losses = []
    for _ in trange(steps, desc="supervised", disable=not progress_bar, leave=False):
        index = torch.randint(0, len(inputs), (batch_size,), generator=rng)  # (B,)
        loss = l1_loss(predictor(inputs[index].to(device)), targets[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    predictor.eval()
    return losses


@torch.no_grad()
def honesty_gap(
    forward: Translator, backward: Translator, predictor: Translator, images_a: torch.Tensor, images_b: torch.Tensor
) -> dict[str, float]:
    """Cycle reconstruction error of domain A minus a supervised predictor's error from the true B image.

    :param forward: A -> B translation (the many-to-one direction).
    :param backward: B -> A translation.
    :param predictor: supervised B -> A predictor trained on true pairs (:func:`fit_supervised`).
    :param images_a: (N, Ca, H, W) domain-A images.
    :param images_b: (N, Cb, H, W) their true counterparts in domain B (paired with ``images_a``).
    :returns: ``reconstruction`` (cycle error), ``supervised`` (predictor's error) and ``gap`` (their
        difference; below 0 means the cycle reconstructs detail the poor domain does not hold).
    """
    if len(images_a) != len(images_b):
        raise ValueError(f"images_a and images_b must be paired, got {len(images_a)} and {len(images_b)}")
    cycle = float(reconstruction_errors(forward, backward, images_a).mean())
    supervised = float(paired_errors(predictor, images_b, images_a).mean())
    return {"reconstruction": cycle, "supervised": supervised, "gap": cycle - supervised}


def per_class_iou(
    predicted: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, n_classes: int
) -> np.ndarray:
    """Intersection over union of every class: (n_classes,), NaN for a class absent from both maps.

    :param predicted: integer class ids of any shape.
    :param target: the true class ids, same shape.
    :param n_classes: classes 0..n_classes-1.
    """
    predicted, target = np.asarray(predicted).ravel(), np.asarray(target).ravel()
    if predicted.shape != target.shape:
        raise ValueError(f"predicted and target must have the same size, got {predicted.size} and {target.size}")
    confusion = np.bincount(target * n_classes + predicted, minlength=n_classes**2).reshape(n_classes, n_classes)
    intersection = np.diag(confusion).astype(float)  # (K,)
    union = confusion.sum(0) + confusion.sum(1) - intersection  # (K,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, np.nan)

"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018): does a map change when the model does?

- :func:`cascading_randomization`: re-initialise the layers from the output downwards, one more at each
  stage (in true forward order, found by running the model once), and recompute the maps.
- :func:`independent_randomization`: re-initialise one layer at a time.
- :func:`data_randomization`: compare the maps of a model trained on the true labels with those of the
  same architecture trained on permuted labels (:func:`permute_labels`) until it fits them.
- Similarity of two maps (:func:`similarity`): Spearman rank correlation of the absolute and of the
  signed maps, SSIM, and the correlation of HOG features. The paper's text says Pearson for HOG, its
  code used Spearman; Spearman is the default here, ``hog_method="pearson"`` gives the other.
  Maps are normalised first (:func:`normalize_map`): summed over channels, clipped at the 99th
  percentile of their magnitude, and scaled to [0, 1] (absolute) or [-1, 1] (signed).
- :func:`random_map_control`: what two unrelated maps score, the "no similarity" level.

Every randomisation works on a deep copy; the caller's model is never modified.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vision_tools.saliency import call_order, saliency


def normalize_map(attribution: np.ndarray | torch.Tensor, *, absolute: bool = True) -> np.ndarray:
    """(C, H, W) or (H, W) attribution -> (H, W) map: channel sum (of |a| if ``absolute``), clipped at the
    99th percentile of its magnitude, scaled to [0, 1] (absolute) or [-1, 1] (signed)."""
    a = np.asarray(attribution.detach().cpu() if isinstance(attribution, torch.Tensor) else attribution, float)
    if a.ndim == 3:
        a = np.abs(a).sum(0) if absolute else a.sum(0)
    elif absolute:
        a = np.abs(a)
    cap = np.percentile(np.abs(a), 99)
    if cap <= 0:
        return np.zeros_like(a)
    return np.clip(a, -cap, cap) / cap


@dataclass
class Similarity:
    spearman_abs: float
    spearman_signed: float
    ssim: float
    hog: float


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def hog_features(image: np.ndarray) -> np.ndarray:
    """HOG descriptor of a 2-d map (cells of 4x4 pixels, 9 orientations)."""
    from skimage.feature import hog

    return hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), feature_vector=True)


def similarity(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, *, hog_method: str = "spearman"
) -> Similarity:
    """Compare two attributions of the same input (each (C, H, W) or (H, W))."""
    from scipy.stats import pearsonr
    from skimage.metrics import structural_similarity

    if hog_method not in ("spearman", "pearson"):
        raise ValueError(f"hog_method must be 'spearman' or 'pearson', got {hog_method!r}")
    abs_a, abs_b = normalize_map(a), normalize_map(b)
    signed_a, signed_b = normalize_map(a, absolute=False), normalize_map(b, absolute=False)
    ssim = float(structural_similarity(abs_a, abs_b, data_range=1.0))
    h_a, h_b = hog_features(abs_a), hog_features(abs_b)
    if hog_method == "spearman":
        hog = _rank_corr(h_a, h_b)
    else:
        hog = float(pearsonr(h_a, h_b).statistic) if np.ptp(h_a) and np.ptp(h_b) else float(np.array_equal(h_a, h_b))
    return Similarity(_rank_corr(abs_a, abs_b), _rank_corr(signed_a, signed_b), ssim, hog)


def random_map_control(shape: tuple[int, ...], *, pairs: int = 20, seed: int = 0) -> Similarity:
    """Mean similarity of ``pairs`` pairs of independent Gaussian maps: the "no similarity" level."""
    rng = np.random.default_rng(seed)
    scores = [similarity(rng.normal(size=shape), rng.normal(size=shape)) for _ in range(pairs)]
    return Similarity(*(float(np.mean([getattr(s, f) for s in scores])) for f in Similarity.__dataclass_fields__))


def layers_in_forward_order(model: nn.Module, inputs: torch.Tensor) -> list[str]:
    """Names of the modules that own parameters directly, in the order one forward pass calls them."""
    probe = copy.deepcopy(model).eval()  # the caller's model keeps its mode and has no hooks added
    names = {m: n for n, m in probe.named_modules()}
    owners = [m for m in probe.modules() if any(True for _ in m.parameters(recurse=False))]
    return list(dict.fromkeys(names[m] for m in call_order(probe, inputs, owners)))  # first call of each


def _reinitialise(model: nn.Module, name: str, generator_seed: int) -> None:
    module = dict(model.named_modules())[name]
    if not hasattr(module, "reset_parameters"):
        raise ValueError(f"layer {name!r} has no reset_parameters()")
    torch.manual_seed(generator_seed)
    module.reset_parameters()


@dataclass
class RandomizationStage:
    randomized: list[str]  # layers re-initialised at this stage ([] for the original model)
    maps: torch.Tensor  # attributions, shaped like the inputs


def cascading_randomization(
    model: nn.Module, inputs: torch.Tensor, target, method: str = "gradient", *, seed: int = 0, **opts
) -> list[RandomizationStage]:
    """Maps of the original model, then with the top 1, 2, ... layers re-initialised (output first)."""
    order = layers_in_forward_order(model, inputs)
    stages = [RandomizationStage([], saliency(model, inputs, target, method, **opts))]
    work = copy.deepcopy(model)
    for k, name in enumerate(reversed(order)):
        _reinitialise(work, name, seed + k)
        stages.append(
            RandomizationStage(list(reversed(order))[: k + 1], saliency(work, inputs, target, method, **opts))
        )
    return stages


def independent_randomization(
    model: nn.Module, inputs: torch.Tensor, target, method: str = "gradient", *, seed: int = 0, **opts
) -> list[RandomizationStage]:
    """Maps with exactly one layer re-initialised, for each layer in forward order."""
    stages = []
    for k, name in enumerate(layers_in_forward_order(model, inputs)):
        work = copy.deepcopy(model)
        _reinitialise(work, name, seed + k)
        stages.append(RandomizationStage([name], saliency(work, inputs, target, method, **opts)))
    return stages


def permute_labels(labels: torch.Tensor | np.ndarray, *, seed: int = 0) -> torch.Tensor:
    """The training labels in a random order (seeded): each image keeps a label from the same marginal
    distribution, but no relation to its content, the data randomisation test's training set."""
    y = torch.as_tensor(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {tuple(y.shape)}")
    order = torch.as_tensor(np.random.default_rng(seed).permutation(len(y)))
    return y[order]


@dataclass
class DataRandomization:
    original: torch.Tensor  # maps of the model trained on the true labels, shaped like the inputs
    permuted: torch.Tensor  # maps of the same architecture trained on permuted labels
    scores: list[Similarity]  # one per input


def data_randomization(
    model: nn.Module,
    permuted_model: nn.Module,
    inputs: torch.Tensor,
    target,
    method: str = "gradient",
    *,
    hog_method: str = "spearman",
    original: torch.Tensor | None = None,
    **opts,
) -> DataRandomization:
    """Maps of ``model`` (trained on true labels) and ``permuted_model`` (the same architecture trained on
    :func:`permute_labels`) for the same inputs and targets, and their similarity per input.

    :param original: ``model``'s maps for these inputs if already computed (e.g. the first stage of
        :func:`cascading_randomization`); computed here otherwise.
    """
    shapes = [tuple(p.shape) for p in model.parameters()]
    if type(model) is not type(permuted_model) or shapes != [tuple(p.shape) for p in permuted_model.parameters()]:
        raise ValueError("permuted_model must have model's architecture (same class and parameter shapes)")
    if original is None:
        original = saliency(model, inputs, target, method, **opts)
    elif original.shape[0] != len(inputs):
        raise ValueError(f"original must hold one map per input ({len(inputs)}), got {original.shape[0]}")
    permuted = saliency(permuted_model, inputs, target, method, **opts)
    scores = [similarity(original[i], permuted[i], hog_method=hog_method) for i in range(len(inputs))]
    return DataRandomization(original, permuted, scores)

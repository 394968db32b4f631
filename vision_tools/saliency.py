"""Saliency maps for image classifiers and Q-networks, on Captum's attribution classes.

The methods and defaults follow Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018):
gradient, gradient x input, integrated gradients (zero baseline, 50 steps), guided backprop, GradCAM,
guided GradCAM (guided backprop times upsampled GradCAM), SmoothGrad over the gradient and over
integrated gradients (noise std 0.15 x (max - min) of the input, 50 samples), and VarGrad (the variance
of the gradient under the same noise).

Every method works on a copy of the model whose ReLUs are not in place (guided backprop and Captum's
hooks need that); the caller's model is never modified. For a Q-network, ``target`` is the action.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

METHODS = (
    "gradient",
    "gradient_x_input",
    "integrated_gradients",
    "guided_backprop",
    "gradcam",
    "guided_gradcam",
    "smoothgrad",
    "smoothgrad_ig",
    "vargrad",
)


def without_inplace_relu(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with every ``nn.ReLU(inplace=True)`` made out of place."""
    clone = copy.deepcopy(model).eval()
    for module in clone.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return clone


def last_conv(model: nn.Module) -> nn.Module:
    """The last ``nn.Conv2d`` of ``model`` in registration order: GradCAM's default layer."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("GradCAM needs a convolutional layer: pass layer= or use another method")
    return convs[-1]


def saliency(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    method: str = "gradient",
    *,
    layer: nn.Module | None = None,
    n_steps: int = 50,
    n_samples: int = 50,
    noise_fraction: float = 0.15,
    baseline: torch.Tensor | None = None,
) -> torch.Tensor:
    """Saliency of ``target`` (class or action index, per sample or shared) w.r.t. ``inputs``.

    :param model: any module mapping (N, ...) inputs to (N, classes) scores (a classifier's logits, a
        Q-network's action values).
    :param inputs: (N, C, H, W) (or any shape the model takes).
    :param target: the output index to explain: an int, or (N,) indices.
    :param method: one of ``METHODS``.
    :param layer: GradCAM's layer, in ``model`` (default: its last ``Conv2d``).
    :param n_steps: integration steps of integrated gradients (50, as the paper).
    :param n_samples: noisy samples of SmoothGrad and VarGrad (50).
    :param noise_fraction: SmoothGrad noise std as a fraction of (max - min) of each input (0.15).
    :param baseline: integrated gradients' baseline (zeros by default).
    :return: attributions shaped like ``inputs`` (GradCAM: upsampled to the input's H x W, one channel).
    """
    from captum.attr import (
        GuidedBackprop,
        GuidedGradCam,
        InputXGradient,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Saliency,
    )

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    net = without_inplace_relu(model)
    if layer is not None:  # find the caller's layer inside the copy by its name
        names = {id(m): n for n, m in model.named_modules()}
        if id(layer) not in names:
            raise ValueError("layer must be a module of model")
        layer = dict(net.named_modules())[names[id(layer)]]
    x = inputs.detach().clone().requires_grad_(True)
    if baseline is None:
        baseline = torch.zeros_like(x)
    span = (x.detach().flatten(1).amax(1) - x.detach().flatten(1).amin(1)).clamp_min(1e-12)  # (N,)
    stdevs = float(noise_fraction * span.mean())

    if method == "gradient":
        return Saliency(net).attribute(x, target=target, abs=False).detach()
    if method == "gradient_x_input":
        return InputXGradient(net).attribute(x, target=target).detach()
    if method == "integrated_gradients":
        return IntegratedGradients(net).attribute(x, baselines=baseline, target=target, n_steps=n_steps).detach()
    if method == "guided_backprop":
        return GuidedBackprop(net).attribute(x, target=target).detach()
    if method in ("gradcam", "guided_gradcam"):
        conv = layer if layer is not None else last_conv(net)
        if method == "guided_gradcam":
            return GuidedGradCam(net, conv).attribute(x, target=target).detach()
        cam = LayerGradCam(net, conv).attribute(x, target=target, relu_attributions=True)  # (N, 1, h, w)
        return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear").detach()
    if method == "smoothgrad":
        tunnel = NoiseTunnel(Saliency(net))
        return tunnel.attribute(x, nt_type="smoothgrad", nt_samples=n_samples, stdevs=stdevs, target=target,
                                abs=False).detach()  # fmt: skip
    if method == "smoothgrad_ig":
        tunnel = NoiseTunnel(IntegratedGradients(net))
        return tunnel.attribute(
            x, nt_type="smoothgrad", nt_samples=n_samples, stdevs=stdevs, target=target, baselines=baseline,
            n_steps=n_steps, internal_batch_size=len(x) * n_steps,
        ).detach()  # fmt: skip
    tunnel = NoiseTunnel(Saliency(net))  # vargrad
    return tunnel.attribute(x, nt_type="vargrad", nt_samples=n_samples, stdevs=stdevs, target=target,
                            abs=False).detach()  # fmt: skip

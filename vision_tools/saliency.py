"""Saliency maps for image classifiers and Q-networks, on Captum's attribution classes.

The methods and defaults follow Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018):
gradient, gradient x input, integrated gradients (zero baseline, 50 steps), guided backprop, GradCAM,
guided GradCAM (guided backprop times upsampled GradCAM), SmoothGrad over the gradient and over
integrated gradients (noise std 0.15 x (max - min) of the input, 50 samples), and VarGrad (the variance
of the gradient under the same noise).

GradCAM (Selvaraju et al., ICCV 2017) weights the rectified feature maps of the last convolution (the
output of the ReLU that follows it, the authors' ``hidden2_hconv_act`` on MNIST) by their spatially averaged
gradients, sums them and keeps the positive part. ``cam_offset`` adds a constant before that ReLU: 0 is
GradCAM as published; 1 is what the sanity-check authors' code computed (the ``saliency`` package's
GradCam starts its sum from ones), which makes the map nearly uniform wherever the weighted sum is small
next to 1, and guided GradCAM then a copy of guided backprop.

Every method works on a copy of the model whose ReLUs are not in place (guided backprop and Captum's
hooks need that); the caller's model is never modified. For a Q-network, ``target`` is the action.
"""

from __future__ import annotations

import copy
import math

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


NORMALIZATIONS = (nn.BatchNorm2d, nn.SyncBatchNorm, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def call_order(model: nn.Module, inputs: torch.Tensor, modules: list[nn.Module] | None = None) -> list[nn.Module]:
    """The ``modules`` (default: every leaf module) in the order one forward pass of ``inputs[:1]`` calls
    them, a module called twice listed twice. Runs ``model`` under ``no_grad`` as it is: pass a copy in
    eval mode when it has running statistics."""
    watched = modules if modules is not None else [m for m in model.modules() if not any(True for _ in m.children())]
    calls: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: calls.append(mod)) for m in watched]
    try:
        with torch.no_grad():
            model(inputs[:1])
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def gradcam_layer(model: nn.Module, inputs: torch.Tensor) -> nn.Module:
    """GradCAM's default layer: the ``nn.ReLU`` that one forward pass calls right after the last ``nn.Conv2d``
    and any normalisation layers behind it (the rectified feature maps), or that convolution itself when no
    ReLU module of its own follows it."""
    calls = call_order(model, inputs)
    conv_at = [i for i, m in enumerate(calls) if isinstance(m, nn.Conv2d)]
    if not conv_at:
        raise ValueError("GradCAM needs a convolutional layer: pass layer= or use another method")
    after = conv_at[-1] + 1
    while after < len(calls) and isinstance(calls[after], NORMALIZATIONS):  # conv -> norm -> ReLU
        after += 1
    relu = calls[after] if after < len(calls) else None
    if isinstance(relu, nn.ReLU) and calls.count(relu) == 1:  # a ReLU module shared by layers is ambiguous
        return relu
    return calls[conv_at[-1]]


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
    cam_offset: float = 0.0,
) -> torch.Tensor:
    """Saliency of ``target`` (class or action index, per sample or shared) w.r.t. ``inputs``.

    :param model: any module mapping (N, ...) inputs to (N, classes) scores (a classifier's logits, a
        Q-network's action values).
    :param inputs: (N, C, H, W) (or any shape the model takes).
    :param target: the output index to explain: an int, or (N,) indices.
    :param method: one of ``METHODS``.
    :param layer: GradCAM's layer, in ``model`` (default: :func:`gradcam_layer`, the rectified output of
        the last ``Conv2d``).
    :param n_steps: integration steps of integrated gradients (50, as the paper).
    :param n_samples: noisy samples of SmoothGrad and VarGrad (50).
    :param noise_fraction: SmoothGrad noise std as a fraction of (max - min) of each input (0.15).
    :param baseline: integrated gradients' baseline (zeros by default).
    :param cam_offset: constant added to GradCAM's weighted sum before its ReLU (GradCAM and guided GradCAM):
        0 as Selvaraju et al.; 1 as the sanity-check authors' code (see the module docstring).
    :return: attributions shaped like ``inputs`` (GradCAM: upsampled to the input's H x W, one channel).
    """
    from captum.attr import (
        GuidedBackprop,
        InputXGradient,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Saliency,
    )

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(cam_offset, bool) or not isinstance(cam_offset, int | float) or not math.isfinite(cam_offset):
        raise TypeError(f"cam_offset must be a finite number, got {cam_offset!r}")
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
        cam_layer = layer if layer is not None else gradcam_layer(net, x)
        # sum_k alpha_k A_k, alpha_k = spatial mean of d score / d A_k: (N, 1, h, w)
        weighted = LayerGradCam(net, cam_layer).attribute(x, target=target, relu_attributions=False)
        cam = torch.relu(weighted + cam_offset)  # (N, 1, h, w)
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear").detach()
        if method == "gradcam":
            return cam  # (N, 1, H, W)
        return GuidedBackprop(net).attribute(x, target=target).detach() * cam  # (N, C, H, W)
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

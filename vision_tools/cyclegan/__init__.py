"""Cycle-consistent translation between observation domains, with the self-defences against hidden
information of Bashkirova, Usman & Saenko (NeurIPS 2019), and the measures that expose hiding."""

from vision_tools.cyclegan.images import palette_classes, to_tensor, to_uint8
from vision_tools.cyclegan.losses import guess_pairs, l1_loss, lsgan_loss
from vision_tools.cyclegan.metrics import (
    fit_supervised,
    honesty_gap,
    noise_sensitivity,
    paired_errors,
    per_class_iou,
    reconstruction_errors,
)
from vision_tools.cyclegan.model import CycleGAN
from vision_tools.cyclegan.networks import PatchDiscriminator, ResnetGenerator
from vision_tools.cyclegan.pool import ImagePool
from vision_tools.cyclegan.training import fit, image_strip

__all__ = [
    "CycleGAN", "ImagePool", "PatchDiscriminator", "ResnetGenerator", "fit", "fit_supervised", "guess_pairs",
    "honesty_gap", "image_strip", "l1_loss", "lsgan_loss", "noise_sensitivity", "paired_errors", "palette_classes",
    "per_class_iou", "reconstruction_errors", "to_tensor", "to_uint8",
]  # fmt: skip

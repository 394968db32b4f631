"""Flushing denormal floats to zero while a model trains on the CPU.

A categorical model that has become sure of its outcomes gives its other outcomes probabilities below
float32's smallest normal number (about 1.2e-38), and the gradients of its log-softmax carry them.
Arithmetic on such denormal numbers is far slower on many x86 CPUs: on this suite's Intel Xeon, the
backward pass of a log-softmax over 400 outcomes with logits spread over tens of units took 12-15x as
long as with denormals flushed (docs/BENCHMARKS.md, "MAX's cost on counted states"). Flushing changes only
values below 1.2e-38, which become 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def flushing_denormals() -> bool:
    """Whether this thread's CPU arithmetic flushes denormal floats to zero now."""
    return bool(torch.tensor([1e-39], dtype=torch.float32).mul(1.0).item() == 0.0)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Within the block, the calling thread flushes denormal floats to zero (:func:`torch.set_flush_denormal`,
    where the CPU supports it: x86 with SSE3); after it, the setting it had before. Torch's intra-op threads
    keep their own setting, so this is meant for one-thread work (the suite's default)."""
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)

"""Device selection that never falls back silently.

Stable-Baselines3's ``get_device("cuda")`` returns the CPU when CUDA is missing; a researcher who asked
for a GPU should hear that instead of waiting hours for a CPU run.
"""

from __future__ import annotations

import torch


def check_device(device: torch.device | str) -> None:
    """Raise ``ValueError`` if ``device`` names an accelerator that this machine does not have.

    :param device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
        ``torch.device``.
    """
    if isinstance(device, str) and device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} was asked for, but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={str(device)!r} was asked for, but MPS is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def resolve_device(device: torch.device | str) -> str:
    """``device`` as a concrete name: ``"auto"`` becomes ``"cuda"`` when CUDA is present, else ``"cpu"``; any
    other value is checked (:func:`check_device`) and returned as given."""
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_device(device)
    return str(device)

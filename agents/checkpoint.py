"""Checkpoints that load without executing code.

Everything is written with ``torch.save`` as tensors and plain Python values (dicts, lists, str, int,
float, bool, None) and read back with ``torch.load(weights_only=True)``. Writes go to a temporary file
in the same folder, then a rename, so an interrupted save never leaves half a checkpoint behind.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

SUFFIX = ".pt"
# Classes named in a checkpoint (policy_kwargs such as activation_fn) are resolved by import from
# these packages only; nothing else in a checkpoint is ever turned into code.
IMPORTABLE_PREFIXES = ("torch.nn.", "stable_baselines3.", "agents.", "vision_tools.", "world_models.")


def checkpoint_path(path: str | os.PathLike, *, for_reading: bool = False) -> Path:
    """``path`` with ``.pt`` appended when it has no suffix (when reading, only if the bare path is absent)."""
    path = Path(path)
    if path.suffix:
        return path
    if for_reading and path.exists():
        return path
    return path.with_suffix(SUFFIX)


def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically write ``checkpoint`` to ``path`` (``.pt`` appended when there is no suffix)."""
    path = checkpoint_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | os.PathLike, *, kind: str | tuple[str, ...]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` and check it holds a ``kind`` model (or one of
    the kinds in a tuple).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError``, naming the file, for one that is
    truncated, not a torch file, holds objects other than tensors and plain values, or holds another
    kind of model.
    """
    path = checkpoint_path(path, for_reading=True)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:  # weights_only refused a class: a pickled object, not our tensors-and-values format
            raise ValueError(
                f"{path} is not a maxplore checkpoint: it holds objects other than tensors and plain values "
                f"({found.group(1)}), which are not loaded because unpickling them could run code"
            ) from err
        raise ValueError(f"{path} is not a readable checkpoint (truncated, or not a torch file)") from err
    except (RuntimeError, EOFError, OSError, KeyError, zipfile.BadZipFile) as err:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}" if str(err) else type(err).__name__
        raise ValueError(f"{path} is not a readable checkpoint (truncated, or not a torch file): {reason}") from err
    if not isinstance(checkpoint, dict) or "kind" not in checkpoint:
        raise ValueError(f"{path} is not a maxplore checkpoint: it holds a {type(checkpoint).__name__} without 'kind'")
    kinds = (kind,) if isinstance(kind, str) else kind
    if checkpoint["kind"] not in kinds:
        expected = repr(kind) if isinstance(kind, str) else " or ".join(map(repr, kind))
        raise ValueError(f"{path} holds a {checkpoint['kind']!r} checkpoint, expected {expected}")
    return checkpoint


def env_identity(env: Any) -> dict[str, Any] | None:
    """The registered id and ``gym.make`` kwargs of ``env`` (a Gymnasium env or an SB3 VecEnv), stored in
    checkpoints so that loading into another world can warn; ``None`` for an env made without an id."""
    try:
        spec = env.get_attr("spec")[0] if hasattr(env, "get_attr") else env.spec
    except (AttributeError, IndexError):
        return None
    if spec is None:
        return None
    try:
        kwargs = encode_value(dict(spec.kwargs))
    except TypeError:  # a kwarg that is not a plain value: keep the id only
        kwargs = None
    return {"id": spec.id, "kwargs": kwargs}


def warn_if_other_env(saved: dict[str, Any] | None, env: Any, path: str | os.PathLike) -> None:
    """Warn when ``env`` is not the world (id and kwargs) that the checkpoint at ``path`` was trained on."""
    current = env_identity(env)
    if saved is None or current is None or saved == current:
        return
    warnings.warn(
        f"{path} was trained on {saved['id']} {saved['kwargs']}; continuing on {current['id']} "
        f"{current['kwargs']}: what the model learned may not hold here",
        UserWarning,
        stacklevel=3,
    )


def encode_value(value: Any) -> Any:
    """Make a hyper-parameter storable: classes become ``"module:qualname"`` strings, tuples lists."""
    if isinstance(value, type):
        return {"__class__": f"{value.__module__}:{value.__qualname__}"}
    if isinstance(value, dict):
        return {k: encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a hyper-parameter of type {type(value).__name__} in a checkpoint: {value!r}")


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`; classes are imported only from ``IMPORTABLE_PREFIXES``."""
    if isinstance(value, dict) and set(value) == {"__class__"}:
        module, _, qualname = value["__class__"].partition(":")
        if not (module + ".").startswith(IMPORTABLE_PREFIXES):
            raise ValueError(f"refusing to import {module}.{qualname} from a checkpoint")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    if isinstance(value, dict):
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def progress_counters(model: Any) -> dict[str, int]:
    """An SB3 algorithm's step, episode and update counters, as every checkpoint of the suite stores them."""
    return {"num_timesteps": model.num_timesteps, "episode_num": model._episode_num, "n_updates": model._n_updates}


def restore_progress_counters(model: Any, counters: dict[str, int]) -> None:
    """Set the counters :func:`progress_counters` wrote (other keys of ``counters`` are left to the caller)."""
    model.num_timesteps = counters["num_timesteps"]
    model._episode_num = counters["episode_num"]
    model._n_updates = counters["n_updates"]

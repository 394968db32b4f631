"""Turn a dataclass into a command line: every field becomes ``--field-name`` with its type and default.

The field's ``metadata["help"]`` is its help text. Shared by every command of the suite
(``benchmarks.commands``) and every script in ``scripts/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def parse_config(cls: type[T], description: str, argv: list[str] | None = None) -> T:
    """Parse ``argv`` (default: ``sys.argv``) into an instance of the dataclass ``cls``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        kwargs: dict[str, Any] = {"help": field.metadata.get("help", " ")}
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        kwargs["default"] = default
        args = typing.get_args(hint)
        is_optional = type(None) in args
        base = next(a for a in args if a is not type(None)) if is_optional else hint
        if typing.get_origin(hint) is typing.Literal:
            kwargs["choices"] = list(args)
            kwargs["type"] = type(args[0])
        elif typing.get_origin(base) is list:
            kwargs["nargs"] = "+"
            kwargs["type"] = typing.get_args(base)[0]
        elif base is bool:
            kwargs["type"] = _parse_bool
            kwargs["nargs"] = "?"
            kwargs["const"] = True  # a bare --flag means true
            kwargs["metavar"] = "{true,false}"
        else:
            kwargs["type"] = base
        if "choices" in field.metadata:
            kwargs["choices"] = field.metadata["choices"]
        if field.metadata.get("positional"):
            kwargs["nargs"] = "?"
            parser.add_argument(field.name, **kwargs)
        else:
            parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name, **kwargs)
    return cls(**vars(parser.parse_args(argv)))


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["length=20", "encoding=onehot"]`` -> ``{"length": 20, "encoding": "onehot"}``.

    Values are read as Python literals where they parse as one (``true`` and ``false`` in any case as
    bools, as the config flags read them), else kept as strings.
    """
    import ast

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"expected key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        if value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
            continue
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out

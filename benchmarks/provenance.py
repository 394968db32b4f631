"""What made a benchmark record: the resolved hyper-parameters of its agent (part of the run's key) and
the code, libraries and machine that ran it (stored beside the results).

A run's key holds the hyper-parameters *after* defaults and configurations are applied
(:func:`constructor_arguments`), so a changed default or ``CONFIGS`` entry gives new keys and the runs are
made again instead of reprinting old records. The code version (:func:`code_version`: a hash of the
sources of every package of the suite, plus the git commit and whether the checkout had uncommitted
changes) is stored, not keyed: a report refuses to mix records of different code unless told to
(:func:`check_versions`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import platform
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

PACKAGES = ("envs", "agents", "world_models", "vision_tools", "benchmarks")
LIBRARIES = ("torch", "gymnasium", "stable_baselines3", "mujoco", "numpy")
# arguments that say where and how a run happens, not what the agent is
NOT_HYPERPARAMETERS = frozenset(
    {"self", "env", "policy", "seed", "device", "tensorboard_log", "verbose", "_init_setup_model"}
)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON values: tuples become lists, classes and functions their dotted names,
    anything else that JSON cannot hold its ``repr``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def constructor_arguments(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``cls(env, **kwargs)`` runs with: every default of its ``__init__`` (and of
    the parents' it forwards ``**kwargs`` to), replaced by ``kwargs``, as JSON values.

    :param cls: the agent's class.
    :param kwargs: the hyper-parameters given (configuration and overrides merged).
    :raises TypeError: when ``kwargs`` names an argument no constructor in the chain takes.
    """
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__[:-1]:  # not object
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(vars(klass)["__init__"]).parameters.values()
        for p in params:
            named = p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in NOT_HYPERPARAMETERS
            if named and p.default is not p.empty:
                defaults.setdefault(p.name, p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            open_ended = False  # this constructor forwards nothing further up
            break
    else:
        open_ended = True  # **kwargs all the way up: any name goes
    unknown = sorted(set(kwargs) - set(defaults) - NOT_HYPERPARAMETERS)
    if unknown and not open_ended:
        raise TypeError(f"{cls.__name__} takes no hyper-parameter(s) {unknown}")
    return jsonable({**defaults, **kwargs})


def _package_dirs() -> list[tuple[str, Path]]:
    dirs = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.append((name, Path(next(iter(spec.submodule_search_locations)))))
    return dirs


@functools.cache
def source_hash() -> str:
    """12 hex digits of a SHA-256 over the path and bytes of every ``.py`` file of the suite's packages:
    equal for the same code, whether installed from a wheel or a checkout."""
    digest = hashlib.sha256()
    for name, folder in _package_dirs():
        for path in sorted(folder.rglob("*.py")):
            digest.update(f"{name}/{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def git_state() -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout the packages run from (None for
    an installed wheel, or without git). Dirty: a tracked file differs from the commit."""
    folder = _package_dirs()[0][1].parent if _package_dirs() else Path.cwd()

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or not (Path(top) / "pyproject.toml").exists():
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def package_version() -> str | None:
    try:
        return importlib.metadata.version("maxplore")
    except importlib.metadata.PackageNotFoundError:
        return None


def code_version() -> dict[str, Any]:
    """The suite's code: package version, source hash (:func:`source_hash`), git commit and dirty flag."""
    return {"package": package_version(), "source": source_hash(), **git_state()}


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of the libraries a result depends on (None: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.cache
def processor() -> dict[str, str]:
    """The CPU: its model name (``/proc/cpuinfo``, else :func:`platform.processor`) and the vector instructions
    torch's CPU kernels use (``AVX2``, ``AVX512``, ...). The same seeded run has differed between machines
    with the same code and libraries, for a reason not found (docs/BENCHMARKS.md, "How a table is made")."""
    import torch

    name = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        name = lines[0].split(":", 1)[1].strip() if lines else name
    return {"model": name or "unknown", "torch_capability": torch.backends.cpu.get_cpu_capability()}


def provenance(job: dict[str, Any]) -> dict[str, Any]:
    """What ran ``job``, read in the process that ran it: code, libraries, device, torch threads, machine
    and its CPU (:func:`processor`)."""
    import torch

    return {
        "code": code_version(),
        "libraries": library_versions(),
        "device": str(job.get("device", "cpu")),
        "threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "cpu": dict(processor()),  # a copy: the cached reading stays as read
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def describe_code(code: dict[str, Any] | None) -> str:
    """``source 1a2b3c4d5e6f (commit 0123abc, dirty)`` for a record's ``provenance["code"]``."""
    if not code:
        return "unknown code (a record without provenance)"
    commit = code.get("commit")
    where = f"commit {commit[:7]}{', dirty' if code.get('dirty') else ''}" if commit else "no git checkout"
    return f"source {code['source']} ({where})"


def check_versions(records: list[dict[str, Any]], *, mix: bool = False) -> str:
    """One line naming the code that made ``records`` (and today's code when it differs).

    :param records: stored run records.
    :param mix: allow records of different code in one table (they are then counted per version).
    :raises ValueError: when the records come from more than one code version and ``mix`` is false.
    """
    codes = [r.get("provenance", {}).get("code") for r in records]
    versions = Counter((code or {}).get("source") for code in codes)  # the source decides; None: unknown
    named = {(code or {}).get("source"): describe_code(code) for code in codes}  # one commit named per source
    if len(versions) > 1 and not mix:
        listed = "; ".join(f"{n} runs by {named[v]}" for v, n in versions.most_common())
        raise ValueError(
            f"the stored runs come from {len(versions)} code versions ({listed}); rerun them with --fresh "
            "(a selection or 'all'), or pass --mix-versions to report them together"
        )
    made = "; ".join(f"{named[v]} ({n} runs)" if len(versions) > 1 else named[v] for v, n in versions.most_common())
    today = code_version()
    same = set(versions) == {today["source"]}
    return f"runs made by {made}" + ("" if same else f"; today's code is {describe_code(today)}")

"""Finished runs on disk, keyed by their configuration, so a grid started again skips them.

The file format (JSON lines, one finished run per line, appended as each run finishes):

- the job: every key the suite's run function reads (agent or method, world, seed, budget, device,
  threads, overrides, ...), plus ``hyperparameters``: the agent's constructor arguments after defaults and
  configurations (:mod:`benchmarks.provenance`);
- the results the run function returns (``episodes_to_full``, ``coverage_per_episode``, ``seconds``, ...);
- ``provenance``: ``code`` (package version, ``source`` hash of the suite's sources, git ``commit`` and
  ``dirty``), ``libraries`` (Python, torch, gymnasium, stable-baselines3, mujoco, numpy versions),
  ``device``, ``threads`` (torch threads in the run's process), ``machine``, ``cpu`` (model name and
  torch's CPU capability, records since 2026-12-07) and ``finished`` (local time);
- ``key``: the job as canonical JSON without its logging folder (:func:`~benchmarks.runs.job_key`); a
  job whose key is stored is not run again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.runs import job_key, record_key

logger = logging.getLogger(__name__)


class ResultStore:
    """A JSON-lines file of run records, one line per finished run, appended as each finishes.

    A record is a job (see :func:`~benchmarks.runs.explore_once`) plus its results; it is stored with
    its job's key (:func:`~benchmarks.runs.job_key`, the configuration without the logging folder)
    under ``"key"``. A line cut short by a crash is skipped with a warning; a record stored twice is kept
    once.

    :param path: the file (created with its folder on the first append).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, Any]]:
        """Every stored record by its key."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return done
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("%s line %d is not a whole record (an interrupted write?); ignored", self.path, number)
                continue
            key = record.pop("key", None) or record_key(record)  # files written before keys were stored
            done[key] = record
        return done

    def append(self, job: dict[str, Any], record: dict[str, Any]) -> None:
        """Store the record of ``job``: one line written whole and flushed to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**record, "key": job_key(job)}) + "\n"
        with self.path.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:  # a line cut short by a crash stays a line of its own
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())

    def set_aside(self, selected: Callable[[dict[str, Any]], bool]) -> tuple[int, Path | None]:
        """Move the records ``selected(record)`` picks to ``<name>.<time>.jsonl`` beside the store, so their
        runs are made again; the others stay. Both files are written whole (a temporary file, then a
        rename). Returns how many records moved and where (``None`` when none did)."""
        records = self.load()
        moved = {k: r for k, r in records.items() if selected(r)}
        if not moved:
            return 0, None
        aside = self.path.with_suffix(f".{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
        _write_whole(aside, moved)
        _write_whole(self.path, {k: r for k, r in records.items() if k not in moved})
        return len(moved), aside


def _write_whole(path: Path, records: dict[str, dict[str, Any]]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text("".join(json.dumps({**r, "key": k}) + "\n" for k, r in records.items()))
    os.replace(partial, path)


def selection(criteria: list[str]) -> Callable[[dict[str, Any]], bool]:
    """A record filter from ``["all"]`` or ``["field=value[,value...]", ...]`` (every criterion must hold;
    a record's value is compared as text, so ``seed=0,1`` picks seeds 0 and 1).

    :raises ValueError: naming a criterion that is neither ``all`` nor ``field=values``.
    """
    if criteria == ["all"]:
        return lambda record: True
    wanted: dict[str, set[str]] = {}
    for criterion in criteria:
        field, sep, values = criterion.partition("=")
        if not sep or not field or not values:
            raise ValueError(f"fresh: expected 'all' or field=value[,value], got {criterion!r}")
        wanted[field] = set(values.split(","))
    return lambda record: all(str(record.get(field)) in values for field, values in wanted.items())

"""Finished runs on disk, keyed by their configuration, so a grid started again skips them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from agents.run_grid.runs import job_key, record_key

logger = logging.getLogger(__name__)


class ResultStore:
    """A JSON-lines file of run records, one line per finished run, appended as each finishes.

    A record is a job (see :func:`~agents.run_grid.runs.explore_once`) plus its results; it is stored with
    its job's key (:func:`~agents.run_grid.runs.job_key`, the configuration without the logging folder)
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

"""Test-wide settings.

One torch thread: the suite's models are tiny, and on 2 busy cores torch's default of two intra-op
threads made them up to 7x slower (docs/BENCHMARKS.md, "Threads"). Tests that need another count set it
themselves.

The studies in ``scripts/`` (cyclegan, norm_study, ...) are modules of no package: their tests import
them from that folder.
"""

import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    """Each test starts on one torch thread, whatever an earlier test's in-process job set: the cyclegan
    script's default (the cores per worker) once left two threads behind, and on 2 busy cores the next test,
    the sparsify sweep, took 103 s instead of 6 s."""
    torch.set_num_threads(1)


@pytest.fixture
def kept_records() -> Callable[..., list[dict]]:
    """A loader of the benchmark records kept in docs/records/: ``kept_records(*names)`` gives the records
    of those gzipped JSON-lines files, in order (the README-vs-records tests)."""

    def load(*names: str) -> list[dict]:
        runs = []
        for name in names:
            with gzip.open(Path(__file__).resolve().parents[1] / "docs" / "records" / name, "rt") as lines:
                runs += [json.loads(line) for line in lines]
        return runs

    return load


@pytest.fixture
def readme() -> str:
    """The README with its whitespace collapsed to single spaces, so that a quoted phrase matches across line
    breaks (the README-vs-records tests)."""
    return " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())

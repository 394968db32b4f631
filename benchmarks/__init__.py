"""The benchmark's run grid: what one run is, its key, where its result is stored, and the backends that
run a grid of them (a local process pool, or Ray on this machine or a cluster).

``scripts/benchmark.py``, the tests and both backends use these; the tables and plots of the results are
in :mod:`benchmarks.reports`.
"""

from benchmarks.backends import BACKENDS, run_jobs
from benchmarks.runs import JOB_FIELDS, LABELS, explore_once, job_key
from benchmarks.store import ResultStore

__all__ = ["BACKENDS", "JOB_FIELDS", "LABELS", "ResultStore", "explore_once", "job_key", "run_jobs"]

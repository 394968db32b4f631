"""Run a grid of jobs on a backend: ``"local"`` (a process pool on this machine, nothing to install) or
``"ray"`` (one Ray task per run, on this machine or a cluster; the ``distributed`` extra).

Both backends store each record as its run finishes (a :class:`~benchmarks.store.ResultStore`),
skip runs already stored, retry a run whose worker process died (a bounded number of times) and, on
Ctrl-C, stop with every finished record on disk. A run is a call ``run(job) -> record`` of a function
importable by the workers (default :func:`~benchmarks.runs.explore_once`); the worker adds the record's
``provenance`` (:func:`~benchmarks.provenance.provenance`: code, libraries, device, threads).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks.provenance import provenance
from benchmarks.runs import explore_once, job_key
from benchmarks.store import ResultStore

logger = logging.getLogger(__name__)

BACKENDS = ("local", "ray")
NICENESS = "RAY_worker_niceness"  # read by a Ray started here; its default 15 lets any other process go first
Run = Callable[[dict[str, Any]], dict[str, Any]]


def run_jobs(
    jobs: list[dict[str, Any]],
    workers: int,
    cache: str | Path | None = None,
    *,
    backend: str = "local",
    address: str | None = None,
    retries: int = 2,
    run: Run = explore_once,
) -> list[dict[str, Any]]:
    """Run every job not already in ``cache``; return the records in job order.

    :param jobs: the runs (dicts of plain values, see :func:`~benchmarks.runs.explore_once`).
    :param workers: runs at once on this machine (local: processes, 1 runs in this process; ray: the CPUs
        of a Ray started here). A Ray cluster (``address``) runs as many as its CPUs allow.
    :param cache: a JSON-lines file: each record is appended as its run finishes and runs already in it
        are not run again, so an interrupted or repeated grid resumes where it stopped.
    :param backend: ``"local"`` or ``"ray"``.
    :param address: Ray only: ``None`` starts Ray on this machine; ``"auto"`` or ``"ray://HOST:PORT"``
        joins a running cluster.
    :param retries: times a run is started again after its worker process died.
    :param run: the function of one run, importable by the worker processes.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if address is not None and backend != "ray":
        raise ValueError(f"address is for backend='ray' (got backend={backend!r})")
    store = ResultStore(cache) if cache is not None else None
    done = store.load() if store is not None else {}
    keys = [job_key(job) for job in jobs]
    results: list[dict[str, Any] | None] = [done.get(key) for key in keys]
    todo: dict[str, int] = {}  # key -> first index; a job listed twice runs once
    for i, record in enumerate(results):
        if record is None:
            todo.setdefault(keys[i], i)
    if len(todo) < len(jobs):
        logger.info("%d of %d runs already stored in %s", len(jobs) - len(todo), len(jobs), cache)

    def finish(i: int, record: dict[str, Any]) -> None:
        if store is not None:
            store.append(jobs[i], record)
        for j, key in enumerate(keys):
            if results[j] is None and key == keys[i]:
                results[j] = record

    indices = list(todo.values())
    with tqdm(total=len(indices), desc=f"runs ({backend})") as bar:
        if not indices:
            pass  # everything is stored: nothing starts, not even Ray
        elif backend == "ray":
            _run_on_ray(jobs, indices, run, finish, bar, workers=workers, address=address, retries=retries)
        elif workers == 1:
            for i in indices:
                finish(i, run_recorded(run, jobs[i]))
                bar.update()
        else:
            _run_in_pool(jobs, indices, run, finish, bar, workers=workers, retries=retries)
    return results  # type: ignore[return-value]


def run_recorded(run: Run, job: dict[str, Any]) -> dict[str, Any]:
    """``run(job)`` with the record's provenance, read in the process that ran it *before* the run starts:
    a run that outlives an edit of the sources is recorded with the code it ran, not the code on disk when
    it ended. ``finished`` is stamped afterwards."""
    made_by = provenance(job)
    record = run(job)
    return {**record, "provenance": {**made_by, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}


def _run_in_pool(jobs, indices, run, finish, bar, *, workers: int, retries: int) -> None:
    """A local process pool. A worker that dies breaks the whole pool: the runs it held start again in a
    fresh pool, at most ``retries`` times; Ctrl-C cancels the runs not started."""
    left = list(indices)
    for attempt in range(retries + 1):
        pool = ProcessPoolExecutor(max_workers=workers)
        futures: dict[Future, int] = {pool.submit(run_recorded, run, jobs[i]): i for i in left}
        try:
            for future in as_completed(futures):
                i = futures[future]
                try:
                    record = future.result()
                except BrokenProcessPool:
                    continue  # started again below
                finish(i, record)
                left.remove(i)
                bar.update()
        except BaseException:  # Ctrl-C or a run that raised: stop the others, keep what is stored
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if not left:
            return
        if attempt < retries:
            logger.warning("a worker process died; starting %d unfinished runs again", len(left))
    raise RuntimeError(f"{len(left)} runs lost their worker process {retries + 1} times; none of them stored")


def _run_on_ray(jobs, indices, run, finish, bar, *, workers: int, address: str | None, retries: int) -> None:
    """One Ray task per run with its CPU (``threads``) and GPU (a ``cuda`` device) needs declared; Ray
    starts a task again when its worker dies (``max_retries``). Records are stored as tasks finish."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            "backend='ray' needs Ray: pip install 'maxplore[distributed]' (or pip install 'ray[tune]')"
        ) from error
    started_here = start_ray(address, workers)
    remote = ray.remote(run_recorded)
    pending = {}
    for i in indices:
        job = _portable(jobs[i])
        gpus = 1 if str(job.get("device", "")).startswith("cuda") else 0
        options = {"num_cpus": job.get("threads", 1), "num_gpus": gpus, "max_retries": retries}
        pending[remote.options(**options).remote(run, job)] = i
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                finish(i, ray.get(ref))
                bar.update()
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()


def start_ray(address: str | None, workers: int) -> bool:
    """Start Ray here with ``workers`` CPUs (``address`` None) or join a cluster, unless Ray is running in
    this process already; returns whether it started here (so the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if address is None:
        os.environ.setdefault(NICENESS, "0")  # Ray's workers default to nice 15: behind every other process
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return True


def _portable(job: dict[str, Any]) -> dict[str, Any]:
    """The job with its TensorBoard folder made absolute: Ray's workers do not start in this folder."""
    if job.get("tensorboard"):
        return {**job, "tensorboard": str(Path(job["tensorboard"]).resolve())}
    return job

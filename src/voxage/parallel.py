"""Worker processes: how many by default, and one BLAS/OpenMP thread each."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from multiprocessing.pool import Pool

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_workers() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def single_threaded_children():
    """Spawned workers read these at start-up; the parent's own settings are restored afterwards. N workers with
    N threads each on N cores ran slower than 1 worker."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def worker_pool(workers: int, init: Callable, initargs: tuple = ()) -> Iterator[Pool]:
    """`workers` fresh (spawned: no forked ONNX or torch state) processes, each with one BLAS thread, each running
    `init(*initargs)` once."""
    with single_threaded_children(), get_context("spawn").Pool(workers, init, initargs) as pool:
        yield pool

"""The one place the report writers use more than one core: consecutive slices of a list
of towns written by forked worker processes (:mod:`concurrent.futures`), while the calling
process writes something else (the index, the workbook).

Why: a province's 1,609 sheets are 3,218 files whose rendering is most of a run's time
(issue 14: the province with every sheet in under 8 s).  The workers are forked, so they
see the towns already in memory (nothing is pickled but two numbers and the paths they
wrote); the results are files, so a worker only writes and returns their paths.  Where
forking is not available or not safe (not Linux, inside a daemon process, one core), the
slices are written one after another in the calling process, with the same files.
The workers render templates and write files only: they use none of the threads the
calling process may have (BLAS, Arrow), which is what makes forking a threaded process
safe here (Python 3.12+ says so with a DeprecationWarning, ignored by default).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable

__all__ = ["SliceJob", "cores"]

#: Fewer towns than this per worker and the fork does not pay (the demo renders in-process).
MIN_PER_WORKER = 100
#: Slices per worker: small enough that a slow slice does not leave a core idle.
SLICES_PER_WORKER = 4

_job: Callable[[int, int], list] | None = None     # set in each worker by _start


def cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return (sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()
            and not mp.current_process().daemon)


def _start(job: Callable[[int, int], list]) -> None:
    global _job
    _job = job


def _run(start: int, stop: int) -> list:
    return _job(start, stop)


class SliceJob:
    """``job(start, stop)`` (returns a list) over consecutive slices of ``range(n)``, in
    ``workers`` forked processes, begun on entering the ``with`` block; :meth:`results`
    waits and gives the lists joined in slice order (the same as ``job(0, n)``).

    ``workers=None``: one per core when there are at least :data:`MIN_PER_WORKER` items a
    worker; 1: in the calling process, at :meth:`results`.

    >>> with SliceJob(lambda a, b: list(range(a, b)), 5, workers=1) as job:
    ...     pass  # the caller writes other files here
    >>> job.results()
    [0, 1, 2, 3, 4]
    """

    def __init__(self, job: Callable[[int, int], list], n: int, *, workers: int | None = None):
        self.job, self.n = job, n
        if workers is None:
            workers = min(cores(), n // MIN_PER_WORKER)
        self.workers = max(1, min(workers, n)) if _can_fork() else 1
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        self._done: list | None = None

    def __enter__(self) -> "SliceJob":
        if self.workers > 1:
            # fork: the workers inherit ``job`` and what it reads (initargs are not pickled)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"),
                                             initializer=_start, initargs=(self.job,))
            k = min(self.n, self.workers * SLICES_PER_WORKER)
            bounds = [self.n * i // k for i in range(k + 1)]
            self._futures = [self._pool.submit(_run, a, b)
                             for a, b in zip(bounds, bounds[1:])]
        return self

    def results(self) -> list:
        if self._done is None:
            if self._futures:
                self._done = [x for f in self._futures for x in f.result()]
            else:
                self._done = self.job(0, self.n)
        return self._done

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            # on an error in the caller's block: drop the slices not begun, wait for the rest
            self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
            self._pool = None

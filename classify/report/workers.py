"""The one place the report writers use more than one core (a province's sheets are most
of a run's time): slices of a list of towns written by forked workers, which see the towns
already in memory and use none of the caller's threads (BLAS, Arrow) — what makes forking
a threaded process safe — then by the calling process too.  Where forking is not available
or not safe (not Linux, a daemon process, one core) the caller writes every slice."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from typing import Callable

__all__ = ["SliceJob", "cores"]

#: Fewer towns than this per process and the fork does not pay (the demo renders in-process).
MIN_PER_WORKER = 100
#: Towns per slice: small enough (a tenth of a second of rendering) that the processes
#: finish together, large enough that handing out a slice costs nothing in comparison.
SLICE = 50

_tasks: list[Callable[[], list]] = []      # set in each worker by _start


def cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    return (sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()
            and not mp.current_process().daemon)


def _start(tasks: list[Callable[[], list]]) -> None:
    global _tasks
    _tasks = tasks


def _run(k: int) -> tuple[list, list]:
    """Task ``k`` in a worker, with the warnings it raised (text and class), to be raised
    again by :meth:`SliceJob.results` in the calling process."""
    with warnings.catch_warnings(record=True) as said:
        got = _tasks[k]()
    return got, [(str(w.message), w.category) for w in said]


class SliceJob:
    """``job(start, stop)`` over consecutive slices of ``range(n)`` in ``workers``
    processes: ``workers - 1`` forked ones begun on entering the ``with`` block, and this
    one at :meth:`results`, which runs the tasks no worker has begun (the last first),
    waits for the others and returns the slices' lists joined in order (as ``job(0, n)``).
    ``first()``, one long task (a workbook) begun before the slices so that they even out
    the end, gives :attr:`first_result`; ``aside()``, begun before everything and worth a
    process of its own even with no slices, gives :attr:`aside_result` (all return lists).

    ``workers=None``: one process per core when there are at least :data:`MIN_PER_WORKER`
    towns each, or an ``aside``; 1: this process only, at :meth:`results`.

    >>> with SliceJob(lambda a, b: list(range(a, b)), 5, workers=1) as job:
    ...     pass  # the caller writes other files here
    >>> job.results()
    [0, 1, 2, 3, 4]
    """

    def __init__(self, job: Callable[[int, int], list], n: int, *, workers: int | None = None,
                 first: Callable[[], list] | None = None,
                 aside: Callable[[], list] | None = None):
        if workers is None:
            workers = min(cores(), max(n // MIN_PER_WORKER, 2 if aside is not None else 1))
        extra = [t for t in (aside, first) if t is not None]
        # no more processes than tasks, but the aside's own besides the caller's
        tasks = n + len(extra) + (aside is not None)
        self.workers = max(1, min(workers, tasks)) if _can_fork() else 1
        k = max(1, -(-n // SLICE), 2 * self.workers)
        bounds = [n * i // k for i in range(k + 1)]
        self.tasks = extra + [partial(job, a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        self._aside, self._first = aside is not None, first is not None
        self._done: list | None = None
        self.aside_result: list = []
        self.first_result: list = []

    def __enter__(self) -> "SliceJob":
        if self.workers > 1:
            # fork: the workers inherit the tasks and what they read (not pickled)
            self._pool = ProcessPoolExecutor(self.workers - 1,
                                             mp_context=mp.get_context("fork"),
                                             initializer=_start, initargs=(self.tasks,))
            self._futures = [self._pool.submit(_run, k) for k in range(len(self.tasks))]
        return self

    def results(self) -> list:
        if self._done is None:
            futures = self._futures
            order = range(len(self.tasks))
            done = {k: self.tasks[k]() for k in (reversed(order) if futures else order)
                    if not futures or futures[k].cancel()}
            for k in order:
                if k not in done:
                    done[k], said = futures[k].result()
                    for text, category in said:     # said where the run collects warnings
                        warnings.warn(text, category, stacklevel=2)
            lists = [done[k] for k in order]
            if self._aside:
                self.aside_result = lists.pop(0)
            if self._first:
                self.first_result = lists.pop(0)
            self._done = [x for got in lists for x in got]
        return self._done

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            # on an error in the caller's block: drop the slices not begun, wait for the rest
            self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
            self._pool = None

"""A function run in a forked process beside the main one (the pipeline's second core).

Most of the pipeline runs on one core; where two steps do not depend on each other, one
of them can run in a forked copy of the process while the main one goes on: the fork
sees the data as they are (no pickling on the way in), and only the small result comes
back through a pipe.  Where ``fork`` does not exist (Windows, or a caller that asks not
to) the function simply runs in the main process when its result is asked for, so the
outputs are the same either way.

Examples
--------
>>> job = Forked(sorted, [3, 1, 2])      # starts now (forked) …
>>> job.result()                         # … waits here; raises the function's error
[1, 2, 3]
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import traceback
import warnings
from typing import Callable

__all__ = ["Forked", "can_fork"]


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False


def can_fork() -> bool:
    """Whether this platform can fork (Linux, macOS)."""
    return hasattr(os, "fork") and "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """``fn(*args, **kwargs)`` run in a forked process (``fork=True`` and the platform can
    fork) or, otherwise, in this process when :meth:`result` is first called.

    Fork from the main thread while no other thread of this process is working, so the
    child starts from a consistent state.  Warnings the child raises are issued again in
    this process by :meth:`result`, as if the function had run here.  :attr:`seconds` is the
    child's wall time once the result is in.
    """

    def __init__(self, fn: Callable, *args, fork: bool = True, **kwargs):
        self._call = (fn, args, kwargs)
        self._done = False
        self._value = None
        self.seconds: float | None = None
        self.forked = fork and can_fork()
        if self.forked:
            ctx = multiprocessing.get_context("fork")
            self._recv, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=self._run, args=(send, fn, args, kwargs),
                                     daemon=True)
            self._proc.start()
            send.close()

    @staticmethod
    def _run(send, fn, args, kwargs) -> None:
        t0 = time.perf_counter()
        # this process is the child's own: its warnings go back to the parent, which
        # issues them again (else they would be printed raw, or lost)
        with warnings.catch_warnings(record=True) as caught:
            try:
                value, error = fn(*args, **kwargs), None
            except BaseException as exc:   # the parent raises it
                value, error = None, exc
        spent = time.perf_counter() - t0
        raised = [(str(w.message), w.category if _picklable(w.category) else UserWarning,
                   str(w.filename), w.lineno or 0) for w in caught]
        if error is None:
            send.send((True, value, spent, raised))
            return
        text = "".join(traceback.format_exception(error))
        try:
            pickle.loads(pickle.dumps(error))   # it must come back whole, or as its text
            send.send((False, (error, text), spent, raised))
        except Exception:
            send.send((False, (None, text), spent, raised))

    @property
    def done(self) -> bool:
        """Whether the result is in (or the child was cancelled)."""
        return self._done

    def cancel(self) -> None:
        """Stop the child (the run failed elsewhere; what it was writing is discarded)."""
        if self.forked and not self._done:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join()
            self._recv.close()
            self._done = True

    def result(self):
        """Wait for the child and return its value, or raise its error (the same
        exception type where it can be pickled, else a ``RuntimeError`` with its
        traceback)."""
        if self._done:
            return self._value
        if not self.forked:
            fn, args, kwargs = self._call
            t0 = time.perf_counter()
            self._done = True
            try:
                self._value = fn(*args, **kwargs)
            finally:
                self.seconds = time.perf_counter() - t0
            return self._value
        try:
            ok, payload, spent, raised = self._recv.recv()
        except EOFError:                # killed (out of memory?) before it could answer
            ok, payload, spent, raised = False, (None, None), None, []
        except BaseException:           # interrupted while waiting: stop the child first
            self._proc.terminate()
            raise
        finally:
            self._proc.join()
            self._recv.close()
            self._done = True
        self.seconds = spent
        for message, category, filename, lineno in raised:
            warnings.warn_explicit(message, category, filename, lineno)
        if ok:
            self._value = payload
            return payload
        error, text = payload
        if error is not None:
            error.add_note(f"(raised in a forked process)\n{text}")
            raise error
        raise RuntimeError(text or f"the forked process stopped with exit code "
                                   f"{self._proc.exitcode} before it finished")

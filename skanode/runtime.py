"""Runtime concerns of a fit: random numbers, torch threads and the device.

Random numbers
    Each fit draws from a ``torch.Generator`` of its own, seeded from the
    estimator's ``random_state`` (:func:`make_generator`); torch's global
    generator is neither read nor reseeded, so fits running at the same time in
    threads do not disturb each other or the user's own random state.

Threads
    A process that trains several models at once must not let each one use
    every core.  For the duration of ``fit`` torch gets :func:`thread_budget`
    threads:

    1. ``SKANODE_NUM_THREADS``, if that variable is set;
    2. else, inside a Dask worker, 1: Dask runs one task per worker thread, and
       a cluster has about one worker thread per core (start workers with
       ``--nthreads 1`` and as many workers as cores, or set the variable);
    3. else, for the small MLP models of the toy experiments, 1: their
       operations are too small to gain from intra-op threads, and one thread
       cannot be slowed down by other busy processes;
    4. else, when ``OMP_NUM_THREADS`` is lower than torch's thread count, that
       value: joblib's process backend (``n_jobs=k`` in scikit-learn) sets it to
       ``cores // k`` in each worker;
    5. else torch's own setting (convolutional models do gain from threads).

    torch's thread count is process-wide.  :func:`torch_threads` keeps one
    ledger of the fits running in the process: the first saves torch's
    setting, fits that overlap it in other threads (joblib's threading
    backend, a multi-threaded Dask worker) run on one thread each, and the
    last one to end restores the saved setting.  So concurrent fits never
    leave the process with another thread count than it had.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["check_device", "global_seed_from", "make_generator", "thread_budget",
           "torch_threads"]


# -- random numbers ------------------------------------------------------------------------
def make_generator(random_state: int | np.random.RandomState | None) -> torch.Generator:
    """Return a CPU ``torch.Generator`` seeded from ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        An int gives the same generator every time; a ``RandomState`` and
        ``None`` (numpy's global generator) give a seed drawn from it, as
        scikit-learn's estimators do.

    Returns
    -------
    torch.Generator
        A generator for initial weights and batch orders.
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


@contextlib.contextmanager
def global_seed_from(generator: torch.Generator) -> Iterator[None]:
    """Seed torch's global CPU generator from ``generator`` for the block, then restore it.

    For code that draws from the global generator and cannot be given another
    (a user's own module initialising itself): it becomes reproducible, and the
    caller's global random state is the same after the block as before.
    """
    seed = int(torch.randint(2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# -- threads -------------------------------------------------------------------------------
def _in_dask_worker() -> bool:
    if "distributed" not in sys.modules:  # never imported: not a Dask worker
        return False
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def thread_budget(*, small: bool = False) -> int:
    """Return the number of torch threads ``fit`` should use here (see the module doc).

    Parameters
    ----------
    small : bool, default=False
        The model is a small MLP, which runs best on one thread.

    Returns
    -------
    int
        Number of threads.
    """
    explicit = os.environ.get("SKANODE_NUM_THREADS")
    if explicit:
        return max(1, int(explicit))
    if small or _in_dask_worker():
        return 1
    current = torch.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS")
    if omp and omp.isdigit() and 0 < int(omp) < current:
        return int(omp)
    return current


class _ThreadLedger:
    """The fits running in this process, per thread, and torch's count before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0  # contexts open in all threads
        self.saved = 0  # torch's thread count before the first one opened
        self.local = threading.local()  # per thread: the counts to go back to when nested


_LEDGER = _ThreadLedger()


@contextlib.contextmanager
def torch_threads(n: int | None = None, *, small: bool = False) -> Iterator[int]:
    """Run the block with ``n`` torch threads (default :func:`thread_budget`), then restore.

    Safe for fits that overlap in threads of one process: a fit that starts
    while a fit of another thread runs gets one thread, and torch's setting
    from before the first fit is restored when the last one ends.  Nested
    blocks in one thread restore the outer block's setting.

    Parameters
    ----------
    n : int or None, default=None
        Threads for this block.
    small : bool, default=False
        Passed to :func:`thread_budget` when ``n`` is None.

    Yields
    ------
    int
        The thread count in effect.
    """
    ledger = _LEDGER
    outer = getattr(ledger.local, "stack", None)
    if outer is None:
        outer = ledger.local.stack = []
    with ledger.lock:
        if ledger.active == 0:
            ledger.saved = torch.get_num_threads()
        if ledger.active > len(outer):  # another thread's fit runs: share the cores
            n = 1
        elif n is None:
            n = thread_budget(small=small)
        outer.append(torch.get_num_threads())
        ledger.active += 1
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    try:
        yield n
    finally:
        with ledger.lock:
            ledger.active -= 1
            previous = outer.pop()
            target = ledger.saved if ledger.active == 0 else previous if outer else None
            if target is not None and torch.get_num_threads() != target:
                torch.set_num_threads(target)


# -- device --------------------------------------------------------------------------------
def check_device(device: Any) -> None:
    """Raise a ``RuntimeError`` if ``device`` names CUDA and CUDA is not available.

    Parameters
    ----------
    device : str, torch.device or None
        The requested device.
    """
    name = str(device) if device is not None else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but CUDA is not available "
            "(torch.cuda.is_available() is False): install a CUDA build of torch "
            "on a machine with a GPU, or use device='cpu'."
        )

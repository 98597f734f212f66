"""Thread budgets for parallel searches, and Dask clusters for the command line.

Thread rule: a process that trains several models at once must not let each
one use every core.  skanode gives torch, for the duration of ``fit``,

1. ``SKANODE_NUM_THREADS`` threads, if that variable is set;
2. else, inside a Dask worker, 1: Dask already runs one task per worker thread,
   and a cluster has about one worker thread per core (start workers with
   ``--nthreads 1`` and as many workers as cores, or set the variable);
3. else, for the small MLP models of the toy experiments, 1: their operations
   are too small to gain from intra-op threads (measured: an ANODE epoch takes
   0.095 s on one thread, 0.10-0.14 s on two), and one thread cannot be slowed
   down by other busy processes;
4. else, when ``OMP_NUM_THREADS`` is set lower than torch's thread count,
   that value: joblib's process backend (``n_jobs=-1`` / ``n_jobs=k`` in
   scikit-learn) sets it to ``cores // k`` in each worker;
5. else torch's own setting (convolutional models do gain from threads).

torch's previous setting is restored after ``fit``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch

__all__ = ["dask_client", "thread_budget", "torch_threads"]


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
    if _in_dask_worker() or small:
        return 1
    current = torch.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS")
    if omp and omp.isdigit() and 0 < int(omp) < current:
        return int(omp)
    return current


@contextlib.contextmanager
def torch_threads(n: int | None = None, *, small: bool = False) -> Iterator[int]:
    """Run the block with ``n`` torch threads (default :func:`thread_budget`), then restore."""
    previous = torch.get_num_threads()
    n = thread_budget(small=small) if n is None else n
    if n != previous:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, local_workers: int | None = None):
    """Connect to a Dask scheduler, or start a local cluster, for joblib's Dask backend.

    Parameters
    ----------
    scheduler : str, default=None
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    local_workers : int, default=None
        Start a ``LocalCluster`` with this many single-threaded worker processes.

    Yields
    ------
    distributed.Client
        The client; inside the block, ``joblib.parallel_backend("dask")`` runs
        scikit-learn's searches on the cluster.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError("Dask is optional: pip install 'skanode[distributed]'.") from err
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=local_workers or 2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client

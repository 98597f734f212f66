"""Dask clusters for parallel searches (the ``skanode search`` command uses them).

How many torch threads each fit uses in a parallel search is decided by
:func:`skanode.runtime.thread_budget`; see :mod:`skanode.runtime`.

A fresh Dask worker pays, on its first task, for importing torch, scikit-learn
and skanode and for torch's first autograd call: about 3.5 s per worker on the
2-core development machine, which spread over a 24-fit search looked like
0.15-0.4 s lost per task (``benchmarks/parallel_search.py``).  :func:`dask_client`
warms every worker up once, before the search, so that a search's own time
compares with joblib's process backend (whose workers are reused in the same
way).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["dask_client", "warm_up"]


def warm_up() -> None:
    """Import skanode and run one tiny fit, so a worker's first real task starts warm."""
    import numpy as np

    from .estimators import ANODEClassifier

    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    ANODEClassifier(max_epochs=1, hidden_dim=4, random_state=0).fit(X, [0, 1, 0, 1])


@contextlib.contextmanager
def dask_client(scheduler: str | None = None,
                local_workers: int | None = None) -> Iterator[Any]:
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
        The client, its workers warmed up (:func:`warm_up`); inside the block,
        ``joblib.parallel_backend("dask")`` runs scikit-learn's searches on the
        cluster.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the extra
        raise ImportError("Dask is optional: pip install 'skanode[distributed]'.") from err
    if scheduler is not None:
        try:
            client = Client(scheduler)
        except OSError as err:  # distributed's "Timed out trying to connect ..."
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: "
                                  f"{err}") from err
        with client:
            client.run(warm_up)
            yield client
        return
    with LocalCluster(n_workers=local_workers or 2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(warm_up)
        yield client

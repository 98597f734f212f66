"""Where does a parallel search spend its time: serial vs joblib processes vs Dask.

Runs the same GridSearchCV (24 fits: 8 candidates x 3 folds, 10 epochs each,
1,500 points of the paper's 2-D spheres) serially, with joblib's process
backend (``n_jobs=2``) and on a 2-worker Dask ``LocalCluster``, in one run
(no refit: the 24 fits are the work).  The serial run and joblib's workers are
timed once torch has started in them (a warm-up search runs first); Dask's
workers are timed fresh (the first search imports torch and skanode in each
worker) and warm (a second search), which shows where Dask's extra time goes.
Each fit and scoring also records its own time, so the overhead per task
(backend time minus the sum of fit and score times divided by the workers) is
printed too.

Run:  python benchmarks/parallel_search.py [--epochs 10] [--workers 2]
"""

import argparse
import os
import time
import warnings

import joblib
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skanode import ANODEClassifier
from skanode.datasets import make_concentric_spheres

GRID = {"lr": [1e-3, 1e-2], "hidden_dim": [16, 32], "augment_dim": [1, 5]}


def search(n_jobs, epochs, X, y):
    est = ANODEClassifier(max_epochs=epochs, n_iter_no_change=None, random_state=0)
    with warnings.catch_warnings():  # a fixed 10-epoch budget does not converge, on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs, refit=False).fit(X, y)


def timed(label, run, workers):
    start = time.perf_counter()
    result = run()
    wall = time.perf_counter() - start
    cv = result.cv_results_
    fits = (cv["mean_fit_time"].sum() + cv["mean_score_time"].sum()) * 3  # 3 folds each
    per_task = (wall - fits / workers) / (len(cv["params"]) * 3 / workers)
    print(f"{label:<28} {wall:7.1f} s   sum of fit and score times {fits:6.1f} s   "
          f"overhead per task {per_task:+.3f} s")
    return wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs of each of the 24 fits (default: 10)")
    parser.add_argument("--workers", type=int, default=2,
                        help="joblib processes and Dask workers (default: 2)")
    args = parser.parse_args()
    print(f"load average at start: {[round(v, 2) for v in os.getloadavg()]}")
    X, y = make_concentric_spheres(500, 1000, random_state=0)
    small_X, small_y = X[:60], y[:60]

    search(1, 1, small_X, small_y)  # torch's one-off start-up in this process
    serial = timed("serial", lambda: search(1, args.epochs, X, y), 1)

    search(args.workers, 1, small_X, small_y)  # start loky's workers and import skanode
    loky = timed(f"loky n_jobs={args.workers}", lambda: search(args.workers, args.epochs, X, y),
                 args.workers)

    walls = {"serial": serial, "loky": loky}
    try:
        import distributed
    except ImportError:
        distributed = None
        print("dask: not installed (pip install 'skanode[distributed]'); its rows are skipped")
    if distributed is not None:
        with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster), joblib.parallel_backend("dask"):
            # the first search on fresh workers also imports torch and skanode there
            walls["dask, fresh workers"] = timed(
                "dask, fresh workers", lambda: search(-1, args.epochs, X, y), args.workers)
            walls["dask, warm workers"] = timed(
                "dask, warm workers", lambda: search(-1, args.epochs, X, y), args.workers)
    print("speed-up over serial: " + ", ".join(
        f"{name} {serial / wall:.2f}x" for name, wall in walls.items() if name != "serial"))


if __name__ == "__main__":
    main()

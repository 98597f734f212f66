"""Parallel searches on process workers and on Dask, and the search command."""

import os

import joblib
import numpy as np
import pytest
import torch
from conftest import make
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skanode import ANODEClassifier


class RecordThreads(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("threads", torch.get_num_threads())


def threads_scorer(est, X, y):
    return est.history[-1, "threads"]


def _search(n_jobs):
    return GridSearchCV(
        make(ANODEClassifier, max_epochs=2, callbacks=[("threads", RecordThreads())]),
        {"lr": [1e-3, 1e-2], "augment_dim": [1, 2]}, cv=2, n_jobs=n_jobs,
        scoring={"accuracy": "accuracy", "threads": threads_scorer}, refit="accuracy")


def test_process_workers_get_their_share_of_cores():
    from skanode.datasets import load_digits_images

    X, y = load_digits_images()
    search = GridSearchCV(
        ANODEClassifier(architecture="conv", num_filters=4, max_epochs=1, random_state=0,
                        callbacks=[("threads", RecordThreads())]),
        {"augment_dim": [1, 2]}, cv=2, n_jobs=2,
        scoring={"accuracy": "accuracy", "threads": threads_scorer}, refit="accuracy",
    ).fit(X[:128], y[:128])
    share = max(1, (os.cpu_count() or 1) // 2)
    assert set(search.cv_results_["mean_test_threads"]) == {share}


def test_dask_search_matches_the_serial_search(spheres):
    distributed = pytest.importorskip("distributed")
    X, y = spheres
    serial = _search(n_jobs=1).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_backend("dask"):
        dask = _search(n_jobs=-1).fit(X, y)
    assert dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(dask.cv_results_["mean_test_accuracy"],
                                  serial.cv_results_["mean_test_accuracy"])
    assert set(dask.cv_results_["mean_test_threads"]) == {1}


def test_failing_candidate_in_a_parallel_search(spheres):
    X, y = spheres
    search = GridSearchCV(make(ANODEClassifier, max_epochs=1, hidden_dim=4),
                          {"max_num_steps": [1, 100]}, cv=2, n_jobs=2)
    with pytest.warns(FitFailedWarning) as records:
        search.fit(X, y)
    assert any("SolverError" in str(r.message) for r in records)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])


def test_search_command_on_a_local_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    import pandas as pd

    from skanode.cli import main

    assert main(["search", "--quick", "--models", "anode", "--dask-local", "2", "--quiet",
                 "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "Dask (2 workers)" in summary
    assert (tmp_path / "search_anode_d2.png").exists()
    results = pd.read_csv(tmp_path / "cv_results_anode_d2.csv")
    assert {"mean_test_score", "mean_test_nfe", "mean_fit_time"} <= set(results.columns)


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    from skanode.cli import main

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main(["search", "--quick", "--scheduler", "tcp://127.0.0.1:1",
                     "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("skanode search: error: cannot reach the Dask scheduler at "
                             "tcp://127.0.0.1:1")

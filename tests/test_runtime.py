"""Random generators, torch threads and the device: per fit, never process-wide surprises."""

import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import torch
from conftest import make
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skanode import ANODEClassifier, ANODERegressor
from skanode.runtime import make_generator, thread_budget, torch_threads


def test_same_seed_same_predictions_different_seed_differs(spheres):
    X, y = spheres
    fits = [make(ANODERegressor, random_state=s).fit(X, y.astype(float)).predict(X)
            for s in (5, 5, 6)]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])


def test_numpy_random_state_instances_are_accepted(spheres):
    X, y = spheres
    a = make(ANODEClassifier, random_state=np.random.RandomState(3)).fit(X, y)
    b = make(ANODEClassifier, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_fit_leaves_torch_and_numpy_global_generators_alone(spheres):
    X, y = spheres
    # the legacy global numpy generator is what random_state=None draws from
    torch.manual_seed(123)
    np.random.seed(7)  # noqa: NPY002
    expected = torch.rand(1), np.random.rand()  # noqa: NPY002
    torch.manual_seed(123)
    np.random.seed(7)  # noqa: NPY002
    make(ANODEClassifier).fit(X, y)
    assert torch.rand(1) == expected[0] and np.random.rand() == expected[1]  # noqa: NPY002


def test_random_state_none_follows_numpy_global_seed(spheres):
    X, y = spheres
    probas = []
    for _ in range(2):
        np.random.seed(0)  # noqa: NPY002
        probas.append(make(ANODEClassifier, random_state=None).fit(X, y).predict_proba(X))
    np.testing.assert_array_equal(*probas)


class FirstBatch(Callback):
    def on_train_begin(self, net, **kwargs):
        self.batches = []

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.batches.append(batch[0][:3].clone())


def test_partial_fit_continues_the_random_stream(spheres):
    X, y = spheres
    seen = FirstBatch()
    est = make(ANODEClassifier, max_epochs=1, callbacks=[("seen", seen)])
    est.partial_fit(X, y)
    first = seen.batches[0]
    est.partial_fit(X, y)
    assert not torch.equal(first, seen.batches[0])  # a new batch order, not a replay
    # ... and two one-epoch calls are one two-epoch fit: same stream, same optimizer state
    two = make(ANODEClassifier, max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), two.predict_proba(X))


def test_make_generator():
    a, b = make_generator(3), make_generator(3)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    assert not torch.equal(torch.rand(4, generator=make_generator(4)),
                           torch.rand(4, generator=make_generator(3)))


# -- threads ---------------------------------------------------------------------------------
class RecordThreads(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("threads", torch.get_num_threads())


def test_explicit_budget_is_used_and_restored(monkeypatch, spheres):
    X, y = spheres
    before = torch.get_num_threads()
    monkeypatch.setenv("SKANODE_NUM_THREADS", "1")
    assert thread_budget() == 1
    est = make(ANODEClassifier, max_epochs=1, callbacks=[("t", RecordThreads())]).fit(X, y)
    assert est.history[-1, "threads"] == 1
    assert torch.get_num_threads() == before


def test_small_mlp_models_train_on_one_thread(monkeypatch, spheres):
    monkeypatch.delenv("SKANODE_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_budget(small=True) == 1
    X, y = spheres
    with torch_threads(2):
        est = make(ANODEClassifier, max_epochs=1, callbacks=[("t", RecordThreads())]).fit(X, y)
        assert est.history[-1, "threads"] == 1
        assert torch.get_num_threads() == 2


def test_omp_variable_caps_threads(monkeypatch):
    monkeypatch.delenv("SKANODE_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert thread_budget() == 1
    finally:
        torch.set_num_threads(before)


def test_overlapping_fits_in_threads_restore_the_setting(spheres):
    X, y = spheres
    before = torch.get_num_threads()
    barrier = threading.Barrier(2)
    inside = []

    def fit(seed):
        with torch_threads(2):
            inside.append(torch.get_num_threads())
            barrier.wait(timeout=30)  # both fits are running now
            est = make(ANODEClassifier, random_state=seed).fit(X, y)
            barrier.wait(timeout=30)
        return est.predict_proba(X)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(fit, [0, 0]))
    assert torch.get_num_threads() == before  # never left at another value
    assert 1 in inside  # the fit that started second shared the cores
    np.testing.assert_array_equal(*results)  # and both draw from their own generators


def test_threading_backend_search_matches_the_serial_search(spheres):
    X, y = spheres
    before = torch.get_num_threads()

    def search():
        return GridSearchCV(make(ANODEClassifier, max_epochs=2),
                            {"lr": [1e-3, 1e-2], "augment_dim": [1, 2]}, cv=2, n_jobs=2)

    serial = search().set_params(n_jobs=1).fit(X, y)
    with joblib.parallel_backend("threading"):
        threaded = search().fit(X, y)
    np.testing.assert_array_equal(threaded.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert torch.get_num_threads() == before


def test_search_is_reproducible_across_process_workers(spheres):
    X, y = spheres
    results = [GridSearchCV(make(ANODEClassifier, max_epochs=2), {"lr": [1e-3, 1e-2]}, cv=2,
                            n_jobs=n_jobs).fit(X, y).cv_results_["mean_test_score"]
               for n_jobs in (1, 2)]
    np.testing.assert_array_equal(*results)


def test_cuda_device_check_names_the_problem():
    from skanode.runtime import check_device

    check_device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device='cuda:1' was requested"):
            check_device("cuda:1")


class CustomModule(torch.nn.Module):
    def __init__(self, input_dim, output_dim, width=6):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(input_dim, width), torch.nn.Tanh(),
                                       torch.nn.Linear(width, output_dim))
        torch.nn.init.xavier_uniform_(self.net[0].weight)  # its own initialisation

    def forward(self, x):
        return self.net(x)


def test_a_custom_module_is_seeded_and_leaves_the_global_generator_alone(spheres):
    X, y = spheres
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    fits = [make(ANODEClassifier, module=CustomModule, module__width=4, random_state=s)
            .fit(X, y).predict_proba(X) for s in (1, 1, 2)]
    assert torch.rand(1) == expected
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])

"""Failures during training never leave NaN weights or a half-updated model."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skanode import ANODEClassifier, DivergenceError, NODEClassifier, SolverError


class PoisonAt(Callback):
    """Make the weights NaN (so the loss is NaN) from epoch ``epoch`` on."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            with torch.no_grad():
                net.module_.head.weight.fill_(float("nan"))


class Snapshot(Callback):
    def on_epoch_end(self, net, **kwargs):
        self.state = {k: v.clone() for k, v in net.module_.state_dict().items()}


def _finite(est):
    return all(torch.isfinite(v).all() for v in est.module_.state_dict().values())


@pytest.mark.parametrize("policy", ["raise", "stop"])
def test_non_finite_loss_restores_last_good_epoch(policy, spheres):
    X, y = spheres
    snap = Snapshot()
    est = NODEClassifier(max_epochs=5, random_state=0, on_failure=policy,
                         callbacks=[("snap", snap), ("poison", PoisonAt(3))])
    if policy == "raise":
        with pytest.raises(DivergenceError, match="loss became nan"):
            est.fit(X, y)
    else:
        with pytest.warns(UserWarning, match="Training stopped at epoch 3"):
            est.fit(X, y)
    assert _finite(est)
    for name, value in est.module_.state_dict().items():
        torch.testing.assert_close(value, snap.state[name])  # the weights of epoch 2
    assert "DivergenceError" in est.history[-1, "failure"]
    assert np.isfinite(est.predict_proba(X)).all()


def test_solver_error_during_training_keeps_good_weights(spheres):
    X, y = spheres
    est = NODEClassifier(max_epochs=3, lr=1e6, random_state=0, on_failure="stop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X * 50, y)
    assert _finite(est)
    assert "failure" in est.history[-1]


def test_invalid_policy():
    with pytest.raises(ValueError, match="on_failure"):
        NODEClassifier(on_failure="ignore").fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_grid_search_scores_failing_candidate_nan_and_goes_on(spheres):
    X, y = spheres
    search = GridSearchCV(
        ANODEClassifier(max_epochs=2, random_state=0, hidden_dim=4),
        {"max_num_steps": [1, 100]}, cv=2, error_score=np.nan)
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert search.best_params_ == {"max_num_steps": 100}
    with pytest.raises(SolverError):
        GridSearchCV(ANODEClassifier(max_epochs=1, max_num_steps=1), {"lr": [1e-3]}, cv=2,
                     error_score="raise").fit(X, y)

"""NFE records, and training that fails or is interrupted never leaves a half-updated model."""

import warnings

import numpy as np
import pytest
import torch
from conftest import make
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import ValidSplit

from skanode import (
    ANODEClassifier,
    DivergenceError,
    NFECallback,
    NODEClassifier,
    ResNetClassifier,
    ResNetRegressor,
    SolverError,
)


# -- NFE -----------------------------------------------------------------------------------------
def test_nfe_history_per_batch_and_epoch(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=2, batch_size=50).fit(X, y)
    for epoch in est.history:
        per_batch = [b["forward_nfe"] for b in epoch["batches"]]
        assert len(per_batch) == 3 and min(per_batch) >= 8  # >= one dopri5 step + start
        assert epoch["forward_nfe"] == pytest.approx(np.mean(per_batch))
        assert epoch["backward_nfe"] == 0  # direct backpropagation


def test_adjoint_has_backward_nfe(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=1, adjoint=True).fit(X, y)
    assert est.history[-1, "backward_nfe"] > 0


def test_verbose_epoch_table_shows_nfe(spheres, capsys):
    X, y = spheres
    make(ANODEClassifier, max_epochs=1, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "forward_nfe" in out and "backward_nfe" in out


def test_nfe_callback_can_be_turned_off(spheres):
    X, y = spheres
    est = make(ANODEClassifier, max_epochs=1, callbacks__nfe=None).fit(X, y)
    assert "forward_nfe" not in est.history[-1]


# -- failures ------------------------------------------------------------------------------------
class PoisonAt(Callback):
    """Make the weights NaN (so the loss is NaN) from epoch ``epoch`` on."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            with torch.no_grad():
                net.module_.head.weight.fill_(float("nan"))


class StepLimitAt(Callback):
    """Give the solver a step limit of 1 from epoch ``epoch`` on: a SolverError."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            net.module_.odeblock.max_num_steps = 1


class Snapshot(Callback):
    def on_epoch_end(self, net, **kwargs):
        self.state = {k: v.clone() for k, v in net.module_.state_dict().items()}


def _assert_weights(est, state):
    for name, value in est.module_.state_dict().items():
        torch.testing.assert_close(value, state[name])


def test_divergence_remedies_fit_the_model(spheres):
    X, y = spheres
    with pytest.raises(DivergenceError, match="tighter solver tolerance") as info:
        make(NODEClassifier, callbacks=[("poison", PoisonAt(1))]).fit(X, y)
    assert "scale the targets" not in str(info.value)
    with pytest.raises(DivergenceError, match="scale the targets") as info:  # a ResNet has
        make(ResNetRegressor, callbacks=[("poison", PoisonAt(1))]).fit(X, y * 1.0)  # no solver
    assert "solver" not in str(info.value)


@pytest.mark.parametrize("policy", ["raise", "stop"])
def test_non_finite_loss_restores_last_good_epoch(policy, spheres):
    X, y = spheres
    snap = Snapshot()
    est = NODEClassifier(max_epochs=5, random_state=0, on_failure=policy,
                         callbacks=[("snap", snap), ("poison", PoisonAt(3))])
    if policy == "raise":
        with pytest.raises(DivergenceError, match="loss became nan at epoch 3"):
            est.fit(X, y)
    else:
        with pytest.warns(UserWarning, match=r"Training stopped at epoch 3.*epoch \(2\)"):
            est.fit(X, y)
    _assert_weights(est, snap.state)  # the weights of epoch 2
    assert est.history[-1, "failure"].startswith("DivergenceError: the training loss")
    assert np.isfinite(est.predict_proba(X)).all()


@pytest.mark.parametrize("policy", ["raise", "stop"])
def test_solver_error_restores_last_good_epoch(policy, spheres):
    X, y = spheres
    snap = Snapshot()
    est = NODEClassifier(max_epochs=4, random_state=0, on_failure=policy,
                         callbacks=[("snap", snap), ("limit", StepLimitAt(2))])
    if policy == "raise":
        with pytest.raises(SolverError, match="exceeded the step limit"):
            est.fit(X, y)
    else:
        with pytest.warns(UserWarning, match=r"Training stopped at epoch 2: .*step limit"):
            est.fit(X, y)
    _assert_weights(est, snap.state)  # the weights of epoch 1
    assert len(est.history) == 2 and est.n_iter_ == 1
    assert est.history[-1, "failure"].startswith("SolverError: ODE solver 'dopri5'")


def test_failure_in_the_first_epoch_restores_the_initial_weights(spheres):
    X, y = spheres

    class Initial(Callback):
        def on_train_begin(self, net, **kwargs):
            self.state = {k: v.clone() for k, v in net.module_.state_dict().items()}

    initial = Initial()
    est = NODEClassifier(max_epochs=2, random_state=0, on_failure="stop",
                         callbacks=[("initial", initial), ("poison", PoisonAt(1))])
    with pytest.warns(UserWarning, match="Training stopped at epoch 1"):
        est.fit(X, y)
    _assert_weights(est, initial.state)


class InterruptAt(Callback):
    def __init__(self, epoch, batch=1):
        self.epoch, self.batch, self.seen = epoch, batch, 0

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            self.seen += 1
            if self.seen == self.batch:
                raise KeyboardInterrupt


def test_ctrl_c_keeps_last_finished_epoch(spheres):
    X, y = spheres
    snap = Snapshot()
    est = ANODEClassifier(max_epochs=6, random_state=0, batch_size=16,
                          callbacks=[("snap", snap), ("stop", InterruptAt(3, batch=2))])
    with pytest.warns(UserWarning, match=r"interrupted.*last finished epoch \(2\)"):
        est.fit(X, y)
    _assert_weights(est, snap.state)
    assert est.history[-1, "interrupted"] is True
    assert len(est.history) == 3 and est.n_iter_ == 2  # the unfinished epoch does not count
    assert np.isfinite(est.predict_proba(X)).all()
    est.set_params(callbacks=[]).partial_fit(X, y)  # training can go on from there
    assert len(est.history) == 3 + 6 and est.n_iter_ == 2 + 6


def test_grid_search_scores_a_failing_candidate_nan_and_goes_on(spheres):
    X, y = spheres
    search = GridSearchCV(make(ANODEClassifier, max_epochs=2, hidden_dim=4),
                          {"max_num_steps": [1, 100]}, cv=2, error_score=np.nan)
    with pytest.warns(FitFailedWarning, match="SolverError"):
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert search.best_params_ == {"max_num_steps": 100}
    with pytest.raises(SolverError, match="max_num_steps=1"):
        GridSearchCV(ANODEClassifier(max_epochs=1, max_num_steps=1), {"lr": [1e-3]}, cv=2,
                     error_score="raise").fit(X, y)


def test_skorchs_early_stopping_ends_training_quietly(spheres):
    X, y = spheres
    es = [("es", EarlyStopping(patience=2))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither "interrupted" nor ConvergenceWarning
        est = make(ANODEClassifier, max_epochs=200, callbacks=es,
                   train_split=ValidSplit(5, stratified=True)).fit(X, y)
    assert est.n_iter_ == len(est.history) < 200
    assert "interrupted" not in est.history[-1]
    assert est.history[-1, "stopped_early"] is True  # marked as skanode's own stops are
    assert est.history[:-1, "stopped_early"] == [False] * (len(est.history) - 1)
    with pytest.raises(ValueError, match=r"needs validation scores .*early_stopping=True"):
        make(ANODEClassifier, callbacks=es).fit(X, y)  # train_split=None: no valid_loss


class RaiseAt(Callback):
    """Raise ``error`` at the first training batch of epoch ``epoch``."""

    def __init__(self, epoch, error):
        self.epoch, self.error = epoch, error

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            raise self.error


@pytest.mark.parametrize("max_epochs, epoch", [(1, 1), (3, 3), (3, 2)])
def test_any_error_in_training_surfaces_and_restores_the_last_finished_epoch(
        max_epochs, epoch, spheres):
    # a one-epoch fit used to hide the error behind convergence's KeyError('train_loss')
    X, y = spheres

    class Finished(Snapshot):  # the weights at the start, then after each finished epoch
        on_train_begin = Snapshot.on_epoch_end

    snap = Finished()
    est = ANODEClassifier(max_epochs=max_epochs, random_state=0, batch_size=32,
                          callbacks=[("snap", snap),
                                     ("boom", RaiseAt(epoch, RuntimeError("boom: the cause")))])
    with pytest.raises(RuntimeError, match="boom: the cause"):
        est.fit(X, y)
    _assert_weights(est, snap.state)  # not the half-updated weights of the failed epoch
    assert est.history[-1, "failure"] == "RuntimeError: boom: the cause"
    assert est.n_iter_ == epoch - 1


def test_an_error_in_partial_fit_keeps_the_model_as_it_was(spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=2, n_iter_no_change=None, random_state=0)
    with pytest.warns(ConvergenceWarning):  # two epochs are not enough; beside the point
        est.fit(X, y)
    proba = est.predict_proba(X)
    est.set_params(max_epochs=1, callbacks=[("boom", RaiseAt(3, ValueError("bad batch")))])
    with pytest.raises(ValueError, match="bad batch"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    assert est.n_iter_ == 2


def test_an_error_in_on_train_end_leaves_n_iter_right(spheres):
    X, y = spheres

    class FailAtEnd(Callback):
        def on_train_end(self, net, **kwargs):
            raise OSError("disk full")

    est = ANODEClassifier(max_epochs=2, n_iter_no_change=None, random_state=0,
                          callbacks=[("end", FailAtEnd())])
    with pytest.raises(OSError, match="disk full"):
        est.fit(X, y)
    assert est.n_iter_ == 2


def test_switching_a_default_callback_off_after_fit(spheres):
    # skorch left None in the built callback list: AttributeError in the next partial_fit
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, n_iter_no_change=None, random_state=0).fit(X, y)
    est.set_params(callbacks__nfe=None).partial_fit(X, y)
    assert "forward_nfe" in est.history[0] and "forward_nfe" not in est.history[-1]


def test_a_callback_failing_at_epoch_end_fails_that_epoch(spheres):
    # the snapshot was taken before later callbacks ran: the failed epoch's weights stayed
    X, y = spheres

    class FailAtEpochEnd(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 3:
                raise RuntimeError("checkpoint: disk full")

    est = ResNetClassifier(max_epochs=5, n_iter_no_change=None, random_state=0,
                           callbacks=[("fail", FailAtEpochEnd())])
    with pytest.raises(RuntimeError, match="disk full"):
        est.fit(X, y)
    clean = ResNetClassifier(max_epochs=2, n_iter_no_change=None, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clean.fit(X, y)
    assert est.n_iter_ == 2
    np.testing.assert_array_equal(est.predict_proba(X), clean.predict_proba(X))
    # the random stream is put back too: going on equals never having failed
    est.set_params(callbacks=[], max_epochs=1).partial_fit(X, y)
    clean.set_params(max_epochs=1).partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), clean.predict_proba(X))


def test_replacing_a_switched_off_callback(spheres):
    # skorch failed to unpack the name of a callback that was already None
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, n_iter_no_change=None, callbacks__nfe=None)
    est.set_params(callbacks__nfe=None).fit(X, y)
    assert "forward_nfe" not in est.history[-1]
    est.set_params(callbacks__nfe=NFECallback()).partial_fit(X, y)
    assert "forward_nfe" in est.history[-1]

"""Convergence control as in MLPClassifier: early stopping, ConvergenceWarning, n_iter_, logs."""

import io
import re
import warnings

import numpy as np
import pytest
from conftest import make
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanode import ANODEClassifier, ANODERegressor, NODEClassifier


def test_early_stopping_stops_and_keeps_the_best_epoch(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, early_stopping=True, max_epochs=300, n_iter_no_change=5)
    est.fit(X, names)
    history = est.history
    assert est.n_iter_ == len(history) < 300  # stopped
    assert history[-1, "stopped_early"] is True
    assert history[:-1, "stopped_early"] == [False] * (len(history) - 1)
    losses = history[:, "valid_loss"]
    best = int(np.argmin(losses)) + 1
    assert history[-1, "best_epoch"] == best
    # the last five epochs did not improve on the best by more than tol
    assert min(losses[-5:]) > min(losses[:-5]) - est.tol
    assert history[-1, "valid_acc"] is not None
    assert est.score(X, names) > 0.9


def test_early_stopping_holds_out_a_stratified_fraction(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, early_stopping=True, validation_fraction=0.2, max_epochs=2)
    est.fit(X, names)
    batches = est.history[-1, "batches"]
    train_rows = sum(b["train_batch_size"] for b in batches if "train_batch_size" in b)
    valid_rows = sum(b["valid_batch_size"] for b in batches if "valid_batch_size" in b)
    assert (train_rows, valid_rows) == (120, 30)


def test_best_weights_are_restored(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, early_stopping=True, max_epochs=40, n_iter_no_change=None,
               lr=0.05)  # a large lr: the validation loss wanders, the best is kept
    est.fit(X, names)
    assert est.n_iter_ == 40
    best = est.history[-1, "best_epoch"]
    # re-evaluating the validation data gives the best epoch's loss, not the last one's
    assert best == int(np.argmin(est.history[:, "valid_loss"])) + 1


def test_training_loss_plateau_stops_without_early_stopping(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=500, n_iter_no_change=3, tol=0.5)
    est.fit(X, y)  # with a huge tol nothing counts as an improvement
    assert est.n_iter_ == 4 and est.history[-1, "stopped_early"] is True


def test_fixed_epochs_with_n_iter_no_change_none(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=6, n_iter_no_change=None, tol=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_iter_ == 6 and est.history[:, "stopped_early"] == [False] * 6


def test_convergence_warning_when_the_loss_still_falls(iris_scaled):
    X, names = iris_scaled
    with pytest.warns(ConvergenceWarning, match=r"ended at max_epochs=5 while the training "
                                                r"loss still fell.*use early_stopping=True"):
        make(ANODEClassifier, max_epochs=5, lr=1e-3).fit(X, names)
    with pytest.warns(ConvergenceWarning, match=r"Raise max_epochs: early stopping ends"):
        make(ANODEClassifier, max_epochs=5, lr=1e-3, early_stopping=True).fit(X, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # converged: no warning
        make(ANODEClassifier, max_epochs=300, lr=1e-2).fit(X, names)
    with pytest.warns(ConvergenceWarning, match=r"per epoch over the last epoch \("):
        est = make(ANODEClassifier, max_epochs=2, lr=1e-3).fit(X, names)
    assert est.history[-1, "stopped_early"] is False  # readable when training did not stop


def test_partial_fit_neither_stops_nor_warns(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, max_epochs=3, early_stopping=True, tol=10.0,
               n_iter_no_change=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.partial_fit(X, names)
        est.partial_fit(X, names)
    assert est.n_iter_ == 6 and "valid_loss" not in est.history[-1]
    assert est.history[:, "stopped_early"] == [False] * 6


def test_early_stopping_in_a_pipeline_and_a_regressor(spheres):
    X, y = spheres
    pipe = make_pipeline(StandardScaler(), make(ANODERegressor, early_stopping=True,
                                                max_epochs=200, n_iter_no_change=3))
    pipe.fit(X, y.astype(float))
    assert pipe[-1].n_iter_ < 200 and "valid_acc" not in pipe[-1].history[-1]


def test_verbose_log_is_plain_text_off_a_terminal(spheres, capsys):
    X, y = spheres
    make(ANODEClassifier, max_epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out  # captured: not a terminal
    assert "train_loss" in out and "forward_nfe" in out
    assert "\x1b[" not in out


def test_silent_fits_print_nothing_and_a_later_verbose_one_prints_the_header(spheres, capsys):
    X, y = spheres
    est = make(ANODEClassifier, max_epochs=2).fit(X, y)
    assert capsys.readouterr().out == ""
    est.set_params(verbose=1).partial_fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert "train_loss" in lines[0] and lines[2].split()[0] == "3"


def test_verbose_log_keeps_its_columns_and_says_why_it_stopped(iris_scaled, capsys):
    X, names = iris_scaled
    est = make(ANODEClassifier, max_epochs=200, early_stopping=True, n_iter_no_change=2,
               verbose=1).fit(X, names)
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.strip()[:1].isdigit()]
    assert len(rows) == est.n_iter_ and len({len(row.split()) for row in rows}) == 1
    assert f"Stopped at epoch {est.n_iter_}: the valid loss did not improve" in lines[-2]
    assert lines[-1].startswith(f"Kept the weights of epoch {est.history[-1, 'best_epoch']}")


def test_small_validation_sets_are_warned_about(iris_scaled):
    X, names = iris_scaled
    with pytest.warns(UserWarning, match="holds out only 5 of 50 samples"):
        make(ANODEClassifier, max_epochs=2, early_stopping=True).fit(X[::3], names[::3])


def test_progress_bar_counts_the_training_batches(spheres, capsys):
    X, y = spheres
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # none of torch's about the loss tensor
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        est = make(ANODEClassifier, max_epochs=2, batch_size=40, progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert re.search(r"ANODEClassifier: .*/6 ", err)
    assert dict(est.callbacks_)["progress_bar"].batches_done_ == 6  # 3 batches x 2 epochs
    # stderr is not a terminal here: the log keeps the final count, on a line of its own
    assert err.endswith("\n") and re.search(r"ANODEClassifier: 100%.* 6/6 ", err.split("\r")[-1])
    # the loss shown is the epoch's so far, weighted as train_loss is: at the end, train_loss
    assert f"epoch=2, loss={est.history[-1, 'train_loss']:.4g}]" in err.split("\r")[-1]
    make(ANODEClassifier, max_epochs=1).fit(X, y)
    assert "ANODEClassifier" not in capsys.readouterr().err


def test_convergence_parameters_are_validated(spheres):
    X, y = spheres
    for name, value in (("validation_fraction", 1.0), ("n_iter_no_change", 0), ("tol", -1.0),
                        ("early_stopping", "yes"), ("progress", 1)):
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            make(ANODEClassifier, **{name: value}).fit(X, y)

    with pytest.raises(ValueError, match=r"reads 'train_loss' .* callbacks__convergence=None"):
        make(ANODEClassifier, callbacks__train_loss=None).fit(X, y)
    make(ANODEClassifier, callbacks__train_loss=None, callbacks__convergence=None).fit(X, y)


def test_log_sink_is_plain(spheres):
    from skanode.callbacks import PrintLog

    X, y = spheres
    lines = io.StringIO()
    make(ANODEClassifier, max_epochs=1, callbacks__print_log=PrintLog(
        sink=lambda s: lines.write(s + "\n"))).fit(X, y)
    assert "\x1b[" not in lines.getvalue() and "train_loss" in lines.getvalue()

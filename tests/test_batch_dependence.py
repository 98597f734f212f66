"""Predictions that do not depend on batching: per-sample step control, end to end."""

import numpy as np
import pytest
from conftest import ODE_ESTIMATORS, make
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    NODEClassifier,
    NODERegressor,
    ResNetClassifier,
    ResNetRegressor,
)


@pytest.fixture(scope="module")
def tabular():
    """The kind of data a tabular user meets: 10 features, 3 classes."""
    X, y = make_classification(500, n_features=10, n_informative=6, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


def _outputs(est, X, size):
    est.set_params(iterator_valid__batch_size=size)
    method = est.predict_proba if hasattr(est, "predict_proba") else est.predict
    return method(X), est.transform(X), est.trajectory(X[:50], times=[0.3, 1.0])


@pytest.mark.parametrize("cls", ODE_ESTIMATORS)
@pytest.mark.parametrize("step_control", ["auto", "sample"])
def test_outputs_do_not_depend_on_batch_size_or_row_order(cls, step_control, tabular):
    X, y = tabular
    y = y if "Classifier" in cls.__name__ else y.astype(float)
    est = make(cls, max_epochs=5, step_control=step_control).fit(X, y)
    reference = _outputs(est, X, 1000)
    for size in (1, 7, 64):
        for ours, ref in zip(_outputs(est, X, size), reference):
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)
    order = np.random.RandomState(1).permutation(len(X))
    est.set_params(iterator_valid__batch_size=64)
    method = est.predict_proba if hasattr(est, "predict_proba") else est.predict
    np.testing.assert_allclose(method(X[order]), reference[0][order], rtol=0, atol=1e-5)


@pytest.mark.parametrize("cls, columns", [
    (NODERegressor, slice(None)),  # one output: the head is a one-column product
    (ANODERegressor, slice(None)),
    (ResNetRegressor, slice(None)),
    (NODEClassifier, slice(0, 1)),  # one feature: the field's last layer has one output
])
def test_one_column_products_are_equal_across_batches_and_orders(cls, columns, tabular):
    X, y = tabular
    X = np.ascontiguousarray(X[:, columns])
    y = y if "Classifier" in cls.__name__ else y.astype(float)
    est = make(cls, max_epochs=3).fit(X, y)
    method = est.predict_proba if hasattr(est, "predict_proba") else est.predict
    whole = method(X)
    for n in range(8, 72):  # the last n rows, alone
        np.testing.assert_array_equal(method(X[-n:]), whole[-n:])
    order = np.random.RandomState(2).permutation(len(X))
    np.testing.assert_array_equal(method(X[order]), whole[order])
    est.set_params(iterator_valid__batch_size=7)
    np.testing.assert_array_equal(method(X), whole)


def test_one_step_size_per_batch_depends_on_the_batch(tabular):
    """What per-sample control removes: the same model, solved per batch, moves with it."""
    X, y = tabular
    est = make(NODEClassifier, max_epochs=5, step_control="batch").fit(X, y)
    whole = est.set_params(iterator_valid__batch_size=-1).predict_proba(X)
    small = est.set_params(iterator_valid__batch_size=7).predict_proba(X)
    assert np.abs(whole - small).max() > 1e-5


def test_sample_mode_trains_and_records_per_sample_nfe(tabular):
    X, y = tabular
    est = make(ANODEClassifier, max_epochs=3, step_control="sample").fit(X, y)
    last = est.history[-1]
    assert last["forward_nfe_per_sample"] <= last["forward_nfe"]  # the lockstep lasts longest
    assert est.score(X, y) > 0.5
    assert "forward_nfe_per_sample" not in make(ANODEClassifier, max_epochs=1).fit(
        X, y).history[-1]  # "auto" trains per batch


def test_sample_mode_with_adjoint_and_other_tableaus(tabular):
    X, y = tabular
    for solver in ("bosh3", "adaptive_heun"):
        est = make(NODEClassifier, max_epochs=2, step_control="sample", solver=solver,
                   adjoint=True).fit(X, y)
        assert est.history[-1, "backward_nfe"] > 0
        assert np.isfinite(est.predict_proba(X)).all()


def test_fixed_step_solver_is_batch_independent(tabular):
    X, y = tabular
    est = make(ANODEClassifier, solver="rk4", solver_options={"step_size": 0.1},
               step_control="batch").fit(X, y)
    full = est.set_params(iterator_valid__batch_size=-1).predict_proba(X)
    small = est.set_params(iterator_valid__batch_size=5).predict_proba(X)
    np.testing.assert_allclose(full, small, rtol=0, atol=1e-6)


def test_unsupported_combinations_are_clear_errors(tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="step_control='sample' is not available for solver="
                                         "'dopri8'"):
        make(ANODEClassifier, solver="dopri8", step_control="sample").fit(X, y)
    with pytest.raises(ValueError, match=r"takes no solver_options \(got \['first_step'\]\)"):
        make(ANODEClassifier, solver_options={"first_step": 0.1}, step_control="sample").fit(
            X, y)
    # fixed-step methods take their options and are per sample anyway
    est = make(ANODEClassifier, solver="rk4", solver_options={"step_size": 0.25},
               step_control="sample", max_epochs=1).fit(X, y)
    assert est.history[-1, "forward_nfe"] == 16
    with pytest.raises(ValueError, match="iterator_valid__batch_size must be a positive"):
        est.set_params(iterator_valid__batch_size=0).predict(X)


def test_the_step_budget_applies_per_sample():
    """One stiff sample among easy ones exhausts the budget; the others do not hide it."""
    import torch

    from skanode import SolverError
    from skanode.odeblock import ODEBlock

    class Stiff(torch.nn.Module):
        def forward(self, t, h):
            return -h * torch.tensor([1.0, 1.0, 1e6]).view(3, 1)

    block = ODEBlock(Stiff(), step_control="sample", max_num_steps=30, rtol=1e-9, atol=1e-9)
    with pytest.raises(SolverError, match="exceeded the step limit"):
        block(torch.ones(3, 1))


@pytest.mark.parametrize("cls", [ResNetClassifier, ResNetRegressor])
def test_resnet_outputs_do_not_depend_on_the_batch(cls, tabular):
    X, y = tabular
    y = y if cls is ResNetClassifier else y.astype(float)
    est = make(cls, max_epochs=3).fit(X, y)
    reference = _outputs(est, X, 1000)
    for size in (1, 7, 64):
        for ours, ref in zip(_outputs(est, X, size), reference):
            np.testing.assert_array_equal(ours, ref)

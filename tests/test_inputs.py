"""Bad input gets scikit-learn's own error (or warning), before any solve; targets and weights."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import DataConversionWarning
from torch.utils.data import TensorDataset

from skanode import ANODEClassifier, NODEClassifier, NODERegressor

FAST = {"max_epochs": 1, "hidden_dim": 4, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(spheres):
    X, y = spheres
    return NODEClassifier(**FAST).fit(X, y)


BAD_X = [
    ("nan", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X),
     ValueError, "NaN"),
    ("inf", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X),
     ValueError, "infinity"),
    ("empty", lambda X: X[:0], ValueError, "0 sample"),
    ("no features", lambda X: X[:, :0], ValueError, "0 feature"),
    ("1-D", lambda X: X[:, 0], ValueError, "Expected 2D array"),
    ("3-D", lambda X: X[:, :, None], ValueError, r"architecture='mlp' takes rows"),
    ("complex", lambda X: X.astype(complex), ValueError, "Complex data not supported"),
    ("strings", lambda X: X.astype(str).astype(object) + "x", ValueError, "convert"),
    ("sparse", lambda X: sp.csr_matrix(X), TypeError, "[Ss]parse"),
    ("beyond float32", lambda X: X * 1e39, ValueError, "X has values too large for float32"),
]


@pytest.mark.parametrize("name, make_bad, error, match", BAD_X, ids=[b[0] for b in BAD_X])
@pytest.mark.parametrize("method", ["fit", "predict", "predict_proba", "transform", "score"])
def test_bad_X(name, make_bad, error, match, method, spheres, fitted):
    X, y = spheres
    Xbad = make_bad(X)
    with pytest.raises(error, match=match):
        if method == "fit":
            NODEClassifier(**FAST).fit(Xbad, y)
        elif method == "score":
            fitted.score(Xbad, y[: len(Xbad)] if hasattr(Xbad, "__len__") else y)
        else:
            getattr(fitted, method)(Xbad)


def test_regression_targets_beyond_float32(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=r"y has values too large for float32.*"
                                         r"TransformedTargetRegressor"):
        NODERegressor(**FAST).fit(X, y * 1e39)


def test_no_solve_before_the_error(fitted, spheres):
    X, _ = spheres
    calls = fitted.module_.odeblock.field.calls
    with pytest.raises(ValueError):
        fitted.predict(np.full_like(X, np.nan))
    assert fitted.module_.odeblock.field.calls == calls


@pytest.mark.parametrize("method", ["predict", "predict_proba", "transform"])
def test_wrong_number_of_features(method, fitted, spheres):
    X, _ = spheres
    with pytest.raises(ValueError, match="3 features, but NODEClassifier is expecting 2"):
        getattr(fitted, method)(np.hstack([X, X[:, :1]]))


def test_reordered_dataframe_columns(spheres):
    X, y = spheres
    df = pd.DataFrame(X, columns=["a", "b"])
    est = NODEClassifier(**FAST).fit(df, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(df[["b", "a"]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X)


def test_classifier_targets(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match="only one class"):
        NODEClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        NODEClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        NODEClassifier(**FAST).fit(X, y[:, None])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NODEClassifier(**FAST).fit(X, y[:-1])


def test_regressor_targets(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=r"could not convert|dtype"):
        NODERegressor(**FAST).fit(X, np.array(["a"] * len(X), dtype=object))
    with pytest.raises(ValueError, match="NaN"):
        NODERegressor(**FAST).fit(X, np.full(len(X), np.nan))
    # a column vector is a 1-output regression
    assert NODERegressor(**FAST).fit(X, y[:, None].astype(float)).predict(X).shape == (len(X), 1)


def test_a_failed_refit_keeps_the_fitted_model(spheres):
    X, y = spheres
    est = NODEClassifier(**FAST).fit(X, y)
    proba = est.predict_proba(X)
    with pytest.raises(ValueError, match="only one class"):
        est.fit(np.hstack([X, X]), np.zeros(len(X)))  # 4 features, then a bad y
    assert est.n_features_in_ == 2 and list(est.classes_) == [-1, 1]
    np.testing.assert_array_equal(est.predict_proba(X), proba)


@pytest.mark.parametrize("weight, match", [
    (lambda n: -np.ones(n), "Negative values"),
    (lambda n: np.ones(n - 1), r"sample_weight.shape == \(119,\), expected \(120,\)"),
    (lambda n: np.zeros(n), "sums to zero"),
    (lambda n: np.full(n, np.nan), "NaN"),
    (lambda n: np.ones((n, 2)), "1D array or scalar"),
])
def test_bad_sample_weights(weight, match, spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=match):
        NODEClassifier(**FAST).fit(X, y, sample_weight=weight(len(X)))


def test_class_weight_checks(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=r"labels that are not classes: \[7\]"):
        NODEClassifier(class_weight={7: 2.0}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        NODEClassifier(class_weight="balanced", **FAST).partial_fit(X, y)
    with pytest.raises(ValueError, match="every class in y; missing"):
        NODEClassifier(class_weight="balanced", classes=[-1, 1, 3], **FAST).fit(X, y)


def test_classes_parameter_checks(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=r"labels not in classes_ \[-1, 2\]: \[1\]"):
        NODEClassifier(classes=[-1, 2], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="differs from the estimator's classes parameter"):
        NODEClassifier(classes=[-1, 1], **FAST).partial_fit(X, y, classes=[1, -1, 3])
    with pytest.raises(ValueError, match="classes is for classifiers"):
        NODERegressor(**FAST).partial_fit(X, y.astype(float), classes=[0, 1])


def test_a_dataset_without_targets_is_a_clear_error(spheres):
    X, _ = spheres
    data = TensorDataset(torch.as_tensor(X, dtype=torch.float32))
    with pytest.raises(ValueError, match="requires y to be passed"):
        ANODEClassifier(**FAST).fit(data)


def test_torch_tensors_in_as_arrays_also_ones_that_require_grad(spheres):
    X, y = spheres
    X32 = X.astype(np.float32)
    given = torch.tensor(X32, requires_grad=True)  # numpy() refuses these
    est = NODEClassifier(**FAST).fit(given, torch.as_tensor(y))
    np.testing.assert_array_equal(est.predict_proba(given),
                                  NODEClassifier(**FAST).fit(X32, y).predict_proba(X32))

"""Bad input gets scikit-learn's own error (or warning), before any solve."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning

from skanode import NODEClassifier, NODERegressor

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
    ("3-D", lambda X: X[:, :, None], ValueError, "dim 3"),
    ("complex", lambda X: X.astype(complex), ValueError, "Complex data not supported"),
    ("strings", lambda X: X.astype(str).astype(object) + "x", ValueError, "convert"),
    ("sparse", lambda X: sp.csr_matrix(X), TypeError, "[Ss]parse"),
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

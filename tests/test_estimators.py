import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.dataset import ValidSplit

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    NODEClassifier,
    NODERegressor,
    ResNetClassifier,
    ResNetRegressor,
    SolverError,
)
from skanode.scoring import nfe_scorer

FAST = {"max_epochs": 3, "hidden_dim": 8, "lr": 1e-2, "random_state": 0}
CLASSIFIERS = [NODEClassifier, ANODEClassifier, ResNetClassifier]
REGRESSORS = [NODERegressor, ANODERegressor, ResNetRegressor]


def make(cls, **kwargs):
    return cls(**{**FAST, **kwargs})


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_api(cls, blobs):
    X, y = blobs
    est = make(cls, max_epochs=40, hidden_dim=16).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(est.predict(X)) <= {0, 1, 2}
    assert est.score(X, y) > 0.9
    assert est.n_features_in_ == 2 and list(est.classes_) == [0, 1, 2]
    feats = est.transform(X)
    expected = 2 + (est.augment_dim if cls is ANODEClassifier else 0)
    assert feats.shape == (len(X), expected)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_regressor_api(cls, spheres):
    X, y = spheres
    y = y.astype(float)
    est = make(cls).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (len(X),) and pred.dtype == np.float64
    assert np.isfinite(est.score(X, y))
    assert not hasattr(est, "predict_proba")
    assert est.transform(X).shape[0] == len(X)
    # multi-output targets keep their shape
    Y = np.column_stack([y, -y])
    assert make(cls, max_epochs=1).fit(X, Y).predict(X).shape == (len(X), 2)


def test_augmented_features_include_augmented_dimensions(spheres):
    X, y = spheres
    est = make(ANODEClassifier, augment_dim=4).fit(X, y)
    assert est.transform(X).shape == (len(X), 6)
    traj = est.trajectory(X[:5], times=[0.0, 0.5, 1.0])
    assert traj.shape == (3, 5, 6)
    np.testing.assert_allclose(traj[0, :, :2], X[:5].astype(np.float32), rtol=1e-6)
    assert (traj[0, :, 2:] == 0).all()


@pytest.mark.parametrize("use_caching", [True, False])
@pytest.mark.parametrize("labels", [np.array([1, 5]), np.array(["inner", "outer"])])
def test_any_label_type_round_trips_and_valid_acc_is_accuracy(labels, use_caching, spheres):
    X, y = spheres
    y_lab = labels[(y > 0).astype(int)]
    est = make(ANODEClassifier, max_epochs=4, use_caching=use_caching,
               train_split=ValidSplit(0.25, stratified=True))
    est.fit(X, y_lab)
    assert list(est.classes_) == list(labels)
    pred = est.predict(X)
    assert set(pred) <= set(labels) and pred.dtype == y_lab.dtype
    # the printed validation accuracy is accuracy_score on the user's labels
    split = ValidSplit(0.25, stratified=True)
    _, valid = split(est.get_dataset(X, y_lab), y_lab)
    Xv, yv = X[valid.indices], y_lab[valid.indices]
    assert est.history[-1, "valid_acc"] == pytest.approx(accuracy_score(yv, est.predict(Xv)))
    assert "valid_forward_nfe" in est.history[-1]


def test_pandas_categorical_labels_and_dataframe_input(spheres):
    X, y = spheres
    df = pd.DataFrame(X, columns=["a", "b"])
    cat = pd.Series(np.where(y > 0, "out", "in"), dtype="category")
    est = make(NODEClassifier).fit(df, cat)
    assert list(est.feature_names_in_) == ["a", "b"]
    assert set(est.predict(df)) <= {"in", "out"}
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[["b", "a"]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_numeric_dtypes_are_accepted(dtype, blobs):
    X, y = blobs
    est = make(ResNetClassifier).fit((X * 10).astype(dtype), y)
    assert est.predict((X * 10).astype(dtype)).shape == (len(X),)


def test_random_state_reproducible_and_different_seeds_differ(spheres):
    X, y = spheres
    a = make(ANODEClassifier).fit(X, y).predict_proba(X)
    b = make(ANODEClassifier).fit(X, y).predict_proba(X)
    c = make(ANODEClassifier, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_does_not_disturb_global_torch_rng(spheres):
    X, y = spheres
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    make(NODEClassifier, max_epochs=1).fit(X, y)
    assert torch.rand(1) == expected


@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_clone_and_pickle_round_trip(cls, spheres):
    X, y = spheres
    est = make(cls, max_epochs=2).fit(X, y)
    cloned = clone(est)
    assert cloned.get_params()["hidden_dim"] == 8 and not hasattr(cloned, "n_features_in_")
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_hyperparameters_are_plain_params_and_reach_the_module(spheres):
    X, y = spheres
    est = ANODEClassifier(hidden_dim=7, augment_dim=3, nonlinearity="tanh", max_epochs=1,
                          solver="bosh3", rtol=1e-2, atol=1e-2)
    params = est.get_params()
    for name in ("hidden_dim", "augment_dim", "solver", "rtol", "atol", "adjoint",
                 "time_dependent", "nonlinearity", "max_num_steps", "lr", "batch_size",
                 "max_epochs", "optimizer", "device", "random_state", "train_split"):
        assert name in params
    est.fit(X, y)
    block = est.module_.odeblock
    assert block.solver == "bosh3" and block.rtol == 1e-2
    assert est.module_.odeblock.dynamics.fc1.out_features == 7
    assert isinstance(est.module_.odeblock.dynamics.act, torch.nn.Tanh)
    # skorch's module__ routing still overrides
    est.set_params(module__hidden_dim=5).fit(X, y)
    assert est.module_.odeblock.dynamics.fc1.out_features == 5


def test_resnet_layers_param(spheres):
    X, y = spheres
    est = make(ResNetClassifier, num_layers=3).fit(X, y)
    assert len(est.module_.blocks) == 3
    assert "forward_nfe" not in est.history[-1]


def test_nfe_history_and_adjoint(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=2).fit(X, y)
    curve = est.history[:, "forward_nfe"]
    assert len(curve) == 2 and all(v >= 8 for v in curve)
    assert est.history[:, "backward_nfe"] == [0, 0]
    batch = est.history[-1, "batches"][0]
    assert batch["forward_nfe"] > 0 and batch["backward_nfe"] == 0
    adj = make(NODEClassifier, max_epochs=1, adjoint=True).fit(X, y)
    assert adj.history[-1, "backward_nfe"] > 0


def test_verbose_epoch_table_shows_nfe(spheres, capsys):
    X, y = spheres
    make(ANODEClassifier, max_epochs=1, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "forward_nfe" in out and "backward_nfe" in out


def test_pipeline_as_classifier_and_as_feature_extractor(spheres):
    X, y = spheres
    pipe = make_pipeline(StandardScaler(), make(ANODEClassifier)).fit(X, y)
    assert pipe.score(X, y) >= 0
    feats = make_pipeline(make(ANODEClassifier, augment_dim=1), LogisticRegression())
    feats.fit(X, y)  # the ANODE's transform feeds the logistic regression
    assert feats.predict(X).shape == (len(X),)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_with_nfe_in_cv_results(n_jobs, spheres):
    X, y = spheres
    search = GridSearchCV(
        make(ANODEClassifier, max_epochs=2),
        {"augment_dim": [1, 2], "hidden_dim": [4, 8]},
        cv=3,
        scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
        refit="accuracy",
        n_jobs=n_jobs,
    ).fit(X, y)
    nfe = search.cv_results_["mean_test_nfe"]
    assert len(nfe) == 4 and np.all(nfe > 0)
    assert search.best_params_["augment_dim"] in (1, 2)


def test_nfe_scorer_is_nan_for_resnet(spheres):
    X, y = spheres
    est = make(ResNetClassifier).fit(X, y)
    assert np.isnan(nfe_scorer()(est, X, y))


def test_step_limit_error_in_fit(spheres):
    X, y = spheres
    est = make(NODEClassifier, rtol=1e-12, atol=1e-12, max_num_steps=3)
    with pytest.raises(SolverError, match="max_num_steps=3"):
        est.fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(bad, spheres):
    X, y = spheres
    Xbad = X.copy()
    Xbad[3, 1] = bad
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        make(NODEClassifier).fit(Xbad, y)
    est = make(NODEClassifier, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        est.predict(Xbad)


def test_wrong_number_of_features_at_predict(spheres):
    X, y = spheres
    est = make(NODEClassifier, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(np.ones((3, 3)))


def test_unknown_nonlinearity_fails_in_fit(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        make(NODEClassifier, nonlinearity="gelu2").fit(X, y)


def test_cuda_device_without_cuda_is_a_clear_error(spheres):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, y = spheres
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        make(ANODEClassifier, device="cuda").fit(X, y)


def test_single_class_is_rejected(spheres):
    X, _ = spheres
    with pytest.raises(ValueError, match="only one class"):
        make(NODEClassifier).fit(X, np.ones(len(X)))


def test_paper_claim_anode_learns_spheres_within_20_epochs():
    """The paper's setting: 3000 points, batch 64, lr 1e-3, hidden 32, ANODE p=5."""
    from sklearn.model_selection import train_test_split

    from skanode.datasets import make_concentric_spheres

    X, y = make_concentric_spheres(random_state=0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    est = ANODEClassifier(augment_dim=5, hidden_dim=32, lr=1e-3, batch_size=64,
                          max_epochs=20, random_state=0).fit(X_tr, y_tr)
    assert est.score(X_te, y_te) >= 0.99


def test_nfe_callback_can_be_turned_off(spheres):
    X, y = spheres
    est = make(ANODEClassifier, max_epochs=1, callbacks__nfe=None).fit(X, y)
    assert "forward_nfe" not in est.history[-1]

"""The estimators as scikit-learn users use them: inside scikit-learn's own tools."""

import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from conftest import CLASSIFIERS, REGRESSORS, SmallNet, make
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, make_scorer
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from skorch.callbacks import Callback, EpochScoring
from skorch.dataset import Dataset as SkorchDataset
from skorch.dataset import ValidSplit
from torch.utils.data import TensorDataset

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    HoldOut,
    NODEClassifier,
    ResNetClassifier,
    ResNetRegressor,
    SolverError,
)
from skanode.modules import ResNet


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classifier_api(cls, blobs):
    X, y = blobs
    est = make(cls, max_epochs=40, hidden_dim=16).fit(X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-6)
    assert est.score(X, y) > 0.9
    assert est.n_features_in_ == 2 and list(est.classes_) == [0, 1, 2]
    expected = 2 + (est.augment_dim if cls is ANODEClassifier else 0)
    assert est.transform(X).shape == (len(X), expected)


@pytest.mark.parametrize("cls", REGRESSORS)
def test_regressor_learns_a_smooth_target(cls):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = X[:, 0] - 0.5 * X[:, 1] ** 2
    est = make(cls, max_epochs=60, hidden_dim=16, batch_size=32).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (200,) and pred.dtype == np.float64
    assert est.score(X, y) > 0.9
    assert not hasattr(est, "predict_proba")
    # multi-output targets keep their shape
    Y = np.column_stack([y, -y])
    assert make(cls, max_epochs=1).fit(X, Y).predict(X).shape == (200, 2)


def test_augmented_features_include_augmented_dimensions(spheres):
    X, y = spheres
    est = make(ANODEClassifier, augment_dim=4).fit(X, y)
    assert est.transform(X).shape == (len(X), 6)
    traj = est.trajectory(X[:5], times=[0.0, 0.5, 1.0])
    assert traj.shape == (3, 5, 6)
    np.testing.assert_allclose(traj[0, :, :2], X[:5].astype(np.float32), rtol=1e-6)
    assert (traj[0, :, 2:] == 0).all()


# -- labels ------------------------------------------------------------------------------------
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
    _, valid = ValidSplit(0.25, stratified=True)(est.get_dataset(X, y_lab), y_lab)
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


def test_classes_in_any_order_are_sorted_so_scikit_learns_scorers_read_them(iris_scaled):
    X, names = iris_scaled
    order = ["virginica", "setosa", "versicolor"]
    est = make(ANODEClassifier, classes=order, max_epochs=30).fit(X, names)
    assert list(est.classes_) == sorted(order)  # as scikit-learn's classifiers keep them
    proba = est.predict_proba(X)
    assert est.score(X, names) > 0.9
    # each column is the probability of the class at that position of classes_
    for j, label in enumerate(est.classes_):
        assert proba[names == label, j].mean() > 0.6
    # scorers assume sorted columns: a log loss of a good model, not of shuffled columns
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    losses = cross_val_score(make(ANODEClassifier, classes=order, max_epochs=30), X, names,
                             cv=cv, scoring="neg_log_loss")
    assert losses.mean() > -0.5
    # partial_fit's classes likewise, and a later call may list them in another order
    inc = make(ANODEClassifier, max_epochs=2).partial_fit(X, names, classes=order)
    assert list(inc.classes_) == sorted(order)
    inc.partial_fit(X, names, classes=sorted(order))
    with pytest.raises(ValueError, match="is not the same as in the first fit"):
        inc.partial_fit(X, names, classes=[*order[:2], "other"])


def test_partial_fit_with_classes_over_batches_missing_a_class(iris_scaled):
    X, names = iris_scaled
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    first = order[np.isin(order, np.flatnonzero(names != "virginica"))][:40]
    rest = np.setdiff1d(order, first)
    est = make(ANODEClassifier, max_epochs=5)
    est.partial_fit(X[first], names[first], classes=["setosa", "versicolor", "virginica"])
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    for chunk in np.array_split(rest, 4):  # the standard incremental loop
        est.partial_fit(X[chunk], names[chunk], classes=["setosa", "versicolor", "virginica"])
    assert est.score(X, names) > 0.8
    with pytest.raises(ValueError, match="not the same as in the first fit"):
        est.partial_fit(X[:5], names[:5], classes=["setosa", "versicolor"])
    with pytest.raises(ValueError, match="labels not in classes_"):
        est.partial_fit(X[:2], np.array(["setosa", "rose"]))


def test_classes_of_one_label_name_the_argument(iris_scaled):
    X, names = iris_scaled
    with pytest.raises(ValueError, match=r"partial_fit\(classes=...\) must hold at least 2"):
        make(ANODEClassifier).partial_fit(X, names, classes=["setosa"])
    with pytest.raises(ValueError, match=r"'classes' parameter .* must be None or a sequence "
                                         r"of at least 2 distinct labels\. Got \['setosa'\]"):
        make(ANODEClassifier, classes=["setosa"]).fit(X, names)


def test_users_scoring_callbacks_see_labels_as_predict_returns_them(iris_scaled, spheres):
    X, y = spheres  # labels -1 / +1: class indices 0 / 1 would not match predict's output
    callbacks = [("acc", EpochScoring("accuracy", lower_is_better=False, name="my_acc")),
                 ("f1", EpochScoring("f1_macro", lower_is_better=False, name="my_f1"))]
    held = np.arange(len(X)) % 4 == 0
    est = make(ANODEClassifier, max_epochs=6, lr=0.05, callbacks=callbacks).fit(
        X[~held], y[~held], X_val=X[held], y_val=y[held])
    assert est.history[:, "my_acc"] == est.history[:, "valid_acc"]
    # the last epoch's score is the metric of the held-out labels against predict's output
    assert est.history[-1, "my_f1"] == pytest.approx(
        f1_score(y[held], est.predict(X[held]), average="macro"))
    Xi, names = iris_scaled  # string labels: the scorer would raise on mixed label types
    est = make(ANODEClassifier, max_epochs=2, callbacks=[("acc", EpochScoring(
        "accuracy", lower_is_better=False, name="my_acc"))],
        train_split=ValidSplit(0.2, stratified=True)).fit(Xi, names)
    assert est.history[:, "my_acc"] == est.history[:, "valid_acc"]


def test_class_indices_given_for_fixed_classes_explain_cross_val_predict(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, max_epochs=1, classes=["setosa", "versicolor", "virginica"])
    # cross_val_predict re-encodes y as class indices for predict_proba
    with pytest.raises(ValueError, match=r"not in classes_ .*: \[0, 1, 2\]\.  They look like "
                                         r"the indices 0..2 .* leave classes=None there"):
        cross_val_predict(est, X, names, cv=3, method="predict_proba")
    proba = cross_val_predict(clone(est).set_params(classes=None), X, names, cv=3,
                              method="predict_proba")
    assert proba.shape == (len(X), 3)
    # labels that are merely unknown get no such hint
    with pytest.raises(ValueError, match=r"not in classes_ \[0, 1\]: \[2\]\.$"):
        make(ANODEClassifier, max_epochs=1, classes=[0, 1]).fit(X, np.arange(len(X)) % 3)


def test_validation_data_errors_name_x_val_and_y_val(iris_scaled):
    X, names = iris_scaled
    est = make(ANODEClassifier, max_epochs=1)
    with pytest.raises(ValueError, match=r"^X_val: X has 3 features, but ANODEClassifier is "
                                         r"expecting 4"):
        est.fit(X, names, X_val=X[:, :3], y_val=names)
    with pytest.raises(ValueError, match=r"^X_val: Input X contains NaN"):
        est.fit(X, names, X_val=X * np.nan, y_val=names)
    with pytest.raises(ValueError, match=r"^y_val: y contains labels not in classes_ .*"
                                         r"\['rose'\]"):
        est.fit(X, names, X_val=X, y_val=np.full(len(X), "rose"))


def test_warm_start_needs_the_same_classes_unless_they_are_fixed(iris_scaled):
    X, names = iris_scaled
    some = names != "virginica"
    est = make(ANODEClassifier, warm_start=True).fit(X, names)
    weights = {k: v.clone() for k, v in est.module_.state_dict().items()}
    with pytest.raises(ValueError, match=r"warm_start .* had \['setosa', 'versicolor', "
                                         r"'virginica'\], got \['setosa', 'versicolor'\]"):
        est.fit(X[some], names[some])
    assert all(torch.equal(v, weights[k]) for k, v in est.module_.state_dict().items())
    fixed = make(ANODEClassifier, warm_start=True, classes=["setosa", "versicolor", "virginica"])
    fixed.fit(X, names).fit(X[some], names[some])  # the subset is intended
    assert list(fixed.classes_) == ["setosa", "versicolor", "virginica"]


# -- scikit-learn's tools ----------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_clone_and_pickle_round_trip(cls, spheres):
    X, y = spheres
    est = make(cls, max_epochs=2, hidden_dim=6).fit(X, y)
    cloned = clone(est)
    assert cloned.get_params()["hidden_dim"] == 6 and not hasattr(cloned, "n_features_in_")
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


def test_repr_shows_the_changed_parameters():
    assert repr(ANODEClassifier()) == "ANODEClassifier()"
    assert repr(ANODEClassifier(augment_dim=2, max_epochs=3)) == \
        "ANODEClassifier(augment_dim=2, max_epochs=3)"
    assert repr(ResNetRegressor(num_layers=2, module__hidden_dim=4)) == \
        "ResNetRegressor(module__hidden_dim=4, num_layers=2)"
    pipe = make_pipeline(StandardScaler(), NODEClassifier(rtol=1e-4))
    assert "NODEClassifier(rtol=0.0001)" in repr(pipe)


def test_pipeline_scores_well_on_iris(iris):
    X, names = iris
    X_tr, X_te, y_tr, y_te = train_test_split(X, names, stratify=names, random_state=0)
    pipe = make_pipeline(StandardScaler(), make(ANODEClassifier, max_epochs=40))
    assert pipe.fit(X_tr, y_tr).score(X_te, y_te) > 0.9
    # as a feature extractor: the ANODE's transform feeds a logistic regression
    feats = make_pipeline(StandardScaler(), make(ANODEClassifier, augment_dim=1, max_epochs=40),
                          LogisticRegression())
    assert feats.fit(X_tr, y_tr).score(X_te, y_te) > 0.9


def test_set_output_pandas_in_a_pipeline_and_globally(iris):
    X, names = iris
    pipe = make_pipeline(StandardScaler(), make(ANODEClassifier, augment_dim=2))
    pipe.set_output(transform="pandas").fit(X, names)
    out = pipe.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"anodeclassifier{i}" for i in range(6)]
    assert out.index.equals(X.index)
    est = pipe[-1]
    assert list(est.get_feature_names_out()) == list(out.columns)
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(make(NODEClassifier).fit(X, names).transform(X), pd.DataFrame)
    image = make(ResNetClassifier, architecture="conv", num_filters=2)
    image.fit(np.random.RandomState(0).rand(8, 1, 3, 3), [0, 1] * 4)
    assert len(image.get_feature_names_out()) == 9


def test_grid_search_over_a_pipeline(iris):
    X, names = iris
    search = GridSearchCV(make_pipeline(StandardScaler(), make(ANODEClassifier, max_epochs=20)),
                          {"anodeclassifier__augment_dim": [1, 2]}, cv=3).fit(X, names)
    assert search.best_score_ > 0.85
    assert search.best_estimator_[-1].augment_dim == search.best_params_[
        "anodeclassifier__augment_dim"]


# -- weights -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, options", [(ResNetRegressor, {}),
                                           (ANODERegressor, {"step_control": "sample"})])
def test_integer_sample_weights_equal_repeated_rows(cls, options):
    """With one full batch, weight k is k copies of the row: the loss is the same mean.

    For ODE models only with per-sample steps: a batch's shared step size depends on
    its rows (the user guide says so).
    """
    rng = np.random.RandomState(0)
    X, y = rng.rand(30, 3), rng.rand(30)
    w = rng.randint(1, 4, size=30)
    common = {"batch_size": -1, "iterator_train__shuffle": False, "max_epochs": 5, **options}
    weighted = make(cls, **common).fit(X, y, sample_weight=w)
    repeated = make(cls, **common).fit(X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-5, atol=1e-6)
    unweighted = make(cls, **common).fit(X, y)
    assert not np.allclose(unweighted.predict(X), repeated.predict(X), rtol=1e-4)


@pytest.mark.parametrize("cls", [NODEClassifier, ANODEClassifier, ResNetClassifier])
def test_zero_weight_on_a_class_removes_it(cls, iris_scaled):
    X, names = iris_scaled
    w = np.where(names == "virginica", 0.0, 1.0)
    est = make(cls, max_epochs=30).fit(X, names, sample_weight=w)
    assert (est.predict(X) == "virginica").mean() < 0.1
    assert (make(cls, max_epochs=30).fit(X, names).predict(X) == "virginica").mean() > 0.25


def test_class_weight_dict_and_balanced_are_sample_weights(iris_scaled):
    X, names = iris_scaled
    keep = np.r_[0:50, 50:70, 100:150]  # imbalanced: 20 versicolor
    X, names = X[keep], names[keep]
    by_dict = make(ANODEClassifier, class_weight={"virginica": 0.0}).fit(X, names)
    by_weight = make(ANODEClassifier).fit(X, names, sample_weight=(names != "virginica") * 1.0)
    np.testing.assert_array_equal(by_dict.predict_proba(X), by_weight.predict_proba(X))
    balanced = make(ANODEClassifier, class_weight="balanced").fit(X, names)
    explicit = make(ANODEClassifier).fit(X, names,
                                         sample_weight=compute_sample_weight("balanced", names))
    np.testing.assert_array_equal(balanced.predict_proba(X), explicit.predict_proba(X))


def test_sample_weight_through_cross_val_score_pipeline_and_grid_search(iris):
    X, names = iris
    w = np.where(names == "virginica", 0.0, 1.0)  # drops a third of the classes
    est = make(ANODEClassifier, max_epochs=20)
    weighted = cross_val_score(est, X, names, cv=3, params={"sample_weight": w})
    assert weighted.mean() < 0.7
    pipe = make_pipeline(StandardScaler(), est)
    assert cross_val_score(pipe, X, names, cv=3).mean() > 0.85
    piped = cross_val_score(pipe, X, names, cv=3,
                            params={"anodeclassifier__sample_weight": w})
    assert piped.mean() < 0.7
    search = GridSearchCV(est, {"lr": [1e-2]}, cv=3).fit(X, names, sample_weight=w)
    assert (search.best_estimator_.predict(X) == "virginica").mean() < 0.1  # refit weighted
    with sklearn.config_context(enable_metadata_routing=True):
        routed = clone(est).set_fit_request(sample_weight=True).set_score_request(
            sample_weight=False)
        np.testing.assert_allclose(
            cross_val_score(routed, X, names, cv=3, params={"sample_weight": w}), weighted)
        # the user guide's recipe for an unweighted score of a routed pipeline
        routed_pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                                    clone(routed))
        unweighted = make_scorer(accuracy_score).set_score_request(sample_weight=False)
        np.testing.assert_allclose(
            cross_val_score(routed_pipe, X, names, cv=3, params={"sample_weight": w},
                            scoring=unweighted), piped)


def test_regressor_sample_weight_and_transformed_target(spheres):
    X, y = spheres
    y = y.astype(float)
    w = np.where(y > 0, 1.0, 0.0)  # only the shell counts: predict about +1 everywhere
    est = make(ANODERegressor, max_epochs=20).fit(X, y, sample_weight=w)
    assert est.predict(X).mean() > 0.5
    wrapped = TransformedTargetRegressor(make(ANODERegressor, max_epochs=20),
                                         transformer=StandardScaler())
    wrapped.fit(X, y, sample_weight=w)
    assert wrapped.predict(X).mean() > 0.5


# -- validation data ---------------------------------------------------------------------------
def test_holdout_inside_a_pipeline_is_refused(iris):
    X, names = iris
    est = make(ANODEClassifier, train_split=HoldOut(X[:20], names[:20]))
    with pytest.raises(ValueError, match=r"skipped the earlier steps \['standardscaler'\]"):
        make_pipeline(StandardScaler(), est).fit(X, names)
    est.fit(X, names)  # alone it is fine
    assert "valid_acc" in est.history[-1]
    first = make_pipeline(make(ANODEClassifier, train_split=HoldOut(X[:20], names[:20])),
                          LogisticRegression())
    first.fit(X, names)  # as the first step it sees the same data as the pipeline


def test_x_val_through_a_pipeline_without_transform_input_is_refused(iris):
    X, names = iris
    with sklearn.config_context(enable_metadata_routing=True):
        est = make(ANODEClassifier).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("anode", est)])
        with pytest.raises(ValueError, match=r"X_val inside a Pipeline .* \['scale'\]"):
            pipe.fit(X, names, X_val=X[:20], y_val=names[:20])


def test_validation_targets_inside_transformed_target_regressor_are_refused(spheres):
    X, y = spheres
    wrapped = TransformedTargetRegressor(
        make(ANODERegressor, train_split=HoldOut(X[:20], y[:20].astype(float))),
        transformer=StandardScaler())
    with pytest.raises(ValueError, match="TransformedTargetRegressor: its targets"):
        wrapped.fit(X, y.astype(float))


def test_validation_data_through_a_pipeline_with_transform_input(iris):
    X, names = iris
    X_tr, X_te, y_tr, y_te = train_test_split(X, names, stratify=names, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = make(ANODEClassifier, max_epochs=20).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("scale", StandardScaler()), ("anode", est)],
                        transform_input=["X_val"])
        pipe.fit(X_tr, y_tr, X_val=X_te, y_val=y_te)
    valid_acc = pipe[-1].history[-1, "valid_acc"]
    assert valid_acc == pytest.approx(accuracy_score(y_te, pipe.predict(X_te)))
    assert valid_acc > 0.85


def test_x_val_on_a_bare_estimator_replaces_train_split(spheres):
    X, y = spheres
    est = make(NODEClassifier, train_split=ValidSplit(0.5)).fit(X[:80], y[:80], X_val=X[80:],
                                                                y_val=y[80:])
    assert est.history[-1, "valid_batch_count"] == 1  # 40 validation rows, not 40 of 80
    assert est.history[-1, "valid_acc"] == pytest.approx(est.score(X[80:], y[80:]))
    with pytest.raises(ValueError, match="both X_val and y_val"):
        est.fit(X, y, X_val=X)


# -- torch datasets and module__ overrides -------------------------------------------------------
@pytest.mark.parametrize("wrap", ["skorch", "tensor"])
def test_dataset_input_works_end_to_end(wrap, blobs):
    X, y = blobs
    X32 = X.astype(np.float32)
    data = (SkorchDataset(X32, y) if wrap == "skorch"
            else TensorDataset(torch.as_tensor(X32), torch.as_tensor(y)))
    est = make(ANODEClassifier, augment_dim=3, max_epochs=30, hidden_dim=16).fit(data)
    assert est.module_.augment.augment_dim == 3
    assert est.n_features_in_ == 2 and list(est.classes_) == [0, 1, 2]
    np.testing.assert_array_equal(est.predict(data), est.predict(X32))
    assert est.score(X, y) > 0.9


def test_module_dims_keep_the_hyperparameters_or_are_rejected(blobs):
    X, y = blobs
    est = make(ANODEClassifier, augment_dim=3, solver="bosh3", module__input_dim=2,
               module__output_dim=3).fit(X, y)
    block = est.module_.odeblock
    assert est.module_.augment.augment_dim == 3 and block.solver == "bosh3"
    assert block.dynamics.fc1.out_features == 8
    with pytest.raises(ValueError, match="module__input_dim=5 does not match"):
        make(ANODEClassifier, module__input_dim=5).fit(X, y)


def test_hyperparameters_are_plain_params_and_reach_the_module(spheres):
    X, y = spheres
    est = ANODEClassifier(hidden_dim=7, augment_dim=3, nonlinearity="tanh", max_epochs=1,
                          solver="bosh3", rtol=1e-2, atol=1e-2)
    est.fit(X, y)
    block = est.module_.odeblock
    assert block.solver == "bosh3" and block.rtol == 1e-2
    assert block.dynamics.fc1.out_features == 7
    assert isinstance(block.dynamics.act, torch.nn.Tanh)
    # a module__ argument that contradicts the estimator's own parameter is refused,
    # so that get_params and a search over hidden_dim say what is built
    with pytest.raises(ValueError, match=r"module__hidden_dim=5 contradicts hidden_dim=7: "
                                         r"set hidden_dim=5"):
        est.set_params(module__hidden_dim=5).fit(X, y)
    assert est.module_.odeblock.dynamics.fc1.out_features == 7  # the fitted model is kept
    est.set_params(module__hidden_dim=7).fit(X, y)  # agreeing is harmless


def test_resnet_layers_param_and_its_nfe(spheres):
    X, y = spheres
    est = make(ResNetClassifier, num_layers=3).fit(X, y)
    assert len(est.module_.blocks) == 3
    assert est.history[:, "forward_nfe"] == [3, 3, 3]  # residual-block evaluations


def test_cuda_device_without_cuda_is_a_clear_error(spheres):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, y = spheres
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        make(ANODEClassifier, device="cuda").fit(X, y)


def test_callbacks_set_on_a_fitted_estimator_run_in_partial_fit_and_warm_start(spheres):
    # skorch built a fitted net's callbacks from the old list: the new ones never ran
    class Count(Callback):
        def __init__(self):
            self.epochs = 0

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    X, y = spheres
    old, new, newer = Count(), Count(), Count()
    est = NODEClassifier(max_epochs=1, random_state=0, callbacks=[("count", old)]).fit(X, y)
    est.set_params(callbacks=[("count", new)]).partial_fit(X, y)
    assert (old.epochs, new.epochs) == (1, 1)
    est.set_params(warm_start=True, callbacks=[("count", newer)]).fit(X, y)
    assert (old.epochs, new.epochs, newer.epochs) == (1, 1, 1)
    est.set_params(callbacks=[]).partial_fit(X, y)
    assert "count" not in dict(est.callbacks_) and newer.epochs == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_solver_settings_changed_after_fit_are_used_by_partial_fit_and_predict(spheres):
    # they were ignored: the module kept the options it was built with
    X, y = spheres
    est = NODEClassifier(max_epochs=1, random_state=0, n_iter_no_change=None)
    est.fit(X, y)
    loose = est.history[-1, "forward_nfe"]
    est.set_params(rtol=1e-6, atol=1e-6).partial_fit(X, y)
    assert est.history[-1, "forward_nfe"] > 2 * loose
    proba = est.predict_proba(X)
    est.set_params(max_num_steps=1)
    with pytest.raises(SolverError, match="max_num_steps=1"):
        est.predict(X)
    with pytest.raises(SolverError, match="max_num_steps=1"):
        est.partial_fit(X, y)
    est.set_params(max_num_steps=1000)
    np.testing.assert_array_equal(est.predict_proba(X), proba)  # the failed epoch was undone


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("continue_", ["partial_fit", "warm_start"])
def test_changing_the_models_shape_after_fit_needs_a_new_fit(continue_, spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, random_state=0, n_iter_no_change=None,
                          warm_start=continue_ == "warm_start")
    est.fit(X, y)
    proba = est.predict_proba(X)
    est.set_params(hidden_dim=8, augment_dim=2)
    with pytest.raises(ValueError, match=r"augment_dim \(5 -> 2\), hidden_dim \(32 -> 8\) "
                                         "changed since the model was built"):
        est.partial_fit(X, y) if continue_ == "partial_fit" else est.fit(X, y)
    with pytest.raises(ValueError, match="predictions come from the built model"):
        est.predict_proba(X)
    with pytest.raises(ValueError, match="augment_dim"):
        est.transform(X)
    assert len(est.get_feature_names_out()) == 2 + 5  # the built model's features
    est.set_params(hidden_dim=32, augment_dim=5)  # set back: nothing was touched
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    est.set_params(hidden_dim=8, augment_dim=2, warm_start=False).fit(X, y)  # builds anew
    assert est.transform(X).shape == (len(X), 2 + 2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_module_arguments_set_after_fit_keep_the_fitted_weights(spheres):
    # skorch rebuilt the module at once: new random weights under the old history
    X, y = spheres
    est = ANODEClassifier(hidden_dim=8, max_epochs=2, random_state=0).fit(X, y)
    proba = est.predict_proba(X)
    est.set_params(module__input_dim=2)  # the value it has: harmless
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    est.partial_fit(X, y)
    proba = est.predict_proba(X)
    est.set_params(module__time_dependent=False)  # contradicts time_dependent=True
    for call in (est.partial_fit, est.fit, est.predict):
        with pytest.raises(ValueError, match="module__time_dependent=False contradicts"):
            call(X, y) if call != est.predict else call(X)
    est.set_params(module__time_dependent=True)  # agrees: harmless
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    assert est.n_iter_ == 2 + 2  # fit, partial_fit; nothing from the refused calls


def test_batches_whose_weights_are_all_zero_add_nothing(spheres):
    # 0 / 0 made a NaN loss and a DivergenceError that blamed the learning rate
    X, y = spheres
    weights = np.zeros(len(X))
    weights[:12] = 1.0
    est = NODEClassifier(max_epochs=2, batch_size=8, n_iter_no_change=None, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y, sample_weight=weights)
    assert np.isfinite(est.history[:, "train_loss"]).all()
    one = np.zeros(len(X))
    one[0] = 1.0  # the early-stopping split leaves one part without weight
    with pytest.raises(ValueError, match=r"sample weights of the (held-out|training) samples "
                                         r"sum to zero"):
        NODEClassifier(max_epochs=2, early_stopping=True).fit(X, y, sample_weight=one)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classes_and_image_shape_are_fixed_by_fit(spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, random_state=0).fit(X, y)
    est.set_params(classes=[-1, 1, 2])
    with pytest.raises(ValueError, match=r"classes \(\[-1, 1\] -> \[-1, 1, 2\]\) changed"):
        est.partial_fit(X, y)
    est.set_params(classes=[1, -1]).partial_fit(X, y)  # the same classes: harmless
    Xd, yd = load_digits(return_X_y=True)
    Xd, yd = Xd[:60] / 16, yd[:60]
    conv = ANODEClassifier(architecture="conv", image_shape=(1, 8, 8), num_filters=3,
                           augment_dim=1, max_epochs=1).fit(Xd, yd)
    conv.set_params(image_shape=(4, 4, 4))
    with pytest.raises(ValueError, match=r"image_shape \(\(1, 8, 8\) -> \(4, 4, 4\)\)"):
        conv.predict(Xd)
    conv.set_params(image_shape=[1, 8, 8]).partial_fit(Xd, yd)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_custom_modules_own_default_is_no_change(spheres):
    X, y = spheres
    est = ANODEClassifier(module=SmallNet, max_epochs=1).fit(X, y)
    est.set_params(module__width=8).partial_fit(X, y)
    est.set_params(module__width=16)
    with pytest.raises(ValueError, match=r"width \(8 -> 16\) changed"):
        est.partial_fit(X, y)
    with pytest.raises(TypeError, match="transform needs a module with a features"):
        est.set_params(module__width=8).transform(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_round_trip_of_its_own_parameters_leaves_a_fitted_model_alone(spheres):
    # set_params(module=...) or compile=... made skorch rebuild the module (new weights),
    # criterion=... a new optimizer, optimizer=... failed with "Something went wrong"
    X, y = spheres
    est = ANODEClassifier(hidden_dim=8, max_epochs=3, lr=1e-2, random_state=0).fit(X, y)
    twin = clone(est).fit(X, y)
    proba = est.predict_proba(X)
    est.set_params(**est.get_params(deep=False))
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    pipe = make_pipeline(StandardScaler(), clone(est)).fit(X, y)
    pipe_proba = pipe.predict_proba(X)
    pipe.set_params(**pipe.get_params())
    np.testing.assert_array_equal(pipe.predict_proba(X), pipe_proba)
    est.partial_fit(X, y)  # Adam's state was kept: as the untouched twin goes on
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), twin.predict_proba(X))
    est.set_params(optimizer=torch.optim.SGD)
    with pytest.raises(ValueError, match=r"optimizer .* changed since the model was built"):
        est.partial_fit(X, y)
    est.set_params(optimizer=torch.optim.Adam, module=ResNet)
    with pytest.raises(ValueError, match=r"module .* changed since the model was built"):
        est.predict(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_optimizer_arguments_set_after_fit_stay_parameters(spheres):
    # skorch applied them to the built optimizer only: get_params, clone and fit lost them
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, random_state=0).fit(X, y)
    est.set_params(optimizer__weight_decay=0.1)
    assert est.optimizer_.param_groups[0]["weight_decay"] == 0.1  # at once
    assert clone(est).get_params()["optimizer__weight_decay"] == 0.1
    assert est.fit(X, y).optimizer_.param_groups[0]["weight_decay"] == 0.1
    est.set_params(optimizer__momentum=0.9)  # Adam has no momentum: the next call says so
    with pytest.raises(ValueError, match="Adam takes no argument 'momentum'"):
        est.partial_fit(X, y)


def test_skorchs_dataset_parameter_is_refused(spheres):
    from skorch.dataset import Dataset

    class Mine(Dataset):
        pass

    X, y = spheres
    with pytest.raises(ValueError, match="do not use skorch's dataset parameter"):
        NODEClassifier(max_epochs=1, dataset=Mine).fit(X, y)

"""NFE in cv_results_: found inside pipelines and meta-estimators, finite for the ResNet."""

import warnings

import numpy as np
import pytest
from conftest import make
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import BaggingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanode import ANODEClassifier, ANODERegressor, ResNetClassifier
from skanode.scoring import find_nets, nfe_scorer


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_a_pipeline_reports_nfe_without_warnings(n_jobs, spheres):
    X, y = spheres
    pipe = make_pipeline(StandardScaler(), make(ANODEClassifier, max_epochs=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Scoring failed", no "non-finite scores"
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        search = GridSearchCV(pipe, {"anodeclassifier__augment_dim": [1, 2]}, cv=3,
                              scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
                              refit="accuracy", n_jobs=n_jobs).fit(X, y)
    nfe = search.cv_results_["mean_test_nfe"]
    assert nfe.shape == (2,) and np.all(nfe >= 8)  # at least one dopri5 step per batch
    fitted = search.best_estimator_[-1]
    assert nfe_scorer()(search.best_estimator_) == pytest.approx(
        np.mean(fitted.history[:, "forward_nfe"]))


def test_resnet_nfe_is_its_number_of_block_evaluations(spheres):
    X, y = spheres
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        search = GridSearchCV(make(ResNetClassifier, max_epochs=2), {"num_layers": [2, 5]},
                              cv=2, scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
                              refit="accuracy").fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_nfe"], [2.0, 5.0])


def test_negated_nfe_lets_a_search_choose_the_fewest_evaluations(spheres):
    # scikit-learn takes the highest score as the best: plain NFE would pick the most
    X, y = spheres
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        search = GridSearchCV(make(ResNetClassifier, max_epochs=2), {"num_layers": [5, 2, 3]},
                              cv=2, scoring=nfe_scorer(negate=True)).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], [-5.0, -2.0, -3.0])
    assert search.best_params_ == {"num_layers": 2}
    assert repr(nfe_scorer(negate=True)).endswith("negate=True)")
    with pytest.raises(ValueError, match="negate must be True or False"):
        nfe_scorer(negate="yes")


def test_nets_are_found_in_nested_and_meta_estimators(spheres):
    X, y = spheres
    inner = make_pipeline(StandardScaler(), make(ANODEClassifier, max_epochs=1))
    nested = make_pipeline(make_pipeline(StandardScaler()), inner).fit(X, y)
    assert len(find_nets(nested)) == 1
    bagging = BaggingClassifier(make(ANODEClassifier, max_epochs=1), n_estimators=3,
                                random_state=0).fit(X, y)
    nets = find_nets(bagging)
    assert len(nets) == 3
    assert nfe_scorer()(bagging) == pytest.approx(
        np.mean([np.mean(n.history[:, "forward_nfe"]) for n in nets]))
    calibrated = CalibratedClassifierCV(make(ANODEClassifier, max_epochs=1), cv=2).fit(X, y)
    assert len(find_nets(calibrated)) == 2
    target = TransformedTargetRegressor(make(ANODERegressor, max_epochs=1),
                                        transformer=StandardScaler()).fit(X, y.astype(float))
    assert nfe_scorer(epochs="last")(target) == target.regressor_.history[-1, "forward_nfe"]


def test_scorer_errors(spheres):
    X, y = spheres
    with pytest.raises(ValueError, match="holds no fitted skanode estimator"):
        nfe_scorer()(LogisticRegression().fit(X, y))
    with pytest.raises(ValueError, match="key must be one of"):
        nfe_scorer("nfe")
    with pytest.raises(ValueError, match="epochs must be"):
        nfe_scorer(epochs="first")


def test_nfe_scorer_beside_sample_weights_in_a_search(spheres):
    X, y = spheres
    weights = np.where(y > 0, 2.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a warning that the NFE ignores the weights
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        search = GridSearchCV(make(ANODEClassifier, max_epochs=2), {"augment_dim": [1, 2]},
                              cv=2, scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
                              refit="accuracy").fit(X, y, sample_weight=weights)
    assert np.isfinite(search.cv_results_["mean_test_nfe"]).all()
    assert "nfe_scorer(key='forward_nfe', epochs='mean')" == repr(nfe_scorer())

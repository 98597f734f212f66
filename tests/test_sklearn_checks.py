"""scikit-learn's own estimator checks on all six estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    NODEClassifier,
    NODERegressor,
    ResNetClassifier,
    ResNetRegressor,
)

# Small and seeded so each check runs in well under a second.  With the paper's defaults
# (lr 1e-3, 50 epochs) NODEClassifier under-trains on check_class_weight_classifiers'
# unscaled blobs and fails it; the user guide says so.
_COMMON = {"max_epochs": 30, "lr": 1e-2, "hidden_dim": 16, "random_state": 0}
ESTIMATORS = [
    NODEClassifier(**_COMMON),
    ANODEClassifier(augment_dim=2, **_COMMON),
    ResNetClassifier(num_layers=2, **_COMMON),
    NODERegressor(**_COMMON),
    ANODERegressor(augment_dim=2, **_COMMON),
    ResNetRegressor(num_layers=2, **_COMMON),
]


def expected_failed_checks(estimator):
    """The checks that cannot pass, each with the reason it is forced."""
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "ODE models train with one step size per batch, chosen from an error norm over "
            "the batch's rows, so repeating a row changes the steps and the trained model "
            "(up to 1.0 in predict_proba with these settings); with step_control='sample', "
            "and for the ResNet, weights and repeated rows agree to float32 summation order, "
            "~1e-6 relative, still above the check's rtol=1e-7"
        ),
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)

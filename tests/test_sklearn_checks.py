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

# Small and seeded so each check runs in well under a second.
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
            "the network computes in float32: weighted rows and repeated rows give the same "
            "loss up to summation order, ~1e-7 relative, and the check compares at rtol=1e-7"
        ),
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)

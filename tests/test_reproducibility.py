"""Same seed and data, same predictions: in a loop and in parallel searches."""

import numpy as np
from sklearn.model_selection import GridSearchCV

from skanode import ANODEClassifier, ANODERegressor


def test_same_seed_same_predictions_different_seed_differs(spheres):
    X, y = spheres
    fits = [ANODERegressor(max_epochs=2, random_state=s).fit(X, y.astype(float)).predict(X)
            for s in (5, 5, 6)]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])


def test_numpy_random_state_instances_are_accepted(spheres):
    X, y = spheres
    a = ANODEClassifier(max_epochs=1, random_state=np.random.RandomState(3)).fit(X, y)
    b = ANODEClassifier(max_epochs=1, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_search_is_reproducible_across_n_jobs(spheres):
    X, y = spheres
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(ANODEClassifier(max_epochs=2, random_state=0, hidden_dim=8),
                              {"lr": [1e-3, 1e-2]}, cv=2, n_jobs=n_jobs).fit(X, y)
        results.append(search.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(results[0], results[1])

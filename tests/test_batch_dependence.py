"""Adaptive solves share a step size per batch; the documented remedies remove that."""

import numpy as np

from skanode import ANODEClassifier


def test_adaptive_predictions_depend_slightly_on_the_batch(spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=3, random_state=0).fit(X, y)
    full = est.set_params(iterator_valid__batch_size=-1).predict_proba(X)
    small = est.set_params(iterator_valid__batch_size=7).predict_proba(X)
    assert np.abs(full - small).max() < 1e-2  # within the solver tolerance


def test_per_sample_solves_are_batch_independent(spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=3, random_state=0, iterator_valid__batch_size=1)
    est.fit(X, y)
    whole = est.predict_proba(X)
    part = est.predict_proba(X[::3])
    np.testing.assert_array_equal(whole[::3], part)


def test_fixed_step_solver_is_batch_independent(spheres):
    X, y = spheres
    est = ANODEClassifier(max_epochs=3, random_state=0, solver="rk4",
                          solver_options={"step_size": 0.1}).fit(X, y)
    full = est.set_params(iterator_valid__batch_size=-1).predict_proba(X)
    small = est.set_params(iterator_valid__batch_size=5).predict_proba(X)
    np.testing.assert_allclose(full, small, rtol=0, atol=1e-6)

import numpy as np
import pytest

from skanode.datasets import make_concentric_spheres


@pytest.fixture(scope="session")
def spheres():
    """Small 2-D concentric spheres, labels -1 / +1."""
    return make_concentric_spheres(n_inner=40, n_outer=80, random_state=0)


@pytest.fixture(scope="session")
def blobs():
    """Three well separated classes in 2-D."""
    rng = np.random.RandomState(0)
    centers = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    y = np.repeat([0, 1, 2], 30)
    X = centers[y] + 0.3 * rng.standard_normal((90, 2))
    return X, y

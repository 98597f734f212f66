import numpy as np
import pytest

from skanode.datasets import angular_mask, make_concentric_spheres, make_g1d, make_shifted_sines


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_spheres_radii_counts_and_labels(dim):
    X, y = make_concentric_spheres(100, 200, dim=dim, random_state=0)
    r = np.linalg.norm(X, axis=1)
    assert X.shape == (300, dim) and (y == -1).sum() == 100 and (y == 1).sum() == 200
    assert r[y == -1].max() <= 0.5
    assert r[y == 1].min() >= 1.0 and r[y == 1].max() <= 1.5


def test_spheres_uniform_in_area_in_2d():
    X, y = make_concentric_spheres(20000, 10, random_state=0)
    r = np.linalg.norm(X[y == -1], axis=1)
    # uniform in the disc: P(r <= 0.25) = (0.25 / 0.5)^2
    assert abs((r <= 0.25).mean() - 0.25) < 0.02


def test_spheres_seeded_and_validated():
    a = make_concentric_spheres(10, 10, random_state=3)
    b = make_concentric_spheres(10, 10, random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="radii"):
        make_concentric_spheres(radii=(1.0, 0.5, 1.5))


def test_g1d_flip_and_identity():
    X, y = make_g1d(4)
    np.testing.assert_array_equal(X.ravel(), [-1, -1, 1, 1])
    np.testing.assert_array_equal(y, [1, 1, -1, -1])
    _, y_id = make_g1d(4, flip=False)
    np.testing.assert_array_equal(y_id, [-1, -1, 1, 1])


def test_shifted_sines_are_separable_by_the_sine():
    X, y = make_shifted_sines(500, random_state=0)
    above = X[:, 1] > np.sin(X[:, 0])
    np.testing.assert_array_equal(above, y == 1)


def test_angular_mask_selects_the_slice():
    X = np.array([[1.0, 0.1], [0.0, 1.0], [-1.0, 0.0], [1.0, -0.1]])
    np.testing.assert_array_equal(angular_mask(X), [True, False, False, False])


def test_negative_sizes_and_noise_and_an_empty_slice_are_refused():
    with pytest.raises(ValueError, match="n_inner must be >= 0, got -1"):
        make_concentric_spheres(n_inner=-1)
    with pytest.raises(ValueError, match="noise must be >= 0, got -1"):
        make_g1d(4, noise=-1)
    with pytest.raises(ValueError, match=r"noise must be >= 0, got -0\.5"):
        make_shifted_sines(noise=-0.5)
    with pytest.raises(ValueError, match=r"low=1 is above high=0\.5"):
        angular_mask(np.ones((3, 2)), low=1, high=0.5)

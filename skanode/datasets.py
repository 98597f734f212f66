"""The paper's toy data as scikit-learn style ``make_*`` functions.

All generators are vectorised, take ``random_state`` and return ``X, y`` as
numpy arrays (``X`` float64, ``y`` as documented).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "angular_mask",
    "load_digits_images",
    "load_mnist",
    "make_concentric_spheres",
    "make_g1d",
    "make_shifted_sines",
]


def _check_sizes(**sizes: Any) -> None:
    """Refuse negative sample counts and noise levels with the argument's name."""
    for name, value in sizes.items():
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}.")


def _uniform_in_shell(n: int, dim: int, r_min: float, r_max: float,
                      rng: np.random.RandomState) -> np.ndarray:
    direction = rng.standard_normal((n, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # Inverse CDF of the radius of a point uniform in volume: P(R <= r) ~ r^dim.
    u = rng.uniform(size=(n, 1))
    radius = (r_min**dim + u * (r_max**dim - r_min**dim)) ** (1.0 / dim)
    return direction * radius


def make_concentric_spheres(
    n_inner: int = 1000,
    n_outer: int = 2000,
    *,
    dim: int = 2,
    radii: tuple[float, float, float] = (0.5, 1.0, 1.5),
    shuffle: bool = True,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a ball labelled -1, surrounded by a shell labelled +1.

    This is the function ``g`` of the paper, which a Neural ODE cannot represent.

    Parameters
    ----------
    n_inner : int, default=1000
        Points drawn uniformly in the ball ``|x| <= r1``.
    n_outer : int, default=2000
        Points drawn uniformly in the shell ``r2 <= |x| <= r3``.
    dim : int, default=2
        Dimension ``d`` of the space.
    radii : tuple of float, default=(0.5, 1.0, 1.5)
        ``(r1, r2, r3)`` with ``r1 < r2 < r3``.
    shuffle : bool, default=True
        Shuffle the samples (otherwise the ball comes first).
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_inner + n_outer, dim)
        The points.
    y : ndarray of shape (n_inner + n_outer,)
        ``-1`` in the ball, ``+1`` in the shell (int).

    Examples
    --------
    >>> X, y = make_concentric_spheres(random_state=0)
    >>> X.shape, sorted(set(y))
    ((3000, 2), [-1, 1])
    """
    r1, r2, r3 = radii
    if not 0 < r1 < r2 < r3:
        raise ValueError(f"radii must satisfy 0 < r1 < r2 < r3, got {radii!r}.")
    if dim < 1:
        raise ValueError(f"dim must be at least 1, got {dim!r}.")
    _check_sizes(n_inner=n_inner, n_outer=n_outer)
    rng = check_random_state(random_state)
    X = np.concatenate([
        _uniform_in_shell(n_inner, dim, 0.0, r1, rng),
        _uniform_in_shell(n_outer, dim, r2, r3, rng),
    ])
    y = np.concatenate([-np.ones(n_inner, dtype=int), np.ones(n_outer, dtype=int)])
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X, y


def make_g1d(
    n_samples: int = 2,
    *,
    flip: bool = True,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the 1-D function ``g_1d(-1) = 1, g_1d(1) = -1`` (or the identity).

    Parameters
    ----------
    n_samples : int, default=2
        Number of points, half at ``x = -1`` and half at ``x = +1``.
    flip : bool, default=True
        Targets ``-x`` (the paper's ``g_1d``, impossible for a NODE); ``False``
        gives the identity ``x``.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the inputs.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Inputs.
    y : ndarray of shape (n_samples,)
        Float targets in ``{-1, 1}``.
    """
    rng = check_random_state(random_state)
    _check_sizes(n_samples=n_samples, noise=noise)
    sign = np.where(np.arange(n_samples) < n_samples // 2, -1.0, 1.0)
    X = sign[:, None] + noise * rng.standard_normal((n_samples, 1))
    y = -sign if flip else sign.copy()
    return X, y


def make_shifted_sines(
    n_samples: int = 3000,
    *,
    shift: float = 0.5,
    noise: float = 0.0,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two sine curves shifted apart: separable data in 2-D, labels -1 / +1.

    The "separable" counterpart of the concentric spheres: the upper curve
    ``x2 = sin(x1) + shift`` is labelled +1, the lower ``x2 = sin(x1) - shift``
    is labelled -1, with ``x1`` uniform in ``[-pi, pi]``.

    Parameters
    ----------
    n_samples : int, default=3000
        Number of points, split evenly between the curves.
    shift : float, default=0.5
        Vertical offset of each curve from ``sin``.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to ``x2``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Points.
    y : ndarray of shape (n_samples,)
        ``+1`` upper curve, ``-1`` lower curve (int).
    """
    rng = check_random_state(random_state)
    _check_sizes(n_samples=n_samples, noise=noise)
    y = np.where(np.arange(n_samples) < n_samples // 2, 1, -1)
    x1 = rng.uniform(-np.pi, np.pi, n_samples)
    x2 = np.sin(x1) + shift * y + noise * rng.standard_normal(n_samples)
    order = rng.permutation(n_samples)
    return np.column_stack([x1, x2])[order], y[order]


def angular_mask(X: np.ndarray, low: float = 0.0, high: float = np.pi / 5) -> np.ndarray:
    """Select the points whose polar angle lies in ``[low, high]``.

    The paper's generalisation experiment (section 5.1) holds out every point
    with angle in ``[0, pi/5]`` as a validation set.  The angle is that of the
    first two coordinates, in ``[0, 2 pi)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points, ``n_features >= 2``.
    low, high : float, default=0, pi/5
        The angular slice, radians.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
        ``True`` for points in the slice; train on ``X[~mask]``.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"angular_mask needs 2-D points with >= 2 features, got {X.shape}.")
    if not low <= high:
        raise ValueError(f"angular_mask: low={low!r} is above high={high!r}.")
    angle = np.mod(np.arctan2(X[:, 1], X[:, 0]), 2 * np.pi)
    return (angle >= low) & (angle <= high)


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's bundled 8x8 digits as images, the embedded image set.

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8)
        float32 images scaled to ``[0, 1]``.
    y : ndarray of shape (1797,)
        Digit labels 0-9.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype(np.float32)[:, None], digits.target


_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot read the file ({err}).") from err
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX file ({len(data)} bytes, no full header).")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: not an IDX file of this kind (magic number {found}, "
                         f"expected {magic}).")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise ValueError(f"{path}: truncated or corrupt IDX file: header says {dims} "
                         f"({expected} bytes of data), file has {len(data) - header}.")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{folder} has neither {name}.gz nor {name} (the original MNIST "
                            "IDX files); skanode does not download them.")


def load_mnist(path: str | os.PathLike, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST from the original IDX files in ``path``, gzipped or not.

    skanode never downloads data: ``path`` is a folder holding
    ``train-images-idx3-ubyte(.gz)``, ``train-labels-idx1-ubyte(.gz)``,
    ``t10k-images-idx3-ubyte(.gz)`` and ``t10k-labels-idx1-ubyte(.gz)``.  Magic
    numbers and sizes are checked: a wrong or truncated file is a ``ValueError``
    that names it.

    Parameters
    ----------
    path : str or path-like
        Folder with the IDX files.
    kind : {"train", "test"}, default="train"
        The 60,000 training or 10,000 test images.

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28)
        float32 images scaled to ``[0, 1]``.
    y : ndarray of shape (n,)
        Labels 0-9 (int64).
    """
    if kind not in _MNIST_FILES:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}.")
    folder = Path(path)
    images_name, labels_name = _MNIST_FILES[kind]
    images = _read_idx(_find(folder, images_name), 2051, 3)
    labels = _read_idx(_find(folder, labels_name), 2049, 1)
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} images but {len(labels)} labels.")
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)

"""Shared data and helpers: tiny sizes, fixed seeds."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    NODEClassifier,
    NODERegressor,
    ResNetClassifier,
    ResNetRegressor,
)
from skanode.datasets import make_concentric_spheres

# Small and seeded: a few epochs of a narrow model.
FAST = {"max_epochs": 3, "hidden_dim": 8, "lr": 1e-2, "random_state": 0}
CLASSIFIERS = [NODEClassifier, ANODEClassifier, ResNetClassifier]
REGRESSORS = [NODERegressor, ANODERegressor, ResNetRegressor]
ODE_ESTIMATORS = [NODEClassifier, ANODEClassifier, NODERegressor, ANODERegressor]


class SmallNet(torch.nn.Module):
    """A custom module as a user writes one: no ODE, sizes given by skanode."""

    def __init__(self, input_dim, output_dim, width=8):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(input_dim, width), torch.nn.ReLU(),
                                          torch.nn.Linear(width, output_dim))

    def forward(self, x):
        return self.layers(x)


def make(cls, **params):
    """An estimator of ``cls`` with the FAST settings, overridden by ``params``."""
    return cls(**{**FAST, **params})


def is_classifier_class(cls):
    return cls in CLASSIFIERS


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


@pytest.fixture(scope="session")
def iris():
    """Iris as a DataFrame with string labels (setosa, versicolor, virginica)."""
    data = load_iris(as_frame=True)
    names = np.asarray(data.target_names)[data.target]
    return data.data, names


@pytest.fixture(scope="session")
def iris_scaled(iris):
    X, names = iris
    return StandardScaler().fit_transform(X), names

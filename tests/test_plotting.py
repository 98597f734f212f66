import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from skanode import ANODERegressor, NODERegressor, ResNetRegressor
from skanode.datasets import make_concentric_spheres, make_g1d
from skanode.plotting import (
    plot_curves,
    plot_features,
    plot_history,
    plot_input_map,
    plot_trajectories,
    plot_vector_field,
)

FAST = {"max_epochs": 2, "hidden_dim": 8, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = make_concentric_spheres(30, 60, random_state=0)
    return X, y.astype(float)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_trajectories_2d_and_3d(data):
    X, y = data
    ax = plot_trajectories(NODERegressor(**FAST).fit(X, y), X, y)
    assert ax.get_xlabel() == "h1" and len(ax.lines) == len(X)
    ax3 = plot_trajectories(ANODERegressor(augment_dim=1, **FAST).fit(X, y), X, y)
    assert ax3.name == "3d" and "augmented" in ax3.get_zlabel()


def test_trajectories_1d_and_vector_fields():
    X, y = make_g1d(10)
    est = NODERegressor(linear_head=False, **FAST).fit(X, y)
    ax = plot_trajectories(est, X, y, times=np.linspace(0, 1, 5))
    assert ax.get_xlabel() == "t" and len(ax.lines) == 10
    assert plot_vector_field(est).get_ylabel() == "h"


def test_vector_field_2d_and_rejects_larger_states(data):
    X, y = data
    assert plot_vector_field(NODERegressor(**FAST).fit(X, y)).get_xlabel() == "h1"
    with pytest.raises(ValueError, match="1-D or 2-D"):
        plot_vector_field(ANODERegressor(augment_dim=2, **FAST).fit(X, y))


def test_features_input_map_and_curves(data):
    X, y = data
    anode = ANODERegressor(augment_dim=1, **FAST).fit(X, y)
    assert plot_features(anode, y, X=X).name == "3d"
    assert plot_features(np.linspace(0, 1, 10).reshape(5, 2), np.ones(5)).get_xlabel() == "phi1"
    assert plot_input_map(anode, X=X, y=y, n=10).get_title() == "input space map"
    ests = [ResNetRegressor(**{**FAST, "random_state": s}).fit(X, y) for s in (0, 1)]
    ax = plot_history(ests, "train_loss", label="ResNet")
    assert ax.get_legend().get_texts()[0].get_text() == "ResNet"
    assert len(ax.collections) == 1  # the std band
    records = [{"label": "A", "curves": {"train_loss": [1.0, 0.5]}},
               {"label": "A", "curves": {"train_loss": [0.8, 0.4]}}]
    assert plot_curves(records).get_ylabel() == "training loss (MSE)"

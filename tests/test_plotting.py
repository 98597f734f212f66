from itertools import pairwise

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from skanode import ANODEClassifier, ANODERegressor, NODERegressor, ResNetRegressor
from skanode.datasets import make_concentric_spheres, make_g1d
from skanode.plotting import (
    MODEL_COLORS,
    class_legend_handles,
    plot_curves,
    plot_features,
    plot_history,
    plot_input_map,
    plot_loss_vs_nfe,
    plot_search_results,
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


def test_a_2d_state_on_3d_axes_is_drawn_against_time():
    # a 1-D input augmented by 1 (the ANODE of g_1d): paths in (t, h1, h2)
    X, y = make_g1d(10)
    est = ANODERegressor(augment_dim=1, linear_head=False, **FAST).fit(X, y)
    ax = plt.figure().add_subplot(projection="3d")
    plot_trajectories(est, [[-1.0], [1.0]], [-1.0, 1.0], ax=ax)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("t", "h1", "h2 (augmented)")
    assert [line.get_linewidth() for line in ax.lines] == [2.0, 2.0]  # few paths: thick
    t, h1, _ = ax.lines[0].get_data_3d()
    assert t[0] == 0 and t[-1] == est.integration_time and h1[0] == -1
    # on plain axes the same state is a path in the (h1, h2) plane
    flat = plot_trajectories(est, X, y)
    assert flat.get_ylabel() == "h2 (augmented)" and flat.lines[0].get_linewidth() == 2.0


def test_curves_keep_each_models_colour_and_plain_log_labels():
    records = [{"label": label, "curves": {"train_loss": [2.33, 2.30, 2.27]}}
               for label in ("ResNet", "ANODE", "NODE")]
    ax = plot_curves(records, log=True)
    assert [line.get_color() for line in ax.lines] == [MODEL_COLORS[r["label"]]
                                                       for r in records]
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels()]
    assert any(labels) and not any("times" in t or "^" in t for t in labels), labels


def test_log_labels_on_a_narrow_range_differ():
    records = [{"label": "ANODE", "curves": {"train_loss": [2.324, 2.316, 2.309, 2.305]}}]
    ax = plot_curves(records, log=True)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()]
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels


def _cv_results(nfe):
    return {"mean_test_score": -np.array([0.5, 0.4, 0.3, 0.02]),
            "std_test_score": np.full(4, 0.01), "mean_test_nfe": nfe,
            "mean_fit_time": [1.0, 2.0, 3.0, 4.0], "param_lr": [1e-3, 1e-2, 1e-3, 1e-2],
            "param_batch_size": [64, 64, 128, 128], "param_hidden_dim": [32] * 4}


def test_search_results_have_readable_ticks_and_say_which_point_is_which():
    left, right = plot_search_results(_cv_results([19.97, 19.9725, 19.975, 19.99]))
    left.figure.canvas.draw()
    ticks = [t.get_text() for t in left.get_xticklabels() if t.get_text()]
    assert len(ticks) <= 7 and len(set(ticks)) == len(ticks)  # distinct, not crowded
    boxes = [t.get_window_extent() for t in left.get_xticklabels() if t.get_text()]
    assert all(a.x1 < b.x0 for a, b in pairwise(boxes))  # no overlap
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    assert legend == ["lr = 0.001", "lr = 0.01", "batch = 64", "batch = 128", "best"]
    rows = [t.get_text() for t in right.get_yticklabels()]
    assert rows[0] == "lr 0.01, batch 128"  # best first; hidden (one value) left out
    assert len(rows) == 4
    # fit time on the x axis when no NFE was recorded (a ResNet)
    left, _ = plot_search_results(_cv_results([np.nan] * 4))
    assert left.get_xlabel() == "mean fit time per fold (s)"
    # a third searched parameter sizes the points, and the legend says which is which
    third = {**_cv_results([20.0, 21.0, 22.0, 23.0]), "param_hidden_dim": [16, 32, 16, 32]}
    left, _ = plot_search_results(third)
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    assert legend[-3:] == ["hidden = 16", "hidden = 32", "best"]
    sizes = [float(points.get_sizes()[0]) for points in left.collections[:4]]
    assert sizes[0] == sizes[2] < sizes[1] == sizes[3]
    # the best point (0.02) lies between two powers of ten: a minor tick there is labelled
    left.figure.canvas.draw()
    assert any(t.get_text() for t in left.get_yticklabels(minor=True))


def test_loss_against_nfe_connects_the_epochs_of_each_run():
    records = [{"label": label, "curves": {"train_loss": [2.0, 1.0, 0.5, 0.4],
                                           "forward_nfe": [20, 20, 26, 26]}}
               for label in ("NODE", "NODE", "ANODE")]
    ax = plot_loss_vs_nfe(records)
    assert len(ax.lines) == 3 and all(len(line.get_xdata()) == 4 for line in ax.lines)
    assert ax.lines[0].get_color() == MODEL_COLORS["NODE"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "NODE", "ANODE", "epoch 1", "last epoch"]
    assert ax.get_xlabel() == "forward NFE per batch" and ax.get_yscale() == "log"


def test_class_legend_handles():
    handles = class_legend_handles({-1: "inner", 1: "outer"})
    assert [h.get_label() for h in handles] == ["inner", "outer"]
    assert [h.get_color() for h in handles] == ["tab:red", "tab:blue"]


def test_points_are_coloured_by_class_for_any_labels(data):
    from matplotlib.colors import to_hex

    X, y = data
    three = np.digitize(np.linalg.norm(X, axis=1), [0.75, 1.25])  # classes 0, 1, 2
    clf = ANODEClassifier(augment_dim=1, **FAST).fit(X, three)
    ax = plot_features(clf, three, X=X)
    colours = {to_hex(c) for c in ax.collections[0].get_facecolors()}
    assert len(colours) == 3  # one per class, none grey
    names = np.where(y > 0, "out", "in")
    two = ANODEClassifier(**FAST).fit(X, names)
    ax = plot_trajectories(two, X, names)
    assert {to_hex(line.get_color()) for line in ax.lines} == {to_hex("tab:red"),
                                                                to_hex("tab:blue")}
    ax = plot_input_map(two, X=X, y=names, n=10)  # the probability of "out"
    assert ax.figure.axes[-1].get_ylabel() == "P(y = out)"
    with pytest.raises(ValueError, match="binary classifier's probability; this classifier "
                                         "has 3 classes"):
        plot_input_map(clf, n=5)


def test_plotting_helpers_refuse_what_they_cannot_draw(data):
    X, y = data
    with pytest.raises(ValueError, match="vector field of a NODE / ANODE; ResNetRegressor"):
        plot_vector_field(ResNetRegressor(**FAST).fit(X, y))
    anode = ANODERegressor(augment_dim=1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"3-D state in 3-D: pass ax=fig.add_subplot"):
        plot_trajectories(anode, X, y, ax=plt.figure().add_subplot())
    with pytest.raises(ValueError, match=r"'valid_loss' is not in the history; it has \["):
        plot_history(anode, "valid_loss")


def test_history_axis_names_the_estimators_loss(data):
    X, y = data
    clf = ANODEClassifier(**FAST).fit(X, y > 0)
    assert plot_history(clf).get_ylabel() == "training loss (cross-entropy)"
    assert plot_history(NODERegressor(**FAST).fit(X, y)).get_ylabel() == "training loss (MSE)"


def test_search_results_of_an_accuracy_search_with_nfe(data):
    from sklearn.model_selection import GridSearchCV

    from skanode.scoring import nfe_scorer

    X, y = data
    search = GridSearchCV(ANODEClassifier(**FAST), {"lr": [1e-3, 1e-2]}, cv=2,
                          scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
                          refit="accuracy").fit(X, y > 0)
    left, right = plot_search_results(search.cv_results_)
    assert left.get_ylabel() == "CV accuracy (2 folds)" and left.get_yscale() == "linear"
    assert left.get_xlabel() == "mean training forward NFE per batch"
    best = np.argmax(search.cv_results_["mean_test_accuracy"])
    assert right.get_yticklabels()[0].get_text() == \
        f"lr {search.cv_results_['param_lr'][best]:g}"  # best (highest) first
    with pytest.raises(ValueError, match=r"no mean_test_r2 in cv_results; its metrics are"):
        plot_search_results(search.cv_results_, metric="r2")


def test_plotting_arguments_that_draw_nothing_are_refused():
    with pytest.raises(ValueError, match="needs a fitted estimator or a precomputed grid"):
        plot_input_map()
    with pytest.raises(ValueError, match="style must be 'both', 'line' or 'point', got 'dots'"):
        class_legend_handles(style="dots")
    records = [{"label": "NODE", "curves": {"train_loss": [1.0, 0.5]}}]
    with pytest.raises(ValueError, match=r"no record has a 'nope' curve; they have "
                                         r"\['train_loss'\]"):
        plot_curves(records, "nope")

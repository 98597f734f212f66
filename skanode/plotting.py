"""Plots of flows, trajectories, feature spaces, input maps and training curves.

matplotlib is imported when a function is called, not with the package.  Every
function takes an optional ``ax`` and returns the axes it drew on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "plot_curves",
    "plot_features",
    "plot_history",
    "plot_input_map",
    "plot_trajectories",
    "plot_vector_field",
]

_CLASS_COLORS = {-1: "tab:red", 1: "tab:blue"}


def _axes(ax=None, *, three_d: bool = False):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig = plt.figure(figsize=(5, 4))
    return fig.add_subplot(projection="3d" if three_d else None)


def _colors(y: np.ndarray) -> list:
    y = np.sign(np.asarray(y, dtype=float).ravel())
    return [_CLASS_COLORS.get(int(v), "tab:gray") for v in y]


def _band(ax, curves: Sequence[Sequence[float]], label: str, color=None, log: bool = False):
    length = min(len(c) for c in curves)
    data = np.array([c[:length] for c in curves], dtype=float)
    epochs = np.arange(1, length + 1)
    mean = data.mean(axis=0)
    (line,) = ax.plot(epochs, mean, label=label, color=color)
    if len(data) > 1:
        std = data.std(axis=0)
        # On a log axis mean - std can be <= 0; the band then stops at the smallest run.
        low = np.maximum(mean - std, data.min(axis=0)) if log else mean - std
        ax.fill_between(epochs, low, mean + std, alpha=0.25, color=line.get_color())
    return line


def plot_history(estimators: Any, key: str = "train_loss", *, ax=None, label: str | None = None,
                 log: bool = False):
    """Plot ``net.history[:, key]`` of one or several fitted estimators.

    Several estimators (repeats) are drawn as their mean with a +/- one standard
    deviation band.

    Parameters
    ----------
    estimators : estimator or list of estimators
        Fitted skanode (or skorch) estimators.
    key : str, default="train_loss"
        History key, e.g. ``"train_loss"``, ``"valid_loss"``, ``"forward_nfe"``.
    ax : matplotlib axes, default=None
        Where to draw; a new figure if None.
    label : str, default=None
        Legend label; the class name if None.
    log : bool, default=False
        Logarithmic y axis.

    Returns
    -------
    matplotlib axes
    """
    if not isinstance(estimators, Iterable):
        estimators = [estimators]
    estimators = list(estimators)
    ax = _axes(ax)
    curves = [[row[key] for row in est.history if key in row] for est in estimators]
    _band(ax, curves, label or type(estimators[0]).__name__, log=log)
    _finish_curve_axes(ax, key, log)
    return ax


def plot_curves(records: Sequence[dict], key: str = "train_loss", *, ax=None,
                log: bool = False):
    """Plot a curve of experiment records, one mean +/- std band per model.

    Parameters
    ----------
    records : list of dict
        Records from :mod:`skanode.experiments` (``"label"`` and ``"curves"``).
    key : str, default="train_loss"
        Which curve.
    ax : matplotlib axes, default=None
        Where to draw.
    log : bool, default=False
        Logarithmic y axis.

    Returns
    -------
    matplotlib axes
    """
    ax = _axes(ax)
    groups: dict[str, list] = {}
    for rec in records:
        if key in rec["curves"]:
            groups.setdefault(rec["label"], []).append(rec["curves"][key])
    for label, curves in groups.items():
        _band(ax, curves, f"{label} (n={len(curves)})" if len(curves) > 1 else label, log=log)
    _finish_curve_axes(ax, key, log)
    return ax


def _finish_curve_axes(ax, key: str, log: bool) -> None:
    names = {"train_loss": "training loss (MSE)", "valid_loss": "validation loss",
             "forward_nfe": "forward NFE per batch", "backward_nfe": "backward NFE per batch"}
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(names.get(key, key))
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()


def plot_trajectories(estimator, X, y=None, *, times: Sequence[float] | None = None,
                      ax=None, max_points: int = 200):
    """Draw the flow of the points ``X`` from ``t = 0`` to ``T``.

    1-D states are drawn as ``h(t)`` against ``t``; 2-D states as paths in the
    plane; 3-D (e.g. a 2-D input augmented by 1) as paths in space.  For larger
    states the first three coordinates are drawn.  Points are coloured by the
    sign of ``y``.

    Parameters
    ----------
    estimator : fitted skanode estimator
        A NODE / ANODE (or ResNet, whose "time" is the layer index).
    X : array-like of shape (n_samples, n_features)
        Starting points.
    y : array-like of shape (n_samples,), default=None
        Targets, for colours.
    times : sequence of float, default=None
        Times; 50 points on ``[0, T]`` if None.
    ax : matplotlib axes, default=None
        Where to draw (a 3-D axes for 3-D states).
    max_points : int, default=200
        Draw at most this many trajectories.

    Returns
    -------
    matplotlib axes
    """
    X = np.asarray(X)[:max_points]
    colors = _colors(y[:max_points]) if y is not None else ["tab:gray"] * len(X)
    traj = estimator.trajectory(X, times)  # (n_times, n_points, state_dim)
    state_dim = traj.shape[2]
    is_ode = hasattr(estimator, "integration_time")
    if times is None or not is_ode:  # a ResNet's "time" is its layer index
        times = (np.linspace(0, estimator.integration_time, traj.shape[0]) if is_ode
                 else np.arange(traj.shape[0]))
    ax = _axes(ax, three_d=state_dim >= 3)
    if state_dim == 1:
        for i, c in enumerate(colors):
            ax.plot(times, traj[:, i, 0], color=c, alpha=0.6, lw=1)
        ax.set_xlabel("t" if is_ode else "layer")
        ax.set_ylabel("h(t)" if is_ode else "h after layer")
    elif state_dim == 2:
        for i, c in enumerate(colors):
            ax.plot(traj[:, i, 0], traj[:, i, 1], color=c, alpha=0.5, lw=0.8)
        ax.scatter(traj[-1, :, 0], traj[-1, :, 1], c=colors, s=6, zorder=3)
        ax.set_xlabel("h1")
        ax.set_ylabel("h2")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        for i, c in enumerate(colors):
            ax.plot(traj[:, i, 0], traj[:, i, 1], traj[:, i, 2], color=c, alpha=0.5, lw=0.8)
        ax.set_xlabel("h1")
        ax.set_ylabel("h2")
        ax.set_zlabel("h3 (augmented)" if state_dim > X.shape[1] else "h3")
    ax.set_title(f"{type(estimator).__name__}: trajectories")
    return ax


def plot_vector_field(estimator, *, t: float = 0.0, bounds: tuple[float, float] = (-2.0, 2.0),
                      n: int = 20, ax=None):
    """Draw the learned vector field ``f(t, h)`` of a 1-D or 2-D ODE model.

    For a 1-D state, arrows ``(1, f(t, h))`` over the ``(t, h)`` plane; for a
    2-D state, ``f(t, h)`` at time ``t`` over the plane.

    Parameters
    ----------
    estimator : fitted NODE / ANODE estimator
        Its state (input plus augmented dimensions) must be 1-D or 2-D.
    t : float, default=0.0
        Time at which a 2-D field is drawn.
    bounds : tuple of float, default=(-2, 2)
        Range of each state coordinate.
    n : int, default=20
        Arrows per axis.
    ax : matplotlib axes, default=None
        Where to draw.

    Returns
    -------
    matplotlib axes
    """
    block = estimator.module_.odeblock
    field = block.dynamics
    dim = field.dim
    if dim not in (1, 2):
        raise ValueError(f"plot_vector_field draws 1-D or 2-D states; this one has {dim}.")
    ax = _axes(ax)
    grid = np.linspace(*bounds, n)
    device = next(field.parameters()).device
    with torch.no_grad():
        if dim == 1:
            ts = np.linspace(0, block.integration_time, n)
            T, H = np.meshgrid(ts, grid)
            dh = np.stack([
                field(torch.tensor(float(tt)), torch.tensor(H[:, j:j + 1], dtype=torch.float32,
                                                            device=device)).cpu().numpy()[:, 0]
                for j, tt in enumerate(ts)
            ], axis=1)
            ax.quiver(T, H, np.ones_like(dh), dh, angles="xy", color="tab:purple")
            ax.set_xlabel("t")
            ax.set_ylabel("h")
        else:
            H1, H2 = np.meshgrid(grid, grid)
            h = torch.tensor(np.column_stack([H1.ravel(), H2.ravel()]), dtype=torch.float32,
                             device=device)
            dh = field(torch.tensor(float(t)), h).cpu().numpy()
            ax.quiver(H1, H2, dh[:, 0].reshape(H1.shape), dh[:, 1].reshape(H1.shape),
                      color="tab:purple")
            ax.set_xlabel("h1")
            ax.set_ylabel("h2")
            ax.set_aspect("equal")
    ax.set_title(f"vector field f(t={t:g}, h)" if dim == 2 else "vector field f(t, h)")
    return ax


def plot_features(features, y=None, *, X=None, ax=None, title: str | None = None):
    """Scatter the feature space ``phi(x)`` in 2-D or 3-D.

    Parameters
    ----------
    features : fitted estimator or array of shape (n_samples, n_features)
        An estimator (then ``X`` is required and ``estimator.transform(X)`` is
        drawn) or precomputed features.
    y : array-like, default=None
        Targets, for colours.
    X : array-like, default=None
        Inputs, when ``features`` is an estimator.
    ax : matplotlib axes, default=None
        Where to draw (3-D axes for 3 or more features).
    title : str, default=None
        Axes title.

    Returns
    -------
    matplotlib axes
    """
    if hasattr(features, "transform"):
        if X is None:
            raise ValueError("plot_features(estimator, y, X=...) needs the inputs X.")
        features = features.transform(X)
    features = np.asarray(features)
    colors = _colors(y) if y is not None else "tab:gray"
    three_d = features.shape[1] >= 3
    ax = _axes(ax, three_d=three_d)
    if features.shape[1] == 1:
        ax.scatter(features[:, 0], np.zeros(len(features)), c=colors, s=8)
        ax.set_yticks([])
    elif three_d:
        ax.scatter(features[:, 0], features[:, 1], features[:, 2], c=colors, s=6)
        ax.set_zlabel("phi3")
    else:
        ax.scatter(features[:, 0], features[:, 1], c=colors, s=6)
        ax.set_ylabel("phi2")
    ax.set_xlabel("phi1")
    ax.set_title(title or "feature space")
    return ax


def plot_input_map(estimator=None, *, grid=None, X=None, y=None,
                   bounds: tuple[float, float] = (-1.5, 1.5), n: int = 100, ax=None,
                   title: str | None = None):
    """Colour every point of the input plane by the model's output (Fig. 9).

    Parameters
    ----------
    estimator : fitted estimator with 2 input features, default=None
        Evaluated on an ``n`` x ``n`` grid over ``bounds``.
    grid : tuple (gx, gy, values), default=None
        A precomputed map instead of ``estimator``.
    X, y : array-like, default=None
        Points to overlay, coloured by ``y``.
    bounds : tuple of float, default=(-1.5, 1.5)
        Range of both input coordinates.
    n : int, default=100
        Grid points per axis.
    ax : matplotlib axes, default=None
        Where to draw.
    title : str, default=None
        Axes title.

    Returns
    -------
    matplotlib axes
    """
    if grid is None:
        axis = np.linspace(*bounds, n)
        gx, gy = np.meshgrid(axis, axis)
        values = estimator.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    else:
        gx, gy, values = grid
    ax = _axes(ax)
    mesh = ax.contourf(gx, gy, np.clip(values, -1.5, 1.5), levels=np.linspace(-1.5, 1.5, 31),
                       cmap="RdBu")
    ax.figure.colorbar(mesh, ax=ax, label="model output")
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], c=_colors(y) if y is not None else "k", s=3,
                   edgecolors="none", alpha=0.6)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_aspect("equal")
    ax.set_title(title or "input space map")
    return ax

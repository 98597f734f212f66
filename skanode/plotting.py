"""Plots of flows, trajectories, feature spaces, input maps and training curves.

matplotlib is imported when a function is called, not with the package.  Every
function takes an optional ``ax`` and returns the axes it drew on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "MODEL_COLORS",
    "class_legend_handles",
    "plot_curves",
    "plot_features",
    "plot_history",
    "plot_input_map",
    "plot_loss_vs_nfe",
    "plot_search_results",
    "plot_trajectories",
    "plot_vector_field",
]

_CLASS_COLORS = {-1: "tab:red", 1: "tab:blue"}
#: One colour per model label, the same in every figure of the ``skanode`` command.
MODEL_COLORS = {"NODE": "tab:blue", "ANODE": "tab:orange", "ResNet": "tab:green"}
# Equal curves (two models at the same NFE) would hide one another in a single style.
_MODEL_LINESTYLES = {"NODE": "-", "ANODE": "--", "ResNet": ":"}


def _axes(ax=None, *, three_d: bool = False):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    fig = plt.figure(figsize=(5, 4))
    return fig.add_subplot(projection="3d" if three_d else None)


def _colors(y: Any) -> list:
    """One colour per class for labels (red, blue for two); by sign for continuous targets."""
    y = np.asarray(y).ravel()
    if y.dtype.kind == "f" and len(np.unique(y[np.isfinite(y)])) > 10:  # a regression target
        return [_CLASS_COLORS.get(int(v), "tab:gray") if np.isfinite(v) else "tab:gray"
                for v in np.sign(y)]
    classes, index = np.unique(y.astype(str) if y.dtype.kind == "O" else y,
                               return_inverse=True)
    if len(classes) <= 2:  # the paper's -1 / +1 (and any two labels, in sorted order)
        palette = ["tab:red", "tab:blue"]
    else:
        import matplotlib.pyplot as plt

        palette = list(plt.get_cmap("tab10" if len(classes) <= 10 else "tab20").colors)
    return [palette[i % len(palette)] for i in index.ravel()]


def _band(ax, curves: Sequence[Sequence[float]], label: str, color=None, log: bool = False,
          linestyle: str = "-"):
    length = min(len(c) for c in curves)
    data = np.array([c[:length] for c in curves], dtype=float)
    epochs = np.arange(1, length + 1)
    mean = data.mean(axis=0)
    # a curve of one epoch is a point: draw it
    (line,) = ax.plot(epochs, mean, label=label, color=color, linestyle=linestyle,
                      marker="o" if length == 1 else None)
    if len(data) > 1:
        std = data.std(axis=0)
        # On a log axis mean - std can be <= 0; the band then stops at the smallest run.
        low = np.maximum(mean - std, data.min(axis=0)) if log else mean - std
        ax.fill_between(epochs, low, mean + std, alpha=0.25, color=line.get_color())
    return line


def plot_history(estimators: Any, key: str = "train_loss", *, ax: Any = None,
                 label: str | None = None, log: bool = False) -> Any:
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
    curves = [[row[key] for row in est.history if key in row] for est in estimators]
    if not all(curves):
        keys = sorted({k for est in estimators for row in est.history for k in row
                       if k not in ("batches", "epoch")})
        raise ValueError(f"plot_history: {key!r} is not in the history; it has {keys}.")
    ax = _axes(ax)
    _band(ax, curves, label or type(estimators[0]).__name__, log=log)
    criterion = getattr(estimators[0], "criterion_", None)
    loss = type(criterion).__name__.removesuffix("Loss") if criterion is not None else None
    _finish_curve_axes(ax, key, log, loss=loss)
    return ax


def plot_curves(records: Sequence[dict], key: str = "train_loss", *, ax: Any = None,
                log: bool = False) -> Any:
    """Plot a curve of experiment records, one mean +/- std band per model.

    Models keep their colour of :data:`MODEL_COLORS` in every figure; a label
    gets ``(n=...)`` when it averages several repeats.

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
    if records and not groups:
        keys = sorted({k for rec in records for k in rec["curves"]})
        raise ValueError(f"plot_curves: no record has a {key!r} curve; they have {keys}.")
    for label, curves in groups.items():
        _band(ax, curves, f"{label} (n={len(curves)})" if len(curves) > 1 else label,
              color=MODEL_COLORS.get(label), log=log,
              linestyle=_MODEL_LINESTYLES.get(label, "-"))
    _finish_curve_axes(ax, key, log)
    return ax


def _finish_curve_axes(ax, key: str, log: bool, loss: str | None = "MSE") -> None:
    kind = {"CrossEntropy": "cross-entropy"}.get(loss, loss)
    names = {"train_loss": f"training loss ({kind})" if kind else "training loss",
             "valid_loss": f"validation loss ({kind})" if kind else "validation loss",
             "forward_nfe": "forward NFE per batch", "backward_nfe": "backward NFE per batch",
             "valid_acc": "validation accuracy"}
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel(names.get(key, key))
    if log:
        _log_axis(ax.yaxis)
    elif key.endswith("nfe"):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()


def _log_axis(axis) -> None:
    """Log scale labelled 0.01, 0.1, 1 (or 2.3, 2.4 within a decade), not 2.3 x 10^0."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLogFormatter(LogFormatterSciNotation):
        digits = 3

        def set_locs(self, locs=None):
            super().set_locs(locs)
            # Enough digits that neighbouring labels differ on a narrow range (2.315, 2.32).
            label = super().__call__
            shown = [x for x in (locs if locs is not None else []) if label(x)]
            self.digits = next((d for d in range(3, 8)
                                if len({f"{x:.{d}g}" for x in shown}) == len(shown)), 8)

        def __call__(self, x, pos=None):
            return f"{x:.{self.digits}g}" if super().__call__(x, pos) else ""

    if axis.axis_name == "y":
        axis.axes.set_yscale("log")
    else:
        axis.axes.set_xscale("log")
    axis.set_major_formatter(PlainLogFormatter())
    # Over up to two and a half decades some minor ticks are labelled too (2, 5, ...), so
    # that a point between two powers of ten can be read.
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2.5, 0.6)))


def plot_trajectories(estimator: Any, X: Any, y: Any = None, *,
                      times: Sequence[float] | None = None, ax: Any = None,
                      max_points: int = 200) -> Any:
    """Draw the flow of the points ``X`` from ``t = 0`` to ``T``.

    1-D states are drawn as ``h(t)`` against ``t``; 2-D states as paths in the
    plane, or, on a 3-D ``ax``, as paths in ``(t, h1, h2)`` (e.g. a 1-D input
    augmented by 1: the lift into the augmented dimension becomes visible); 3-D
    states (e.g. a 2-D input augmented by 1) as paths in space.  For larger
    states the first three coordinates are drawn.  Points are coloured by class
    (red and blue for two labels, such as the paper's -1 / +1), or by the sign
    of a continuous ``y``; in the plane a hollow circle marks where a path
    starts and a dot where it ends, in 3-D a dot marks the end.  A few
    trajectories are drawn thick, many thin.

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
    colors = _colors(np.asarray(y)[:max_points]) if y is not None else ["tab:gray"] * len(X)
    traj = estimator.trajectory(X, times)  # (n_times, n_points, state_dim)
    state_dim = traj.shape[2]
    augmented = state_dim > X.shape[1]
    is_ode = hasattr(estimator, "integration_time")
    if times is None or not is_ode:  # a ResNet's "time" is its layer index
        times = (np.linspace(0, estimator.integration_time, traj.shape[0]) if is_ode
                 else np.arange(traj.shape[0]))
    times = np.asarray(times, dtype=float)
    few = len(X) <= 10
    style = {"alpha": 0.9 if few else 0.5, "lw": 2.0 if few else 0.8}
    ends = {"s": 40 if few else 6, "zorder": 3}
    time_label = "t" if is_ode else "layer"
    if ax is None:
        ax = _axes(ax, three_d=state_dim >= 3)
    elif state_dim >= 3 and ax.name != "3d":
        raise ValueError(f"plot_trajectories draws a {state_dim}-D state in 3-D: pass "
                         "ax=fig.add_subplot(projection='3d'), or no ax.")
    if state_dim == 1:
        for i, c in enumerate(colors):
            ax.plot(times, traj[:, i, 0], color=c, **style)
        ax.set_xlabel(time_label)
        ax.set_ylabel("h(t)" if is_ode else "h after layer")
    elif state_dim == 2 and ax.name == "3d":
        for i, c in enumerate(colors):
            ax.plot(times, traj[:, i, 0], traj[:, i, 1], color=c, **style)
        ax.scatter(times[0] * np.ones(len(X)), traj[0, :, 0], traj[0, :, 1], facecolors="none",
                   edgecolors=colors, **ends)
        ax.scatter(times[-1] * np.ones(len(X)), traj[-1, :, 0], traj[-1, :, 1], c=colors,
                   **ends)
        ax.set_xlabel(time_label)
        ax.set_ylabel("h1")
        ax.set_zlabel("h2 (augmented)" if augmented else "h2")
        ax.view_init(elev=20, azim=-60)
        _tidy_3d(ax)
    elif state_dim == 2:
        for i, c in enumerate(colors):
            ax.plot(traj[:, i, 0], traj[:, i, 1], color=c, **style)
        ax.scatter(traj[0, :, 0], traj[0, :, 1], facecolors="none", edgecolors=colors,
                   linewidths=0.6, **ends)
        ax.scatter(traj[-1, :, 0], traj[-1, :, 1], c=colors, **ends)
        ax.set_xlabel("h1")
        ax.set_ylabel("h2 (augmented)" if augmented else "h2")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        for i, c in enumerate(colors):
            ax.plot(traj[:, i, 0], traj[:, i, 1], traj[:, i, 2], color=c, **style)
        ax.scatter(traj[-1, :, 0], traj[-1, :, 1], traj[-1, :, 2], c=colors, **ends)
        ax.set_xlabel("h1")
        ax.set_ylabel("h2")
        ax.set_zlabel("h3 (augmented)" if state_dim > X.shape[1] else "h3")
        _tidy_3d(ax)
    ax.set_title(f"{type(estimator).__name__}: trajectories")
    return ax


def _tidy_3d(ax) -> None:
    """Fewer ticks and padded labels, so 3-D axis labels do not sit on the tick labels."""
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(4))
        axis.labelpad = 4
    ax.tick_params(labelsize=8, pad=0)
    ax.set_box_aspect(None, zoom=0.88)  # room for the z label inside the axes


def class_legend_handles(names: dict | None = None, *, style: str = "both") -> list:
    """Legend handles for the two target colours of the toy experiments.

    Parameters
    ----------
    names : dict, default=None
        ``{-1: label, 1: label}``; ``"y = -1"`` and ``"y = +1"`` if None.
    style : {"both", "line", "point"}, default="both"
        Draw the handles as the figure draws the classes: lines with dots, lines
        (trajectories) or dots (scatter plots).

    Returns
    -------
    list of matplotlib artists
        For ``ax.legend(handles=...)`` or ``fig.legend(handles=...)``.
    """
    from matplotlib.lines import Line2D

    names = names or {-1: "y = -1", 1: "y = +1"}
    if style not in ("both", "line", "point"):
        raise ValueError(f"style must be 'both', 'line' or 'point', got {style!r}.")
    marker = None if style == "line" else "o"
    ls = "" if style == "point" else "-"
    return [Line2D([], [], color=_CLASS_COLORS[k], marker=marker, ls=ls, lw=2, label=v)
            for k, v in names.items()]


def plot_vector_field(estimator: Any, *, t: float = 0.0, bounds: tuple[float, float] = (-2.0, 2.0),
                      n: int = 20, ax: Any = None) -> Any:
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
    import torch

    block = getattr(estimator.module_, "odeblock", None)
    if block is None:
        raise ValueError(f"plot_vector_field draws the vector field of a NODE / ANODE; "
                         f"{type(estimator).__name__} has none.")
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


def plot_features(features: Any, y: Any = None, *, X: Any = None, ax: Any = None,
                  title: str | None = None) -> Any:
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
        ax.set_ylabel("phi2")
        ax.set_zlabel("phi3")
        _tidy_3d(ax)
    else:
        ax.scatter(features[:, 0], features[:, 1], c=colors, s=6)
        ax.set_ylabel("phi2")
    ax.set_xlabel("phi1")
    ax.set_title(title or "feature space")
    return ax


def plot_input_map(estimator: Any = None, *, grid: Any = None, X: Any = None, y: Any = None,
                   bounds: tuple[float, float] = (-1.5, 1.5), n: int = 100, ax: Any = None,
                   title: str | None = None) -> Any:
    """Colour every point of the input plane by the model's output (Fig. 9).

    Parameters
    ----------
    estimator : fitted estimator with 2 input features, default=None
        Evaluated on an ``n`` x ``n`` grid over ``bounds``: a regressor's output
        (clipped to [-1.5, 1.5], the paper's targets being -1 and +1) or a
        binary classifier's probability of its second class.
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
    low, high, label = -1.5, 1.5, "model output"
    if grid is None:
        if estimator is None:
            raise ValueError("plot_input_map needs a fitted estimator or a precomputed grid.")
        if getattr(estimator, "n_features_in_", 2) != 2:
            raise ValueError(f"plot_input_map draws models of 2 input features; this one has "
                             f"{estimator.n_features_in_}.")
        axis = np.linspace(*bounds, n)
        gx, gy = np.meshgrid(axis, axis)
        points = np.column_stack([gx.ravel(), gy.ravel()])
        if hasattr(estimator, "predict_proba"):  # a classifier: the second class's probability
            classes = estimator.classes_
            if len(classes) != 2:
                raise ValueError(f"plot_input_map colours by one output: a regressor's, or a "
                                 f"binary classifier's probability; this classifier has "
                                 f"{len(classes)} classes.")
            values = estimator.predict_proba(points)[:, 1]
            low, high, label = 0.0, 1.0, f"P(y = {classes[1]})"
        else:
            values = np.asarray(estimator.predict(points), dtype=float)
            if values.ndim > 1 and values.shape[1] > 1:
                raise ValueError("plot_input_map colours by one output; this regressor has "
                                 f"{values.shape[1]}.")
        values = values.reshape(gx.shape)
    else:
        gx, gy, values = grid
    ax = _axes(ax)
    mesh = ax.contourf(gx, gy, np.clip(values, low, high), levels=np.linspace(low, high, 31),
                       cmap="RdBu")
    ax.figure.colorbar(mesh, ax=ax, label=label)
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], c=_colors(y) if y is not None else "k", s=3,
                   edgecolors="none", alpha=0.6)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_aspect("equal")
    ax.set_title(title or "input space map")
    return ax


def plot_loss_vs_nfe(records: Sequence[dict], key: str = "train_loss", *,
                     nfe_key: str = "forward_nfe", ax: Any = None, log: bool = True) -> Any:
    """Draw a per-epoch curve against the NFE, one path per run, epochs connected (Fig. 10).

    Each run of each model is a line through its epochs, from a hollow circle
    (epoch 1) to a filled square (the last epoch), in the model's colour.

    Parameters
    ----------
    records : list of dict
        Records from :mod:`skanode.experiments` with ``curves[key]`` and
        ``curves[nfe_key]``.
    key : str, default="train_loss"
        The curve on the y axis.
    nfe_key : str, default="forward_nfe"
        The NFE curve on the x axis.
    ax : matplotlib axes, default=None
        Where to draw.
    log : bool, default=True
        Logarithmic y axis.

    Returns
    -------
    matplotlib axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    ax = _axes(ax)
    labels = list(dict.fromkeys(rec["label"] for rec in records))
    cycle = iter(["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"])
    colors = {lab: MODEL_COLORS.get(lab) or next(cycle, "tab:gray") for lab in labels}
    for rec in records:
        nfe = np.asarray(rec["curves"][nfe_key], dtype=float)
        values = np.asarray(rec["curves"][key], dtype=float)
        n = min(len(nfe), len(values))
        color = colors[rec["label"]]
        ax.plot(nfe[:n], values[:n], ".-", color=color, alpha=0.6, lw=1.2, ms=4)
        ax.scatter(nfe[:1], values[:1], facecolors="none", edgecolors=color, s=40, zorder=3)
        ax.scatter(nfe[n - 1:n], values[n - 1:n], color=color, marker="s", s=36, zorder=3)
    handles = [Line2D([], [], color=colors[lab], lw=1.5, label=lab) for lab in labels]
    handles += [Line2D([], [], ls="", marker="o", mfc="none", mec="k", label="epoch 1"),
                Line2D([], [], ls="", marker="s", color="k", label="last epoch")]
    ax.legend(handles=handles, fontsize="small")
    ax.set_xlabel(nfe_key.replace("_", " ").replace("nfe", "NFE") + " per batch")
    ax.set_ylabel(key.replace("_", " "))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log:
        _log_axis(ax.yaxis)
    ax.grid(alpha=0.3)
    return ax


_PARAM_NAMES = {"lr": "lr", "batch_size": "batch", "hidden_dim": "hidden", "augment_dim": "aug",
                "num_layers": "layers"}
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _param_table(cv_results) -> tuple[list[str], list[dict]]:
    """Return the searched parameter names (several values) and each candidate's values."""
    import pandas as pd

    results = pd.DataFrame(cv_results)
    columns = [c for c in results.columns if c.startswith("param_")]
    params = [{c[len("param_"):]: row[c] for c in columns} for _, row in results.iterrows()]
    varied = [c[len("param_"):] for c in columns if results[c].astype(str).nunique() > 1]
    varied = varied or [c[len("param_"):] for c in columns]
    order = list(_PARAM_NAMES)  # lr, batch, hidden, then the model's own
    return sorted(varied, key=lambda k: order.index(k) if k in order else len(order)), params


def _fmt_param(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.integer, np.floating)) else str(value)


def plot_search_results(cv_results: Any, *, metric: str | None = None, axes: Any = None,
                        title: str | None = None) -> Any:
    """Draw a search's candidates: score against cost, and every candidate ranked.

    The left panel places each candidate at its cost (the mean training forward
    NFE when recorded, else the mean fit time) and its cross-validated score;
    colour codes the learning rate (or the first searched parameter), the
    marker a second searched parameter and the size a third.  The right panel
    lists every candidate, best first, with all its searched values and the
    spread over the folds.
    The best candidate is ringed in both.  A negated error (``neg_*`` scorers,
    the paper's ``neg_mean_squared_error``) is drawn as the error, on a log
    axis; other scores (accuracy, R^2) as they are.

    Parameters
    ----------
    cv_results : dict or DataFrame
        ``GridSearchCV.cv_results_`` (or ``RandomizedSearchCV``'s), or the same
        as a DataFrame (e.g. read back from ``cv_results_*.csv``):
        ``mean_test_<metric>``, ``param_*``, optionally ``std_test_<metric>``
        and ``mean_test_nfe`` (else ``mean_fit_time`` is the cost).
    metric : str, default=None
        The scorer's name in a multi-metric search (``"accuracy"``, ...); by
        default ``"score"`` for a single-metric search, else the first metric
        that is not ``"nfe"``.
    axes : pair of matplotlib axes, default=None
        Where to draw; a new figure if None.
    title : str, default=None
        Title of the left panel.

    Returns
    -------
    pair of matplotlib axes
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    results = pd.DataFrame(cv_results).reset_index(drop=True)
    varied, params = _param_table(results)
    metrics = [c[len("mean_test_"):] for c in results.columns if c.startswith("mean_test_")]
    if metric is None:
        metric = "score" if "score" in metrics else next((m for m in metrics if m != "nfe"),
                                                         None)
    if metric not in metrics:
        raise ValueError(f"plot_search_results: no mean_test_{metric} in cv_results; its "
                         f"metrics are {metrics}.")
    score = results[f"mean_test_{metric}"].to_numpy(dtype=float)
    folds = sum(1 for c in results.columns if re.fullmatch(rf"split\d+_test_{metric}", c))
    # A negated error (every score <= 0) is drawn as the error on a log axis, lower first.
    error = bool(np.isfinite(score).any() and np.nanmax(score) <= 0)
    shown = -score if error else score
    name = ("mean squared error" if metric == "score" else
            metric.removeprefix("neg_").replace("_", " ")) if error else metric
    what = f"CV {name}" + (f" ({folds} folds)" if folds else "")
    spread = results[f"std_test_{metric}"].to_numpy(dtype=float) \
        if f"std_test_{metric}" in results else np.zeros(len(results))
    use_nfe = "mean_test_nfe" in results and results["mean_test_nfe"].notna().any()
    cost = results["mean_test_nfe" if use_nfe else "mean_fit_time"].to_numpy(dtype=float)
    own_figure = axes is None
    if own_figure:
        fig = plt.figure(figsize=(12, max(4.0, 1.4 + 0.24 * len(results))))
        axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    left, right = axes

    color_key = "lr" if "lr" in varied else varied[0]
    color_values = sorted({p[color_key] for p in params}, key=_sort_key)
    palette = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(color_values), 1)))
    color_of = {v: palette[i] for i, v in enumerate(color_values)}
    others = [k for k in varied if k != color_key]
    marker_key = next((k for k in ("augment_dim", "num_layers", "batch_size", "hidden_dim")
                       if k in others), others[0] if others else None)
    marker_values = (sorted({p[marker_key] for p in params}, key=_sort_key)
                     if marker_key else [None])
    marker_of = {v: _MARKERS[i % len(_MARKERS)] for i, v in enumerate(marker_values)}
    # A third searched parameter (hidden width beside lr and batch size) sets the size.
    size_key = next((k for k in others if k != marker_key), None)
    size_values = (sorted({p[size_key] for p in params}, key=_sort_key) if size_key
                   else [None])
    size_of = dict(zip(size_values, np.linspace(26, 96, len(size_values))
                       if len(size_values) > 1 else [46]))
    ranked = shown if error else -shown  # lower is better
    best = int(np.nanargmin(ranked)) if np.isfinite(ranked).any() else None

    for i, p in enumerate(params):
        left.scatter(cost[i], shown[i], color=color_of[p[color_key]],
                     marker=marker_of[p[marker_key] if marker_key else None],
                     s=size_of[p[size_key] if size_key else None],
                     edgecolors="k", linewidths=0.4, zorder=3)
    if best is not None:
        left.scatter(cost[best], shown[best], s=260, facecolors="none", edgecolors="red",
                     linewidths=1.5, zorder=4)
    left.set_xlabel("mean training forward NFE per batch" if use_nfe
                    else "mean fit time per fold (s)")
    left.set_ylabel(what)
    if error:
        _log_axis(left.yaxis)
    left.xaxis.set_major_locator(MaxNLocator(nbins=4))
    left.xaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    left.grid(alpha=0.3)
    handles = [Line2D([], [], ls="", marker="o", color=color_of[v], mec="k",
                      label=f"{_PARAM_NAMES.get(color_key, color_key)} = {_fmt_param(v)}")
               for v in color_values]
    if marker_key:
        handles += [Line2D([], [], ls="", marker=marker_of[v], color="lightgray", mec="k",
                           label=f"{_PARAM_NAMES.get(marker_key, marker_key)} = "
                                 f"{_fmt_param(v)}")
                    for v in marker_values]
    if size_key:
        handles += [Line2D([], [], ls="", marker="o", color="lightgray", mec="k",
                           ms=float(np.sqrt(size_of[v])),
                           label=f"{_PARAM_NAMES.get(size_key, size_key)} = {_fmt_param(v)}")
                    for v in size_values]
    if best is not None:
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", ms=12,
                              label="best"))
    left.legend(handles=handles, fontsize="small", loc="best", framealpha=0.8)
    left.set_title(title or "grid search candidates")

    order = np.argsort(np.where(np.isfinite(ranked), ranked, np.inf), kind="stable")
    rows = np.arange(len(order))
    for row, i in zip(rows, order):
        low = shown[i] - spread[i]
        if error:  # a log axis: the bar stops short of zero
            low = max(low, shown[i] * 0.2) if np.isfinite(shown[i]) else np.nan
        right.plot([low, shown[i] + spread[i]], [row, row], color="0.6", lw=1)
        right.scatter(shown[i], row, color=color_of[params[i][color_key]],
                      marker=marker_of[params[i][marker_key] if marker_key else None], s=36,
                      edgecolors="red" if i == best else "k",
                      linewidths=1.5 if i == best else 0.4, zorder=3)
    right.set_yticks(rows)
    right.set_yticklabels([", ".join(f"{_PARAM_NAMES.get(k, k)} {_fmt_param(params[i][k])}"
                                     for k in varied) for i in order], fontsize="small")
    right.invert_yaxis()
    if error:
        _log_axis(right.xaxis)
    right.set_xlabel(f"CV {name} (± std over folds)")
    right.set_title("candidates, best first")
    right.grid(alpha=0.3, axis="x")
    if own_figure:
        left.figure.tight_layout()
    return left, right


def _sort_key(value):
    return (0, float(value)) if isinstance(value, (int, float, np.integer, np.floating)) \
        else (1, str(value))

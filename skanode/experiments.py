"""The paper's toy experiments as functions that return plain records.

Nothing here prints or writes files: every function returns a list of records
(dicts of numbers, lists and, under ``"estimator"``, the fitted model for
plotting), and reports progress through an optional ``progress(n_epochs)``
callable.  The command line (:mod:`skanode.cli`) prints and writes them.

The toy experiments are regressions onto the +/-1 targets, trained with the
squared error, as in the paper; "accuracy" is the fraction of predictions with
the sign of the target.
"""

from __future__ import annotations

import contextlib
import inspect
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from skorch.callbacks import Callback

from .batching import HoldOut
from .datasets import angular_mask, make_concentric_spheres, make_g1d, make_shifted_sines
from .estimators import ANODERegressor, NODERegressor, ResNetRegressor

__all__ = [
    "MODELS",
    "PAPER_BEST_PARAMS",
    "PAPER_GRID",
    "feature_evolution",
    "g1d_experiment",
    "generalization_experiment",
    "headline_experiment",
    "image_experiment",
    "loss_curves_experiment",
    "make_dataset",
    "make_model",
    "search_experiment",
]

MODELS = {"node": NODERegressor, "anode": ANODERegressor, "resnet": ResNetRegressor}
LABELS = {"node": "NODE", "anode": "ANODE", "resnet": "ResNet"}
# Appendix F.2.1: the grid searched with 3-fold CV, and the best values it reports.
PAPER_GRID = {"batch_size": [64, 128], "lr": [1e-3, 5e-4, 1e-4], "hidden_dim": [16, 32]}
PAPER_EXTRA_GRID = {"anode": {"augment_dim": [1, 2, 5]}, "resnet": {"num_layers": [2, 5, 10]},
                    "node": {}}
PAPER_BEST_PARAMS = {
    "node": {"batch_size": 64, "lr": 1e-3, "hidden_dim": 32},
    "anode": {"batch_size": 64, "lr": 1e-3, "hidden_dim": 32, "augment_dim": 5},
    "resnet": {"batch_size": 64, "lr": 1e-3, "hidden_dim": 32, "num_layers": 5},
}

Progress = Callable[[int], None] | None


class _EpochProgress(Callback):
    """Tell ``progress`` that one more epoch finished."""

    def __init__(self, progress: Callable[[int], None]) -> None:
        self.progress = progress

    def on_epoch_end(self, net, **kwargs):
        self.progress(1)


class _FeatureSnapshots(Callback):
    """Record ``transform(X)`` at chosen epochs (the paper's feature-space evolution)."""

    def __init__(self, X: np.ndarray, epochs: Sequence[int]) -> None:
        self.X = X
        self.epochs = epochs

    def on_train_begin(self, net, **kwargs):
        self.snapshots_ = {}
        if 0 in self.epochs:
            self.snapshots_[0] = net.transform(self.X)

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch in self.epochs:
            self.snapshots_[epoch] = net.transform(self.X)


@contextlib.contextmanager
def _fixed_epochs():
    """Train the paper's fixed number of epochs without ConvergenceWarnings.

    The paper's runs stop at their epoch count on purpose; the curves they record
    show how far the loss has come.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# The experiments' parameters, each described once; the defaults shown are the signatures'.
_PARAM_DOCS = {
    "epochs": ("int", "Training epochs of every model (fixed: no stopping on a plateau)."),
    "repeats": ("int", "Runs of every model; repeat ``r`` uses seed ``seed + r``."),
    "dim": ("int", "Dimension of the spheres data."),
    "seed": ("int", "Seed of the data and of the first run's weights and batch order."),
    "models": ("sequence of str", 'Which of ``"node"``, ``"anode"``, ``"resnet"`` to train, '
               "in this order."),
    "device": ("str", "torch device of the models."),
    "progress": ("callable or None",
                 "Called with 1 after every epoch (the command line's progress bar)."),
    "dataset": ('{"spheres", "sines", "g1d"}',
                "Data: the concentric spheres (Fig. 5), the shifted sines (Fig. 20) or the 1-D "
                "points of g_1d (Fig. 3)."),
    "n_samples": ("int", "Points of the 1-D data set."),
    "snapshot_epochs": ("sequence of int", "Epochs after which the features are recorded "
                        "(0: before training)."),
    "slice_": ("tuple of float", "Angles (radians) of the held-out slice.", "(0, pi / 5)"),
    "grid_size": ("int", "Points per axis of the input map."),
    "model": ('{"node", "anode", "resnet"}', "The model searched."),
    "grid": ("dict or None", "Parameter grid; None: the paper's (batch size, lr, hidden dim, "
             "and augment dim or layers)."),
    "n_jobs": ("int", "``GridSearchCV``'s ``n_jobs``."),
    "n_inner": ("int", "Points in the ball."),
    "n_outer": ("int", "Points in the shell."),
    "verbose": ("int", "``GridSearchCV``'s ``verbose``."),
    "data": ('{"digits", "mnist"}', "scikit-learn's bundled 8x8 digits, or MNIST from "
             "``data_dir``."),
    "data_dir": ("str or None", 'Folder with the original MNIST IDX files (``data="mnist"``); '
                 "nothing is downloaded."),
    "weight_decay": ("float", "Adam's L2 weight decay (appendix G.3)."),
    "adjoint": ("bool", "Adjoint backpropagation instead of direct."),
    "time_channels": ("bool", "Time as an input channel of each convolution (the paper's "
                      "text)."),
    "batch_size": ("int", "Training batch size."),
    "lr": ("float", "Adam's learning rate."),
    "n_train": ("int or None", "Train on a seeded random subset of this many images (None: "
                "all)."),
    "n_test": ("int or None", "Test on a seeded random subset of this many images (None: all)."),
}
_RECORDS = """\
    Returns
    -------
    list of dict
        One record per model (and repeat): ``model``, ``label``, ``repeat``, ``seed``,
        ``curves`` (per-epoch ``train_loss``, ``forward_nfe``, ...), final values,
        seconds per epoch and the fitted ``estimator``"""


def _documented(fn: Callable) -> Callable:
    """Fill in ``fn``'s Parameters entries (and its records' Returns) from ``_PARAM_DOCS``."""
    entries = []
    for name, param in inspect.signature(fn).parameters.items():
        type_doc, text, *shown = _PARAM_DOCS[name]
        default = shown[0] if shown else repr(param.default).replace("'", '"')
        body = textwrap.fill(text, 80, initial_indent=" " * 8, subsequent_indent=" " * 8)
        entries.append(f"    {name} : {type_doc}, default={default}\n{body}\n")
    if fn.__doc__:  # None under python -OO
        fn.__doc__ = (fn.__doc__.replace("    <parameters>\n", "".join(entries))
                      .replace("    <records>", _RECORDS))
    return fn


def make_model(kind: str, *, augment_dim: int = 5, num_layers: int = 5, **params: Any) -> Any:
    """Return the paper's regressor of ``kind`` (``"node"``, ``"anode"`` or ``"resnet"``).

    Defaults are the paper's best settings: hidden 32, batch 64, Adam lr 1e-3,
    dopri5 with rtol = atol = 1e-3 and one step size per batch (torchdiffeq's, as
    the paper solved), for training and prediction alike, and a fixed number of
    epochs (no stopping on a plateau); ``params`` override them.

    Parameters
    ----------
    kind : {"node", "anode", "resnet"}
        The model.
    augment_dim : int, default=5
        Augmented dimensions of the ANODE.
    num_layers : int, default=5
        Residual blocks of the ResNet.
    **params
        Any other estimator parameter.

    Returns
    -------
    NODERegressor, ANODERegressor or ResNetRegressor
        Unfitted.
    """
    if kind not in MODELS:
        raise ValueError(f"Unknown model {kind!r}; choose one of {sorted(MODELS)}.")
    defaults = {"hidden_dim": 32, "batch_size": 64, "lr": 1e-3, "n_iter_no_change": None}
    if kind != "resnet":
        defaults["step_control"] = "batch"
    if kind == "anode":
        defaults["augment_dim"] = augment_dim
    if kind == "resnet":
        defaults["num_layers"] = num_layers
    return MODELS[kind](**{**defaults, **params})


def make_dataset(name: str, *, dim: int = 2, random_state: int | None = None,
                 n_inner: int = 1000, n_outer: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Return ``X, y`` (float targets) for ``"spheres"``, ``"sines"`` or ``"g1d"``.

    Parameters
    ----------
    name : {"spheres", "sines", "g1d"}
        The paper's toy data set.
    dim : int, default=2
        Dimension of the spheres.
    random_state : int or None, default=None
        Seed.
    n_inner, n_outer : int, default=1000, 2000
        Points in the ball and in the shell (the other sets take their sum).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), float
    """
    if name == "spheres":
        X, y = make_concentric_spheres(n_inner, n_outer, dim=dim, random_state=random_state)
    elif name == "sines":
        X, y = make_shifted_sines(n_inner + n_outer, random_state=random_state)
    elif name == "g1d":
        X, y = make_g1d(n_inner + n_outer, noise=0.0, random_state=random_state)
    else:
        raise ValueError(f"Unknown dataset {name!r}; choose spheres, sines or g1d.")
    return X, y.astype(float)


def _rehearse(est: Any, X: Any, y: Any) -> None:
    """Fit a copy of ``est`` for one epoch on one batch before it is timed.

    A model's first fit in a process pays one-off costs (torch's lazy set-up,
    oneDNN's kernels for each new convolution shape): billed to the model timed
    first, they made its s/epoch up to ten times the next model's in short runs.
    The copy pays them with the same shapes and settings; then it is dropped.
    """
    batch = est.batch_size if isinstance(est.batch_size, int) and est.batch_size > 0 else 128
    n = min(len(X), batch)
    split = est.train_split
    if isinstance(split, HoldOut):  # validate on a batch too, not on the whole held-out set
        split = HoldOut(split.X[:n], split.y[:n])
    # not clone: that would deep-copy the callbacks, the progress bar's open stream included
    copy = type(est)(**{**est.get_params(deep=False), "max_epochs": 1, "callbacks": [],
                        "train_split": split, "verbose": 0, "progress": False})
    with warnings.catch_warnings():  # a one-batch fit of a copy: nothing to tell the user
        warnings.simplefilter("ignore")
        copy.fit(X[:n], y[:n])


def _fit_record(kind: str, X, y, *, seed: int, repeat: int, epochs: int, progress: Progress,
                callbacks: Sequence[tuple[str, Callback]] = (), **params: Any) -> dict:
    callbacks = list(callbacks)
    if progress is not None:
        callbacks.append(("epoch_progress", _EpochProgress(progress)))
    est = make_model(kind, max_epochs=epochs, random_state=seed, callbacks=callbacks, **params)
    _rehearse(est, X, y)
    start = time.perf_counter()
    with _fixed_epochs():
        est.fit(X, y)
    seconds = time.perf_counter() - start
    history = est.history
    curves = {key: [row[key] for row in history if key in row]
              for key in ("train_loss", "valid_loss", "forward_nfe", "backward_nfe")}
    curves = {key: values for key, values in curves.items() if values}
    pred = est.predict(X)
    return {
        "model": kind,
        "label": LABELS[kind],
        "repeat": repeat,
        "seed": seed,
        "epochs": epochs,
        "curves": curves,
        "final_loss": curves["train_loss"][-1],
        "final_forward_nfe": curves.get("forward_nfe", [float("nan")])[-1],
        "accuracy": float(np.mean(np.sign(pred.ravel()) == np.sign(y.ravel()))),
        "seconds_per_epoch": seconds / epochs,
        "n_parameters": sum(p.numel() for p in est.module_.parameters()),
        "estimator": est,
    }


def _runs(models: Sequence[str], repeats: int, seed: int):
    for repeat in range(repeats):
        for kind in models:
            yield kind, repeat, seed + repeat


@_documented
def headline_experiment(*, epochs: int = 20, repeats: int = 1, dim: int = 2, seed: int = 0,
                        models: Sequence[str] = ("node", "anode", "resnet"),
                        device: str = "cpu", progress: Progress = None) -> list[dict]:
    """NODE vs ANODE vs ResNet on the paper's concentric spheres (Fig. 7, Table-style).

    Returns one record per model and repeat: loss and NFE curves, final loss,
    final forward NFE, training accuracy (sign of the output), seconds per epoch.

    Parameters
    ----------
    <parameters>

    <records>.
    """
    X, y = make_dataset("spheres", dim=dim, random_state=seed)
    return [
        _fit_record(kind, X, y, seed=s, repeat=r, epochs=epochs, progress=progress, device=device)
        for kind, r, s in _runs(models, repeats, seed)
    ]


@_documented
def loss_curves_experiment(*, dataset: str = "spheres", dim: int = 2, epochs: int = 50,
                           repeats: int = 5, seed: int = 0,
                           models: Sequence[str] = ("resnet", "node", "anode"),
                           device: str = "cpu", progress: Progress = None) -> list[dict]:
    """Training-loss curves over repeats (Fig. 5 for ``dim`` 1 and 2, Fig. 20 for ``"sines"``).

    Parameters
    ----------
    <parameters>

    <records>, with ``dataset`` and ``dim``.
    """
    records = []
    for kind, r, s in _runs(models, repeats, seed):
        X, y = make_dataset(dataset, dim=dim, random_state=s)
        rec = _fit_record(kind, X, y, seed=s, repeat=r, epochs=epochs, progress=progress,
                          device=device)
        rec.update(dataset=dataset, dim=dim)
        records.append(rec)
    return records


@_documented
def g1d_experiment(*, epochs: int = 50, seed: int = 0, n_samples: int = 100,
                   device: str = "cpu", progress: Progress = None) -> list[dict]:
    """Prop. 1 / Fig. 3: the flow alone must map -1 to 1 and 1 to -1.

    Trains, without a linear head, a NODE on the identity and a NODE, an ANODE
    (p = 1) and a ResNet on ``g_1d``.  A NODE cannot cross trajectories, so on
    ``g_1d`` it maps both points to about 0 and its loss stays near 1.

    Parameters
    ----------
    <parameters>

    <records>, with ``target`` and
        ``prediction_at`` (the outputs at -1 and +1).
    """
    runs = [("node", False, {}), ("node", True, {}), ("anode", True, {"augment_dim": 1}),
            ("resnet", True, {})]
    records = []
    for kind, flip, extra in runs:
        X, y = make_g1d(n_samples, flip=flip, random_state=seed)
        rec = _fit_record(kind, X, y, seed=seed, repeat=0, epochs=epochs, progress=progress,
                          device=device, linear_head=False, lr=1e-2, **extra)
        est = rec["estimator"]
        rec.update(target="g_1d" if flip else "identity",
                   prediction_at={"-1": float(est.predict(np.array([[-1.0]]))[0]),
                                  "+1": float(est.predict(np.array([[1.0]]))[0])})
        records.append(rec)
    return records


@_documented
def feature_evolution(*, epochs: int = 50, seed: int = 0, dim: int = 2,
                      snapshot_epochs: Sequence[int] = (0, 5, 10, 50),
                      models: Sequence[str] = ("node", "anode"), device: str = "cpu",
                      progress: Progress = None) -> list[dict]:
    """Fig. 7 / Fig. 8: loss and NFE curves, flows and the feature space during training.

    Each record adds ``snapshots``: ``{epoch: transform(X_sub)}`` for a fixed
    subset ``X_sub`` of 300 points (``"snapshot_X"``, ``"snapshot_y"``).

    Parameters
    ----------
    <parameters>

    <records>, with ``snapshots``,
        ``snapshot_X`` and ``snapshot_y``.
    """
    X, y = make_dataset("spheres", dim=dim, random_state=seed)
    sub = np.random.RandomState(seed).choice(len(X), 300, replace=False)
    records = []
    for kind in models:
        snap = _FeatureSnapshots(X[sub], [e for e in snapshot_epochs if e <= epochs])
        rec = _fit_record(kind, X, y, seed=seed, repeat=0, epochs=epochs, progress=progress,
                          device=device, callbacks=[("snapshots", snap)])
        rec.update(snapshots=snap.snapshots_, snapshot_X=X[sub], snapshot_y=y[sub])
        records.append(rec)
    return records


@_documented
def generalization_experiment(*, epochs: int = 50, seed: int = 0, repeats: int = 1,
                              slice_: tuple[float, float] = (0.0, np.pi / 5),
                              models: Sequence[str] = ("node", "anode"), device: str = "cpu",
                              grid_size: int = 100, progress: Progress = None) -> list[dict]:
    """Fig. 9: hold out every point with angle in ``slice_``; map the whole input plane.

    Records add the validation-loss curve (``curves["valid_loss"]``) and
    ``input_map``: the prediction on a ``grid_size`` x ``grid_size`` grid of
    ``[-1.5, 1.5]^2`` (``"grid_x"``, ``"grid_y"``).

    Parameters
    ----------
    <parameters>

    <records>, with ``input_map``, ``grid_x``,
        ``grid_y``, ``slice`` and ``n_valid``.
    """
    records = []
    for kind, r, s in _runs(models, repeats, seed):
        X, y = make_dataset("spheres", dim=2, random_state=s)
        held = angular_mask(X, *slice_)
        rec = _fit_record(kind, X[~held], y[~held], seed=s, repeat=r, epochs=epochs,
                          progress=progress, device=device,
                          train_split=HoldOut(X[held], y[held]))
        axis = np.linspace(-1.5, 1.5, grid_size)
        gx, gy = np.meshgrid(axis, axis)
        values = rec["estimator"].predict(np.column_stack([gx.ravel(), gy.ravel()]))
        rec.update(input_map=values.reshape(gx.shape), grid_x=gx, grid_y=gy,
                   slice=list(slice_), n_valid=int(held.sum()))
        records.append(rec)
    return records


@_documented
def search_experiment(*, model: str = "anode", dim: int = 2, epochs: int = 50, seed: int = 0,
                      grid: dict[str, list] | None = None, n_jobs: int = 1,
                      n_inner: int = 1000, n_outer: int = 2000, device: str = "cpu",
                      verbose: int = 0) -> dict:
    """Appendix F.2.1: the paper's 3-fold grid search for one model on spheres in ``dim``.

    Parameters
    ----------
    <parameters>

    Returns
    -------
    dict
        ``{"model", "dim", "best_params", "best_score", "paper_best_params",
        "cv_results", "seconds"}``; ``cv_results`` is ``GridSearchCV.cv_results_``
        with ``mean_test_nfe`` (the candidate's mean training forward NFE) beside
        the (negative MSE) score.
    """
    from sklearn.model_selection import GridSearchCV

    from .scoring import nfe_scorer

    grid = grid if grid is not None else {**PAPER_GRID, **PAPER_EXTRA_GRID[model]}
    X, y = make_dataset("spheres", dim=dim, random_state=seed, n_inner=n_inner,
                        n_outer=n_outer)
    search = GridSearchCV(
        make_model(model, max_epochs=epochs, random_state=seed, device=device),
        grid, cv=3, n_jobs=n_jobs, verbose=verbose, refit="score",
        scoring={"score": "neg_mean_squared_error", "nfe": nfe_scorer()},
    )
    if n_jobs == 1:  # joblib's worker processes would each pay the start-up on a first fit
        _rehearse(search.estimator, X, y)
    start = time.perf_counter()
    with _fixed_epochs():
        search.fit(X, y)
    return {
        "model": model,
        "dim": dim,
        "epochs": epochs,
        "best_params": search.best_params_,
        "best_score": float(search.best_score_),
        "paper_best_params": {k: v for k, v in PAPER_BEST_PARAMS[model].items() if k in grid},
        "cv_results": search.cv_results_,
        "seconds": time.perf_counter() - start,
    }


def image_data(data: str = "digits", *, data_dir: str | None = None, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0):
    """Return ``X_train, y_train, X_test, y_test`` images for ``"digits"`` or ``"mnist"``.

    ``"digits"`` is scikit-learn's bundled 8x8 set split 80 / 20 (stratified);
    ``"mnist"`` reads the original IDX files from ``data_dir``.  ``n_train`` /
    ``n_test`` take seeded random subsets.
    """
    from sklearn.model_selection import train_test_split

    from .datasets import load_digits_images, load_mnist

    if data == "digits":
        X, y = load_digits_images()
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y,
                                                  random_state=seed)
    elif data == "mnist":
        if data_dir is None:
            raise ValueError("data='mnist' needs data_dir, the folder with the MNIST IDX files.")
        X_tr, y_tr = load_mnist(data_dir, "train")
        X_te, y_te = load_mnist(data_dir, "test")
    else:
        raise ValueError(f"Unknown image data {data!r}; choose 'digits' or 'mnist'.")
    for name, wanted, available in (("n_train", n_train, len(X_tr)), ("n_test", n_test,
                                                                       len(X_te))):
        if wanted is not None and wanted > available:
            raise ValueError(f"{name}={wanted} is more than the {available} {name[2:]} images "
                             f"of {data}.")
    rng = np.random.RandomState(seed)
    if n_train is not None and n_train < len(X_tr):
        keep = rng.choice(len(X_tr), n_train, replace=False)
        X_tr, y_tr = X_tr[keep], y_tr[keep]
    if n_test is not None and n_test < len(X_te):
        keep = rng.choice(len(X_te), n_test, replace=False)
        X_te, y_te = X_te[keep], y_te[keep]
    return X_tr, y_tr, X_te, y_te


@_documented
def image_experiment(*, data: str = "digits", data_dir: str | None = None, epochs: int = 10,
                     repeats: int = 1, seed: int = 0, device: str = "cpu",
                     weight_decay: float = 0.0, adjoint: bool = False,
                     time_channels: bool = True, batch_size: int = 256, lr: float = 1e-3,
                     n_train: int | None = None, n_test: int | None = None,
                     models: Sequence[str] = ("node", "anode"),
                     progress: Progress = None) -> list[dict]:
    """Section 5.2 / Table 1: parameter-matched conv NODE vs ANODE on images.

    The paper's training setup: batch 256, Adam lr 1e-3, direct backpropagation
    (``adjoint=True`` for the adjoint), optional weight decay (appendix G.3).
    Each record holds per-epoch ``train_loss``, ``valid_loss`` / ``valid_acc``
    (on the test set), ``forward_nfe`` and ``backward_nfe``, and the final test
    accuracy and parameter count.

    Parameters
    ----------
    <parameters>

    <records>, with ``test_accuracy`` and ``n_parameters``.
    """
    from .estimators import ANODEClassifier, NODEClassifier
    from .presets import N_CLASSES, paper_image_model

    X_tr, y_tr, X_te, y_te = image_data(data, data_dir=data_dir, n_train=n_train,
                                        n_test=n_test, seed=seed)
    classes = {"node": NODEClassifier, "anode": ANODEClassifier}
    records = []
    for kind, repeat, s in _runs(models, repeats, seed):
        params = paper_image_model(data, kind, time_channels=time_channels,
                                   image_shape=tuple(X_tr.shape[1:]) if data == "digits" else None)
        callbacks = [("epoch_progress", _EpochProgress(progress))] if progress is not None else []
        est = classes[kind](
            **params, max_epochs=epochs, batch_size=batch_size, lr=lr, adjoint=adjoint,
            optimizer__weight_decay=weight_decay, device=device, random_state=s,
            step_control="batch", n_iter_no_change=None, train_split=HoldOut(X_te, y_te),
            classes=list(range(N_CLASSES[data])),  # a small subsample may miss a digit
            callbacks=callbacks)
        _rehearse(est, X_tr, y_tr)
        start = time.perf_counter()
        with _fixed_epochs():
            est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
        history = est.history
        curves = {key: [row[key] for row in history if key in row]
                  for key in ("train_loss", "valid_loss", "valid_acc", "forward_nfe",
                              "backward_nfe")}
        records.append({
            "model": kind, "label": LABELS[kind], "repeat": repeat, "seed": s,
            "epochs": epochs, "data": data, "params": params, "curves": curves,
            "final_loss": curves["train_loss"][-1],
            "final_forward_nfe": curves["forward_nfe"][-1],
            "final_backward_nfe": curves["backward_nfe"][-1],
            "test_accuracy": float(curves["valid_acc"][-1]),
            "seconds_per_epoch": seconds / epochs,
            "n_parameters": sum(p.numel() for p in est.module_.parameters()),
            "estimator": est,
        })
    return records

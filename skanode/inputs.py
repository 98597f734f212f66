"""Input validation and target encoding for the estimators.

Everything ``fit`` and ``predict`` check about the data happens here, before any
solve: scikit-learn's own checks on ``X`` (NaN / inf, shapes, sparse, dtypes,
feature names), images given as 4-D arrays or flat rows, class labels of any
type encoded in the order of ``classes_``, float targets for regressors,
sample / class weights, and validation data that a meta-estimator around the
estimator would not transform.  torch ``Dataset`` input is read into arrays and
takes the same path.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "ClassLabels",
    "check_validation_context",
    "class_weights",
    "is_dataset",
    "keep_fitted_state_on_error",
    "read_dataset",
    "regression_targets",
    "same_values",
    "sample_weights",
    "validate_X",
    "validate_Xy",
]

# Fitted attributes that describe the data; restored if validating new data fails.
FITTED_DATA_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "image_shape_", "classes_",
                          "n_outputs_", "target_ndim_")
_X_CHECKS = {"dtype": (np.float32, np.float64), "ensure_all_finite": True}


def is_dataset(X: Any) -> bool:
    """Whether ``X`` is a torch ``Dataset`` (read with :func:`read_dataset`)."""
    return isinstance(X, Dataset)


def read_dataset(dataset: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a torch ``Dataset`` of ``(x, y)`` items (or bare ``x``) into numpy arrays.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Items are ``(x, y)`` pairs or ``x`` alone; ``x`` a tensor or array of a
        fixed shape.  A skorch ``Dataset`` built without ``y`` has no targets.

    Returns
    -------
    X : ndarray of shape (n_samples, ...)
        The inputs.
    y : ndarray of shape (n_samples, ...) or None
        The targets, if the items have them.
    """
    no_targets = getattr(dataset, "y", False) is None  # skorch's Dataset(X, y=None)
    xs, ys = [], []
    for batch in DataLoader(dataset, batch_size=1024, shuffle=False):
        if isinstance(batch, (list, tuple)) and len(batch) == 2:
            x, y = batch
        elif isinstance(batch, (list, tuple)) and len(batch) == 1:
            x, y = batch[0], None
        elif isinstance(batch, torch.Tensor):
            x, y = batch, None
        else:
            raise TypeError("skanode reads a Dataset whose items are (x, y) pairs or x alone, "
                            f"x a tensor or array; got items of type {type(batch).__name__}.")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"The inputs of the Dataset must be tensors or arrays, "
                            f"got {type(x).__name__}.")
        xs.append(x.detach().cpu().numpy())
        if y is not None and not no_targets:
            ys.append(np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y))
    if not xs:
        raise ValueError("The Dataset is empty (0 samples).")
    return np.concatenate(xs), (np.concatenate(ys) if ys else None)


@contextlib.contextmanager
def keep_fitted_state_on_error(est: Any) -> Iterator[None]:
    """Restore the data-describing fitted attributes of ``est`` if the block raises.

    Validation sets ``n_features_in_``, ``classes_``, ... as it goes; bad data in a
    second ``fit`` must not leave a fitted model with the new data's description
    and the old weights.
    """
    saved = {name: vars(est)[name] for name in FITTED_DATA_ATTRIBUTES if name in vars(est)}
    try:
        yield
    except BaseException:
        for name in FITTED_DATA_ATTRIBUTES:
            vars(est).pop(name, None)
        vars(est).update(saved)
        raise


# -- inputs ----------------------------------------------------------------------------------
def is_conv(est: Any) -> bool:
    """Whether ``est`` builds a convolutional model (it takes images)."""
    return getattr(est, "architecture", "mlp") == "conv"


def _flatten_images(est: Any, X: Any, reset: bool) -> tuple[Any, tuple | None]:
    """Turn ``(n, c, h, w)`` images into rows for scikit-learn's checks; return the shape."""
    if not is_conv(est):
        if getattr(X, "ndim", 2) > 2:
            raise ValueError(f"X has shape {tuple(X.shape)}, but {type(est).__name__} with "
                             "architecture='mlp' takes rows (n_samples, n_features): for "
                             "images use architecture='conv', or flatten them.")
        return X, None
    if isinstance(X, (list, tuple)):  # nested lists of images, as numpy reads them
        X = np.asarray(X)
    ndim = getattr(X, "ndim", 2)
    if ndim not in (2, 4):
        raise ValueError(f"X has shape {tuple(X.shape)}, but architecture='conv' takes images "
                         "of shape (n, channels, height, width), or flat rows with "
                         "image_shape=(channels, height, width).")
    if ndim == 2:
        return X, None
    shape = tuple(int(s) for s in X.shape[1:])
    expected = _expected_image_shape(est, reset)
    if expected is not None and shape != expected:
        raise ValueError(f"X has images of shape {shape}, but {type(est).__name__} "
                         f"expects {expected}.")
    # explicit width: a reshape to (0, -1) of an empty batch is ambiguous
    return np.reshape(X, (len(X), int(np.prod(shape)))), shape


def _expected_image_shape(est: Any, reset: bool) -> tuple[int, int, int] | None:
    if not reset:
        return est.image_shape_
    return None if est.image_shape is None else tuple(int(v) for v in est.image_shape)


def _unflatten_images(est: Any, X: np.ndarray, seen: tuple | None, reset: bool) -> np.ndarray:
    if not is_conv(est):
        return X
    shape = _expected_image_shape(est, reset) or seen
    if shape is None:
        raise ValueError(
            "architecture='conv' needs images: pass X of shape (n, channels, height, width) "
            "or flat rows with image_shape=(channels, height, width).")
    if len(shape) != 3 or int(np.prod(shape)) != X.shape[1]:
        raise ValueError(f"image_shape={shape} does not match the {X.shape[1]} features "
                         "of each row of X.")
    if reset:
        est.image_shape_ = shape
    return X.reshape(len(X), *shape)


def _plain_array(a: Any) -> Any:
    """Return a torch tensor as numpy, detached (one that requires grad refuses numpy())."""
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a


def _float32(a: np.ndarray, what: str, remedy: str) -> np.ndarray:
    """Cast to float32; values finite in float64 but beyond float32's range are an error."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(out).all():  # the inputs were checked finite: the cast overflowed
        big = float(np.max(np.abs(np.asarray(a, dtype=np.float64))))
        raise ValueError(f"{what} has values too large for float32, in which the network "
                         f"computes (up to {big:.3g}; float32 ends at 3.4e+38): {remedy}.")
    return out


def _as_tensor(X: np.ndarray) -> torch.Tensor:
    X = _float32(X, "X", "scale it (StandardScaler)")
    if not X.flags.writeable:  # memory-mapped or frozen: torch warns about sharing those
        X = X.copy()
    return torch.as_tensor(X)


def validate_X(est: Any, X: Any, *, reset: bool = False) -> torch.Tensor:
    """Check ``X`` as scikit-learn does and return it as a float32 tensor.

    With ``reset=False`` (prediction) the number of features, feature names and
    image shape must match those seen in ``fit``.

    Parameters
    ----------
    est : skanode estimator
        Owner of ``n_features_in_`` and the other fitted attributes.
    X : array-like, DataFrame or torch Dataset
        Inputs; images for ``architecture="conv"``.
    reset : bool, default=False
        Record the shapes of ``X`` (``fit``) instead of checking them.

    Returns
    -------
    torch.Tensor
        ``(n_samples, n_features)`` or ``(n_samples, c, h, w)``, float32.
    """
    if is_dataset(X):
        X, _ = read_dataset(X)
    X, shape = _flatten_images(est, _plain_array(X), reset)
    X = validate_data(est, X, reset=reset, **_X_CHECKS)
    return _as_tensor(_unflatten_images(est, X, shape, reset))


def validate_Xy(est: Any, X: Any, y: Any, *, reset: bool,
                y_numeric: bool) -> tuple[torch.Tensor, np.ndarray]:
    """Check ``X`` and ``y`` together (same length, finite, ...); return ``X`` as a tensor.

    Parameters
    ----------
    est : skanode estimator
        Owner of the fitted attributes.
    X : array-like, DataFrame or torch Dataset
        Inputs.  A ``Dataset`` of ``(x, y)`` items supplies ``y`` when ``y`` is None.
    y : array-like or None
        Targets.
    reset : bool
        First fit (record shapes) or continued training (check them).
    y_numeric : bool
        Regression targets (converted to float) or class labels (kept).

    Returns
    -------
    X : torch.Tensor
        The inputs, float32.
    y : ndarray
        The targets, validated but not yet encoded.
    """
    if is_dataset(X):
        X, y_items = read_dataset(X)
        y = y_items if y is None else y
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y "
                         "is None (a Dataset must yield (x, y) pairs).")
    X, y = _plain_array(X), _plain_array(y)
    X, shape = _flatten_images(est, X, reset)
    X, y = validate_data(est, X, y, reset=reset, y_numeric=y_numeric, multi_output=y_numeric,
                         **_X_CHECKS)
    return _as_tensor(_unflatten_images(est, X, shape, reset)), y


# -- targets ---------------------------------------------------------------------------------
class ClassLabels:
    """Class labels in a fixed order, and their encoding as indices into that order.

    Parameters
    ----------
    classes : array-like
        The labels, in the order of the model's outputs (no duplicates).
    """

    def __init__(self, classes: Any) -> None:
        self.classes = np.asarray(classes)
        # for_fit sorts; models saved before it did may hold classes in another order
        self._order = np.argsort(self.classes, kind="stable")
        self._sorted = self.classes[self._order]

    @classmethod
    def for_fit(cls, y: np.ndarray, *, given: Any = None, partial: Any = None) -> ClassLabels:
        """Decide the classes of a first fit.

        They are ``given`` (the ``classes`` parameter), ``partial``
        (``partial_fit``'s ``classes``) or the labels of ``y``, sorted whichever
        it is (scikit-learn's metrics read probability columns in sorted order).
        """
        if given is not None and partial is not None and not same_classes(given, partial):
            raise ValueError(f"partial_fit(classes={np.asarray(partial).tolist()!r}) differs "
                             f"from the estimator's classes parameter "
                             f"{np.asarray(given).tolist()!r}.")
        chosen = given if given is not None else partial
        classes = np.unique(y) if chosen is None else np.asarray(chosen)
        if classes.ndim != 1:
            raise ValueError(f"classes must be one-dimensional, got shape {classes.shape}.")
        if len(classes) < 2:
            if chosen is not None:
                name = "classes" if given is not None else "partial_fit(classes=...)"
                raise ValueError(f"{name} must hold at least 2 distinct labels, got "
                                 f"{classes.tolist()!r}.")
            raise ValueError("Classifier can't train when only one class is present "
                             f"(got only {classes!r}).")
        if len(np.unique(classes)) != len(classes):
            raise ValueError(f"classes has duplicate labels: {classes.tolist()!r}.")
        return cls(np.unique(classes))

    def encode(self, y: np.ndarray) -> np.ndarray:
        """Return the index into :attr:`classes` of each label; unknown labels are an error."""
        y = np.asarray(y)
        pos = np.clip(np.searchsorted(self._sorted, y), 0, len(self._sorted) - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            known = self._sorted[pos] == y
        if np.ndim(known) == 0:  # numpy < 2 compares strings with numbers as one False
            known = np.full(y.shape, bool(known))
        if not np.all(known):
            unknown = np.unique(y[~known])
            raise ValueError(f"y contains labels not in classes_ {self.classes.tolist()!r}: "
                             f"{unknown[:10].tolist()!r}.")
        return self._order[pos].astype(np.int64)


def same_classes(a: Any, b: Any) -> bool:
    """Tell whether two label lists hold the same classes, in any order."""
    try:
        return same_values(np.unique(np.asarray(a)), np.unique(np.asarray(b)))
    except TypeError:  # labels that do not sort
        return False


def same_values(a: Any, b: Any) -> bool:
    """Tell whether two array-likes (labels, option values) hold the same values, shaped alike."""
    try:
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    except ValueError:  # shapes numpy cannot build
        return False
    return a.shape == b.shape and bool(np.all(a == b))


def check_warm_start_classes(est: Any, y: Any) -> None:
    """Check that a ``warm_start`` fit sees the first fit's classes, as ``MLPClassifier`` does.

    Labels missing from ``y`` would silently stay in ``classes_`` (and new ones
    cannot be learned); a fixed ``classes`` parameter says the subset is intended.
    """
    if est.classes is not None:
        return
    seen = np.unique(column_or_1d(y))
    if not same_classes(est.classes_, seen):
        raise ValueError(f"warm_start can only be used where y has the same classes as in the "
                         f"previous fit: it had {est.classes_.tolist()!r}, got "
                         f"{seen.tolist()!r}.  Set the classes parameter to train on some of "
                         "them, or fit with warm_start=False.")


def class_labels(est: Any, y: np.ndarray, *, reset: bool, partial: Any = None) -> np.ndarray:
    """Check classification targets, set ``classes_`` on a first fit, return encoded ``y``.

    Parameters
    ----------
    est : skanode classifier
        Holds the ``classes`` parameter and receives ``classes_`` / ``n_outputs_``.
    y : array-like
        Labels.
    reset : bool
        First fit: decide the classes.  Otherwise ``y`` must use known labels.
    partial : array-like or None
        ``partial_fit``'s ``classes`` argument.

    Returns
    -------
    ndarray of int64
        Indices into ``classes_``.
    """
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if reset:
        labels = ClassLabels.for_fit(y, given=est.classes, partial=partial)
        est.classes_ = labels.classes
        est.n_outputs_ = len(labels.classes)
    else:
        labels = ClassLabels(est.classes_)
        if partial is not None and not same_classes(partial, est.classes_):
            raise ValueError(f"classes={np.asarray(partial).tolist()!r} is not the same as in "
                             f"the first fit, {est.classes_.tolist()!r}.")
    try:
        return labels.encode(y)
    except ValueError as err:
        if reset and est.classes is not None and _class_indices(y, labels.classes):
            raise ValueError(
                f"{err}  They look like the indices 0..{len(labels.classes) - 1} that "
                "scikit-learn's cross_val_predict passes instead of the labels for "
                "method='predict_proba' or 'decision_function'; it handles classes missing "
                "from a fold itself, so leave classes=None there.") from None
        raise


def _class_indices(y: np.ndarray, classes: np.ndarray) -> bool:
    """Whether ``y`` holds indices into ``classes`` rather than labels of it."""
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        return False
    indices = set(range(len(classes)))
    return set(np.unique(y).tolist()) <= indices and not set(classes.tolist()) <= indices


def regression_targets(est: Any, y: np.ndarray, *, reset: bool) -> np.ndarray:
    """Check regression targets, record their shape on a first fit, return them as 2-D float32.

    Parameters
    ----------
    est : skanode regressor
        Receives ``n_outputs_`` and ``target_ndim_``.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    reset : bool
        First fit: record the number of targets; otherwise check it.

    Returns
    -------
    ndarray of shape (n_samples, n_targets), float32
    """
    y = np.asarray(y)
    n_outputs = 1 if y.ndim == 1 else y.shape[1]
    if reset:
        est.n_outputs_ = n_outputs
        est.target_ndim_ = y.ndim
    elif n_outputs != est.n_outputs_:
        raise ValueError(f"y has {n_outputs} target(s), but {type(est).__name__} was fitted "
                         f"with {est.n_outputs_}.")
    return _float32(y.reshape(len(y), -1), "y", "scale it (TransformedTargetRegressor with "
                    "StandardScaler)")


# -- weights ---------------------------------------------------------------------------------
def sample_weights(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Check ``sample_weight`` (None, a number or one non-negative weight per sample).

    Parameters
    ----------
    sample_weight : array-like, float or None
        The weights.
    n_samples : int
        Number of samples they belong to.

    Returns
    -------
    ndarray of shape (n_samples,) or None
        float64 weights; None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        weights = np.full(n_samples, float(sample_weight))
    else:
        weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                              input_name="sample_weight")
        if weights.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got shape "
                             f"{weights.shape}.")
        if weights.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {weights.shape}, expected "
                             f"{(n_samples,)}!")
    if (weights < 0).any():
        raise ValueError("Negative values in data passed to sample_weight.")
    if not weights.sum() > 0:
        raise ValueError("sample_weight sums to zero: no sample would count in the loss.")
    return weights


def class_weights(class_weight: Any, classes: np.ndarray, y_encoded: np.ndarray, *,
                  partial: bool) -> np.ndarray | None:
    """Per-sample weights from ``class_weight``, scikit-learn's conventions.

    Parameters
    ----------
    class_weight : dict, "balanced" or None
        ``{label: weight}`` (labels not listed weigh 1) or ``"balanced"``
        (``n_samples / (n_classes * np.bincount(y))``).
    classes : ndarray
        ``classes_``.
    y_encoded : ndarray of int
        Indices into ``classes``.
    partial : bool
        Called from ``partial_fit``, where ``"balanced"`` is not defined.

    Returns
    -------
    ndarray of shape (n_samples,) or None
    """
    if class_weight is None:
        return None
    if class_weight == "balanced" and partial:
        raise ValueError(
            "class_weight='balanced' is not supported for partial_fit: the class "
            "frequencies of one batch are not those of the data.  Compute them with "
            "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, "
            "y=y) on enough of the data and pass the result as a dict.")
    if isinstance(class_weight, dict):
        unknown = [label for label in class_weight if not np.isin(label, classes)]
        if unknown:
            raise ValueError(f"class_weight has labels that are not classes: {unknown!r}; "
                             f"classes_ are {classes.tolist()!r}.")
    if class_weight == "balanced":
        present = np.unique(y_encoded)
        if len(present) < len(classes):
            missing = np.delete(classes, present).tolist()
            raise ValueError(f"class_weight='balanced' needs every class in y; missing "
                             f"{missing!r}.")
    per_class = compute_class_weight(class_weight, classes=classes, y=classes[y_encoded])
    return per_class[y_encoded]


def check_validation_context(estimator: Any, source: str) -> None:
    """Refuse validation data that would skip what a meta-estimator does to ``X`` or ``y``.

    ``source`` names the validation data (``"X_val"`` or the ``HoldOut``).  A
    ``HoldOut``, or ``X_val`` without the pipeline's ``transform_input``, fitted
    as a later step of a ``Pipeline`` validates on untransformed inputs; inside a
    ``TransformedTargetRegressor`` the validation targets are not transformed.
    The estimator is looked for, through the calling frames, as a direct step or
    regressor of the enclosing meta-estimators (deeper nesting, e.g. a bagging
    ensemble inside a pipeline, is not seen).
    """
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, Pipeline):
            _check_pipeline(estimator, owner, source)
        elif isinstance(owner, TransformedTargetRegressor) and \
                getattr(owner, "regressor_", None) is estimator:
            raise ValueError(
                f"{source} inside a TransformedTargetRegressor: its targets would not go "
                "through the regressor's target transformer, so valid_loss would compare "
                "transformed predictions with untransformed targets. Validate outside the "
                "wrapper, or transform y_val yourself and fit the regressor alone.")
        frame = frame.f_back


def _check_pipeline(estimator: Any, pipe: Pipeline, source: str) -> None:
    position = [i for i, (_, step) in enumerate(pipe.steps) if step is estimator]
    if not position:
        return
    before = [name for name, step in pipe.steps[:position[0]]
              if step not in (None, "passthrough")]
    routed = "X_val" in (getattr(pipe, "transform_input", None) or ())
    if not before or (source == "X_val" and routed):
        return
    raise ValueError(
        f"{source} inside a Pipeline would validate on data that skipped the earlier "
        f"steps {before}, so valid_loss would be wrong. Pass the validation data through "
        "the pipeline: build it with Pipeline(..., transform_input=['X_val']) under "
        "sklearn.set_config(enable_metadata_routing=True), call "
        f"{type(estimator).__name__}.set_fit_request(X_val=True, y_val=True), then "
        "pipe.fit(X, y, X_val=X_test, y_val=y_test).")

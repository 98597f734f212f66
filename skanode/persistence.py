"""Save a fitted estimator to one file and load it back, without running code.

The file holds the estimator's class name, its hyperparameters, the fitted
attributes (classes, input size, ...), the module's weights and the training
history, as plain containers and tensors.  :func:`load` reads it with
``torch.load(weights_only=True)``, which refuses arbitrary pickled objects, so a
file from an untrusted source cannot execute code.  (``pickle`` works too, for
trusted files.)
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from skorch.history import History

__all__ = ["load", "save"]

_FORMAT = "skanode/1"
_FITTED = ("n_features_in_", "n_outputs_", "_y_ndim_", "image_shape_")


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _to_plain(value: Any) -> Any:
    """Numpy scalars and arrays inside containers become Python values and lists."""
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def _registry() -> dict[str, type]:
    from . import estimators

    return {name: getattr(estimators, name) for name in estimators.__all__}


def save(estimator: Any, path: str | os.PathLike) -> None:
    """Write a fitted skanode estimator to ``path``.

    Hyperparameters that are plain values (numbers, strings, lists, dicts) are
    stored; the optimizer is stored by name when it is a ``torch.optim`` class.
    Others (custom callbacks, modules, splits) are not, with a warning if they
    differ from the defaults: :func:`load` then uses the defaults.

    Parameters
    ----------
    estimator : fitted skanode estimator
        The model to save.
    path : str or path-like
        Destination file.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "n_features_in_")
    cls = type(estimator)
    if cls.__name__ not in _registry():
        raise TypeError(f"save handles skanode's estimators, not {cls.__name__}.")
    defaults = cls().get_params(deep=False)
    params, skipped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        if name == "optimizer" and isinstance(value, type) and \
                getattr(torch.optim, value.__name__, None) is value:
            params[name] = f"torch.optim.{value.__name__}"
        elif _plain(value):
            params[name] = value
        elif value is not defaults.get(name, object()):
            skipped.append(name)
    if skipped:
        warnings.warn(f"save: parameters {skipped} are not plain values and are not saved; "
                      "load will use their defaults.", UserWarning, stacklevel=2)
    fitted = {name: _to_plain(getattr(estimator, name))
              for name in _FITTED if hasattr(estimator, name)}
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(v) for v in estimator.feature_names_in_]
    if hasattr(estimator, "classes_inferred_"):
        classes = np.asarray(estimator.classes_inferred_)
        fitted["classes"] = classes.tolist()
        fitted["classes_dtype"] = classes.dtype.str if classes.dtype != object else "object"
    state = {k: v.detach().cpu() for k, v in estimator.module_.state_dict().items()}
    torch.save({"format": _FORMAT, "class": cls.__name__, "params": params, "fitted": fitted,
                "state_dict": state, "history": _to_plain(list(estimator.history)),
                "device": str(estimator.device)}, path)


def load(path: str | os.PathLike) -> Any:
    """Load an estimator written by :func:`save`; it predicts exactly as before.

    A model saved from a GPU loads on a CPU-only machine, with a warning, on
    ``device="cpu"``.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.

    Returns
    -------
    estimator
        The fitted estimator.
    """
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a skanode model file (format {_FORMAT}).")
    cls = _registry().get(data["class"])
    if cls is None:
        raise ValueError(f"{path} names an unknown estimator class {data['class']!r}.")
    params = dict(data["params"])
    if isinstance(params.get("optimizer"), str):
        params["optimizer"] = getattr(torch.optim, params["optimizer"].rsplit(".", 1)[-1])
    device = params.get("device") or "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"{path} was saved on {device!r}, but CUDA is not available; the model "
                      "is loaded on the CPU (device='cpu').", UserWarning, stacklevel=2)
        params["device"] = "cpu"
    estimator = cls(**params)
    fitted = data["fitted"]
    for name in _FITTED:
        if name in fitted:
            value = fitted[name]
            setattr(estimator, name, tuple(value) if isinstance(value, list) else value)
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if "classes" in fitted:
        dtype = None if fitted["classes_dtype"] == "object" else np.dtype(fitted["classes_dtype"])
        estimator.classes_inferred_ = np.asarray(fitted["classes"], dtype=dtype)
    estimator.initialize()
    estimator.module_.load_state_dict(data["state_dict"])
    estimator.history_ = History(data["history"])
    return estimator

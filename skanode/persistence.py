"""Save a fitted estimator to one file and load it back, without running code.

The file format knows nothing of the estimators.  An estimator class takes part
by registering itself (:func:`register`) and implementing the fitted-state
protocol:

- ``est.fitted_state() -> dict``: everything needed to predict *and to go on
  training*: hyperparameters, fitted attributes (classes, input size, feature
  names, ...), module weights, optimizer state (Adam's moments), the state of
  the estimator's random generator and the history, as plain containers and
  tensors;
- ``cls.from_fitted_state(params, state) -> estimator``: the inverse.

:func:`load` reads the file with ``torch.load(weights_only=True)``, which
refuses arbitrary pickled objects, so a file from an untrusted source cannot
execute code.  (``pickle`` works too, for trusted files.)
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import struct
import warnings
from typing import Any, Protocol

import numpy as np
import torch

__all__ = ["FittedState", "load", "map_tensors", "register", "save", "to_plain"]

_FORMAT = "skanode/2"  # version 1 (skanode 0.1) kept no optimizer or generator state
_REGISTRY: dict[str, type] = {}


class FittedState(Protocol):
    """What an estimator implements to be saved and loaded."""

    def fitted_state(self) -> dict[str, Any]:
        """Return the fitted state as plain containers and tensors."""

    @classmethod
    def from_fitted_state(cls, params: dict[str, Any], state: dict[str, Any]) -> Any:
        """Rebuild a fitted estimator from ``params`` and :meth:`fitted_state`'s output."""


def register(cls: type) -> type:
    """Let :func:`load` rebuild instances of ``cls`` (by class name)."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def map_tensors(fn: Any, state: Any) -> Any:
    """Apply ``fn`` to every tensor inside a nested state (dicts, lists, tuples)."""
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {key: map_tensors(fn, value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(map_tensors(fn, value) for value in state)
    return state


def to_plain(value: Any) -> Any:
    """Numpy scalars and arrays, also inside dicts, lists and tuples, become Python values.

    ``np.float64`` passes for a ``float`` but is not a value the safe loader
    accepts; ``np.float32`` and ``np.int64`` are not plain values at all.
    Tensors are left as they are.
    """
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def _storable_params(params: dict[str, Any], defaults: dict[str, Any]
                     ) -> tuple[dict[str, Any], list[str]]:
    """Keep plain parameters; name torch's classes; warn about the rest and list them."""
    stored, skipped = {}, []
    for name, value in params.items():  # plain already: save converts the whole state
        if isinstance(value, torch.device):
            stored[name] = str(value)
        elif (torch_name := _torch_class_name(value)) is not None:
            stored[name] = torch_name
        elif _plain(value):
            stored[name] = value
        elif value is not defaults.get(name, object()):
            skipped.append(name)
    # the arguments of a component left out would go to its default, which may not take them
    dropped = [k for k in stored if k.split("__", 1)[0] in skipped]
    for key in dropped:
        del stored[key]
    if skipped:
        warnings.warn(f"save: parameters {skipped} are not plain values and are not saved"
                      + (f", nor their arguments {dropped}" if dropped else "")
                      + "; pass them to load again (skanode.load(path, "
                      + f"{skipped[0]}=...)), or it uses the defaults.", UserWarning,
                      stacklevel=3)
    return stored, skipped


_TORCH_CLASSES = {"torch.optim": torch.optim, "torch.nn": torch.nn}


def _torch_class_name(value: Any) -> str | None:
    """``"torch.optim.SGD"`` or ``"torch.nn.L1Loss"`` for torch's own classes, else None."""
    if not isinstance(value, type):
        return None
    for prefix, namespace in _TORCH_CLASSES.items():
        if getattr(namespace, value.__name__, None) is value:
            return f"{prefix}.{value.__name__}"
    return None


def _torch_class(name: str) -> type | None:
    prefix, _, attr = name.rpartition(".")
    namespace = _TORCH_CLASSES.get(prefix)
    found = getattr(namespace, attr, None) if namespace is not None else None
    return found if isinstance(found, type) else None


def save(estimator: Any, path: str | os.PathLike) -> None:
    """Write a fitted skanode estimator to ``path``.

    Hyperparameters that are plain values (numbers, strings, lists, dicts) are
    stored; the optimizer and the criterion are stored by name when they are
    torch's own classes (``torch.optim``, ``torch.nn``).
    Others (custom callbacks, modules, criteria, splits) are not, with a warning
    if they differ from the defaults: pass them to :func:`load` again, as for
    ``skanode.load(path, module=MyModule, module__width=7)``.  The
    optimizer's state, the random generator and the history are stored, so
    ``partial_fit`` after :func:`load` continues exactly as it would have.

    Parameters
    ----------
    estimator : fitted skanode estimator
        The model to save.
    path : str or path-like
        Destination file.
    """
    cls = type(estimator)
    if _REGISTRY.get(cls.__name__) is not cls:
        raise TypeError(f"save handles skanode's estimators, not {cls.__name__}.")
    state = to_plain(estimator.fitted_state())  # e.g. Adam's lr from a numpy grid
    params, unsaved = _storable_params(state.pop("params"), cls().get_params(deep=False))
    torch.save({"format": _FORMAT, "class": cls.__name__, "params": params,
                "unsaved": unsaved, **state}, path)


def load(path: str | os.PathLike, **params: Any) -> Any:
    """Load an estimator written by :func:`save`; it predicts exactly as before.

    A model saved from a GPU loads on a CPU-only machine, with a warning, on
    ``device="cpu"``; otherwise it keeps the device it was saved with.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`save`.
    **params
        Parameters that :func:`save` could not store (a custom ``module``,
        ``criterion``, ``optimizer`` or callbacks, with their ``name__*``
        arguments), given again.  A model with a custom module needs it; without
        a custom criterion or optimizer the model loads with the defaults, and
        says so.

    Returns
    -------
    estimator
        The fitted estimator, ready to predict and to train on with ``partial_fit``.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # Either not a pickle at all, or one that needs Python objects (code could run on
        # loading): skanode's files hold tensors and plain values only.  torch's message
        # suggests weights_only=False, which would run that code, so it is not passed on.
        found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\. |\n|$)", str(err))
        reason = f" ({found.group(1).strip()})" if found else ""
        raise ValueError(f"{path} is not a skanode model file: torch's safe loader refused it"
                         f"{reason}.  skanode files hold only tensors and plain "
                         "values; do not load this file with pickle or "
                         "torch.load(weights_only=False) unless you trust its source."
                         ) from err
    except (RuntimeError, KeyError, EOFError, ValueError, struct.error) as err:
        raise ValueError(f"{path} is not a skanode model file ({type(err).__name__}: "
                         f"{err}).") from err
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a skanode model file (format {_FORMAT}).")
    if not _REGISTRY:  # the estimators register themselves when their module is imported
        importlib.import_module("skanode.estimators")
    cls = _REGISTRY.get(data["class"])
    if cls is None:
        raise ValueError(f"{path} names an unknown estimator class {data['class']!r}.")
    given, params = params, dict(data.pop("params"))
    for name in ("optimizer", "criterion"):  # stored by name: torch's own classes
        if isinstance(params.get(name), str) and _torch_class(params[name]) is not None:
            params[name] = _torch_class(params[name])
    known = cls().get_params(deep=False)
    unknown = sorted(k for k in given if k.split("__", 1)[0] not in known)
    if unknown:
        raise TypeError(f"load: {unknown} are not parameters of {cls.__name__}.")
    params.update(given)
    missing = [name for name in data.pop("unsaved", []) if name not in given]
    if "module" in missing:  # its weights fit no other module
        raise ValueError(f"{path} holds a model with a custom module, which save does not "
                         "store: pass it to load again, as skanode.load(path, "
                         "module=MyModule, module__...=...).")
    trained_with = [name for name in missing if name in ("criterion", "optimizer")]
    if trained_with:  # partial_fit would go on with another loss or optimizer
        warnings.warn(f"{path}: {trained_with} were not saved; the model uses the defaults.  "
                      f"Pass them to load to restore them (skanode.load(path, "
                      f"{trained_with[0]}=...)).", UserWarning, stacklevel=2)
    device = params.get("device") or "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"{path} was saved on {device!r}, but CUDA is not available; the model "
                      "is loaded on the CPU (device='cpu').", UserWarning, stacklevel=2)
        params["device"] = "cpu"
    return cls.from_fitted_state(params, data)

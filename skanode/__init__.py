"""skanode: Neural ODEs, Augmented Neural ODEs and ResNets as scikit-learn estimators."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Public names are imported on first use (PEP 562), so that ``import skanode`` and light
# submodules such as ``skanode.cli`` (``skanode --help``) do not import torch.
_LAZY = {
    "ANODEClassifier": "estimators",
    "ANODERegressor": "estimators",
    "NODEClassifier": "estimators",
    "NODERegressor": "estimators",
    "ResNetClassifier": "estimators",
    "ResNetRegressor": "estimators",
    "DivergenceError": "exceptions",
    "SolverError": "exceptions",
    "HoldOut": "batching",
    "NFECallback": "callbacks",
    "load": "persistence",
}
_SUBMODULES = ("datasets", "hyperparams", "scoring")

__all__ = [
    "ANODEClassifier",
    "ANODERegressor",
    "DivergenceError",
    "HoldOut",
    "NFECallback",
    "NODEClassifier",
    "NODERegressor",
    "ResNetClassifier",
    "ResNetRegressor",
    "SolverError",
    "__version__",
    "datasets",
    "hyperparams",
    "load",
    "scoring",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports these
    from . import datasets, hyperparams, scoring
    from .batching import HoldOut
    from .callbacks import NFECallback
    from .estimators import (
        ANODEClassifier,
        ANODERegressor,
        NODEClassifier,
        NODERegressor,
        ResNetClassifier,
        ResNetRegressor,
    )
    from .exceptions import DivergenceError, SolverError
    from .persistence import load


def __getattr__(name: str):
    """Import a public name of the package on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

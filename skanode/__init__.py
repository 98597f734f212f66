"""skanode: Neural ODEs, Augmented Neural ODEs and ResNets as scikit-learn estimators."""

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

__version__ = "0.1.0"

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

"""Scorers that report solver cost in scikit-learn's model selection tools.

A scorer here ignores ``X`` and ``y`` and reads the fitted estimator's history,
so that ``GridSearchCV(..., scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
refit="accuracy")`` adds ``mean_test_nfe`` / ``std_test_nfe`` to ``cv_results_``:
the training NFE of each candidate, averaged over its folds.  The skanode
estimator is found inside pipelines and other meta-estimators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from skorch import NeuralNet

__all__ = ["find_nets", "nfe_scorer"]

_KEYS = ("forward_nfe", "backward_nfe", "valid_forward_nfe")


def _children(obj: Any) -> Iterator[Any]:
    """Objects held by ``obj`` that may hold a fitted network (steps, fitted clones)."""
    if isinstance(obj, dict):
        yield from obj.values()
    elif isinstance(obj, (list, tuple)):
        yield from obj
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("sklearn",
                                                                              "imblearn"):
        yield from vars(obj).values()
    elif hasattr(obj, "get_params"):  # another library's meta-estimator
        yield from vars(obj).values()


def find_nets(estimator: Any, *, max_depth: int = 8) -> list[NeuralNet]:
    """Return the fitted skorch networks inside ``estimator``.

    ``estimator`` itself, the steps of a ``Pipeline`` (nested too), and the
    fitted estimators of meta-estimators (``TransformedTargetRegressor``,
    ``CalibratedClassifierCV``, ``BaggingClassifier``, searches' best
    estimator, ...) are searched.

    Parameters
    ----------
    estimator : object
        A fitted estimator.
    max_depth : int, default=8
        How deep to look.

    Returns
    -------
    list of skorch.NeuralNet
        The networks with a history, in the order found.
    """
    found, seen = [], set()

    def visit(obj: Any, depth: int) -> None:
        if id(obj) in seen or depth > max_depth:
            return
        seen.add(id(obj))
        if isinstance(obj, NeuralNet):
            if obj.history_ is not None and len(obj.history_):
                found.append(obj)
            return
        for child in _children(obj):
            if isinstance(child, (dict, list, tuple)) or hasattr(child, "__dict__"):
                visit(child, depth + 1)

    visit(estimator, 0)
    return found


def nfe_scorer(key: str = "forward_nfe", *, epochs: str = "mean",
               negate: bool = False) -> Callable[..., float]:
    """Return a scorer that reports an NFE curve recorded during ``fit``.

    A search takes the highest score as the best.  The NFE is positive, so as a
    search's only ``scoring`` or its ``refit`` metric it would pick the candidate
    with the *most* evaluations: report it beside the metric that chooses
    (``refit="accuracy"``), or pass ``negate=True`` to choose by it.

    Parameters
    ----------
    key : {"forward_nfe", "backward_nfe", "valid_forward_nfe"}, default="forward_nfe"
        History key written by :class:`~skanode.NFECallback`.
    epochs : {"mean", "last"}, default="mean"
        Average the per-epoch NFE over all epochs, or take the last epoch.
    negate : bool, default=False
        Return ``-NFE``, so that the highest score is the fewest evaluations
        (scikit-learn's ``neg_*`` scorers do the same with errors).

    Returns
    -------
    callable
        ``scorer(estimator, X, y, sample_weight=None) -> float`` (the weights,
        which a search may pass, do not change a fit's NFE and are ignored).
        The network is found inside
        pipelines and meta-estimators (several, e.g. in a bagging ensemble, are
        averaged).  For a ResNet the NFE is its number of residual-block
        evaluations per forward pass, ``num_layers``, so searches over ResNets
        report finite values too.

    Raises
    ------
    ValueError
        If ``estimator`` holds no fitted skorch network that recorded ``key``.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skanode import ANODEClassifier
    >>> from skanode.scoring import nfe_scorer
    >>> search = GridSearchCV(
    ...     make_pipeline(StandardScaler(), ANODEClassifier(max_epochs=2)),
    ...     {"anodeclassifier__augment_dim": [1, 2]}, cv=3,
    ...     scoring={"accuracy": "accuracy", "nfe": nfe_scorer()}, refit="accuracy")
    """
    if key not in _KEYS:
        raise ValueError(f"key must be one of {list(_KEYS)}, got {key!r}.")
    if epochs not in ("mean", "last"):
        raise ValueError(f"epochs must be 'mean' or 'last', got {epochs!r}.")
    if not isinstance(negate, (bool, np.bool_)):
        raise ValueError(f"negate must be True or False, got {negate!r}.")
    return _NFEScore(key, epochs, bool(negate))


class _NFEScore:
    """``scorer(estimator, X, y, sample_weight=None) -> float``: see :func:`nfe_scorer`."""

    def __init__(self, key: str, epochs: str, negate: bool = False) -> None:
        self.key, self.epochs, self.negate = key, epochs, negate
        self.__name__ = f"{'neg_' if negate else ''}nfe_scorer_{key}_{epochs}"

    def __call__(self, estimator: Any, X: Any = None, y: Any = None,
                 sample_weight: Any = None) -> float:
        values = []
        for net in find_nets(estimator):
            curve = [row[self.key] for row in net.history_ if self.key in row]
            if curve:
                values.append(np.mean(curve) if self.epochs == "mean" else curve[-1])
        if not values:
            raise ValueError(f"nfe_scorer: {type(estimator).__name__} holds no fitted skanode "
                             f"estimator that recorded {self.key!r}.")
        return -float(np.mean(values)) if self.negate else float(np.mean(values))

    def _accept_sample_weight(self) -> bool:
        # scikit-learn's multi-metric scorer asks every scorer this (a private hook) when a
        # search gets sample_weight without metadata routing; a plain function has no
        # answer (AttributeError in scikit-learn 1.9), and "no" draws a warning about
        # incorrect results.  The NFE of a fit is the same whatever the weights: accept them.
        return True

    def __repr__(self) -> str:
        return (f"nfe_scorer(key={self.key!r}, epochs={self.epochs!r}"
                + (", negate=True)" if self.negate else ")"))

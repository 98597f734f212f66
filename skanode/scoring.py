"""Scorers that report solver cost in scikit-learn's model selection tools.

A scorer here ignores ``X`` and ``y`` and reads the fitted estimator's history,
so that ``GridSearchCV(..., scoring={"accuracy": "accuracy", "nfe": nfe_scorer()},
refit="accuracy")`` adds ``mean_test_nfe`` / ``std_test_nfe`` to ``cv_results_``:
the training NFE of each candidate, averaged over its folds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["nfe_scorer"]


def nfe_scorer(key: str = "forward_nfe", *, epochs: str = "mean") -> Callable[..., float]:
    """Return a scorer that reports an NFE curve recorded during ``fit``.

    Parameters
    ----------
    key : {"forward_nfe", "backward_nfe", "valid_forward_nfe"}, default="forward_nfe"
        History key written by :class:`~skanode.NFECallback`.
    epochs : {"mean", "last"}, default="mean"
        Average the per-epoch NFE over all epochs, or take the last epoch.

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``; NaN for models without an ODE
        solver (the ResNet), so their searches still run.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skanode import ANODEClassifier
    >>> from skanode.scoring import nfe_scorer
    >>> search = GridSearchCV(
    ...     ANODEClassifier(max_epochs=2), {"augment_dim": [1, 2]}, cv=3,
    ...     scoring={"accuracy": "accuracy", "nfe": nfe_scorer()}, refit="accuracy")
    """
    if epochs not in ("mean", "last"):
        raise ValueError(f"epochs must be 'mean' or 'last', got {epochs!r}.")

    def score(estimator: Any, X: Any = None, y: Any = None) -> float:
        history = estimator.history_
        values = [row[key] for row in history if key in row]
        if not values:
            return float("nan")
        return float(np.mean(values) if epochs == "mean" else values[-1])

    score.__name__ = f"nfe_scorer_{key}_{epochs}"
    return score

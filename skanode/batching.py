"""In-memory datasets, a batch iterator that slices tensors, and the ``HoldOut`` split.

skorch's default ``DataLoader`` collates every batch sample by sample; for the
small models of the paper that costs more than the model.  Here a batch is one
slice (or one gather) of a tensor already in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

__all__ = ["ArrayDataset", "BatchLoader", "HoldOut", "split_target"]


class ArrayDataset(Dataset):
    """Inputs, the targets the loss sees and optional sample weights, in memory.

    A batch is ``(X, y)``, or ``(X, (y, weight))`` when the dataset has weights
    (see :func:`split_target`).

    Parameters
    ----------
    X : torch.Tensor
        Inputs, first axis is the sample axis.
    y : torch.Tensor or None, default=None
        Targets as fed to the loss: class indices into ``classes_`` for
        classifiers, float targets for regressors.
    weight : torch.Tensor or None, default=None
        One non-negative weight per sample.
    validation : ArrayDataset or None, default=None
        Fixed data to validate on instead of the estimator's ``train_split``.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None,
                 validation: ArrayDataset | None = None) -> None:
        self.X = X
        self.y = y
        self.weight = weight
        self.validation = validation

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.batch(i)

    def batch(self, index: Any) -> tuple[torch.Tensor, Any]:
        """Return the inputs and targets at ``index`` in one operation."""
        X = self.X[index]
        y = self.y[index] if self.y is not None else torch.zeros(X.shape[:1])
        return X, (y if self.weight is None else (y, self.weight[index]))


def split_target(target: Any) -> tuple[Any, torch.Tensor | None]:
    """Split a batch's target into ``(y, weight)``; ``weight`` is None for unweighted data."""
    if isinstance(target, (tuple, list)):
        y, weight = target
        return y, weight
    return target, None


class BatchLoader:
    """Iterate over an :class:`ArrayDataset` (or a ``Subset`` of one) in batches.

    Accepts the keyword arguments skorch passes to its iterators.  With any
    other dataset, or any other ``DataLoader`` option (``num_workers``,
    ``collate_fn``, ``pin_memory``, ``sampler``, ...), it hands over to
    :class:`torch.utils.data.DataLoader` with every option, so none is ignored.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        The data.
    batch_size : int, default=64
        Samples per batch.
    shuffle : bool, default=False
        Draw a new permutation at every pass.
    drop_last : bool, default=False
        Drop the last incomplete batch.
    generator : torch.Generator or None, default=None
        Source of the permutations (the estimators pass their own); ``None``
        uses torch's global generator.
    **kwargs
        Other ``DataLoader`` options.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, generator: torch.Generator | None = None,
                 **kwargs: Any) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.kwargs = kwargs
        base, indices = dataset, None
        if isinstance(dataset, Subset) and isinstance(dataset.dataset, ArrayDataset):
            base, indices = dataset.dataset, torch.as_tensor(np.asarray(dataset.indices))
        self._base = base if isinstance(base, ArrayDataset) and not kwargs else None
        self._indices = indices

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, Any]]:
        if self._base is None:
            yield from DataLoader(self.dataset, batch_size=self.batch_size,
                                  shuffle=self.shuffle, drop_last=self.drop_last,
                                  generator=self.generator, **self.kwargs)
            return
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        if self._indices is not None:
            order = self._indices if order is None else self._indices[order]
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            index = slice(start, end) if order is None else order[start:end]
            yield self._base.batch(index)


class HoldOut:
    """A ``train_split`` that trains on all of ``X`` and validates on fixed data.

    ``est.set_params(train_split=HoldOut(X_test, y_test))`` records
    ``valid_loss`` (and ``valid_acc`` for classifiers) on ``X_test`` at every
    epoch.  The held-out data is validated and encoded like the training data
    (labels of any type, images as 4-D arrays or flat rows).

    Inside a ``Pipeline`` the held-out data would skip the earlier steps, so the
    estimators refuse it there; pass ``X_val`` / ``y_val`` to ``fit`` instead
    (see the user guide).

    Parameters
    ----------
    X : array-like
        Validation inputs.
    y : array-like
        Validation targets.
    """

    def __init__(self, X: Any, y: Any) -> None:
        self.X = X
        self.y = y

    def __call__(self, dataset, y=None, **kwargs):
        """Refuse to split: only skanode's estimators know how to encode the data."""
        raise TypeError("HoldOut is resolved by skanode's estimators, which validate and "
                        "encode the held-out data; use it as their train_split.")

    def __repr__(self) -> str:
        return f"HoldOut(n_samples={len(self.y)})"

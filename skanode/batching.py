"""In-memory datasets and a batch iterator that slices tensors.

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

__all__ = ["ArrayDataset", "BatchLoader", "HoldOut"]


class ArrayDataset(Dataset):
    """Inputs and the targets the loss sees, as tensors already in memory.

    Parameters
    ----------
    X : torch.Tensor
        Inputs, first axis is the sample axis.
    y : torch.Tensor or None, default=None
        Targets as fed to the loss: class indices into ``classes_`` for
        classifiers, float targets for regressors.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(()))

    def batch(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the inputs and targets at ``index`` in one operation."""
        X = self.X[index]
        return X, (self.y[index] if self.y is not None else torch.zeros(len(X)))


class BatchLoader:
    """Iterate over an :class:`ArrayDataset` (or a ``Subset`` of one) in batches.

    Accepts the keyword arguments skorch passes to its iterators; any other
    dataset falls back to :class:`torch.utils.data.DataLoader`.  Shuffling
    draws from torch's global generator, so a seeded fit is reproducible.

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
    **kwargs
        Passed to ``DataLoader`` for datasets that are not array datasets.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, **kwargs: Any) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.kwargs = kwargs
        base, indices = dataset, None
        if isinstance(dataset, Subset) and isinstance(dataset.dataset, ArrayDataset):
            base, indices = dataset.dataset, torch.as_tensor(np.asarray(dataset.indices))
        self._base = base if isinstance(base, ArrayDataset) else None
        self._indices = indices

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._base is None:
            yield from DataLoader(self.dataset, batch_size=self.batch_size,
                                  shuffle=self.shuffle, drop_last=self.drop_last, **self.kwargs)
            return
        n = len(self.dataset)
        order = torch.randperm(n) if self.shuffle else None
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

"""The batch iterator: tensor slices, the estimator's generator, DataLoader options honoured."""

import numpy as np
import pytest
import torch
from conftest import make
from torch.utils.data import Subset
from torch.utils.data.dataloader import default_collate

from skanode import ANODEClassifier
from skanode.batching import ArrayDataset, BatchLoader, split_target


def _data(n=10, weights=False):
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    return ArrayDataset(X, torch.arange(n), torch.ones(n) if weights else None)


def test_batches_are_slices_and_shuffling_follows_the_generator():
    data = _data()
    plain = [X.ravel().tolist() for X, _ in BatchLoader(data, batch_size=4)]
    assert plain == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    orders = [[X.ravel().tolist() for X, _ in BatchLoader(
        data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(seed))]
        for seed in (1, 1, 2)]
    assert orders[0] == orders[1] != orders[2]
    assert len(BatchLoader(data, batch_size=4, drop_last=True)) == 2


def test_subsets_and_weights():
    data = _data(weights=True)
    (X, target), = BatchLoader(Subset(data, [7, 2]), batch_size=8)
    y, w = split_target(target)
    assert X.ravel().tolist() == [7, 2] and y.tolist() == [7, 2] and w.tolist() == [1, 1]


def test_dataloader_options_are_honoured_not_ignored():
    calls = []

    def collate(items):
        calls.append(len(items))
        return default_collate(items)

    batches = list(BatchLoader(_data(), batch_size=4, collate_fn=collate, num_workers=0))
    assert calls == [4, 4, 2] and len(batches) == 3
    with pytest.raises(TypeError, match="unexpected keyword argument 'not_an_option'"):
        list(BatchLoader(_data(), not_an_option=1))


def test_estimator_passes_dataloader_options_through(spheres):
    X, y = spheres
    calls = []

    def collate(items):
        calls.append(1)
        return default_collate(items)

    est = make(ANODEClassifier, max_epochs=1, batch_size=40, iterator_train__collate_fn=collate)
    est.fit(X, y)
    assert len(calls) == 3  # 120 rows in batches of 40, collated by the user's function
    assert np.isfinite(est.predict_proba(X)).all()

"""Ctrl-C during fit keeps the last finished epoch, records it and warns."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skanode import ANODEClassifier


class InterruptAt(Callback):
    def __init__(self, epoch, batch=1):
        self.epoch, self.batch, self.seen = epoch, batch, 0

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch:
            self.seen += 1
            if self.seen == self.batch:
                raise KeyboardInterrupt


class Snapshot(Callback):
    def on_epoch_end(self, net, **kwargs):
        self.state = {k: v.clone() for k, v in net.module_.state_dict().items()}


def test_ctrl_c_keeps_last_finished_epoch(spheres):
    X, y = spheres
    snap = Snapshot()
    est = ANODEClassifier(max_epochs=6, random_state=0, batch_size=16,
                          callbacks=[("snap", snap), ("stop", InterruptAt(3, batch=2))])
    with pytest.warns(UserWarning, match="interrupted.*last finished epoch \\(2\\)"):
        est.fit(X, y)
    for name, value in est.module_.state_dict().items():
        torch.testing.assert_close(value, snap.state[name])
    assert est.history[-1, "interrupted"] is True
    assert len(est.history) == 3
    proba = est.predict_proba(X)
    assert np.isfinite(proba).all()
    # training can go on from there
    est.set_params(callbacks=[]).partial_fit(X, y)

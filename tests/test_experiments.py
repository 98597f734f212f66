"""The paper's claims at small scale, deterministic with fixed seeds."""

import numpy as np
import pytest

from skanode.datasets import make_g1d
from skanode.experiments import (
    generalization_experiment,
    headline_experiment,
    image_data,
    make_dataset,
    make_model,
)


def test_node_cannot_fit_g1d_but_anode_and_resnet_can():
    X, y = make_g1d(40)
    loss = {}
    for kind, extra in [("node", {}), ("anode", {"augment_dim": 1}), ("resnet", {})]:
        est = make_model(kind, max_epochs=20, lr=1e-2, batch_size=8, linear_head=False,
                         random_state=0, **extra).fit(X, y)
        loss[kind] = est.history[-1, "train_loss"]
    assert loss["node"] > 0.9  # the NODE maps both points to about 0
    assert loss["anode"] < 0.01 and loss["resnet"] < 0.01


def test_anode_beats_node_on_spheres_in_loss_and_nfe_over_seeds():
    """The paper's claim at small scale: lower loss and fewer NFE, by a margin, every seed."""
    node_nfe, anode_nfe = [], []
    for seed in (0, 1, 2):
        X, y = make_dataset("spheres", n_inner=200, n_outer=400, random_state=seed)
        last = {}
        for kind in ("node", "anode"):
            est = make_model(kind, max_epochs=30, batch_size=32, random_state=seed).fit(X, y)
            last[kind] = (est.history[-1, "train_loss"], np.mean(est.history[-5:, "forward_nfe"]))
        assert last["anode"][0] < last["node"][0] / 4, (seed, last)
        node_nfe.append(last["node"][1])
        anode_nfe.append(last["anode"][1])
    assert np.mean(anode_nfe) < np.mean(node_nfe) - 3


def test_headline_records_are_complete():
    ticks = []
    records = headline_experiment(epochs=2, models=("anode", "resnet"), progress=ticks.append)
    assert [r["label"] for r in records] == ["ANODE", "ResNet"]
    anode, resnet = records
    assert len(anode["curves"]["train_loss"]) == 2 and anode["final_forward_nfe"] >= 8
    assert resnet["final_forward_nfe"] == 5  # residual-block evaluations
    assert anode["n_parameters"] == sum(p.numel() for p in anode["estimator"].module_.parameters())
    X, y = make_dataset("spheres", random_state=0)  # the experiment's data (seed 0)
    assert anode["accuracy"] == np.mean(np.sign(anode["estimator"].predict(X)) == y)
    assert ticks == [1] * 4


def test_generalization_holds_out_the_slice():
    ticks = []
    (rec,) = generalization_experiment(epochs=1, models=("anode",), grid_size=10,
                                       progress=ticks.append)
    assert rec["n_valid"] > 0 and len(rec["curves"]["valid_loss"]) == 1
    assert rec["input_map"].shape == (10, 10)
    assert ticks == [1]


def test_image_subsets_larger_than_the_data_are_refused():
    X_tr, y_tr, X_te, y_te = image_data("digits", n_train=1437, n_test=100)
    assert len(X_tr) == len(y_tr) == 1437 and len(X_te) == len(y_te) == 100
    with pytest.raises(ValueError, match="n_train=1438 is more than the 1437 train images"):
        image_data("digits", n_train=1438)
    with pytest.raises(ValueError, match="n_test=400 is more than the 360 test images"):
        image_data("digits", n_test=400)

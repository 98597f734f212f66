"""The paper's claims at small scale, deterministic with fixed seeds."""

import numpy as np

from skanode.datasets import make_g1d
from skanode.experiments import (
    generalization_experiment,
    headline_experiment,
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


def test_anode_beats_node_on_spheres_in_loss_and_nfe():
    X, y = make_dataset("spheres", n_inner=200, n_outer=400, random_state=0)
    last = {}
    for kind in ("node", "anode"):
        est = make_model(kind, max_epochs=30, batch_size=32, random_state=0).fit(X, y)
        last[kind] = est.history[-1]
    assert last["anode"]["train_loss"] < last["node"]["train_loss"]
    assert last["anode"]["forward_nfe"] < last["node"]["forward_nfe"]


def test_headline_records_are_complete():
    records = headline_experiment(epochs=1, models=("anode", "resnet"))
    assert [r["label"] for r in records] == ["ANODE", "ResNet"]
    anode = records[0]
    assert len(anode["curves"]["train_loss"]) == 1 and anode["final_forward_nfe"] > 0
    assert 0 <= anode["accuracy"] <= 1 and anode["n_parameters"] > 0
    assert np.isnan(records[1]["final_forward_nfe"])


def test_generalization_holds_out_the_slice():
    ticks = []
    (rec,) = generalization_experiment(epochs=1, models=("anode",), grid_size=10,
                                       progress=ticks.append)
    assert rec["n_valid"] > 0 and len(rec["curves"]["valid_loss"]) == 1
    assert rec["input_map"].shape == (10, 10)
    assert ticks == [1]

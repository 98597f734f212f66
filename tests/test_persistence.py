"""save / load (and pickle) restore a model that predicts and trains on exactly as before."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SmallNet

import skanode
from skanode import ANODEClassifier, NODEClassifier, NODERegressor, ResNetClassifier


@pytest.mark.parametrize("how", ["save", "pickle"])
def test_training_continues_exactly_after_a_round_trip(how, spheres, tmp_path):
    """Adam's moments, the random stream and the history come back."""
    X, y = spheres
    est = ANODEClassifier(max_epochs=2, random_state=0).fit(X, y)
    if how == "save":
        est.save(tmp_path / "m.pt")
        again = skanode.load(tmp_path / "m.pt")
    else:
        again = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert len(again.history) == 4 and again.n_iter_ == est.n_iter_ == 4
    assert again.history[:, "train_loss"] == est.history[:, "train_loss"]


@pytest.mark.parametrize("cls, labels", [
    (ANODEClassifier, np.array(["in", "out"])),
    (NODEClassifier, np.array(["in", "out"], dtype=object)),  # as pandas gives strings
    (ResNetClassifier, np.array([3, 7])),
    (NODERegressor, None),
])
def test_save_load_restores_everything(cls, labels, spheres, tmp_path):
    X, y = spheres
    df = pd.DataFrame(X, columns=["u", "v"])
    target = y.astype(float) if labels is None else labels[(y > 0).astype(int)]
    est = cls(max_epochs=2, random_state=0, hidden_dim=6, optimizer=torch.optim.SGD,
              lr=0.05).fit(df, target)
    path = tmp_path / "model.pt"
    est.save(path)
    loaded = skanode.load(path)
    assert type(loaded) is cls
    assert loaded.get_params()["hidden_dim"] == 6
    assert loaded.optimizer is torch.optim.SGD and loaded.lr == 0.05
    assert list(loaded.feature_names_in_) == ["u", "v"] and loaded.n_features_in_ == 2
    if labels is not None:
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        assert loaded.classes_.dtype == est.classes_.dtype
        assert loaded.predict(df).dtype == est.predict(df).dtype
        np.testing.assert_array_equal(loaded.predict_proba(df), est.predict_proba(df))
    np.testing.assert_array_equal(loaded.predict(df), est.predict(df))
    assert len(loaded.history) == 2 and loaded.n_iter_ == est.n_iter_
    assert loaded.device == "cpu"


def test_load_refuses_code(tmp_path, capsys):
    path = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "skanode/1", "payload": Evil()}, path)
    with pytest.raises(ValueError, match=r"evil\.pt is not a skanode model file.*GLOBAL print"
                       ) as info:
        skanode.load(path)
    assert "pwned" not in capsys.readouterr().out
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)
    assert "unless you trust its source" in str(info.value)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a skanode model file"):
        skanode.load(path)
    (tmp_path / "junk.pt").write_bytes(b"not a model")  # not a pickle: torch's safe loader
    with pytest.raises(ValueError, match=r"junk\.pt is not a skanode model file"):
        skanode.load(tmp_path / "junk.pt")
    (tmp_path / "short.pt").write_bytes(b"junk")  # too short for torch's header
    with pytest.raises(ValueError, match=r"short\.pt is not a skanode model file"):
        skanode.load(tmp_path / "short.pt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt is not a skanode model file"):
        skanode.load(tmp_path / "notes.txt")


def test_cuda_model_loads_on_cpu_with_a_warning(spheres, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, random_state=0).fit(X, y)
    path = tmp_path / "gpu.pt"
    est.save(path)
    # what a file written on a GPU machine holds: device="cuda" among the parameters
    data = torch.load(path, weights_only=True)
    data["params"]["device"] = "cuda"
    torch.save(data, path)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        loaded = skanode.load(path)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_unsaved_parameters_warn(spheres, tmp_path):
    from skorch.callbacks import EpochTimer

    X, y = spheres
    est = ANODEClassifier(max_epochs=1, callbacks=[("t", EpochTimer())]).fit(X, y)
    with pytest.warns(UserWarning, match="callbacks"):
        est.save(tmp_path / "m.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skanode.load(tmp_path / "m.pt").predict(X)


def test_save_load_image_model(tmp_path):
    from skanode.datasets import load_digits_images

    X, y = load_digits_images()
    est = ANODEClassifier(architecture="conv", num_filters=4, augment_dim=1, max_epochs=1,
                          batch_size=64, random_state=0).fit(X[:128], y[:128])
    est.save(tmp_path / "conv.pt")
    loaded = skanode.load(tmp_path / "conv.pt")
    assert loaded.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), est.predict_proba(X[:20]))
    np.testing.assert_array_equal(loaded.predict(X[:20].reshape(20, -1)), est.predict(X[:20]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_numpy_numbers_in_parameters_round_trip(spheres, tmp_path):
    # a search's numpy grid hands in np.float64: save wrote it, the safe loader refused it
    from sklearn.model_selection import GridSearchCV

    X, y = spheres
    search = GridSearchCV(ANODEClassifier(hidden_dim=4, max_epochs=1, random_state=0),
                          {"lr": np.logspace(-3, -2, 2)}, cv=2).fit(X, y)
    search.best_estimator_.save(tmp_path / "best.pt")
    loaded = skanode.load(tmp_path / "best.pt")
    assert type(loaded.lr) is float
    np.testing.assert_array_equal(loaded.predict_proba(X), search.best_estimator_.predict_proba(X))
    est = NODEClassifier(solver="rk4", solver_options={"step_size": np.float32(0.25)},
                         hidden_dim=np.int64(4), rtol=np.float64(1e-3), max_epochs=1,
                         classes=np.unique(y)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.float32 was dropped with a warning
        est.save(tmp_path / "np.pt")
    loaded = skanode.load(tmp_path / "np.pt")
    assert loaded.solver_options == {"step_size": 0.25} and loaded.hidden_dim == 4
    assert loaded.classes == [-1, 1]
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_save_refuses_a_shape_changed_since_fit(spheres, tmp_path):
    # it wrote the new hidden_dim beside the old weights: a file load could not read
    X, y = spheres
    est = NODEClassifier(hidden_dim=8, max_epochs=1).fit(X, y)
    est.set_params(hidden_dim=16)
    with pytest.raises(ValueError, match=r"hidden_dim \(8 -> 16\) changed since the model"):
        est.save(tmp_path / "h.pt")
    assert not (tmp_path / "h.pt").exists()
    est.set_params(hidden_dim=8).save(tmp_path / "h.pt")
    assert skanode.load(tmp_path / "h.pt").module_.odeblock.dynamics.fc1.out_features == 8


def test_torch_losses_are_saved_by_name_and_custom_ones_without_their_arguments(tmp_path):
    # L1Loss was dropped (load trained with MSE); HuberLoss's delta then made the file unloadable
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((40, 2)), rng.standard_normal(40)
    est = NODERegressor(criterion=torch.nn.HuberLoss, criterion__delta=0.5, max_epochs=1,
                        n_iter_no_change=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.fit(X, y).save(tmp_path / "huber.pt")
    loaded = skanode.load(tmp_path / "huber.pt")
    assert loaded.criterion is torch.nn.HuberLoss and loaded.criterion_.delta == 0.5

    class Scaled(torch.nn.MSELoss):
        def __init__(self, scale=1.0, reduction="none"):
            super().__init__(reduction=reduction)

    est = NODERegressor(criterion=Scaled, criterion__scale=2.0, max_epochs=1,
                        n_iter_no_change=None).fit(X, y)
    with pytest.warns(UserWarning, match=r"\['criterion'\] .* nor their arguments "
                                         r"\['criterion__scale'\]; pass them to load"):
        est.save(tmp_path / "custom.pt")
    with pytest.warns(UserWarning, match=r"\['criterion'\] were not saved; the model uses "
                                         r"the defaults"):
        assert skanode.load(tmp_path / "custom.pt").criterion is torch.nn.MSELoss
    # given again, the custom criterion is back, and training goes on with it
    loaded = skanode.load(tmp_path / "custom.pt", criterion=Scaled, criterion__scale=2.0)
    assert isinstance(loaded.criterion_, Scaled)
    loaded.partial_fit(X, y)
    with pytest.raises(TypeError, match=r"load: \['bogus'\] are not parameters"):
        skanode.load(tmp_path / "custom.pt", bogus=1)


def test_a_custom_module_is_given_to_load_again(spheres, tmp_path):
    X, y = spheres
    est = NODEClassifier(module=SmallNet, module__width=7, max_epochs=1, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match=r"\['module'\] are not plain values"):
        est.save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"custom module, which save does not store: pass it "
                                         r"to load again"):
        skanode.load(tmp_path / "m.pt")  # the weights fit no other module
    loaded = skanode.load(tmp_path / "m.pt", module=SmallNet, module__width=7)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    # no ODE block, no NFE: nothing recorded (zeros were), and nfe_scorer says so
    from skanode.scoring import nfe_scorer

    assert "forward_nfe" not in est.history[-1]
    with pytest.raises(ValueError, match="recorded 'forward_nfe'"):
        nfe_scorer()(est, X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_save_refuses_an_optimizer_argument_the_optimizer_does_not_take(spheres, tmp_path):
    # the file was written, and load failed in Adam's constructor
    X, y = spheres
    est = NODEClassifier(max_epochs=1, hidden_dim=4).fit(X, y)
    est.set_params(optimizer__momentum=0.9)
    with pytest.raises(ValueError, match="Adam takes no argument 'momentum'"):
        est.save(tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_set_output_survives_a_round_trip(spheres, tmp_path):
    X, y = spheres
    est = ANODEClassifier(max_epochs=1, random_state=0).set_output(transform="pandas").fit(X, y)
    est.save(tmp_path / "model.pt")
    features = skanode.load(tmp_path / "model.pt").transform(X)
    assert isinstance(features, pd.DataFrame)
    pd.testing.assert_frame_equal(features, est.transform(X))

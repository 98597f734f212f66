"""Convolutional NODE / ANODE / ResNet: shapes, parameter counts, input forms, loaders."""

import gzip
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from skanode import ANODEClassifier, NODEClassifier, ResNetClassifier
from skanode.datasets import load_digits_images, load_mnist
from skanode.modules import ODENet, ResNet
from skanode.presets import count_parameters, matched_node_filters, paper_image_model

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
FAST = {"architecture": "conv", "num_filters": 4, "max_epochs": 1, "batch_size": 32,
        "random_state": 0}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("augment_dim", [0, 2])
def test_conv_odenet_shapes(channels, augment_dim):
    net = ODENet((channels, 6, 5), 4, architecture="conv", num_filters=8,
                 augment_dim=augment_dim)
    x = torch.randn(3, channels, 6, 5)
    assert net(x).shape == (3, 4)
    assert net.features(x).shape == (3, channels + augment_dim, 6, 5)
    traj = net.trajectory(x, [0.0, 1.0])
    assert traj.shape == (2, 3, channels + augment_dim, 6, 5)
    # the augmented channels start at zero
    assert (traj[0, :, channels:] == 0).all()
    torch.testing.assert_close(traj[0, :, :channels], x)


def test_conv_resnet_shapes():
    net = ResNet((3, 5, 5), 2, architecture="conv", num_filters=6, num_layers=2)
    assert net(torch.randn(4, 3, 5, 5)).shape == (4, 2)


@pytest.mark.parametrize("dataset, time_channels, node, anode", [
    ("mnist", False, 84_395, 84_816),
    ("mnist", True, 85_316, 85_462),
    ("cifar10", False, 172_358, 171_799),
    ("svhn", False, 172_358, 171_799),
])
def test_paper_parameter_counts(dataset, time_channels, node, anode):
    counts = []
    for model in ("node", "anode"):
        params = paper_image_model(dataset, model, time_channels=time_channels)
        shape = (1, 28, 28) if dataset == "mnist" else (3, 32, 32)
        net = ODENet(shape, 10, architecture="conv", num_filters=params["num_filters"],
                     augment_dim=params.get("augment_dim", 0),
                     time_dependent=params["time_dependent"])
        n = sum(p.numel() for p in net.parameters())
        assert n == count_parameters(shape, 10, num_filters=params["num_filters"],
                                     augment_dim=params.get("augment_dim", 0),
                                     time_channels=time_channels)
        counts.append(n)
    assert counts == [node, anode]


def test_matched_filters_reproduce_the_papers_choice():
    assert matched_node_filters((1, 28, 28), 10, anode_filters=64, augment_dim=5,
                                time_channels=False) == 92


def test_matched_filters_have_no_upper_limit():
    # the ANODE's linear head on 13x64x64 states is 10.6M weights: the NODE needs ~955 filters
    shape, target = (3, 64, 64), count_parameters((3, 64, 64), 200, num_filters=64,
                                                  augment_dim=10)
    k = matched_node_filters(shape, 200, anode_filters=64, augment_dim=10)
    sizes = [count_parameters(shape, 200, num_filters=j) for j in (k - 1, k, k + 1)]
    assert abs(sizes[1] - target) <= min(abs(sizes[0] - target), abs(sizes[2] - target))
    assert paper_image_model("tinyimagenet", "node")["num_filters"] == 125  # the paper's pair


def test_flat_and_4d_input_give_identical_results():
    X, y = load_digits_images()
    X, y = X[:96], y[:96]
    four = ANODEClassifier(augment_dim=1, **FAST).fit(X, y)
    flat = ANODEClassifier(augment_dim=1, image_shape=(1, 8, 8), **FAST).fit(
        X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(four.predict_proba(X), flat.predict_proba(X.reshape(96, -1)))
    np.testing.assert_array_equal(four.predict_proba(X), four.predict_proba(X.reshape(96, -1)))
    assert four.transform(X).shape == (96, 2 * 64)


def test_inconsistent_image_shapes_are_clear_errors():
    X, y = load_digits_images()
    X, y = X[:40], y[:40]
    with pytest.raises(ValueError, match="needs images"):
        NODEClassifier(**FAST).fit(X.reshape(40, -1), y)
    with pytest.raises(ValueError, match="does not match the 64 features"):
        NODEClassifier(image_shape=(1, 7, 7), **FAST).fit(X.reshape(40, -1), y)
    est = NODEClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"shape \(1, 8, 7\), but NODEClassifier expects"):
        est.predict(X[:, :, :, :7])
    with pytest.raises(ValueError, match="features"):
        est.predict(X.reshape(40, -1)[:, :60])
    with pytest.raises(ValueError, match=r"architecture='mlp' takes rows .* use "
                                         r"architecture='conv'"):
        NODEClassifier(max_epochs=1).fit(X, y)  # the MLP model wants rows
    for bad in (X[:, 0], X[:, None]):  # (n, h, w) and (n, 1, c, h, w)
        with pytest.raises(ValueError, match=r"architecture='conv' takes images of shape "
                                             r"\(n, channels, height, width\)"):
            est.predict(bad)
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        est.predict(X[:0])
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        NODEClassifier(**FAST).fit(X[:0], y[:0])


def test_images_as_nested_lists_and_read_only_arrays():
    X, y = load_digits_images()
    X, y = X[:40], y[:40]
    est = NODEClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X[:3].tolist()), est.predict_proba(X[:3]))
    frozen = X.copy()
    frozen.setflags(write=False)  # memory-mapped data, as joblib hands it to workers
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # torch's "not writable" warning
        np.testing.assert_array_equal(est.predict_proba(frozen), est.predict_proba(X))
        NODEClassifier(**FAST).fit(frozen, y)


def test_image_shape_is_ignored_by_mlp_models():
    X, y = load_digits_images()
    flat = X[:60].reshape(60, -1)
    est = ANODEClassifier(architecture="mlp", image_shape=(1, 8, 8), max_epochs=1,
                          random_state=0).fit(flat, y[:60])
    assert est.predict(flat).shape == (60,) and est.transform(flat).shape[1] == 64 + 5
    search = GridSearchCV(ANODEClassifier(**{**FAST, "image_shape": (1, 8, 8)}),
                          {"architecture": ["mlp", "conv"]}, cv=2, error_score="raise")
    search.fit(flat, y[:60])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_a_cuda_device_set_after_fit_is_refused_clearly():
    X, y = load_digits_images()
    est = NODEClassifier(**FAST).fit(X[:40], y[:40])
    est.set_params(device="cuda")
    with pytest.raises(RuntimeError, match="device='cuda' was requested but CUDA is not "
                                           "available"):
        est.predict(X[:5])


def test_conv_resnet_classifier_and_nfe():
    X, y = load_digits_images()
    res = ResNetClassifier(num_layers=2, **FAST).fit(X[:64], y[:64])
    assert res.predict(X[:5]).shape == (5,)
    node = NODEClassifier(**FAST).fit(X[:64], y[:64])
    assert node.history[-1, "forward_nfe"] > 0


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.skipif(not MNIST.exists(), reason="the MNIST files are not beside the checkout")
def test_mnist_loader_on_the_real_files():
    sums = dict(line.split()[::-1] for line in (MNIST / "SHA256SUMS").read_text().splitlines()
                if line.strip())
    for name, digest in sums.items():
        assert _sha256(MNIST / name.lstrip("*")) == digest
    X, y = load_mnist(MNIST, "test")
    assert X.shape == (10_000, 1, 28, 28) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() == 1.0
    assert np.bincount(y).tolist()[:2] == [980, 1135]


@pytest.mark.skipif(not MNIST.exists(), reason="the MNIST files are not beside the checkout")
def test_mnist_loader_rejects_corrupt_and_truncated_files(tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(MNIST / name, tmp_path / name)
    # uncompressed files work too
    raw = gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert load_mnist(tmp_path, "test")[1].shape == (10_000,)
    # truncated
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(tmp_path, "test")
    # wrong magic number (labels where images belong)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(raw))
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        load_mnist(tmp_path, "test")
    # not gzip at all
    images.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read"):
        load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="does not download"):
        load_mnist(tmp_path, "train")


def test_images_command(tmp_path):
    from skanode.cli import main

    assert main(["images", "--epochs", "1", "--n-train", "64", "--n-test", "32", "--quiet",
                 "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "| NODE | 67 | 0 |" in summary and "| ANODE | 64 | 5 |" in summary
    assert (tmp_path / "images_nfe.png").exists()


def test_images_command_on_a_subsample_that_misses_a_digit(tmp_path):
    from skanode.cli import main

    assert main(["images", "--epochs", "1", "--n-train", "5", "--n-test", "20", "--quiet",
                 "--out", str(tmp_path)]) == 0
    assert "| ANODE | 64 | 5 |" in (tmp_path / "summary.md").read_text()


def test_tiny_imagenet_counts_follow_from_the_described_architecture():
    # the paper's 366,269 / 365,714 cannot come from a linear head on 3x64x64 states
    assert count_parameters((3, 64, 64), 200, num_filters=125, time_channels=False) == 2_599_428
    assert count_parameters((3, 64, 64), 200, num_filters=64, augment_dim=10,
                            time_channels=False) == 10_688_469

import pytest
import torch

from skanode.augment import Augment


def test_vectors_get_zero_features():
    x = torch.randn(4, 2)
    out = Augment(3)(x)
    assert out.shape == (4, 5)
    torch.testing.assert_close(out[:, :2], x)
    assert (out[:, 2:] == 0).all()


def test_images_get_zero_channels():
    x = torch.randn(2, 1, 5, 5)
    out = Augment(2, dim=1)(x)
    assert out.shape == (2, 3, 5, 5)
    assert (out[:, 1:] == 0).all()


def test_zero_augmentation_is_identity():
    x = torch.randn(3, 2)
    assert Augment(0)(x) is x


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_invalid_augment_dim(bad):
    with pytest.raises(ValueError, match="augment_dim"):
        Augment(bad)

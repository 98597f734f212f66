import pytest
import torch

from skanode.modules import ODENet, ResNet


@pytest.mark.parametrize("augment_dim", [0, 3])
def test_odenet_shapes(augment_dim):
    net = ODENet(2, 4, hidden_dim=8, augment_dim=augment_dim)
    x = torch.randn(5, 2)
    assert net(x).shape == (5, 4)
    assert net.features(x).shape == (5, 2 + augment_dim)
    assert net.trajectory(x, [0.0, 1.0]).shape == (2, 5, 2 + augment_dim)
    # the trajectory starts at [x, 0]
    torch.testing.assert_close(net.trajectory(x, [0.0, 1.0])[0, :, :2], x)


def test_resnet_shapes_and_residual_structure():
    net = ResNet(3, 2, hidden_dim=8, num_layers=4)
    x = torch.randn(6, 3)
    assert net(x).shape == (6, 2)
    assert len(net.blocks) == 4
    traj = net.trajectory(x)
    assert traj.shape == (5, 6, 3)
    torch.testing.assert_close(traj[-1], net.features(x))


def test_resnet_rejects_bad_depth():
    with pytest.raises(ValueError, match="num_layers"):
        ResNet(2, 1, num_layers=0)

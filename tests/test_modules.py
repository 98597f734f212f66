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


def test_build_draws_weights_from_the_generator_only():
    from skanode.modules import build

    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    nets = [build(ODENet, torch.Generator().manual_seed(s), input_dim=2, output_dim=3)
            for s in (4, 4, 5)]
    assert torch.rand(1) == expected
    for a, b, c in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(a, b)
        assert not torch.equal(a, c)
        bound = 1 / a.shape[-1] ** 0.5 if a.ndim == 2 else None
        if bound is not None:  # torch's default range, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            assert a.abs().max() <= bound

import pytest
import torch

from skanode.dynamics import MLPField, make_activation


def test_shapes_and_parameter_count():
    f = MLPField(3, 16)
    h = torch.randn(5, 3)
    assert f(torch.tensor(0.5), h).shape == (5, 3)
    # the paper's layer sizes: (1 + d) -> hidden -> hidden -> d
    expected = (3 + 1) * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    assert sum(p.numel() for p in f.parameters()) == expected


def test_time_folded_into_bias_equals_concatenated_time_column():
    torch.manual_seed(0)
    f = MLPField(2, 8)
    h, t = torch.randn(7, 2), torch.tensor(0.3)
    column = torch.cat([t.expand(7, 1), h], dim=1)  # the paper concatenates t first
    reference = f.fc3(f.act(f.fc2(f.act(f.fc1(column)))))
    torch.testing.assert_close(f(t, h), reference)
    torch.testing.assert_close(f(0.3, h), reference)  # t as a Python float


def test_time_independent_field_ignores_t():
    f = MLPField(2, 8, time_dependent=False)
    h = torch.randn(4, 2)
    torch.testing.assert_close(f(0.0, h), f(1.0, h))
    assert f.fc1.in_features == 2


@pytest.mark.parametrize("name", ["relu", "softplus", "tanh"])
def test_known_nonlinearities(name):
    assert isinstance(make_activation(name), torch.nn.Module)
    MLPField(2, 4, nonlinearity=name)(0.0, torch.zeros(1, 2))


def test_unknown_nonlinearity_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'sigmoidal'.*relu"):
        MLPField(2, 4, nonlinearity="sigmoidal")

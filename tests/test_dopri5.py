"""skanode's dopri5 against torchdiffeq's, which stays the reference."""

import math

import pytest
import torch
from torchdiffeq import odeint

from skanode import SolverError
from skanode.dopri5 import IntegrationError, dopri5
from skanode.dynamics import MLPField
from skanode.odeblock import ODEBlock


class Counting(torch.nn.Module):
    def __init__(self, field):
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t, h):
        self.calls += 1
        return self.field(t, h)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dim, scale", [(2, 1.0), (7, 3.0)])
def test_same_state_within_tolerance_and_same_nfe(seed, dim, scale):
    torch.manual_seed(seed)
    field = MLPField(dim, 32)
    with torch.no_grad():  # livelier dynamics than at initialisation
        for p in field.parameters():
            p.mul_(scale)
    x = torch.randn(64, dim)
    ours, ref = Counting(field), Counting(field)
    y = dopri5(ours, x, 1.0, rtol=1e-3, atol=1e-3)
    y_ref = odeint(ref, x, torch.tensor([0.0, 1.0]), rtol=1e-3, atol=1e-3)[-1]
    err = (y - y_ref).abs().max().item()
    assert err < 1e-2 * max(1.0, y_ref.abs().max().item()), err
    assert ours.calls == ref.calls  # the same accepted and rejected steps


def test_converges_to_the_exact_solution():
    field = lambda t, h: -2.0 * h + t  # noqa: E731
    y = dopri5(field, torch.ones(3, 1), 1.5, rtol=1e-8, atol=1e-8)
    exact = (1 + 0.25) * math.exp(-3.0) + 0.5 * 1.5 - 0.25
    torch.testing.assert_close(y, torch.full((3, 1), exact), rtol=1e-6, atol=1e-6)


def test_gradients_match_torchdiffeq():
    torch.manual_seed(1)
    field = MLPField(3, 16)
    x = torch.randn(16, 3, requires_grad=True)
    grads = []
    for solve in (lambda: dopri5(field, x, 1.0, rtol=1e-6, atol=1e-6),
                  lambda: odeint(field, x, torch.tensor([0.0, 1.0]), rtol=1e-6, atol=1e-6)[-1]):
        field.zero_grad()
        x.grad = None
        solve().pow(2).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in field.parameters()])
    for ours, ref in zip(*grads):
        # both are gradients of discretised solves; they agree to the solver's accuracy
        assert (ours - ref).norm() <= 1e-2 * ref.norm()


def test_non_finite_derivative_is_an_integration_error():
    with pytest.raises(IntegrationError, match="non-finite"):
        dopri5(lambda t, h: h * float("inf"), torch.ones(2, 1), 1.0)


def test_block_uses_it_for_the_paper_setting_and_torchdiffeq_otherwise():
    torch.manual_seed(0)
    field = MLPField(2, 8)
    x = torch.randn(5, 2)
    lean = ODEBlock(field)
    assert lean._lean
    for other in (ODEBlock(field, adjoint=True), ODEBlock(field, solver="bosh3"),
                  ODEBlock(field, backend="torchdiffeq"),
                  ODEBlock(field, solver_options={"first_step": 0.1})):
        assert not other._lean
        torch.testing.assert_close(other(x), lean(x), rtol=1e-2, atol=1e-2)


def test_step_size_underflow_is_an_integration_error():
    # a derivative that jumps at t = 0.5 keeps rejecting steps until dt underflows
    def jump(t, h):
        return h * (1e12 if t > 0.5 else 0.0) + 1.0

    with pytest.raises(IntegrationError, match=r"underflow in the step size .* at t=0\.5"):
        dopri5(jump, torch.ones(1, 1), 1.0, rtol=1e-9, atol=1e-9)


def test_block_wraps_its_failures_as_solver_errors():
    with pytest.raises(SolverError, match="non-finite state or derivative at t=0;"):
        ODEBlock(lambda t, h: h * float("inf"))(torch.ones(2, 1))

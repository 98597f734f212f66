"""skanode's Runge-Kutta solvers against torchdiffeq, which stays the reference."""

import math

import pytest
import torch
from torchdiffeq import odeint

from skanode import SolverError
from skanode.dynamics import ConvField, MLPField
from skanode.odeblock import ODEBlock
from skanode.rk import (
    TABLEAUS,
    IntegrationError,
    solve,
    solve_per_sample,
    solve_per_sample_adjoint,
)


class Counting(torch.nn.Module):
    def __init__(self, field):
        super().__init__()
        self.field, self.calls = field, 0

    def forward(self, t, h):
        self.calls += 1
        return self.field(t, h)


def _lively_field(dim, seed, scale=3.0, hidden=32):
    torch.manual_seed(seed)
    field = MLPField(dim, hidden)
    with torch.no_grad():  # livelier dynamics than at initialisation
        for p in field.parameters():
            p.mul_(scale)
    return field


def _reference(field, x, method, tol, times=(0.0, 1.0)):
    return odeint(field, x, torch.tensor(times), method=method, rtol=tol, atol=tol)


# -- one step size per batch ------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(TABLEAUS))
@pytest.mark.parametrize("seed", range(3))
def test_batch_solve_takes_torchdiffeqs_steps(method, seed):
    field = _lively_field(3, seed)
    x = torch.randn(64, 3)
    ours, ref = Counting(field), Counting(field)
    y = solve(ours, x, 1.0, method=method)
    y_ref = _reference(ref, x, method, 1e-3)[-1]
    if method == "fehlberg2":  # torchdiffeq's overshoot past T can cost it one more step
        assert ref.calls - 2 <= ours.calls <= ref.calls
    else:
        assert ours.calls == ref.calls  # the same accepted and rejected steps
    if method != "fehlberg2":  # fehlberg2's error estimate is too coarse to compare states
        exact = _reference(field, x, "dopri5", 1e-9)[-1]
        scale = exact.abs().max().item()
        assert (y - exact).abs().max() < 2e-2 * scale
        assert (y_ref - exact).abs().max() < 2e-2 * scale


def test_batch_solve_converges_to_the_exact_solution():
    field = lambda t, h: -2.0 * h + t  # noqa: E731
    y = solve(field, torch.ones(3, 1), 1.5, rtol=1e-8, atol=1e-8)
    exact = (1 + 0.25) * math.exp(-3.0) + 0.5 * 1.5 - 0.25
    torch.testing.assert_close(y, torch.full((3, 1), exact), rtol=1e-6, atol=1e-6)


def test_batch_gradients_match_torchdiffeq():
    torch.manual_seed(1)
    field = MLPField(3, 16)
    x = torch.randn(16, 3, requires_grad=True)
    grads = []
    for run in (lambda: solve(field, x, 1.0, rtol=1e-6, atol=1e-6),
                lambda: _reference(field, x, "dopri5", 1e-6)[-1]):
        field.zero_grad()
        x.grad = None
        run().pow(2).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in field.parameters()])
    for ours, ref in zip(*grads):
        # both are gradients of discretised solves; they agree to the solver's accuracy
        assert (ours - ref).norm() <= 1e-2 * ref.norm()


# -- one step size per sample ----------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(TABLEAUS))
def test_per_sample_solve_is_each_sample_solved_alone(method):
    field = _lively_field(3, 0)
    x = torch.randn(12, 3)
    calls = Counting(field)
    states, evals = solve_per_sample(calls, x, [1.0], method=method, rtol=1e-6, atol=1e-6)
    assert calls.calls == int(evals.max())  # the lockstep lasts as long as the hardest sample
    for i in range(len(x)):
        ref = _reference(field, x[i:i + 1], method, 1e-6)[-1, 0]
        scale = max(1.0, ref.abs().max().item())
        assert (states[0, i] - ref).abs().max() < 5e-4 * scale, (method, i)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "adaptive_heun"])
def test_per_sample_nfe_is_what_torchdiffeq_needs_for_each_sample_alone(method):
    """The same steps, except that we land on T where torchdiffeq overshoots and interpolates.

    Landing can only save the steps torchdiffeq spends beyond T.
    """
    field = _lively_field(3, 1)
    x = torch.randn(12, 3)
    _, evals = solve_per_sample(field, x, [1.0], method=method)
    alone = []
    for i in range(len(x)):
        counting = Counting(field)
        _reference(counting, x[i:i + 1], method, 1e-3)
        alone.append(counting.calls)
    same = sum(ours == ref for ours, ref in zip(evals.tolist(), alone))
    assert all(ours <= ref for ours, ref in zip(evals.tolist(), alone))
    assert same >= len(x) // 2, (evals.tolist(), alone)


@pytest.mark.parametrize("field", [_lively_field(3, 2), ConvField(2, 3)])
def test_per_sample_results_do_not_depend_on_the_batch(field):
    torch.manual_seed(3)
    x = torch.randn(40, 3) if isinstance(field, MLPField) else torch.randn(40, 2, 4, 4)
    whole, _ = solve_per_sample(field, x, [1.0])
    for rows in (slice(0, 8), slice(8, 31), torch.randperm(40)[:17]):
        part, _ = solve_per_sample(field, x[rows], [1.0])
        torch.testing.assert_close(part[0], whole[0][rows], rtol=0, atol=1e-6)


def test_per_sample_trajectory_lands_on_the_times():
    field = lambda t, h: -h  # noqa: E731
    x = torch.tensor([[1.0], [2.0], [-3.0]])
    states, _ = solve_per_sample(field, x, [0.25, 0.5, 1.0], rtol=1e-8, atol=1e-8)
    expected = torch.stack([x * math.exp(-t) for t in (0.25, 0.5, 1.0)])
    torch.testing.assert_close(states, expected, rtol=1e-6, atol=1e-6)


def test_time_dependent_field_sees_per_sample_times():
    field = lambda t, h: torch.ones_like(h) * (t.view(-1, 1) if torch.is_tensor(t) else t)  # noqa: E731
    states, _ = solve_per_sample(field, torch.zeros(4, 1), [2.0], rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(states[0], torch.full((4, 1), 2.0))  # int_0^2 t dt


def _finite_difference(fn, param, index, eps=1e-3):
    with torch.no_grad():
        old = param[index].item()
        param[index] = old + eps
        plus = fn().item()
        param[index] = old - eps
        minus = fn().item()
        param[index] = old
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("adjoint", [False, True])
def test_per_sample_gradients_match_finite_differences(adjoint):
    torch.manual_seed(4)
    field = MLPField(2, 8).double()
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(field.parameters())

    def loss():  # tolerances far below the differences, so steps do not add noise
        if adjoint:
            out, _ = solve_per_sample_adjoint(field, x, 1.0, params, rtol=1e-12, atol=1e-12)
        else:
            out = solve_per_sample(field, x, [1.0], rtol=1e-12, atol=1e-12)[0][0]
        return out.pow(2).sum()

    loss().backward()
    for param, index in ((field.fc1.weight, (0, 1)), (field.fc1.weight, (3, 0)),
                         (field.fc2.bias, (2,)), (field.fc3.weight, (1, 4)), (x, (2, 1))):
        numeric = _finite_difference(lambda: loss().detach(), param, index, eps=1e-4)
        assert param.grad[index].item() == pytest.approx(numeric, rel=1e-3, abs=1e-7)


def test_adjoint_and_direct_per_sample_gradients_agree():
    field = _lively_field(3, 5, scale=1.5, hidden=16).double()
    x = torch.randn(16, 3, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        field.zero_grad()
        block = ODEBlock(field, step_control="sample", adjoint=adjoint, rtol=1e-8, atol=1e-8,
                         max_num_steps=10_000)
        block(x).pow(2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in field.parameters()]))
        assert (block.stats.backward_nfe > 0) == adjoint
    assert (grads[0] - grads[1]).norm() <= 5e-3 * grads[0].norm()


# -- failures ------------------------------------------------------------------------------------
def test_non_finite_derivative_is_an_integration_error():
    with pytest.raises(IntegrationError, match="non-finite"):
        solve(lambda t, h: h * float("inf"), torch.ones(2, 1), 1.0)
    with pytest.raises(IntegrationError, match="non-finite state or derivative of sample 1"):
        solve_per_sample(lambda t, h: h / (h - 2), torch.tensor([[1.0], [2.0]]), [1.0])


def test_step_size_underflow_is_an_integration_error():
    # a derivative that jumps at t = 0.5 keeps rejecting steps until dt underflows
    def jump(t, h):
        return h * (1e12 if t > 0.5 else 0.0) + 1.0

    with pytest.raises(IntegrationError, match=r"underflow in the step size .* at t=0\.5"):
        solve(jump, torch.ones(1, 1), 1.0, rtol=1e-9, atol=1e-9)


def test_block_wraps_its_failures_as_solver_errors():
    with pytest.raises(SolverError, match="non-finite state or derivative at t=0;"):
        ODEBlock(lambda t, h: h * float("inf"))(torch.ones(2, 1))


def test_block_uses_its_own_solvers_and_torchdiffeq_otherwise():
    torch.manual_seed(0)
    field = MLPField(2, 8)
    x = torch.randn(5, 2)
    own = ODEBlock(field)
    assert own._own_solver
    for other in (ODEBlock(field, adjoint=True), ODEBlock(field, solver="dopri8"),
                  ODEBlock(field, backend="torchdiffeq"),
                  ODEBlock(field, solver_options={"first_step": 0.1})):
        assert not other._own_solver or other.adjoint
        torch.testing.assert_close(other(x), own(x), rtol=1e-2, atol=1e-2)


def test_solve_refuses_methods_without_a_tableau_and_backward_times():
    field = _lively_field(2, 0)
    with pytest.raises(ValueError, match=r"no tableau 'rk4'; it has \['adaptive_heun'"):
        solve(field, torch.ones(3, 2), 1.0, method="rk4")
    with pytest.raises(ValueError, match=r"t1 must be > 0, got -1\.0"):
        solve(field, torch.ones(3, 2), -1.0)

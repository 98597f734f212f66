"""The ODE block: NFE it counts itself, the step budget of every adaptive method, errors."""

import subprocess
import sys

import pytest
import torch
from torchdiffeq import odeint

from skanode import SolverError
from skanode.dynamics import MLPField
from skanode.odeblock import ADAPTIVE_SOLVERS, SOLVERS, ODEBlock, collect_stats


class CountingField(torch.nn.Module):
    """A linear field that counts its own calls, independently of the block."""

    def __init__(self, rate=-1.0):
        super().__init__()
        self.rate = torch.nn.Parameter(torch.tensor(rate))
        self.calls = 0

    def forward(self, t, h):
        self.calls += 1
        return self.rate * h


def test_forward_nfe_matches_calls_of_the_field():
    field = CountingField()
    block = ODEBlock(field)
    x = torch.ones(3, 2)
    out = block(x)
    torch.testing.assert_close(out, x * torch.exp(torch.tensor(-1.0)), atol=1e-2, rtol=1e-2)
    assert block.stats.forward_nfe == field.calls > 0
    assert block.stats.backward_nfe == 0
    before = field.calls
    block(x)  # each solve reports its own count
    assert block.stats.forward_nfe == field.calls - before


def test_direct_backprop_has_zero_backward_nfe():
    field = CountingField()
    block = ODEBlock(field)
    block(torch.ones(2, 2)).sum().backward()
    assert block.stats.backward_nfe == 0
    assert field.rate.grad is not None


def test_adjoint_counts_backward_evaluations_and_gives_the_same_gradient():
    x = torch.ones(2, 2)
    grads = {}
    for adjoint in (False, True):
        field = CountingField()
        block = ODEBlock(field, adjoint=adjoint, rtol=1e-6, atol=1e-6)
        block(x).sum().backward()
        forward = block.stats.forward_nfe
        assert field.calls == forward + block.stats.backward_nfe
        grads[adjoint] = field.rate.grad.clone()
        if adjoint:
            assert block.stats.backward_nfe > 0
    torch.testing.assert_close(grads[True], grads[False], rtol=1e-4, atol=1e-4)


def test_torchdiffeq_backend_is_torchdiffeq():
    torch.manual_seed(0)
    field = MLPField(3, 16)
    x = torch.randn(8, 3)
    block = ODEBlock(field, backend="torchdiffeq")
    reference = odeint(field, x, torch.tensor([0.0, 1.0]), rtol=1e-3, atol=1e-3)[-1]
    torch.testing.assert_close(block(x), reference)


def test_trajectory_starts_at_the_input():
    block = ODEBlock(CountingField(), rtol=1e-6, atol=1e-6)
    x = torch.ones(2, 1)
    traj = block.trajectory(x, [0.0, 0.5, 1.0])
    assert traj.shape == (3, 2, 1)
    torch.testing.assert_close(traj[0], x)
    torch.testing.assert_close(traj[2], x * torch.exp(torch.tensor(-1.0)), rtol=1e-4, atol=1e-4)
    assert block.trajectory(x, [0.5, 1.0]).shape == (2, 2, 1)
    with pytest.raises(ValueError, match="increasing"):
        block.trajectory(x, [1.0, 0.5])


class Stiff(torch.nn.Module):
    def forward(self, t, h):
        return -1e6 * h


class NaNField(torch.nn.Module):
    def forward(self, t, h):
        return h * float("nan")


def test_step_limit_names_method_tolerances_time_and_nfe():
    block = ODEBlock(Stiff(), rtol=1e-9, atol=1e-9, max_num_steps=30)
    with pytest.raises(SolverError) as info:
        block(torch.ones(1, 1))
    msg = str(info.value)
    for part in ("'dopri5'", "rtol=1e-09", "atol=1e-09", "max_num_steps=30",
                 "exceeded the step limit at t=", "NFE reached", "weight decay", "augmentation",
                 "solver='rk4'"):
        assert part in msg, part
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("solver", ADAPTIVE_SOLVERS)
def test_every_adaptive_method_has_a_step_budget(solver):
    field = CountingField(rate=-1e6)
    with pytest.raises(SolverError, match="exceeded the step limit"):
        ODEBlock(field, solver=solver, rtol=1e-9, atol=1e-9, max_num_steps=5)(torch.ones(2, 1))
    assert field.calls <= 5 * 13 + 3  # at most 13 evaluations per step (dopri8)


def test_the_method_registry_comes_from_torchdiffeq():
    assert {"dopri5", "bosh3", "fehlberg2", "adaptive_heun", "dopri8", "rk4", "euler",
            "midpoint", "implicit_adams"} <= set(SOLVERS)
    assert "scipy_solver" not in SOLVERS  # no gradients: rejected with a reason
    assert set(ADAPTIVE_SOLVERS) == {"dopri5", "bosh3", "fehlberg2", "adaptive_heun", "dopri8"}


@pytest.mark.parametrize("solver, what", [
    ("dopri5", "non-finite state or derivative at t=0;"),
    ("bosh3", "non-finite state or derivative at t=0;"),
    ("dopri8", "underflow in dt"),  # torchdiffeq's own assert, relabelled
    ("rk4", "the state became non-finite at t=1;"),
])
def test_non_finite_dynamics_are_a_solver_error(solver, what):
    options = {"step_size": 0.1} if solver == "rk4" else None
    with pytest.raises(SolverError, match=what):
        ODEBlock(NaNField(), solver=solver, solver_options=options)(torch.ones(2, 1))


def test_a_fixed_step_failure_names_the_step_and_its_own_remedies():
    block = ODEBlock(NaNField(), solver="rk4", solver_options={"step_size": 0.5})
    with pytest.raises(SolverError) as info:
        block(torch.ones(2, 1))
    msg = str(info.value)
    assert "'rk4' (step_size=0.5) failed: the state became non-finite" in msg
    assert "smaller solver_options['step_size']" in msg and "solver='dopri5'" in msg
    assert "lower lr" in msg  # a non-finite state: the weights or the inputs are too large
    for adaptive_only in ("rtol", "max_num_steps", "solver='rk4'"):
        assert adaptive_only not in msg, adaptive_only
    with pytest.raises(SolverError, match=r"'rk4' \(step_size=1\) failed"):  # one step
        ODEBlock(NaNField(), solver="rk4")(torch.ones(2, 1))


@pytest.mark.parametrize("solver", ["dopri5", "bosh3", "rk4"])
def test_an_assert_in_the_users_field_is_not_relabelled(solver):
    class Asserting(torch.nn.Module):
        def forward(self, t, h):
            assert h.shape[1] == 3, "my field wants 3 columns"
            return h

    options = {"step_size": 0.1} if solver == "rk4" else None
    with pytest.raises(AssertionError, match="my field wants 3 columns"):
        ODEBlock(Asserting(), solver=solver, solver_options=options)(torch.ones(2, 1))


BUDGET_UNDER_O = """
import torch
from skanode.odeblock import ODEBlock
from skanode import SolverError
class Stiff(torch.nn.Module):
    def forward(self, t, h): return -1e6 * h
class Explode(torch.nn.Module):
    def forward(self, t, h): return h.exp() * 1e30
for field, solver in ((Stiff(), 'dopri5'), (Explode(), 'dopri5'), (Stiff(), 'bosh3')):
    try:
        ODEBlock(field, solver=solver, rtol=1e-9, atol=1e-9, max_num_steps=50)(torch.ones(1, 1))
        print('NO ERROR')
    except SolverError as err:
        print('SolverError:', str(err)[:80])
"""


def test_budget_holds_under_python_optimize():
    """torchdiffeq's asserts vanish under ``python -O``; the block's own checks do not."""
    out = subprocess.run([sys.executable, "-O", "-c", BUDGET_UNDER_O], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("SolverError:") == 3, out.stdout


def test_fixed_step_solver_and_options():
    block = ODEBlock(CountingField(), solver="rk4", solver_options={"step_size": 0.25})
    block(torch.ones(1, 1))
    assert block.stats.forward_nfe == 16  # 4 steps x 4 stages


def test_invalid_solver_and_options_are_errors():
    with pytest.raises(ValueError, match="'solver' parameter of ODEBlock must be one of"):
        ODEBlock(CountingField(), solver="dopri")
    with pytest.raises(ValueError, match="no gradient flows"):
        ODEBlock(CountingField(), solver="scipy_solver")
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['stepsize'\]"):
        ODEBlock(CountingField(), solver="rk4", solver_options={"stepsize": 0.1})
    with pytest.raises(ValueError, match="use max_num_steps for the step limit"):
        ODEBlock(CountingField(), solver_options={"max_steps": 3})


@pytest.mark.parametrize("solver, options, match", [
    ("euler", {"step_size": 0}, r"'step_size'\] must be a positive finite number, got 0 "),
    ("rk4", {"step_size": -0.1}, "got -0.1"),
    ("rk4", {"step_size": "0.1"}, "got '0.1'"),
    ("rk4", {"step_size": float("nan")}, "got nan"),
    ("rk4", {"step_size": True}, "got True"),
    ("dopri5", {"first_step": float("inf")}, "'first_step'"),
    ("dopri5", {"dfactor": 1.0}, r"'dfactor'\] must be a number in \(0, 1\)"),
    ("bosh3", {"safety": 0}, "'safety'"),
    ("dopri5", {"norm": "max"}, r"'norm'\] must be a function"),
    ("rk4", {"grid_constructor": 3}, "'grid_constructor'"),
])
def test_option_values_are_checked_before_any_solve(solver, options, match):
    # torchdiffeq failed deep in the solve ("unsupported range: 0 -> inf") or looped
    with pytest.raises(ValueError, match=match):
        ODEBlock(CountingField(), solver=solver, solver_options=options)


def test_solver_options_of_a_built_block_can_change():
    block = ODEBlock(CountingField(), solver="rk4", solver_options={"step_size": 0.25})
    block.set_solver_options(solver_options={"step_size": 0.5})
    block(torch.ones(1, 1))
    assert block.stats.forward_nfe == 8 and block.solver == "rk4"  # 2 steps x 4 stages
    with pytest.raises(ValueError, match="'step_size'"):
        block.set_solver_options(solver_options={"step_size": 0})
    with pytest.raises(ValueError, match="'rtol' parameter of ODEBlock"):
        block.set_solver_options(rtol=-1.0)
    assert (block.solver_options, block.rtol) == ({"step_size": 0.5}, 1e-3)  # unchanged


def test_collect_stats_sums_what_the_fields_counted():
    fields = [CountingField(), CountingField(rate=-5.0)]
    model = torch.nn.Sequential(*(ODEBlock(f) for f in fields))
    model(torch.ones(3, 1))
    stats = collect_stats(model)
    assert stats.forward_nfe == fields[0].calls + fields[1].calls
    assert fields[1].calls > fields[0].calls  # the stiffer field needed more steps
    assert stats.backward_nfe == 0


def test_a_fixed_step_grid_longer_than_the_step_limit_is_refused():
    # torchdiffeq built the whole grid first: step_size=1e-9 ran out of memory
    with pytest.raises(ValueError, match="makes 1000000000 steps over"):
        ODEBlock(CountingField(), solver="euler", solver_options={"step_size": 1e-9})
    ODEBlock(CountingField(), solver="euler", solver_options={"step_size": 1e-3})


def test_min_step_above_max_step_is_refused():
    try:
        ODEBlock(CountingField(), solver_options={"min_step": 0.1, "max_step": 1.0})
    except ValueError as err:  # torchdiffeq 0.2.3 has neither option
        pytest.skip(str(err))
    with pytest.raises(ValueError, match=r"min_step=2\.0 is larger than max_step=0\.1"):
        ODEBlock(CountingField(), solver_options={"min_step": 2.0, "max_step": 0.1})

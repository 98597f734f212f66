import subprocess
import sys

import pytest
import torch
from torchdiffeq import odeint

from skanode import SolverError
from skanode.dynamics import MLPField
from skanode.odeblock import ODEBlock, collect_stats


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


def test_step_limit_raises_solver_error_with_details():
    block = ODEBlock(CountingField(rate=-2000.0), rtol=1e-9, atol=1e-9, max_num_steps=20)
    with pytest.raises(SolverError) as info:
        block(torch.ones(2, 2))
    msg = str(info.value)
    for part in ("dopri5", "rtol=1e-09", "max_num_steps=20", "NFE reached", "rk4"):
        assert part in msg
    assert isinstance(info.value, RuntimeError)


def test_step_limit_holds_under_python_optimize():
    code = (
        "import torch\n"
        "from skanode.odeblock import ODEBlock\n"
        "from skanode import SolverError\n"
        "class F(torch.nn.Module):\n"
        "    def forward(self, t, h): return -1e5 * h\n"
        "try:\n"
        "    ODEBlock(F(), rtol=1e-9, atol=1e-9, max_num_steps=50)(torch.ones(1, 1))\n"
        "except SolverError as e: print('SolverError', e)\n"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert "SolverError" in out.stdout, out.stderr


def test_fixed_step_solver_and_options():
    block = ODEBlock(CountingField(), solver="rk4", solver_options={"step_size": 0.25})
    block(torch.ones(1, 1))
    assert block.stats.forward_nfe == 16  # 4 steps x 4 stages


def test_invalid_solver_and_options_are_errors():
    with pytest.raises(ValueError, match="Unknown solver 'dopri'"):
        ODEBlock(CountingField(), solver="dopri")
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['stepsize'\]"):
        ODEBlock(CountingField(), solver="rk4", solver_options={"stepsize": 0.1})


def test_collect_stats_sums_blocks():
    model = torch.nn.Sequential(ODEBlock(CountingField()), ODEBlock(CountingField()))
    model(torch.ones(1, 1))
    stats = collect_stats(model)
    assert stats.forward_nfe == sum(b.stats.forward_nfe for b in model)

"""The ODE block's budget: step limit, underflow, non-finite states, under python -O too."""

import subprocess
import sys

import pytest
import torch

from skanode import SolverError
from skanode.odeblock import ODEBlock


class Stiff(torch.nn.Module):
    def forward(self, t, h):
        return -1e6 * h


class Explode(torch.nn.Module):
    def forward(self, t, h):
        return h.exp() * 1e30


def test_step_limit_names_method_tolerances_time_and_nfe():
    block = ODEBlock(Stiff(), rtol=1e-9, atol=1e-9, max_num_steps=30)
    with pytest.raises(SolverError) as info:
        block(torch.ones(1, 1))
    msg = str(info.value)
    for part in ("'dopri5'", "rtol=1e-09", "atol=1e-09", "max_num_steps=30", "at t=",
                 "NFE reached", "weight decay", "augmentation", "fixed-step"):
        assert part in msg, part


def test_non_finite_state_is_a_solver_error():
    with pytest.raises(SolverError, match=r"non-finite|underflow|step limit"):
        ODEBlock(Explode(), max_num_steps=50)(torch.ones(2, 1))


def test_misspelt_option_is_an_error_not_a_warning():
    with pytest.raises(ValueError, match="Unknown option"):
        ODEBlock(Stiff(), solver_options={"max_steps": 3})


SCRIPT = """
import torch
from skanode.odeblock import ODEBlock
from skanode import SolverError
class Stiff(torch.nn.Module):
    def forward(self, t, h): return -1e6 * h
class Explode(torch.nn.Module):
    def forward(self, t, h): return h.exp() * 1e30
for field in (Stiff(), Explode()):
    try:
        ODEBlock(field, rtol=1e-9, atol=1e-9, max_num_steps=50)(torch.ones(1, 1))
        print('NO ERROR')
    except SolverError as err:
        print('SolverError:', str(err)[:80])
"""


def test_budget_holds_under_python_optimize():
    out = subprocess.run([sys.executable, "-O", "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("SolverError:") == 2, out.stdout

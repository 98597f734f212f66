"""The ODE block: integrate a vector field from ``t = 0`` to ``t = T``.

This is the only module that talks to torchdiffeq.  It owns the count of
function evaluations (NFE): every call of the vector field goes through a thin
counting wrapper, so the forward NFE of the last solve and the evaluations made
since (the backward NFE, non-zero only with the adjoint method) are data read
through :attr:`ODEBlock.stats`, never a counter reset by a caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from .dopri5 import IntegrationError, dopri5
from .exceptions import SolverError

__all__ = ["ADAPTIVE_SOLVERS", "SOLVERS", "ODEBlock", "SolveStats", "collect_stats"]

try:  # the registry of methods torchdiffeq knows; private, so guarded
    from torchdiffeq._impl.odeint import SOLVERS as _TORCHDIFFEQ_SOLVERS
except ImportError:  # pragma: no cover - future torchdiffeq layouts
    _TORCHDIFFEQ_SOLVERS = {}

# Function evaluations per attempted step; bounds the NFE of a solve by its step limit.
_EVALS_PER_STEP = {
    "dopri5": 6,
    "bosh3": 3,
    "fehlberg2": 3,
    "adaptive_heun": 2,
    "dopri8": 13,
}
ADAPTIVE_SOLVERS = tuple(_EVALS_PER_STEP)
# torchdiffeq checks each step's state with an assert; under ``python -O`` that check is
# gone, so the counting wrapper takes it over (and only then, as it costs a sync per call).
_CHECK_FINITE = not __debug__
SOLVERS = tuple(sorted(_TORCHDIFFEQ_SOLVERS)) or (*ADAPTIVE_SOLVERS, "euler", "rk4")
_REMEDIES = (
    "Try a looser tolerance (larger rtol/atol), weight decay on the dynamics, "
    "augmentation (ANODE, augment_dim > 0), a larger max_num_steps, "
    "or a fixed-step solver such as solver='rk4'."
)


@dataclass(frozen=True)
class SolveStats:
    """Function evaluations of the last solve.

    Attributes
    ----------
    forward_nfe : int
        Evaluations of the vector field during the last forward solve.
    backward_nfe : int
        Evaluations since then, i.e. during the backward pass.  Zero with direct
        backpropagation through the solver, non-zero with the adjoint method.
    """

    forward_nfe: int = 0
    backward_nfe: int = 0


class _Tally:
    """Evaluation counts of a field; a plain object, as nn.Module attribute writes are slow."""

    __slots__ = ("calls", "last_t", "limit", "start")

    def __init__(self) -> None:
        self.calls = 0
        self.limit = None  # absolute call count at which the current solve is aborted
        self.start = 0  # call count when the current solve began
        self.last_t = None  # time of the latest evaluation, for error messages

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)


class _CountingField(nn.Module):
    """Wraps a vector field, counting its calls and enforcing an evaluation budget."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field
        self.tally = _Tally()
        self.settings = ""  # solver description for error messages

    @property
    def calls(self) -> int:
        """Evaluations of the field so far."""
        return self.tally.calls

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        self._tick(t, h)
        return self.field(t, h)

    def _tick(self, t: torch.Tensor | float, h: torch.Tensor) -> None:
        """Count one evaluation and enforce the budget."""
        tally = self.tally
        tally.calls += 1
        tally.last_t = t
        if tally.limit is not None and tally.calls > tally.limit:
            # An explicit check, not an assert, so the budget holds under ``python -O``.
            raise SolverError(self.message("exceeded the step limit"))
        if _CHECK_FINITE and not torch.isfinite(h).all():
            raise SolverError(self.message("the state became non-finite"))

    def counted(self, fn: Callable) -> Callable:
        """Return ``fn`` wrapped to count its calls and enforce the budget."""
        tick = self._tick

        def f(t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
            tick(t, h)
            return fn(t, h)

        return f

    def lean(self) -> Callable:
        """Return the counted field for one solve, bound to its parameters when it can be."""
        evaluator = getattr(self.field, "evaluator", None)
        return self.counted(evaluator() if evaluator is not None else self.field)

    def message(self, what: str) -> str:
        tally = self.tally
        where = f" at t={float(tally.last_t):.6g}" if tally.last_t is not None else ""
        return _message(self.settings, what + where, tally.calls - tally.start)


class ODEBlock(nn.Module):
    """Integrate ``dh/dt = f(t, h)`` from ``h(0) = x`` over ``[0, T]``.

    Parameters
    ----------
    dynamics : torch.nn.Module
        Vector field called as ``dynamics(t, h)``.  If it has a method
        ``evaluator()`` returning such a function bound to its current
        parameters, skanode's dopri5 calls that instead (once per solve), which
        skips module hooks of ``dynamics`` in that path.
    integration_time : float, default=1.0
        End time ``T``.
    solver : str, default="dopri5"
        Any torchdiffeq method (``"dopri5"``, ``"bosh3"``, ``"rk4"``, ...).
    rtol, atol : float, default=1e-3
        Relative and absolute tolerances of adaptive solvers.
    adjoint : bool, default=False
        Backpropagate with the adjoint method (memory ``O(1)`` in the number
        of steps, but a second ODE solve in the backward pass).
    max_num_steps : int, default=1000
        Step limit of an adaptive solve (forward, and backward with the
        adjoint).  Exceeding it raises :class:`~skanode.SolverError`.
    solver_options : dict, default=None
        Further options for the torchdiffeq method, e.g. ``{"step_size": 0.1}``
        for fixed-step solvers.  Unknown option names are an error.
    backend : {"skanode", "torchdiffeq"}, default="skanode"
        ``"skanode"`` solves ``dopri5`` without adjoint or options with
        :func:`skanode.dopri5.dopri5`, a lean re-implementation of torchdiffeq's
        (same steps and NFE, less overhead); everything else, and
        :meth:`trajectory`, always uses torchdiffeq.
    """

    def __init__(
        self,
        dynamics: nn.Module,
        *,
        integration_time: float = 1.0,
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-3,
        adjoint: bool = False,
        max_num_steps: int = 1000,
        solver_options: Mapping[str, Any] | None = None,
        backend: str = "skanode",
    ) -> None:
        super().__init__()
        if backend not in ("skanode", "torchdiffeq"):
            raise ValueError(f"backend must be 'skanode' or 'torchdiffeq', got {backend!r}.")
        _check_solver(solver, solver_options)
        if not integration_time > 0:
            raise ValueError(f"integration_time must be positive, got {integration_time!r}.")
        if int(max_num_steps) != max_num_steps or max_num_steps < 1:
            raise ValueError(f"max_num_steps must be a positive integer, got {max_num_steps!r}.")
        self.field = _CountingField(dynamics)
        self.integration_time = float(integration_time)
        self.solver = solver
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.max_num_steps = int(max_num_steps)
        self.solver_options = dict(solver_options or {})
        self.backend = backend
        self.field.settings = (
            f"ODE solver {solver!r} (rtol={rtol:g}, atol={atol:g}, max_num_steps={max_num_steps})"
        )
        self._forward_nfe = 0
        self._forward_end = 0

    @property
    def dynamics(self) -> nn.Module:
        """The vector field being integrated."""
        return self.field.field

    @property
    def stats(self) -> SolveStats:
        """NFE of the last forward solve and of the backward pass since."""
        return SolveStats(self._forward_nfe, self.field.calls - self._forward_end)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the state ``h(T)``, same shape as ``x``."""
        if self._lean:
            return self._counted(lambda: dopri5(self.field.lean(), x, self.integration_time,
                                                rtol=self.rtol, atol=self.atol))
        times = torch.tensor([0.0, self.integration_time], dtype=x.dtype, device=x.device)
        return self._counted(lambda: self._odeint(x, times))[-1]

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Return the states at ``times``, shape ``(len(times), *x.shape)``.

        ``times`` must be increasing and non-negative; ``h(0) = x``.  Solved with
        torchdiffeq's dense output, so the last state agrees with :meth:`forward`
        within the tolerance.
        """
        times = torch.as_tensor(times, dtype=x.dtype, device=x.device).reshape(-1)
        if len(times) == 0 or times[0] < 0 or (times[1:] <= times[:-1]).any():
            raise ValueError("times must be a non-empty, strictly increasing, non-negative grid.")
        prepend = bool(times[0] > 0)
        if prepend:
            times = torch.cat([times.new_zeros(1), times])
        if len(times) == 1:
            return x.unsqueeze(0)
        out = self._counted(lambda: self._odeint(x, times))
        return out[1:] if prepend else out

    @property
    def _lean(self) -> bool:
        # skanode's own dopri5 serves the common case; torchdiffeq everything else.
        return (self.backend == "skanode" and self.solver == "dopri5" and not self.adjoint
                and not self.solver_options)

    def _odeint(self, x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        kwargs = dict(rtol=self.rtol, atol=self.atol, method=self.solver,
                      options=self.solver_options or None)
        if self.adjoint:
            return odeint_adjoint(self.field, x, times,
                                  adjoint_params=tuple(self.field.parameters()), **kwargs)
        return odeint(self.field, x, times, **kwargs)

    def _counted(self, solve: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Run ``solve`` under this block's evaluation budget and NFE bookkeeping."""
        field, tally = self.field, self.field.tally
        start = tally.start = tally.calls
        # One budget for this forward solve; reset below for the backward solve.
        tally.limit = self._limit_from(start)
        try:
            out = solve()
            if not torch.isfinite(out[-1]).all():
                raise SolverError(field.message("the state became non-finite"))
        # torchdiffeq signals step-size underflow and NaN states by assert.
        except (AssertionError, IntegrationError) as err:
            raise SolverError(field.message(str(err))) from err
        finally:
            self._forward_nfe = tally.calls - start
            self._forward_end = tally.start = tally.calls
            tally.limit = self._limit_from(tally.calls)
        return out

    def _limit_from(self, calls: int) -> int | None:
        per_step = _EVALS_PER_STEP.get(self.solver)
        if per_step is None:  # fixed-grid methods stop by construction
            return None
        return calls + self.max_num_steps * per_step + 2  # +2: initial step-size selection

    def extra_repr(self) -> str:
        """Summarise the options in ``repr``."""
        return (
            f"solver={self.solver!r}, rtol={self.rtol:g}, atol={self.atol:g}, "
            f"T={self.integration_time:g}, adjoint={self.adjoint}"
        )


def _message(settings: str, what: str, nfe: int) -> str:
    return f"{settings} failed: {what}; NFE reached {nfe}. {_REMEDIES}"


def collect_stats(module: nn.Module) -> SolveStats:
    """Sum the :class:`SolveStats` of every :class:`ODEBlock` inside ``module``."""
    blocks = [sub for sub in module.modules() if isinstance(sub, ODEBlock)]
    return SolveStats(
        sum(b.stats.forward_nfe for b in blocks),
        sum(b.stats.backward_nfe for b in blocks),
    )


def _check_solver(solver: str, options: Mapping[str, Any] | None) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"Unknown solver {solver!r}; choose one of {list(SOLVERS)}.")
    if not options:
        return
    cls = _TORCHDIFFEQ_SOLVERS.get(solver)
    if cls is None:
        return
    named = set()
    for klass in inspect.getmro(cls):  # options may be consumed by a base solver class
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            named |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    allowed = named - {"self", "func", "y0", "rtol", "atol", "max_num_steps"}
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"Unknown option(s) {sorted(unknown)} for solver {solver!r}; "
            f"valid options are {sorted(allowed)} (use max_num_steps for the step limit)."
        )

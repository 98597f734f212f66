"""The ODE block: integrate a vector field from ``t = 0`` to ``t = T``.

This is the only module that talks to torchdiffeq.  It owns the count of
function evaluations (NFE): every call of the vector field goes through a thin
counting wrapper, so the forward NFE of the last solve and the evaluations made
since (the backward NFE, non-zero only with the adjoint method) are data read
through :attr:`ODEBlock.stats`, never a counter reset by a caller.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from . import hyperparams as hp
from .exceptions import SolverError
from .rk import TABLEAUS, IntegrationError, solve, solve_per_sample, solve_per_sample_adjoint

__all__ = [
    "ADAPTIVE_SOLVERS",
    "PER_SAMPLE_SOLVERS",
    "SOLVERS",
    "UNSUPPORTED_SOLVERS",
    "ODEBlock",
    "SolveStats",
    "collect_stats",
    "keeps_stats",
]


def _torchdiffeq_methods() -> dict[str, type]:
    """Torchdiffeq's method registry (``{name: solver class}``).

    torchdiffeq has no public list of its methods; its private registry is read
    here and nowhere else.  ``tests/test_odeblock.py`` checks that it is found,
    so a change of torchdiffeq's layout fails the tests instead of silently
    shrinking the list.
    """
    try:
        from torchdiffeq._impl.odeint import SOLVERS as registry
    except ImportError:  # pragma: no cover - a future torchdiffeq layout
        return {}
    return dict(registry)


def _keywords(cls: type) -> set[str]:
    """Keyword arguments a torchdiffeq solver class accepts, base classes included."""
    named = set()
    for klass in inspect.getmro(cls):
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            named |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return named


_METHODS = _torchdiffeq_methods()
# scipy's solvers run on numpy copies without gradients, and LSODA estimates Jacobians by
# finite differences over the whole batch: not a method to train a network with.
UNSUPPORTED_SOLVERS = {"scipy_solver": "it integrates on numpy copies, so no gradient flows"}
SOLVERS = tuple(sorted(set(_METHODS) - set(UNSUPPORTED_SOLVERS))) or (
    "adaptive_heun", "bosh3", "dopri5", "dopri8", "euler", "fehlberg2", "midpoint", "rk4")
# Adaptive methods are those with a step limit of their own; every one gets skanode's.
ADAPTIVE_SOLVERS = tuple(name for name in SOLVERS if name not in _METHODS
                         or "max_num_steps" in _keywords(_METHODS[name]))
# Fixed-grid methods take the same steps for every sample; skanode's own tableaus give the
# adaptive ones per-sample steps.  (The implicit Adams methods iterate to a tolerance over the
# whole batch, and dopri8 has no tableau here: they stay per batch.)
PER_SAMPLE_SOLVERS = tuple(name for name in SOLVERS if name in TABLEAUS or (
    name not in ADAPTIVE_SOLVERS and name not in ("implicit_adams", "fixed_adams")))
# Function evaluations per attempted step bound the NFE of a solve by its step limit.
_EVALS_PER_STEP = {**{name: tab.stages for name, tab in TABLEAUS.items()}, "dopri8": 13,
                   "tsit5": 6}
_MAX_EVALS_PER_STEP = max(_EVALS_PER_STEP.values())  # for adaptive methods not listed
# torchdiffeq checks each step's state with an assert; under ``python -O`` that check is
# gone, so the counting wrapper takes it over (and only then, as it costs a sync per call).
_CHECK_FINITE = not __debug__
_REMEDIES = (
    "Try a looser tolerance (larger rtol/atol), weight decay on the dynamics, "
    "augmentation (ANODE, augment_dim > 0), a larger max_num_steps, "
    "or a fixed-step solver such as solver='rk4'."
)
# A fixed grid has no tolerance or step limit to loosen: only its step can change.
_FIXED_REMEDIES = (
    "Try a smaller solver_options['step_size'], an adaptive solver such as "
    "solver='dopri5', weight decay on the dynamics, or augmentation (ANODE, augment_dim > 0)."
)
_NONFINITE_REMEDY = "Scale the inputs (StandardScaler) and lower lr if the weights blew up; "


@dataclass(frozen=True)
class SolveStats:
    """Function evaluations of the last solve.

    Attributes
    ----------
    forward_nfe : int
        Evaluations of the vector field during the last forward solve (with
        per-sample steps: lockstep evaluations of the whole batch).
    backward_nfe : int
        Evaluations since then, i.e. during the backward pass.  Zero with direct
        backpropagation through the solver, non-zero with the adjoint method.
    forward_nfe_per_sample : float or None
        With per-sample steps, the mean over samples of the evaluations each
        sample needed (what it would cost solved alone); None otherwise.
    """

    forward_nfe: int = 0
    backward_nfe: int = 0
    forward_nfe_per_sample: float | None = None


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
        self.remedies = _REMEDIES

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

    def lean(self, row_invariant: bool = False) -> Callable:
        """Return the counted field for one solve, bound to its parameters when it can be."""
        evaluator = getattr(self.field, "evaluator", None)
        if evaluator is None:
            return self.counted(self.field)
        return self.counted(evaluator(row_invariant) if row_invariant else evaluator())

    def message(self, what: str) -> str:
        tally = self.tally
        t = tally.last_t
        if isinstance(t, torch.Tensor):  # may carry a gradient, or hold one time per sample
            t = t.detach().min() if t.numel() > 1 else t.detach()
        where = f" at t={float(t):.6g}" if t is not None and " at t=" not in what else ""
        return _message(self.settings, what + where, tally.calls - tally.start, self.remedies)


@hp.documented
class ODEBlock(nn.Module):
    """Integrate ``dh/dt = f(t, h)`` from ``h(0) = x`` over ``[0, T]``.

    The solver options (``solver``, ``rtol``, ``atol``, ``adjoint``,
    ``max_num_steps``, ``solver_options``, ``integration_time``,
    ``step_control``) and their defaults are those of
    :data:`skanode.hyperparams.SOLVER`, the same the estimators take.

    ``step_control="sample"`` gives every sample of the batch its own step size
    (:func:`skanode.rk.solve_per_sample`), so a sample's result does not depend
    on the other samples of its batch; ``"batch"`` uses one step size per batch,
    as torchdiffeq does; ``"auto"`` (the default) solves per batch in train mode
    and per sample in eval mode (``block.eval()``), where the solver supports it.

    Parameters
    ----------
    dynamics : torch.nn.Module
        Vector field called as ``dynamics(t, h)``.  If it has a method
        ``evaluator()`` returning such a function bound to its current
        parameters, skanode's solvers call that instead (once per solve), which
        skips module hooks of ``dynamics`` in that path.
    backend : {"skanode", "torchdiffeq"}, default="skanode"
        ``"skanode"`` solves ``dopri5``, ``bosh3``, ``fehlberg2`` and
        ``adaptive_heun`` without options with :mod:`skanode.rk` (per batch:
        torchdiffeq's algorithm, mostly its steps and NFE (see :mod:`skanode.rk`),
        with less overhead; per sample: its
        own lockstep solver, also with the adjoint); everything else uses
        torchdiffeq.
    **options
        The solver options above.
    """

    @hp.accepts(hp.SOLVER)
    def __init__(self, dynamics: nn.Module, *, backend: str = "skanode", **options: Any) -> None:
        super().__init__()
        if backend not in ("skanode", "torchdiffeq"):
            raise ValueError(f"backend must be 'skanode' or 'torchdiffeq', got {backend!r}.")
        self.field = _CountingField(dynamics)
        self.backend = backend
        self._configure(options)
        self._forward_nfe = 0
        self._forward_end = 0
        self._per_sample_nfe = None

    def set_solver_options(self, **options: Any) -> None:
        """Change solver options of the block; the others keep their values.

        The values are checked as the constructor checks them; on an error the
        block keeps all of its options.

        Parameters
        ----------
        **options
            Any of the solver options above.
        """
        current = {p.name: getattr(self, p.name) for p in hp.SOLVER}
        self._configure(hp.resolve([hp.SOLVER], {**current, **options}, owner="ODEBlock"))

    def _configure(self, options: Mapping[str, Any]) -> None:
        _check_options(options["solver"], options["solver_options"])
        step = (options["solver_options"] or {}).get("step_size")
        if step is not None and options["solver"] not in ADAPTIVE_SOLVERS:
            # torchdiffeq builds the whole grid first: a tiny step exhausts memory
            steps = math.ceil(float(options["integration_time"]) / float(step))
            if steps > options["max_num_steps"]:
                raise hp.InvalidParameterError(
                    f"solver_options['step_size']={step!r} makes {steps} steps over "
                    f"[0, {options['integration_time']:g}], more than max_num_steps="
                    f"{options['max_num_steps']}; take a larger step or raise max_num_steps.")
        if options["step_control"] == "sample":
            _check_per_sample(options["solver"], options["solver_options"], self.backend)
        self.integration_time = float(options["integration_time"])
        self.solver = options["solver"]
        self.rtol = float(options["rtol"])
        self.atol = float(options["atol"])
        self.adjoint = bool(options["adjoint"])
        self.max_num_steps = int(options["max_num_steps"])
        self.solver_options = dict(options["solver_options"] or {})
        self.step_control = options["step_control"]
        if self.solver in ADAPTIVE_SOLVERS:
            self.field.settings = (
                f"ODE solver {self.solver!r} (rtol={self.rtol:g}, atol={self.atol:g}, "
                f"max_num_steps={self.max_num_steps})")
            self.field.remedies = _REMEDIES
        else:  # without a step_size torchdiffeq takes one step over [0, T]
            step = self.solver_options.get("step_size", self.integration_time)
            self.field.settings = f"ODE solver {self.solver!r} (step_size={step:g})"
            self.field.remedies = _FIXED_REMEDIES

    @property
    def dynamics(self) -> nn.Module:
        """The vector field being integrated."""
        return self.field.field

    @property
    def stats(self) -> SolveStats:
        """NFE of the last forward solve and of the backward pass since."""
        return SolveStats(self._forward_nfe, self.field.calls - self._forward_end,
                          self._per_sample_nfe)

    @property
    def per_sample(self) -> bool:
        """Whether the next solve controls its steps per sample (see ``step_control``)."""
        if self.step_control == "batch" or not self._own_solver:
            return False
        return self.step_control == "sample" or not self.training

    @property
    def batch_independent(self) -> bool:
        """Whether eval-mode solves (predictions) give each sample a result of its own."""
        if self.step_control == "batch":
            return False
        if self.solver in ADAPTIVE_SOLVERS:
            return self._own_solver
        return self.solver in PER_SAMPLE_SOLVERS  # a fixed grid is the same for every sample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the state ``h(T)``, same shape as ``x``."""
        if self._own_solver and self.per_sample:
            return self._per_sample(x, [self.integration_time])[0]
        self._per_sample_nfe = None
        if self._own_solver and not self.adjoint:
            return self._counted(lambda: solve(self.field.lean(), x, self.integration_time,
                                               method=self.solver, rtol=self.rtol,
                                               atol=self.atol))
        times = torch.tensor([0.0, self.integration_time], dtype=x.dtype, device=x.device)
        return self._counted(lambda: self._odeint(x, times))[-1]

    def _per_sample(self, x: torch.Tensor, times: Sequence[float]) -> torch.Tensor:
        """Solve with per-sample steps; return the states at ``times``."""
        # Predictions (eval mode) compute every row independently of the others to the last
        # bit; training needs no more than per-sample steps, and skips the padding it costs.
        f = self.field.lean(row_invariant=not self.training)
        if self.adjoint and len(times) == 1 and torch.is_grad_enabled():
            params = tuple(p for p in self.field.parameters() if p.requires_grad)
            solve_ = lambda: solve_per_sample_adjoint(  # noqa: E731
                f, x, times[0], params, method=self.solver, rtol=self.rtol, atol=self.atol)
            state, evals = self._counted(solve_)
            states = state.unsqueeze(0)
        else:
            states, evals = self._counted(lambda: solve_per_sample(
                f, x, times, method=self.solver, rtol=self.rtol, atol=self.atol))
        self._per_sample_nfe = float(evals.double().mean())
        return states

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
        if self._own_solver and self.per_sample:
            later = self._per_sample(x, [float(t) for t in times[1:]])
            out = torch.cat([x.unsqueeze(0), later])
        else:
            out = self._counted(lambda: self._odeint(x, times))
        return out[1:] if prepend else out

    @property
    def _own_solver(self) -> bool:
        # skanode's Runge-Kutta solvers serve their methods; torchdiffeq everything else.
        return (self.backend == "skanode" and self.solver in TABLEAUS
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
        except IntegrationError as err:
            raise SolverError(field.message(str(err))) from err
        except AssertionError as err:
            # torchdiffeq signals step-size underflow and NaN states by assert; an assert
            # of the user's own vector field is theirs and passes through unchanged.
            if not _raised_in_torchdiffeq(err):
                raise
            raise SolverError(field.message(str(err))) from err
        finally:
            self._forward_nfe = tally.calls - start
            self._forward_end = tally.start = tally.calls
            tally.limit = self._limit_from(tally.calls)
        return out

    def _limit_from(self, calls: int) -> int | None:
        if self.solver not in ADAPTIVE_SOLVERS:  # fixed-grid methods stop by construction
            return None
        per_step = _EVALS_PER_STEP.get(self.solver, _MAX_EVALS_PER_STEP)
        return calls + self.max_num_steps * per_step + 2  # +2: initial step-size selection

    def extra_repr(self) -> str:
        """Summarise the options in ``repr``."""
        return (
            f"solver={self.solver!r}, rtol={self.rtol:g}, atol={self.atol:g}, "
            f"T={self.integration_time:g}, adjoint={self.adjoint}, "
            f"step_control={self.step_control!r}"
        )


def _message(settings: str, what: str, nfe: int, remedies: str = _REMEDIES) -> str:
    if "non-finite" in what:
        remedies = _NONFINITE_REMEDY + remedies[0].lower() + remedies[1:]
    return f"{settings} failed: {what}; NFE reached {nfe}. {remedies}"


def collect_stats(module: nn.Module) -> SolveStats:
    """Sum the solve statistics of every part of ``module`` that keeps them.

    A part keeps statistics when its ``stats`` attribute is a :class:`SolveStats`:
    every :class:`ODEBlock`, and :class:`~skanode.modules.ResNet`, whose NFE is
    its number of residual-block evaluations.
    """
    parts = _stats_of_parts(module)
    per_sample = [s.forward_nfe_per_sample for s in parts if s.forward_nfe_per_sample is not None]
    return SolveStats(sum(s.forward_nfe for s in parts), sum(s.backward_nfe for s in parts),
                      sum(per_sample) if per_sample else None)


def _stats_of_parts(module: nn.Module) -> list[SolveStats]:
    return [stats for sub in module.modules()
            if isinstance(stats := getattr(sub, "stats", None), SolveStats)]


def keeps_stats(module: nn.Module) -> bool:
    """Whether any part of ``module`` counts evaluations (see :func:`collect_stats`)."""
    return bool(_stats_of_parts(module))


def _raised_in_torchdiffeq(err: BaseException) -> bool:
    """Whether ``err`` was raised by torchdiffeq's own code (its innermost frame)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("torchdiffeq")


def _check_per_sample(solver: str, options: Mapping[str, Any] | None, backend: str) -> None:
    if solver not in PER_SAMPLE_SOLVERS:
        raise ValueError(
            f"step_control='sample' is not available for solver={solver!r}; use one of "
            f"{list(PER_SAMPLE_SOLVERS)}, or step_control='batch' or 'auto'.")
    if solver in ADAPTIVE_SOLVERS and options:
        raise ValueError(
            f"step_control='sample' solves {solver!r} with skanode's own per-sample solver, "
            f"which takes no solver_options (got {sorted(options)}); leave them out, or use "
            "step_control='batch' or 'auto'.")
    if solver in ADAPTIVE_SOLVERS and backend == "torchdiffeq":
        raise ValueError("step_control='sample' needs backend='skanode': torchdiffeq controls "
                         "one step size per batch.")


def _check_options(solver: str, options: Mapping[str, Any] | None) -> None:
    if not options:
        return
    cls = _METHODS.get(solver)
    if cls is None:
        return
    allowed = _keywords(cls) - {"self", "func", "y0", "rtol", "atol", "max_num_steps"}
    unknown = set(options) - allowed
    if unknown:
        raise hp.InvalidParameterError(
            f"Unknown option(s) {sorted(unknown)} for solver {solver!r}; "
            f"valid options are {sorted(allowed)} (use max_num_steps for the step limit)."
        )
    for name, (accepts, what) in _OPTION_RANGES.items():
        value = options.get(name)
        if value is None:
            continue
        number = None if isinstance(value, bool) else _as_number(value)
        if number is None or not accepts(number):
            raise hp.InvalidParameterError(
                f"solver_options[{name!r}] must be {what}, got {value!r} (solver {solver!r}).")
    for name in ("norm", "grid_constructor"):
        if options.get(name) is not None and not callable(options[name]):
            raise hp.InvalidParameterError(
                f"solver_options[{name!r}] must be a function, got {options[name]!r} "
                f"(solver {solver!r}).")
    low, high = options.get("min_step"), options.get("max_step")
    if low is not None and high is not None and _as_number(low) > _as_number(high):
        raise hp.InvalidParameterError(
            f"solver_options: min_step={low!r} is larger than max_step={high!r}.")


# torchdiffeq passes these on unchecked and fails deep in a solve, or never ends one.
_OPTION_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "step_size": (lambda v: 0.0 < v < math.inf, "a positive finite number"),
    "first_step": (lambda v: 0.0 < v < math.inf, "a positive finite number"),
    "min_step": (lambda v: 0.0 <= v < math.inf, "a finite number >= 0"),
    "max_step": (lambda v: v > 0.0, "a positive number"),
    "safety": (lambda v: 0.0 < v <= 1.0, "a number in (0, 1]"),
    "ifactor": (lambda v: 1.0 <= v < math.inf, "a finite number >= 1"),
    "dfactor": (lambda v: 0.0 < v < 1.0, "a number in (0, 1)"),
}


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (or a one-element tensor), else None."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.numel() == 1 and not value.is_complex() else None
    return float(value) if isinstance(value, numbers.Real) else None

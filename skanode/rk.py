"""Embedded Runge-Kutta solvers with batch or per-sample step control.

Two ways to control the step size of an adaptive method over a batch of
initial states:

- :func:`solve` (``step_control="batch"``, the paper's training): one step
  size for the whole batch, from one error norm over all of its elements.  It
  follows torchdiffeq step by step (same tableaus, initial step selection, RMS
  error norm and controller) and differs only where that costs time without
  changing the solution: step-size control runs on Python floats off the
  autograd graph, the last step lands on ``T`` instead of overshooting and
  interpolating, stage states are built in place, and the time reaches the
  vector field as a Python float.  Mostly the two take the same steps and NFE
  (``tests/test_rk.py``: batches of 64); landing on ``T``, and float64 step
  arithmetic tipping a borderline accept / reject, can change the count,
  mostly downwards (single rows of a lively dopri5 field: equal in 15 of 20
  cases, 6-24 fewer otherwise; bosh3 -6 to +3).
- :func:`solve_per_sample` (``step_control="sample"``): every sample has its own
  time, step size, error norm and accept / reject decision, evaluated in
  lockstep so the vector field still runs on the whole batch.  A sample's
  result then depends on that sample alone, not on the batch it comes in.  The
  vector field receives a ``(batch,)`` tensor of times.  Gradients flow by
  direct backpropagation, or by :func:`solve_per_sample_adjoint`.

Methods: ``"dopri5"``, ``"bosh3"``, ``"fehlberg2"``, ``"adaptive_heun"`` (the
tableaus are the published ones, arranged as torchdiffeq arranges them, so both
take the same steps).  torchdiffeq stays the reference: tests compare states,
NFE and gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["TABLEAUS", "IntegrationError", "Tableau", "solve", "solve_per_sample",
           "solve_per_sample_adjoint"]

_SAFETY, _IFACTOR, _DFACTOR = 0.9, 10.0, 0.2


class IntegrationError(ArithmeticError):
    """The step size underflowed or the derivative is not finite."""


@dataclass(frozen=True)
class Tableau:
    """An embedded explicit Runge-Kutta method.

    Stage ``i + 1`` is evaluated at ``t + c[i] * dt`` on
    ``y + dt * sum_j a[i][j] * k_j``; the solution is
    ``y + dt * sum_j b[j] * k_j`` and its error estimate
    ``dt * sum_j e[j] * k_j``.  The last stage's derivative starts the next step
    (torchdiffeq's convention).

    Attributes
    ----------
    c : tuple of float
        Nodes of the stages after the first.
    a : tuple of tuple of float
        Stage weights, one row per stage after the first.
    b : tuple of float
        Solution weights, one per stage.
    e : tuple of float
        Error weights, one per stage.
    order : int
        Order of the step-size controller.
    """

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    e: tuple[float, ...]
    order: int

    @property
    def solution_is_last_stage(self) -> bool:
        """Whether the solution is the last stage's input (first same as last)."""
        return self.b[-1] == 0.0 and tuple(self.b[:-1]) == tuple(self.a[-1])

    @property
    def stages(self) -> int:
        """Evaluations of the vector field per step."""
        return len(self.c)


TABLEAUS = {
    # Dormand & Prince (1980), 5(4)
    "dopri5": Tableau(
        c=(1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
        a=((1 / 5,),
           (3 / 40, 9 / 40),
           (44 / 45, -56 / 15, 32 / 9),
           (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
           (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
           (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
        b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
        e=(35 / 384 - 1951 / 21600, 0.0, 500 / 1113 - 22642 / 50085, 125 / 192 - 451 / 720,
           -2187 / 6784 + 12231 / 42400, 11 / 84 - 649 / 6300, -1 / 60),
        order=5),
    # Bogacki & Shampine (1989), 3(2)
    "bosh3": Tableau(
        c=(1 / 2, 3 / 4, 1.0),
        a=((1 / 2,), (0.0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
        b=(2 / 9, 1 / 3, 4 / 9, 0.0),
        e=(2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
        order=3),
    # Fehlberg (1969), 2(1)
    "fehlberg2": Tableau(
        c=(1 / 2, 1.0),
        a=((1 / 2,), (1 / 256, 255 / 256)),
        b=(1 / 512, 255 / 256, 1 / 512),
        e=(-1 / 512, 0.0, 1 / 512),
        order=2),
    # Heun-Euler, 2(1)
    "adaptive_heun": Tableau(
        c=(1.0,),
        a=((1.0,),),
        b=(0.5, 0.5),
        e=(0.5, -0.5),
        order=2),
}


def _tableau(method: str) -> Tableau:
    if method not in TABLEAUS:
        raise ValueError(f"skanode.rk has no tableau {method!r}; it has {sorted(TABLEAUS)} "
                         "(the ODE block hands other methods to torchdiffeq).")
    return TABLEAUS[method]


def _terms(weights: Sequence[float]) -> tuple[tuple[int, float], ...]:
    """Keep the non-zero ``(j, w_j)`` pairs, so no zero term costs an operation."""
    return tuple((j, w) for j, w in enumerate(weights) if w != 0.0)


# -- one step size for the batch ------------------------------------------------------------
def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(x.numel())


def _combine(y: torch.Tensor, ks: list[torch.Tensor], terms, h: float) -> torch.Tensor:
    """Return ``y + h * sum(w_j k_j)`` over the ``(j, w_j)`` in ``terms``."""
    (j, w), *rest = terms
    out = torch.add(y, ks[j], alpha=h * w)
    for j, w in rest:
        out.add_(ks[j], alpha=h * w)
    return out


@torch.no_grad()
def _initial_step(f, t0: float, y0, f0, rtol: float, atol: float, order: int) -> float:
    # Hairer, Norsett & Wanner, Solving ODEs I, sec. II.4, as torchdiffeq does it.
    scale = atol + y0.abs() * rtol
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    if not math.isfinite(d0 + d1):
        raise IntegrationError(f"non-finite state or derivative at t={t0:.6g}")
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    if h0 <= 0.0:
        raise IntegrationError(f"underflow in the initial step size at t={t0:.6g}")
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / order)
    return min(100 * h0, h1)


def solve(
    f: Callable[[float, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    t1: float,
    *,
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
) -> torch.Tensor:
    """Integrate ``dy/dt = f(t, y)`` from ``y(0) = y0`` to ``y(t1)``, one step size per batch.

    Parameters
    ----------
    f : callable
        ``f(t, y)`` with ``t`` a Python float.
    y0 : torch.Tensor
        Initial state (any shape; the error norm is over all elements).
    t1 : float
        End time, ``t1 > 0``.
    method : {"dopri5", "bosh3", "fehlberg2", "adaptive_heun"}, default="dopri5"
        The tableau.
    rtol, atol : float, default=1e-3
        Tolerances.

    Returns
    -------
    torch.Tensor
        The state at ``t1``, differentiable with respect to ``y0`` and the
        parameters of ``f``.

    Raises
    ------
    IntegrationError
        If the step size no longer advances the time.  A step limit is the
        caller's business (the ODE block counts evaluations of ``f``).
    ValueError
        If ``method`` has no tableau here or ``t1`` is not positive.
    """
    tab = _tableau(method)
    if not t1 > 0.0:
        raise ValueError(f"solve integrates forward from 0: t1 must be > 0, got {t1!r}.")
    a_terms, b_terms, e_terms = [_terms(row) for row in tab.a], _terms(tab.b), _terms(tab.e)
    last_is_solution = tab.solution_is_last_stage
    k1 = f(0.0, y0)
    h = _initial_step(f, 0.0, y0, k1, rtol, atol, tab.order)
    t, y = 0.0, y0
    while t < t1:
        if not t + h > t:
            raise IntegrationError(f"underflow in the step size ({h:.3g}) at t={t:.6g}")
        last = t + h >= t1
        step = t1 - t if last else h
        ks = [k1]
        for c, terms in zip(tab.c, a_terms):
            stage = _combine(y, ks, terms, step)
            ks.append(f(t1 if last and c == 1.0 else t + c * step, stage))
        y_new = stage if last_is_solution else _combine(y, ks, b_terms, step)
        with torch.no_grad():
            err = _combine(torch.zeros_like(y), ks, e_terms, step)
            tol = torch.maximum(y.abs(), y_new.abs()).mul_(rtol).add_(atol)
            ratio = _rms(err.div_(tol))
        if ratio <= 1.0:
            t = t1 if last else t + step
            y, k1 = y_new, ks[-1]
        if ratio == 0.0:
            h = step * _IFACTOR
        elif ratio != ratio:  # NaN: let the step shrink; the caller's budget ends a loop
            h = step * _DFACTOR
        else:
            floor = 1.0 if ratio < 1.0 else _DFACTOR
            h = step * min(_IFACTOR, max(_SAFETY / ratio ** (1.0 / tab.order), floor))
    return y


# -- one step size per sample --------------------------------------------------------------
def _sample_rms(x: torch.Tensor) -> torch.Tensor:
    """RMS over every axis but the first: one norm per sample, float64."""
    return x.flatten(1).double().pow(2).mean(dim=1).sqrt()


def _per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(batch,)`` -> broadcastable against ``like`` (``(batch, 1, ...)``), ``like``'s dtype."""
    return v.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def _weighted(ks, terms):
    """``sum(w_j k_j)`` over the ``(j, w_j)`` in ``terms``."""
    (j, w), *rest = terms
    acc = ks[j] * w
    for j, w in rest:
        acc.add_(ks[j], alpha=w)
    return acc


def _stage(y, ks, terms, step_y):
    """``y + step * sum(w_j k_j)`` with a per-sample step."""
    return torch.addcmul(y, step_y, _weighted(ks, terms))


_NODES: dict = {}


def _nodes(tab: Tableau, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the tableau's nodes as a float64 ``(stages, 1)`` column, and where they are 1."""
    key = (tab, device)
    if key not in _NODES:
        nodes = torch.tensor(tab.c, dtype=torch.float64, device=device).unsqueeze(1)
        _NODES[key] = nodes, nodes == 1.0
    return _NODES[key]


@torch.no_grad()
def _initial_steps(f, y0, f0, rtol, atol, order) -> torch.Tensor:
    """Per-sample initial steps, float64 ``(batch,)`` (torchdiffeq's rule per sample)."""
    scale = atol + y0.abs() * rtol
    d0, d1 = _sample_rms(y0 / scale), _sample_rms(f0 / scale)
    bad = ~torch.isfinite(d0 + d1)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise IntegrationError(f"non-finite state or derivative of sample {first} at t=0")
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
    f1 = f(h0.to(y0.dtype), y0 + _per_sample(h0, y0) * f0)
    d2 = _sample_rms((f1 - f0) / scale) / h0
    flat = (d1 <= 1e-15) & (d2 <= 1e-15)
    h1 = torch.where(flat, torch.clamp(h0 * 1e-3, min=1e-6),
                     (0.01 / torch.maximum(d1, d2)) ** (1.0 / order))
    return torch.minimum(100 * h0, h1)


@dataclass
class _Lockstep:
    """The per-sample state of a lockstep solve, and its steps."""

    t: torch.Tensor  # (batch,) float64 time of each sample
    h: torch.Tensor  # (batch,) float64 proposed step
    target: torch.Tensor  # (batch,) float64 next time each sample must land on
    order: int  # of the step-size controller

    @torch.no_grad()
    def propose(self, active: torch.Tensor, what: str = "") -> tuple[torch.Tensor, torch.Tensor]:
        """Return each sample's next step (0 when inactive) and whether it lands on its target."""
        reach = self.t + self.h
        stuck = active & ~(reach > self.t)
        if stuck.any():
            i = int(stuck.nonzero()[0])
            raise IntegrationError(f"underflow in the step size ({float(self.h[i]):.3g}) of "
                                   f"sample {i}{what} at t={float(self.t[i]):.6g}")
        last = reach >= self.target
        step = torch.where(active, torch.where(last, self.target - self.t, self.h), 0.0)
        return step, last

    @torch.no_grad()
    def advance(self, step, last, ratio, active) -> torch.Tensor:
        """Accept the samples whose error ratio is at most 1; return the accept mask."""
        accept = active & (ratio <= 1.0)
        self.t = torch.where(accept, torch.where(last, self.target, self.t + step), self.t)
        self.h = torch.where(active, _controller(step, ratio, self.order), self.h)
        return accept


def _attempt(f, tab: Tableau, terms, y, k1, state: _Lockstep, step, last, rtol, atol):
    """One Runge-Kutta attempt for every sample: stages, new states and error ratios."""
    a_terms, b_terms, e_terms = terms
    step_y = _per_sample(step, y)
    nodes, ends = _nodes(tab, step.device)
    # Every stage's time at once, computed in float64 and handed to f in y's dtype;
    # a sample's last step evaluates its end stages at its target time exactly.
    times = torch.where(last & ends, state.target, torch.addcmul(state.t, nodes, step))
    ks = [k1]
    for t_stage, row in zip(times.to(y.dtype).unbind(), a_terms):
        stage = _stage(y, ks, row, step_y)
        ks.append(f(t_stage, stage))
    y_new = stage if tab.solution_is_last_stage else _stage(y, ks, b_terms, step_y)
    with torch.no_grad():
        err = _weighted(ks, e_terms).mul_(step_y)
        tol = torch.maximum(y.abs(), y_new.abs()).mul_(rtol).add_(atol)
        ratio = _sample_rms(err / tol)
    return y_new, ks, ratio


def _controller(step: torch.Tensor, ratio: torch.Tensor, order: int) -> torch.Tensor:
    """Next step sizes from the error ratios (torchdiffeq's controller, per sample)."""
    ratio = torch.nan_to_num(ratio, nan=float("inf"))  # NaN: shrink; the budget ends a loop
    # A zero ratio gives an infinite factor, clamped to the largest growth.
    factor = torch.clamp(_SAFETY / ratio ** (1.0 / order), max=_IFACTOR)
    floor = torch.where(ratio < 1.0, 1.0, torch.full_like(ratio, _DFACTOR))
    return step * torch.maximum(factor, floor)


def solve_per_sample(
    f: Callable[[torch.Tensor | float, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    times: Sequence[float],
    *,
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate every sample with its own step size, the batch evaluated in lockstep.

    Parameters
    ----------
    f : callable
        ``f(t, y)`` with ``t`` a ``(batch,)`` tensor of the samples' times, in
        ``y``'s dtype.
    y0 : torch.Tensor
        Initial states, ``(batch, ...)``; each sample's error norm is over its
        own elements.
    times : sequence of float
        Increasing times ``> 0`` at which to return the states; each sample's
        steps land on them exactly.
    method : {"dopri5", "bosh3", "fehlberg2", "adaptive_heun"}, default="dopri5"
        The tableau.
    rtol, atol : float, default=1e-3
        Tolerances.

    Returns
    -------
    states : torch.Tensor
        ``(len(times), batch, ...)``, differentiable with respect to ``y0`` and the
        parameters of ``f``.
    evals : torch.Tensor
        ``(batch,)``: the evaluations of ``f`` each sample needed (those made
        while it had not reached the last time), its own NFE.

    Raises
    ------
    IntegrationError
        If a sample's step size no longer advances its time.
    """
    tab = _tableau(method)
    terms = ([_terms(row) for row in tab.a], _terms(tab.b), _terms(tab.e))
    n, grid = len(y0), torch.tensor([float(t) for t in times], dtype=torch.float64,
                                    device=y0.device)
    k1 = f(y0.new_zeros(n), y0)  # per-sample times from the first evaluation on
    state = _Lockstep(t=torch.zeros(n, dtype=torch.float64, device=y0.device),
                      h=_initial_steps(f, y0, k1, rtol, atol, tab.order),
                      target=grid[0].expand(n).clone(), order=tab.order)
    evals = torch.full((n,), 2, dtype=torch.long, device=y0.device)
    index = torch.zeros(n, dtype=torch.long, device=y0.device)  # next grid time per sample
    outputs = y0.new_zeros(len(grid), *y0.shape) if len(grid) > 1 else None
    y = y0
    while (active := index < len(grid)).any():
        step, last = state.propose(active)
        y_new, ks, ratio = _attempt(f, tab, terms, y, k1, state, step, last, rtol, atol)
        evals.add_(active, alpha=tab.stages)
        accept = state.advance(step, last, ratio, active)
        keep = accept.view(-1, *([1] * (y.dim() - 1)))
        y = torch.where(keep, y_new, y)
        k1 = torch.where(keep, ks[-1], k1)
        landed = accept & last
        if landed.any():
            with torch.no_grad():
                rows = landed.nonzero().squeeze(1)
                slots = index[rows]
            if outputs is not None:
                outputs = outputs.index_put((slots, rows), y[rows])
            with torch.no_grad():
                index[rows] += 1
                more = index[rows] < len(grid)
                state.target[rows[more]] = grid[index[rows[more]]]
    states = y.unsqueeze(0) if outputs is None else outputs
    return states, evals


# -- the adjoint with per-sample steps -----------------------------------------------------
class _PerSampleAdjoint(torch.autograd.Function):
    """Forward: a per-sample solve without a graph.  Backward: the adjoint ODE, per sample.

    The backward pass integrates ``y`` and ``a = dL/dy`` from ``T`` back to 0 with
    per-sample step control on ``(y, a)``, and accumulates the parameter gradient
    ``int a . df/dtheta dt`` as a quadrature over each sample's accepted steps; the
    parameter part is left out of the error norm (a "seminorm", Kidger et al.,
    2021), so it needs no per-sample copies of the parameters.
    """

    @staticmethod
    def forward(ctx, y0, f, t1, method, rtol, atol, evals_out, *params):
        with torch.no_grad():
            states, evals = solve_per_sample(f, y0, [t1], method=method, rtol=rtol, atol=atol)
        evals_out.append(evals)
        ctx.f, ctx.t1, ctx.method, ctx.rtol, ctx.atol = f, t1, method, rtol, atol
        ctx.save_for_backward(states[0], *params)
        return states[0]

    @staticmethod
    def backward(ctx, grad_yT):
        yT, *params = ctx.saved_tensors
        trainable = [p for p in params if p.requires_grad]
        grad_y0, grads = _adjoint_solve(ctx.f, yT, grad_yT, ctx.t1, TABLEAUS[ctx.method],
                                        ctx.rtol, ctx.atol, trainable)
        grads = iter(grads)
        param_grads = [next(grads) if p.requires_grad else None for p in params]
        return (grad_y0, None, None, None, None, None, None, *param_grads)


def _adjoint_solve(f, yT, aT, t1, tab, rtol, atol, params):
    """Solve the adjoint system from ``T`` back to 0; return ``dL/dy0`` and ``dL/dparams``.

    The augmented state is ``z = [y, a]`` along axis 1 and runs in ``s = T - t``:
    ``dy/ds = -f``, ``da/ds = a . df/dy``.  Each step evaluates its first stage
    afresh (no first-same-as-last), so every stage's graph belongs to the step and
    the accepted samples' parameter terms ``sum_j b_j dt (a_j . df_j/dtheta)`` are
    one backward pass over the step's stages.
    """
    dim = yT.shape[1]

    def evaluate(s, z):
        t = t1 - s  # per-sample times, as in the forward solve
        with torch.enable_grad():
            y = z[:, :dim].detach().requires_grad_(True)
            a = z[:, dim:].detach()
            fy = f(t, y)
            (vjp,) = torch.autograd.grad(fy, y, a, retain_graph=bool(params))
        return torch.cat([-fy.detach(), vjp], dim=1), (fy, a)

    terms = ([_terms(row) for row in tab.a], _terms(tab.b), _terms(tab.e))
    grads = [torch.zeros_like(p) for p in params]
    z = torch.cat([yT, aT], dim=1)
    n = len(z)
    start = evaluate(z.new_zeros(n), z)
    state = _Lockstep(t=torch.zeros(n, dtype=torch.float64, device=z.device),
                      h=_initial_steps(lambda s, zz: evaluate(s, zz)[0], z, start[0], rtol,
                                       atol, tab.order),
                      target=torch.full((n,), float(t1), dtype=torch.float64, device=z.device),
                      order=tab.order)
    graphs: list = []

    def stage(s, zz):  # an evaluation whose graph the step's quadrature needs
        k, graph = evaluate(s, zz)
        graphs.append(graph)
        return k

    while (active := state.t < state.target).any():
        step, last = state.propose(active, " of the adjoint solve (s = T - t)")
        k1, graph = start if start is not None else evaluate(state.t.to(z.dtype), z)
        start, graphs[:] = None, [graph]
        z_new, _, ratio = _attempt(stage, tab, terms, z, k1, state, step, last, rtol, atol)
        accept = state.advance(step, last, ratio, active)
        if params and accept.any():
            weight = _per_sample(step * accept, yT)
            pairs = [(fy, (b * weight) * a) for b, (fy, a) in zip(tab.b, graphs) if b != 0.0]
            outs, cotangents = zip(*pairs)
            for g, c in zip(grads, torch.autograd.grad(outs, params, cotangents,
                                                       allow_unused=True)):
                if c is not None:
                    g.add_(c)
        z = torch.where(_per_sample(accept, z).bool(), z_new, z)
    return z[:, dim:], grads


def solve_per_sample_adjoint(
    f: Callable[[torch.Tensor | float, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    t1: float,
    params: Sequence[torch.Tensor],
    *,
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`solve_per_sample` to ``t1``, with gradients by the adjoint method.

    Memory does not grow with the number of steps: the forward solve keeps no
    graph, and the backward pass solves the adjoint ODE with per-sample steps.

    Parameters
    ----------
    f : callable
        The vector field, as for :func:`solve_per_sample`.
    y0 : torch.Tensor
        Initial states, ``(batch, ...)``.
    t1 : float
        End time.
    params : sequence of torch.Tensor
        The parameters of ``f`` that gradients are wanted for.
    method : str, default="dopri5"
        The tableau.
    rtol, atol : float, default=1e-3
        Tolerances, forward and backward.

    Returns
    -------
    state : torch.Tensor
        The states at ``t1``.
    evals : torch.Tensor
        Per-sample NFE of the forward solve.
    """
    evals: list[torch.Tensor] = []
    out = _PerSampleAdjoint.apply(y0, f, float(t1), method, rtol, atol, evals, *params)
    return out, evals[0]

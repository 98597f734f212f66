"""A lean Dormand-Prince 5(4) solver for ``h(0) = x -> h(T)``.

The ODE block uses it for ``solver="dopri5"`` when only the final state is
needed and gradients flow by direct backpropagation, which is how every model of
the paper trains.  It follows torchdiffeq's dopri5 step by step (same tableau,
initial step selection, RMS error norm and step-size controller, so the same
accepted steps and NFE) and differs only where that costs time without changing
the solution:

- step-size control runs on Python floats under ``torch.no_grad()``: the error
  estimate, its norm and the next step size never enter the autograd graph;
- the last step is shortened to land on ``T`` instead of overshooting and
  interpolating, so no dense-output polynomial is fitted at every step;
- stage states are built with in-place ``add_(k, alpha=...)``, a few small
  operations per stage;
- the time is passed to the vector field as a Python float.

torchdiffeq remains the reference: tests check that both give the same final
state within the tolerance and the same NFE.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["IntegrationError", "dopri5"]

# Dormand-Prince 5(4) tableau: nodes, stage weights, 5th-order weights, error weights.
_C = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_A = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_E = (
    35 / 384 - 1951 / 21600,
    0.0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 + 12231 / 42400,
    11 / 84 - 649 / 6300,
    -1 / 60,
)
# The non-zero (stage, weight) pairs of each row, so no zero term costs an operation.
_A_TERMS = tuple(tuple((j, a) for j, a in enumerate(row) if a != 0.0) for row in _A)
_E_TERMS = tuple((j, e) for j, e in enumerate(_E) if e != 0.0)
_ORDER = 5
_SAFETY, _IFACTOR, _DFACTOR = 0.9, 10.0, 0.2


class IntegrationError(ArithmeticError):
    """The step size underflowed or the derivative is not finite."""


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(x.numel())


def _combine(y: torch.Tensor, ks: list[torch.Tensor], terms, h: float) -> torch.Tensor:
    """Return ``y + h * sum(a_j k_j)`` over the ``(j, a_j)`` in ``terms``."""
    (j, a), *rest = terms
    out = torch.add(y, ks[j], alpha=h * a)
    for j, a in rest:
        out.add_(ks[j], alpha=h * a)
    return out


@torch.no_grad()
def _initial_step(f, t0: float, y0, f0, rtol: float, atol: float) -> float:
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
        h1 = (0.01 / max(d1, d2)) ** (1.0 / _ORDER)
    return min(100 * h0, h1)


def dopri5(
    f: Callable[[float, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    t1: float,
    *,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    t0: float = 0.0,
) -> torch.Tensor:
    """Integrate ``dy/dt = f(t, y)`` from ``y(t0) = y0`` and return ``y(t1)``.

    Parameters
    ----------
    f : callable
        ``f(t, y)`` with ``t`` a Python float.
    y0 : torch.Tensor
        Initial state (any shape; the error norm is over all elements).
    t1 : float
        End time, ``t1 > t0``.
    rtol, atol : float, default=1e-3
        Tolerances.
    t0 : float, default=0.0
        Start time.

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
    """
    k1 = f(t0, y0)
    h = _initial_step(f, t0, y0, k1, rtol, atol)
    t, y = t0, y0
    while t < t1:
        if not t + h > t:
            raise IntegrationError(f"underflow in the step size ({h:.3g}) at t={t:.6g}")
        last = t + h >= t1
        step = t1 - t if last else h
        ks = [k1]
        for c, terms in zip(_C, _A_TERMS):
            ks.append(f(t + c * step, _combine(y, ks, terms, step)))
        y_new = _combine(y, ks, _A_TERMS[-1], step)
        ks.append(f(t1 if last else t + step, y_new))
        with torch.no_grad():
            (j, e), *rest = _E_TERMS
            err = ks[j] * (step * e)
            for j, e in rest:
                err.add_(ks[j], alpha=step * e)
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
            h = step * min(_IFACTOR, max(_SAFETY / ratio ** (1.0 / _ORDER), floor))
    return y

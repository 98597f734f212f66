"""Exceptions raised by skanode."""

from __future__ import annotations

__all__ = ["DivergenceError", "SolverError"]


class SolverError(RuntimeError):
    """The ODE solver could not integrate the dynamics.

    Raised when an adaptive solver exceeds its step budget, when its step size
    underflows, or when the state stops being finite.  The message names the
    solver, its tolerances, the step limit, the time reached and the number of
    function evaluations (NFE), and suggests remedies.
    """


class DivergenceError(RuntimeError):
    """Training or prediction produced non-finite numbers (NaN or inf).

    Raised when a training batch gives a non-finite loss, or a prediction a
    non-finite output.  After a failed ``fit`` the estimator holds the weights of
    its last finished epoch, never the non-finite ones.
    """

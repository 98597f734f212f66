"""Vector fields ``f(t, h)`` that define the ODE ``dh/dt = f(h, t)``.

Every field here has the call signature ``field(t, h) -> dh/dt`` with ``h`` a
batch of states and ``t`` a Python float, a scalar tensor (what torchdiffeq
passes) or a ``(batch,)`` tensor with one time per sample (what the per-sample
solvers of :mod:`skanode.rk` pass).  ``evaluator(row_invariant=True)`` gives a
function whose result for a row does not depend on the other rows of the
batch, to the last bit on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NONLINEARITIES", "ConvField", "MLPField", "TapedMLP", "make_activation",
           "row_invariant_linear"]

NONLINEARITIES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}
# The same functions without a module call per evaluation (the field's hot path).
_FUNCTIONS = {"relu": torch.relu, "softplus": F.softplus, "tanh": torch.tanh}


def make_activation(name: str) -> nn.Module:
    """Return the activation module called ``name``.

    Parameters
    ----------
    name : {"relu", "softplus", "tanh"}
        Name of the nonlinearity.

    Returns
    -------
    torch.nn.Module
        A fresh activation module.

    Raises
    ------
    ValueError
        If ``name`` is not a known nonlinearity.
    """
    try:
        return NONLINEARITIES[name]()
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown nonlinearity {name!r}; choose one of {sorted(NONLINEARITIES)}."
        ) from None


def _with_time(bias: torch.Tensor, time_weight: torch.Tensor, t: torch.Tensor | float):
    """``bias + t * time_weight``: a constant time input folded into a bias.

    For per-sample times ``t`` of shape ``(batch,)`` the result has one row per
    sample, ``(batch, len(bias))``.
    """
    if not isinstance(t, torch.Tensor):
        return torch.add(bias, time_weight, alpha=t)
    if t.dim() == 1:
        return torch.addr(bias, t, time_weight)
    return bias + t * time_weight


def _per_sample(t: torch.Tensor | float) -> bool:
    return isinstance(t, torch.Tensor) and t.dim() == 1


# A row's result of a CPU matrix product depends on the row's memory alignment (measured
# with MKL: last-bit differences whenever a row of K floats starts off a 64-byte line), and
# adaptive step control amplifies last-bit differences into differences of the tolerance's
# size.  The per-sample path therefore pads the inner dimension of its products to a
# multiple of 16 float32 columns, so that every row is aligned wherever it sits in its batch.
_ROW_ALIGN = 16


def _aligned(a: torch.Tensor) -> torch.Tensor:
    """Pad the last axis of ``a`` with zeros to a multiple of ``_ROW_ALIGN``."""
    extra = -a.shape[-1] % _ROW_ALIGN
    return F.pad(a, (0, extra)) if extra else a


def _row_invariant(weight: torch.Tensor, bias: torch.Tensor | None
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``x -> F.linear(x, weight, bias)`` whose rows do not depend on their batch."""
    w = _aligned(weight)
    if weight.shape[0] > 1:
        return lambda x: F.linear(_aligned(x), w, bias)
    # One output takes a matrix-vector kernel, whose rows do depend on where they sit
    # (measured: last-bit differences); with a zero second output it is a matrix product.
    w = F.pad(w, (0, 0, 0, 1))
    b = None if bias is None else F.pad(bias, (0, 1))
    return lambda x: F.linear(_aligned(x), w, b)[:, :1]


def row_invariant_linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)`` computed so that each row's result does not depend on its batch."""
    return _row_invariant(layer.weight, layer.bias)(x)


class MLPField(nn.Module):
    """The paper's MLP vector field ``(1 +) dim -> hidden -> hidden -> dim``.

    With ``time_dependent=True`` the time ``t`` is an extra input of the first
    layer, as in the paper: ``fc1`` is ``nn.Linear(1 + dim, hidden)`` whose first
    column multiplies ``t``.  Instead of concatenating a column of ``t`` to every
    batch, that column is folded into the bias,
    ``W [t, h] + b == W_h h + (b + t W_t)``, with the same parameters.

    Parameters
    ----------
    dim : int
        Dimension of the state ``h``.
    hidden_dim : int
        Width of the two hidden layers.
    time_dependent : bool, default=True
        Whether ``f`` depends on ``t``.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation after each hidden layer.
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int,
        *,
        time_dependent: bool = True,
        nonlinearity: str = "relu",
    ) -> None:
        super().__init__()
        self.dim = dim
        self.time_dependent = time_dependent
        self.fc1 = nn.Linear(int(time_dependent) + dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, hidden_dim)
        self.fc3 = nn.Linear(hidden_dim, dim)
        self.act = make_activation(nonlinearity)
        self._act = _FUNCTIONS[nonlinearity]

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        """Evaluate ``f(t, h)``; ``h`` has shape ``(batch, dim)``."""
        return self.evaluator()(t, h)

    def evaluator(self, row_invariant: bool = False
                  ) -> Callable[[torch.Tensor | float, torch.Tensor], torch.Tensor]:
        """Return ``f(t, h)`` bound to the current parameters.

        A solver calls ``f`` tens of times per solve; binding the parameters (and
        splitting off the time column) once per solve saves that work on every
        call.  The result is valid while the parameters are unchanged (one solve).

        Parameters
        ----------
        row_invariant : bool, default=False
            Compute each row so that its result does not depend, to the last bit,
            on the other rows of the batch or on where it sits (at some cost:
            the products' inner dimensions are zero-padded).  Per-sample solves
            and predictions ask for it.

        Returns
        -------
        callable
            ``f(t, h)``.
        """
        w1, b1, w2, b2 = self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
        w3, b3, act, timed = self.fc3.weight, self.fc3.bias, self._act, self.time_dependent
        if timed:
            w1_t, w1 = w1[:, 0], w1[:, 1:]

        if row_invariant:  # zero-padded weights that keep every row aligned
            lin1, lin2, lin3 = _row_invariant(w1, None), _row_invariant(w2, b2), \
                _row_invariant(w3, b3)

            def f(t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
                out = lin1(h)
                out = act(out + (_with_time(b1, w1_t, t) if timed else b1))
                return lin3(act(lin2(out)))

            return f

        # F.linear's own product, with the weights transposed once per solve, not per call.
        w1, w2, w3 = w1.t(), w2.t(), w3.t()

        def f(t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
            out = act(torch.addmm(_with_time(b1, w1_t, t) if timed else b1, h, w1))
            out = act(torch.addmm(b2, out, w2))
            return torch.addmm(b3, out, w3)

        return f


    def taped(self) -> TapedMLP:
        """Return a recording evaluator with a hand-written backward pass.

        For training with skanode's batch solver (:func:`skanode.rk.solve_taped`):
        the solve runs without an autograd graph while this records each
        evaluation's activations, and the backward pass applies
        :meth:`TapedMLP.vjp` per evaluation and forms the weight gradients once,
        as three matrix products over all evaluations.  Same results as autograd
        through :meth:`evaluator` up to float summation order, with a fraction of
        its operations.
        """
        return TapedMLP(self)


# Derivatives of the nonlinearities from their outputs, which the tape keeps.
_DERIVATIVES = {
    "relu": lambda g, a: torch.ops.aten.threshold_backward(g, a, 0.0),
    "tanh": lambda g, a: g * (1.0 - a * a),
    "softplus": lambda g, a: g * -torch.expm1(-a),  # sigmoid(z) = 1 - exp(-softplus(z))
}


class TapedMLP:
    """Evaluations of an :class:`MLPField` recorded for a hand-written backward pass.

    Calling it evaluates ``f(t, h)`` (``t`` a Python float) without a graph and
    records the input and both hidden activations; :meth:`vjp` returns the
    cotangent of an evaluation's input and keeps those of its layers, from which
    :meth:`parameter_grads` forms the gradients of all evaluations at once.
    Valid while the field's parameters are unchanged (one training step).
    """

    def __init__(self, field: MLPField) -> None:
        w1 = field.fc1.weight.detach()
        self.parameters = tuple(field.parameters())
        self.timed = field.time_dependent
        self._w1_t, self._w1 = (w1[:, 0], w1[:, 1:]) if self.timed else (None, w1)
        self._w2, self._w3 = field.fc2.weight.detach(), field.fc3.weight.detach()
        self._b1, self._b2, self._b3 = (field.fc1.bias.detach(), field.fc2.bias.detach(),
                                        field.fc3.bias.detach())
        self._act, self._derivative = field._act, _DERIVATIVES[_name_of(field._act)]
        self._records: list[tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._cotangents: tuple[list, ...] = ([], [], [], [])  # times, layers 1, 2, 3

    def __call__(self, t: float, h: torch.Tensor) -> torch.Tensor:
        """Evaluate ``f(t, h)`` and record it (evaluation number ``len`` before the call)."""
        act = self._act
        with torch.no_grad():
            bias = torch.add(self._b1, self._w1_t, alpha=t) if self.timed else self._b1
            a1 = act(torch.addmm(bias, h, self._w1.t()))
            a2 = act(torch.addmm(self._b2, a1, self._w2.t()))
            self._records.append((t, h, a1, a2))
            return torch.addmm(self._b3, a2, self._w3.t())

    def vjp(self, index: int, grad: torch.Tensor) -> torch.Tensor:
        """Return ``grad . df/dh`` of evaluation ``index``; keep its parameter cotangents."""
        t, h, a1, a2 = self._records[index]
        g2 = self._derivative(grad.mm(self._w3), a2)
        g1 = self._derivative(g2.mm(self._w2), a1)
        times, first, second, third = self._cotangents
        times.append(t)
        first.append((g1, h))
        second.append((g2, a1))
        third.append((grad, a2))
        return g1.mm(self._w1)

    def parameter_grads(self) -> tuple[torch.Tensor | None, ...]:
        """Gradients of ``fc1.weight, fc1.bias, ..., fc3.bias`` over all :meth:`vjp` calls."""
        times, *layers = self._cotangents
        if not times:
            return (None,) * len(self.parameters)
        grads = []
        for i, pairs in enumerate(layers):
            outer, inner = (torch.cat(side) for side in zip(*pairs))
            if i == 0 and self.timed:  # the time column of fc1's weight
                rows = pairs[0][1].new_tensor(times).repeat_interleave(len(pairs[0][1]))
                inner = torch.cat([rows.unsqueeze(1), inner], dim=1)
            grads += [outer.t().mm(inner), outer.sum(dim=0)]
        return tuple(grads)


def _name_of(function: Callable) -> str:
    return next(name for name, fn in _FUNCTIONS.items() if fn is function)


class ConvField(nn.Module):
    """The paper's convolutional vector field for images (appendix F.1.2).

    ``1x1 conv (c -> k) -> 3x3 conv (k -> k, padding 1) -> 1x1 conv (k -> c)``
    with the nonlinearity between, and, with ``time_dependent=True``, the time
    as an extra (first) input channel of each convolution.  A constant channel
    of ``t`` is folded into the bias for the 1x1 convolutions; for the 3x3 one
    its contribution is ``t`` times the convolution of a zero-padded image of
    ones, computed once per solve.

    Parameters
    ----------
    channels : int
        Channels ``c`` of the state (image channels plus augmented ones).
    num_filters : int
        Filters ``k`` of the hidden convolutions.
    time_dependent : bool, default=True
        Whether ``f`` depends on ``t`` (the paper's text).  The paper's parameter
        counts correspond to ``False``; see the user guide.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation after the first two convolutions.
    """

    def __init__(
        self,
        channels: int,
        num_filters: int,
        *,
        time_dependent: bool = True,
        nonlinearity: str = "relu",
    ) -> None:
        super().__init__()
        extra = int(time_dependent)
        self.channels = channels
        self.time_dependent = time_dependent
        self.conv1 = nn.Conv2d(extra + channels, num_filters, 1)
        self.conv2 = nn.Conv2d(extra + num_filters, num_filters, 3, padding=1)
        self.conv3 = nn.Conv2d(extra + num_filters, channels, 1)
        self.act = make_activation(nonlinearity)
        self._act = _FUNCTIONS[nonlinearity]

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        """Evaluate ``f(t, h)``; ``h`` has shape ``(batch, channels, height, width)``."""
        return self.evaluator()(t, h)

    def evaluator(self, row_invariant: bool = False
                  ) -> Callable[[torch.Tensor | float, torch.Tensor], torch.Tensor]:
        """Return ``f(t, h)`` bound to the current parameters (see :class:`MLPField`).

        Convolutions compute every image on its own already, so ``row_invariant``
        changes nothing here.
        """
        act, timed = self._act, self.time_dependent
        (w1, b1), (w2, b2), (w3, b3) = ((c.weight, c.bias) for c in
                                        (self.conv1, self.conv2, self.conv3))
        if not timed:
            def f(t, h):
                out = act(F.conv2d(h, w1, b1))
                out = act(F.conv2d(out, w2, b2, padding=1))
                return F.conv2d(out, w3, b3)

            return f

        (w1_t, w1), (w2_t, w2), (w3_t, w3) = ((w[:, :1], w[:, 1:]) for w in (w1, w2, w3))
        w1_t, w3_t = w1_t.flatten(), w3_t.flatten()
        borders = {}  # (height, width) -> the 3x3 convolution of a padded image of ones

        def f(t, h):
            size = h.shape[-2:]
            if size not in borders:
                ones = h.new_ones(1, 1, *size)
                borders[size] = F.conv2d(ones, w2_t, padding=1)
            if _per_sample(t):  # one time per sample: biases per image, (batch, c, 1, 1)
                t4 = t.view(-1, 1, 1, 1)
                out = act(F.conv2d(h, w1) + _with_time(b1, w1_t, t)[:, :, None, None])
                out = act(F.conv2d(out, w2, b2, padding=1) + t4 * borders[size])
                return F.conv2d(out, w3) + _with_time(b3, w3_t, t)[:, :, None, None]
            out = act(F.conv2d(h, w1, _with_time(b1, w1_t, t)))
            out = act(torch.add(F.conv2d(out, w2, b2, padding=1), borders[size],
                                alpha=t) if not isinstance(t, torch.Tensor)
                      else F.conv2d(out, w2, b2, padding=1) + t * borders[size])
            return F.conv2d(out, w3, _with_time(b3, w3_t, t))

        return f

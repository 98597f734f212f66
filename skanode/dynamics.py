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

__all__ = ["NONLINEARITIES", "ConvField", "MLPField", "make_activation", "row_invariant_linear"]

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

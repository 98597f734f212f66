"""Vector fields ``f(t, h)`` that define the ODE ``dh/dt = f(h, t)``.

Every field here has the call signature ``field(t, h) -> dh/dt`` with ``t`` a
scalar tensor and ``h`` a batch of states, which is what both the ODE block and
torchdiffeq expect.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NONLINEARITIES", "MLPField", "make_activation"]

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


class MLPField(nn.Module):
    """The paper's MLP vector field ``dim (+1) -> hidden -> hidden -> dim``.

    With ``time_dependent=True`` the time ``t`` is an extra input of the first
    layer, as in the paper.  Rather than concatenating a column of ``t`` to
    every batch, the time column of the first weight matrix is kept apart
    (``time_weight``) and folded into the bias: ``W [h, t] + b == W_h h + (b + t W_t)``.
    The initialisation is exactly that of ``nn.Linear(dim + 1, hidden)``.

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
        first = nn.Linear(dim + int(time_dependent), hidden_dim)
        self.fc1 = nn.Linear(dim, hidden_dim)
        with torch.no_grad():
            self.fc1.weight.copy_(first.weight[:, :dim])
            self.fc1.bias.copy_(first.bias)
        self.time_weight = nn.Parameter(first.weight[:, dim].clone()) if time_dependent else None
        self.fc2 = nn.Linear(hidden_dim, hidden_dim)
        self.fc3 = nn.Linear(hidden_dim, dim)
        self.act = make_activation(nonlinearity)
        self._act = _FUNCTIONS[nonlinearity]

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        """Evaluate ``f(t, h)``; ``h`` has shape ``(batch, dim)``."""
        return self.evaluator()(t, h)

    def evaluator(self) -> Callable[[torch.Tensor | float, torch.Tensor], torch.Tensor]:
        """Return ``f(t, h)`` bound to the current parameters.

        A solver calls ``f`` tens of times per solve; binding the parameters once
        per solve saves the module-attribute lookups of every call.  The result
        is only valid until the parameters are replaced (one solve).
        """
        w1, b1, w2, b2 = self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias
        w3, b3, act, time_weight = self.fc3.weight, self.fc3.bias, self._act, self.time_weight

        def f(t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
            bias = b1
            if time_weight is not None:
                bias = b1 + t * time_weight if isinstance(t, torch.Tensor) else \
                    torch.add(b1, time_weight, alpha=t)
            out = act(F.linear(h, w1, bias))
            out = act(F.linear(out, w2, b2))
            return F.linear(out, w3, b3)

        return f

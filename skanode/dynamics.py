"""Vector fields ``f(t, h)`` that define the ODE ``dh/dt = f(h, t)``.

Every field here has the call signature ``field(t, h) -> dh/dt`` with ``t`` a
scalar tensor and ``h`` a batch of states, which is what both the ODE block and
torchdiffeq expect.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["NONLINEARITIES", "MLPField", "make_activation"]

NONLINEARITIES: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}


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
    every batch, the time column of the first weight matrix is folded into
    the bias: ``W [h, t] + b == W_h h + (b + t W_t)``.  The parameters and their
    initialisation are exactly those of ``nn.Linear(dim + 1, hidden)``.

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
        self.fc1 = nn.Linear(dim + int(time_dependent), hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, hidden_dim)
        self.fc3 = nn.Linear(hidden_dim, dim)
        self.act = make_activation(nonlinearity)

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        """Evaluate ``f(t, h)``; ``h`` has shape ``(batch, dim)``."""
        if self.time_dependent:
            weight = self.fc1.weight
            out = F.linear(h, weight[:, : self.dim], self.fc1.bias + t * weight[:, self.dim])
        else:
            out = self.fc1(h)
        out = self.act(out)
        out = self.act(self.fc2(out))
        return self.fc3(out)

"""Plain ``torch.nn`` modules: the ODE network (NODE / ANODE) and the ResNet.

No skorch and no device handling here: these are ordinary modules that can be
used in any PyTorch training loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .augment import Augment
from .dynamics import ConvField, MLPField
from .odeblock import ODEBlock

__all__ = ["ARCHITECTURES", "ODENet", "ResNet", "make_field", "make_head"]

ARCHITECTURES = ("mlp", "conv")


def _shape(input_dim: int | Sequence[int], architecture: str) -> tuple[int, ...]:
    shape = (int(input_dim),) if isinstance(input_dim, int) else tuple(int(s) for s in input_dim)
    if architecture not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {architecture!r}; choose one of {ARCHITECTURES}.")
    if architecture == "conv" and len(shape) != 3:
        raise ValueError(f"architecture='conv' needs an image shape (channels, height, width), "
                         f"got {shape}.")
    if architecture == "mlp" and len(shape) != 1:
        raise ValueError(f"architecture='mlp' needs a number of features, got shape {shape}.")
    return shape


def make_field(architecture: str, channels: int, *, hidden_dim: int = 32, num_filters: int = 64,
               time_dependent: bool = True, nonlinearity: str = "relu") -> nn.Module:
    """Return the paper's vector field for a state of ``channels`` features or channels.

    ``"mlp"``: :class:`~skanode.dynamics.MLPField` of width ``hidden_dim``;
    ``"conv"``: :class:`~skanode.dynamics.ConvField` with ``num_filters`` filters.
    """
    if architecture == "conv":
        return ConvField(channels, num_filters, time_dependent=time_dependent,
                         nonlinearity=nonlinearity)
    return MLPField(channels, hidden_dim, time_dependent=time_dependent,
                    nonlinearity=nonlinearity)


class _Leading(nn.Module):
    """Read the output off the state: its first ``size`` coordinates."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h[:, : self.size]


def make_head(state_dim: int, output_dim: int, linear: bool = True) -> nn.Module:
    """Return the map from the final state to the output.

    A linear layer (the paper's models), or with ``linear=False`` the identity on
    the first ``output_dim`` coordinates, so that the flow itself must map inputs
    to targets (the paper's ``g_1d`` experiment, Fig. 3).
    """
    if linear:
        return nn.Linear(state_dim, output_dim)
    if output_dim > state_dim:
        raise ValueError(
            f"linear_head=False reads the output off the state, but output_dim={output_dim} "
            f"exceeds the state dimension {state_dim}."
        )
    return _Leading(output_dim)


class ODENet(nn.Module):
    """Augmentation -> ODE block -> linear head.

    ``augment_dim=0`` gives the Neural ODE (NODE) of the paper, ``augment_dim=p``
    the Augmented Neural ODE (ANODE) that solves the ODE in ``R^(d+p)``.

    The vector field is the paper's MLP for vectors or its convolutional block
    for images (``architecture="conv"``, augmentation then appends zero
    channels); everything else is shared.

    Parameters
    ----------
    input_dim : int or tuple of int
        Number of input features ``d``, or the image shape ``(c, h, w)``.
    output_dim : int
        Size of the output (number of classes or regression targets).
    architecture : {"mlp", "conv"}, default="mlp"
        Vector field for vectors or for images.
    hidden_dim : int, default=32
        Width of the MLP's hidden layers.
    num_filters : int, default=64
        Filters of the convolutional field.
    augment_dim : int, default=0
        Number of zero features (or channels) ``p`` appended before the solve.
    time_dependent : bool, default=True
        Whether the vector field takes ``t`` as an input.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation of the vector field.
    linear_head : bool, default=True
        Linear layer on ``h(T)``; ``False`` outputs the first ``output_dim``
        coordinates of ``h(T)`` directly.
    **ode_options
        Passed to :class:`~skanode.odeblock.ODEBlock`: ``integration_time``,
        ``solver``, ``rtol``, ``atol``, ``adjoint``, ``max_num_steps``,
        ``solver_options``.
    """

    def __init__(
        self,
        input_dim: int | Sequence[int],
        output_dim: int,
        *,
        architecture: str = "mlp",
        hidden_dim: int = 32,
        num_filters: int = 64,
        augment_dim: int = 0,
        time_dependent: bool = True,
        nonlinearity: str = "relu",
        linear_head: bool = True,
        **ode_options: Any,
    ) -> None:
        super().__init__()
        shape = _shape(input_dim, architecture)
        channels = shape[0] + augment_dim
        self.augment = Augment(augment_dim, dim=1)
        field = make_field(architecture, channels, hidden_dim=hidden_dim,
                           num_filters=num_filters, time_dependent=time_dependent,
                           nonlinearity=nonlinearity)
        self.odeblock = ODEBlock(field, **ode_options)
        state_size = channels * int(np.prod(shape[1:], dtype=int))
        self.head = make_head(state_size, output_dim, linear_head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``phi(x) = h(T)``, augmented dimensions included, ``(batch, d + p, ...)``."""
        return self.odeblock(self.augment(x))

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Return the (augmented) states at ``times``, ``(len(times), batch, d + p, ...)``."""
        return self.odeblock.trajectory(self.augment(x), times)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the head's output, ``(batch, output_dim)``."""
        return self.head(self.features(x).flatten(1))


class ResNet(nn.Module):
    """``num_layers`` residual blocks ``h + MLP(h)`` -> linear head.

    Each residual MLP has the shape of the ODE vector field
    (``d -> hidden -> hidden -> d``) without the time input, so a ResNet is the
    Euler discretisation, with step 1 and untied weights, of a NODE.

    Parameters
    ----------
    input_dim : int or tuple of int
        Number of input features ``d``, or the image shape ``(c, h, w)``.
    output_dim : int
        Size of the output.
    architecture : {"mlp", "conv"}, default="mlp"
        Residual MLP blocks for vectors, or the convolutional block for images.
    hidden_dim : int, default=32
        Width of each MLP block's hidden layers.
    num_filters : int, default=64
        Filters of each convolutional block.
    num_layers : int, default=5
        Number of residual blocks.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation of the blocks.
    linear_head : bool, default=True
        Linear layer on the last state; ``False`` outputs its first
        ``output_dim`` coordinates.
    """

    def __init__(
        self,
        input_dim: int | Sequence[int],
        output_dim: int,
        *,
        architecture: str = "mlp",
        hidden_dim: int = 32,
        num_filters: int = 64,
        num_layers: int = 5,
        nonlinearity: str = "relu",
        linear_head: bool = True,
    ) -> None:
        super().__init__()
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}.")
        shape = _shape(input_dim, architecture)
        self.blocks = nn.ModuleList(
            make_field(architecture, shape[0], hidden_dim=hidden_dim, num_filters=num_filters,
                       time_dependent=False, nonlinearity=nonlinearity)
            for _ in range(int(num_layers))
        )
        self.head = make_head(int(np.prod(shape)), output_dim, linear_head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the state after the last residual block, ``(batch, d)``."""
        for block in self.blocks:
            x = x + block(0.0, x)
        return x

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | None = None) -> torch.Tensor:
        """Return the input and the state after every block, ``(num_layers + 1, batch, d)``."""
        states = [x]
        for block in self.blocks:
            states.append(states[-1] + block(0.0, states[-1]))
        return torch.stack(states)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the head's output, ``(batch, output_dim)``."""
        return self.head(self.features(x).flatten(1))


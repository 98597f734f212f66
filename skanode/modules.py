"""Plain ``torch.nn`` modules: the ODE network (NODE / ANODE) and the ResNet.

No skorch and no device handling here: these are ordinary modules that can be
used in any PyTorch training loop.  Their keyword options and defaults are the
declarations of :mod:`skanode.hyperparams`, shared with the estimators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from . import hyperparams as hp
from .augment import Augment
from .dynamics import ConvField, MLPField, row_invariant_linear
from .odeblock import ODEBlock, SolveStats

__all__ = ["ARCHITECTURES", "ODENet", "ResNet", "build", "make_field", "make_head",
           "reset_parameters"]

ARCHITECTURES = ("mlp", "conv")


def _shape(input_dim: int | Sequence[int], architecture: str) -> tuple[int, ...]:
    shape = ((int(input_dim),) if np.ndim(input_dim) == 0
             else tuple(int(s) for s in input_dim))
    if architecture == "conv" and len(shape) != 3:
        raise ValueError(f"architecture='conv' needs an image shape (channels, height, width), "
                         f"got {shape}.")
    if architecture == "mlp" and len(shape) != 1:
        raise ValueError(f"architecture='mlp' needs a number of features, got shape {shape}.")
    return shape


def _pick(options: Mapping[str, Any], *groups: Iterable[hp.Hyperparameter]) -> dict[str, Any]:
    names = {p.name for group in groups for p in group}
    return {k: v for k, v in options.items() if k in names}


@hp.accepts(hp.FIELD)
def make_field(channels: int, **field: Any) -> nn.Module:
    """Return the paper's vector field for a state of ``channels`` features or channels.

    ``architecture="mlp"``: :class:`~skanode.dynamics.MLPField` of width
    ``hidden_dim``; ``"conv"``: :class:`~skanode.dynamics.ConvField` with
    ``num_filters`` filters.  The options are those of
    :data:`skanode.hyperparams.FIELD`.

    Parameters
    ----------
    channels : int
        Features (MLP) or channels (conv) of the state.
    **field
        ``architecture``, ``hidden_dim``, ``num_filters``, ``time_dependent``,
        ``nonlinearity``.

    Returns
    -------
    torch.nn.Module
        The vector field ``f(t, h)``.
    """
    common = {"time_dependent": field["time_dependent"], "nonlinearity": field["nonlinearity"]}
    if field["architecture"] == "conv":
        return ConvField(channels, field["num_filters"], **common)
    return MLPField(channels, field["hidden_dim"], **common)


def reset_parameters(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Draw the weights of every linear and convolutional layer from ``generator``.

    The distribution is torch's default, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
    for weights and biases; drawing from a ``torch.Generator`` owned by the caller
    instead of torch's global one keeps initialisation reproducible when several
    models are built at once in threads.  Other layers keep their own
    initialisation.

    Parameters
    ----------
    module : torch.nn.Module
        The network (changed in place).
    generator : torch.Generator or None, default=None
        Source of the random numbers; ``None`` uses torch's global generator.

    Returns
    -------
    torch.nn.Module
        ``module``.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.modules.conv._ConvNd)):
                bound = 1.0 / math.sqrt(layer.weight[0].numel())  # 1 / sqrt(fan_in)
                layer.weight.uniform_(-bound, bound, generator=generator)
                if layer.bias is not None:
                    layer.bias.uniform_(-bound, bound, generator=generator)
    return module


def build(module_class: type[nn.Module], generator: torch.Generator, **kwargs: Any) -> nn.Module:
    """Build one of skanode's modules with its weights drawn from ``generator``.

    The module is built on the ``meta`` device, where building draws no random
    numbers, then materialised on the CPU and initialised by
    :func:`reset_parameters`: torch's global generator is never used.

    Parameters
    ----------
    module_class : type
        :class:`ODENet`, :class:`ResNet`, or another module whose parameters all
        belong to linear and convolutional layers and that has no buffers.
    generator : torch.Generator
        Source of the initial weights.
    **kwargs
        Arguments of ``module_class``.

    Returns
    -------
    torch.nn.Module
        The module, on the CPU.
    """
    with torch.device("meta"):
        module = module_class(**kwargs)
    return reset_parameters(module.to_empty(device="cpu"), generator)


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


def _apply_head(head: nn.Module, h: torch.Tensor, training: bool) -> torch.Tensor:
    # In eval mode each row's output does not depend on its batch (see MLPField.evaluator).
    if not training and isinstance(head, nn.Linear):
        return row_invariant_linear(h, head)
    return head(h)


@hp.documented
class ODENet(nn.Module):
    """Augmentation -> ODE block -> linear head.

    ``augment_dim=0`` gives the Neural ODE (NODE) of the paper, ``augment_dim=p``
    the Augmented Neural ODE (ANODE) that solves the ODE in ``R^(d+p)``.

    The vector field is the paper's MLP for vectors or its convolutional block
    for images (``architecture="conv"``, augmentation then appends zero
    channels); everything else is shared.  The keyword options are those of
    :data:`~skanode.hyperparams.FIELD`, :data:`~skanode.hyperparams.AUGMENT`,
    :data:`~skanode.hyperparams.SOLVER` and :data:`~skanode.hyperparams.HEAD`,
    with the same names and defaults as the estimators' parameters.

    Parameters
    ----------
    input_dim : int or tuple of int
        Number of input features ``d``, or the image shape ``(c, h, w)``.
    output_dim : int
        Size of the output (number of classes or regression targets).
    **options
        Vector field, augmentation, solver and head options (see above).
    """

    @hp.accepts(hp.FIELD, hp.AUGMENT, hp.SOLVER, hp.HEAD)
    def __init__(self, input_dim: int | Sequence[int], output_dim: int, **options: Any) -> None:
        super().__init__()
        shape = _shape(input_dim, options["architecture"])
        channels = shape[0] + options["augment_dim"]
        self.augment = Augment(options["augment_dim"], dim=1)
        field = make_field(channels, **_pick(options, hp.FIELD))
        self.odeblock = ODEBlock(field, **_pick(options, hp.SOLVER))
        state_size = channels * int(np.prod(shape[1:], dtype=int))
        self.head = make_head(state_size, output_dim, options["linear_head"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``phi(x) = h(T)``, augmented dimensions included, ``(batch, d + p, ...)``."""
        return self.odeblock(self.augment(x))

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Return the (augmented) states at ``times``, ``(len(times), batch, d + p, ...)``."""
        return self.odeblock.trajectory(self.augment(x), times)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the head's output, ``(batch, output_dim)``."""
        return _apply_head(self.head, self.features(x).flatten(1), self.training)


@hp.documented
class ResNet(nn.Module):
    """``num_layers`` residual blocks ``h + f(h)`` -> linear head.

    Each residual block has the shape of the ODE vector field
    (``d -> hidden -> hidden -> d``, or the convolutional block) without the
    time input, so a ResNet is the Euler discretisation, with step 1 and
    untied weights, of a NODE.  Its :attr:`stats` count residual-block
    evaluations as the NFE: ``num_layers`` per forward pass, 0 backward.  The
    keyword options are those of :data:`~skanode.hyperparams.FIELD` (without
    ``time_dependent``), :data:`~skanode.hyperparams.RESNET` and
    :data:`~skanode.hyperparams.HEAD`.

    Parameters
    ----------
    input_dim : int or tuple of int
        Number of input features ``d``, or the image shape ``(c, h, w)``.
    output_dim : int
        Size of the output.
    **options
        Block, depth and head options (see above).
    """

    @hp.accepts(hp.RESNET_FIELD, hp.RESNET, hp.HEAD)
    def __init__(self, input_dim: int | Sequence[int], output_dim: int, **options: Any) -> None:
        super().__init__()
        shape = _shape(input_dim, options["architecture"])
        field = {**_pick(options, hp.RESNET_FIELD), "time_dependent": False}
        self.blocks = nn.ModuleList(make_field(shape[0], **field)
                                    for _ in range(options["num_layers"]))
        self.head = make_head(int(np.prod(shape)), output_dim, options["linear_head"])
        self._evaluations = 0

    @property
    def stats(self) -> SolveStats:
        """Residual-block evaluations of the last forward pass (the ResNet's NFE)."""
        return SolveStats(self._evaluations, 0)

    def _steps(self) -> list:
        # In eval mode every row is computed independently of its batch, as an ODE
        # block's per-sample solves are (see MLPField.evaluator).
        if self.training:
            return list(self.blocks)
        return [block.evaluator(row_invariant=True) for block in self.blocks]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the state after the last residual block, ``(batch, d)``."""
        for step in self._steps():
            x = x + step(0.0, x)
        self._evaluations = len(self.blocks)
        return x

    def trajectory(self, x: torch.Tensor, times: Sequence[float] | None = None) -> torch.Tensor:
        """Return the input and the state after every block, ``(num_layers + 1, batch, d)``."""
        states = [x]
        for step in self._steps():
            states.append(states[-1] + step(0.0, states[-1]))
        self._evaluations = len(self.blocks)
        return torch.stack(states)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the head's output, ``(batch, output_dim)``."""
        return _apply_head(self.head, self.features(x).flatten(1), self.training)

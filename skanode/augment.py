"""Zero augmentation: the step that turns a NODE into an ANODE."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Augment"]


class Augment(nn.Module):
    """Append ``augment_dim`` zeros along ``dim``.

    For vectors of shape ``(batch, d)`` use ``dim=1`` to get ``(batch, d + p)``;
    for images of shape ``(batch, c, h, w)`` the same ``dim=1`` appends ``p``
    zero channels.  ``augment_dim=0`` is the identity (a plain NODE).

    Parameters
    ----------
    augment_dim : int, default=0
        Number of zero features or channels ``p`` to append.
    dim : int, default=1
        Axis along which to append.
    """

    def __init__(self, augment_dim: int = 0, dim: int = 1) -> None:
        super().__init__()
        if int(augment_dim) != augment_dim or augment_dim < 0:
            raise ValueError(f"augment_dim must be a non-negative integer, got {augment_dim!r}.")
        self.augment_dim = int(augment_dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with ``augment_dim`` zeros appended along ``dim``."""
        if self.augment_dim == 0:
            return x
        shape = list(x.shape)
        shape[self.dim] = self.augment_dim
        return torch.cat([x, x.new_zeros(shape)], dim=self.dim)

    def extra_repr(self) -> str:
        """Summarise the options in ``repr``."""
        return f"augment_dim={self.augment_dim}, dim={self.dim}"

"""skorch callbacks: solver statistics and training safety.

- :class:`NFECallback` writes the number of function evaluations into
  ``net.history``;
- :class:`DivergenceCheck` stops training at the first non-finite loss;
- :class:`LastGoodState` keeps the weights and optimizer state of the last
  finished epoch, which the estimators restore when training fails or is
  interrupted.

The estimators register all three by default (names ``"nfe"``,
``"divergence"``, ``"last_good"``).
"""

from __future__ import annotations

from typing import Any

import torch
from skorch.callbacks import Callback

from .exceptions import DivergenceError
from .odeblock import collect_stats
from .persistence import map_tensors

__all__ = ["DivergenceCheck", "LastGoodState", "NFECallback"]


class NFECallback(Callback):
    """Record the number of function evaluations (NFE) of the ODE solver.

    After every batch the forward NFE (evaluations of the vector field in the
    forward solve) and backward NFE (evaluations during backpropagation) are
    written to the batch history; at the end of each epoch their means over the
    epoch's batches are written to the epoch history:

    - ``forward_nfe``, ``backward_nfe``: training batches;
    - ``forward_nfe_per_sample``: with ``step_control="sample"``, the mean over
      a batch's samples of the evaluations each needed (``forward_nfe`` then
      counts the lockstep evaluations of the whole batch, the cost of the solve;
      this one is what a sample would cost alone, comparable to the paper's NFE);
    - ``valid_forward_nfe``: validation batches, when a validation split is used.

    ``net.history[:, "forward_nfe"]`` is the NFE curve of the paper.  The backward
    NFE is 0 with direct backpropagation through the solver's operations and
    non-zero with the adjoint method, which solves a second ODE backwards.

    The counts are read from the parts of ``net.module_`` that keep solve
    statistics (:func:`skanode.odeblock.collect_stats`): the ODE blocks, and the
    ResNet, whose NFE is its number of residual-block evaluations per forward
    pass (``num_layers``).
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):  # noqa: D102
        stats = collect_stats(net.module_)
        if training:
            net.history.record_batch("forward_nfe", stats.forward_nfe)
            net.history.record_batch("backward_nfe", stats.backward_nfe)
            if stats.forward_nfe_per_sample is not None:
                net.history.record_batch("forward_nfe_per_sample", stats.forward_nfe_per_sample)
        else:
            net.history.record_batch("valid_forward_nfe", stats.forward_nfe)

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        batches = net.history[-1, "batches"]
        for key in ("forward_nfe", "backward_nfe", "forward_nfe_per_sample",
                    "valid_forward_nfe"):
            values = [b[key] for b in batches if key in b]
            if values:
                net.history.record(key, sum(values) / len(values))


class DivergenceCheck(Callback):
    """Raise :class:`~skanode.DivergenceError` when a training batch's loss is not finite.

    Without it a NaN loss trains on silently: every later update is NaN too.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):  # noqa: D102
        if training and loss is not None and not torch.isfinite(loss).all():
            raise DivergenceError(
                f"the training loss became {loss.item()} at epoch {len(net.history)}. "
                "Try a smaller lr, gradient clipping (skorch.callbacks.GradientNormClipping), "
                "weight decay (optimizer__weight_decay) or a tighter solver tolerance."
            )


def _copy(state: Any) -> Any:
    """Copy the tensors of a (nested) state dict; cheaper than ``copy.deepcopy``."""
    return map_tensors(lambda t: t.detach().clone(), state)


class LastGoodState(Callback):
    """Keep the module and optimizer state of the last finished epoch.

    A snapshot is taken when training begins and after every epoch;
    :meth:`restore` puts it back.  The estimators call it when training fails
    (:class:`~skanode.SolverError`, :class:`~skanode.DivergenceError`) or is
    interrupted, so a model never keeps non-finite or half-updated weights.

    Attributes
    ----------
    epoch_ : int
        Number of epochs in the history when the snapshot was taken.
    """

    def on_train_begin(self, net, **kwargs):  # noqa: D102
        self._snapshot(net)

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        self._snapshot(net)

    def _snapshot(self, net) -> None:
        self.module_state_ = _copy(net.module_.state_dict())
        self.optimizer_state_ = _copy(net.optimizer_.state_dict())
        self.epoch_ = len(net.history)

    def restore(self, net) -> int:
        """Put the snapshot back into ``net``; return the epoch it was taken at."""
        net.module_.load_state_dict(self.module_state_)
        net.optimizer_.load_state_dict(self.optimizer_state_)
        return self.epoch_

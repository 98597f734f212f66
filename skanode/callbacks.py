"""skorch callbacks that write into ``net.history``."""

from __future__ import annotations

from skorch.callbacks import Callback

from .odeblock import collect_stats

__all__ = ["NFECallback"]


class NFECallback(Callback):
    """Record the number of function evaluations (NFE) of the ODE solver.

    After every batch the forward NFE (evaluations of the vector field in the
    forward solve) and backward NFE (evaluations during backpropagation) are
    written to the batch history; at the end of each epoch their means over the
    epoch's batches are written to the epoch history:

    - ``forward_nfe``, ``backward_nfe``: training batches;
    - ``valid_forward_nfe``: validation batches, when a validation split is used.

    ``net.history[:, "forward_nfe"]`` is the NFE curve of the paper.  The backward
    NFE is 0 with direct backpropagation through the solver's operations and
    non-zero with the adjoint method, which solves a second ODE backwards.

    The counts are read from the ODE blocks of ``net.module_``, which count the
    evaluations themselves; models without an ODE block record 0.
    """

    def on_batch_end(self, net, batch=None, training=False, **kwargs):  # noqa: D102
        stats = collect_stats(net.module_)
        if training:
            net.history.record_batch("forward_nfe", stats.forward_nfe)
            net.history.record_batch("backward_nfe", stats.backward_nfe)
        else:
            net.history.record_batch("valid_forward_nfe", stats.forward_nfe)

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        batches = net.history[-1, "batches"]
        for key in ("forward_nfe", "backward_nfe", "valid_forward_nfe"):
            values = [b[key] for b in batches if key in b]
            if values:
                net.history.record(key, sum(values) / len(values))

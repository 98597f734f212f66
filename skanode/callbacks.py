"""skorch callbacks: solver statistics, training safety, convergence and logging.

- :class:`NFECallback` writes the number of function evaluations into
  ``net.history``;
- :class:`DivergenceCheck` stops training at the first non-finite loss;
- :class:`LastGoodState` keeps the weights and optimizer state of the last
  finished epoch, which the estimators restore when training fails or is
  interrupted;
- :class:`Convergence` stops training when the loss stops improving, keeps the
  best weights with early stopping, and warns when training ends before the
  loss has settled;
- :class:`PrintLog` is skorch's epoch table, coloured only on a terminal;
- :class:`ProgressBar` shows a progress bar over a fit's training batches.

The estimators register them by default (names ``"nfe"``, ``"divergence"``,
``"last_good"``, ``"convergence"``, ``"print_log"``, ``"progress_bar"``, which
draws only with ``progress=True``).
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
from typing import Any

import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback
from skorch.callbacks import PrintLog as _SkorchPrintLog

from .exceptions import DivergenceError
from .odeblock import collect_stats, keeps_stats
from .persistence import map_tensors

__all__ = ["Convergence", "DivergenceCheck", "LastGoodState", "NFECallback", "PrintLog",
           "ProgressBar"]


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
    - ``valid_forward_nfe``: validation batches, when validation data is used
      (with ``step_control="auto"`` they are solved per sample, in batches of up
      to 4096 rows, so this counts the lockstep evaluations of such a batch, set by
      its hardest sample, and ``valid_forward_nfe_per_sample`` the mean over its
      samples; both change with ``iterator_valid__batch_size``, unlike the
      predictions).

    ``net.history[:, "forward_nfe"]`` is the NFE curve of the paper.  The backward
    NFE is 0 with direct backpropagation through the solver's operations and
    non-zero with the adjoint method, which solves a second ODE backwards.

    The counts are read from the parts of ``net.module_`` that keep solve
    statistics (:func:`skanode.odeblock.collect_stats`): the ODE blocks, and the
    ResNet, whose NFE is its number of residual-block evaluations per forward
    pass (``num_layers``).
    """

    def on_train_begin(self, net, **kwargs):  # noqa: D102
        # a custom module without ODE blocks has no NFE: record none rather than zeros
        self.counting_ = keeps_stats(net.module_)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):  # noqa: D102
        if not getattr(self, "counting_", True):
            return
        stats = collect_stats(net.module_)
        if training:
            net.history.record_batch("forward_nfe", stats.forward_nfe)
            net.history.record_batch("backward_nfe", stats.backward_nfe)
            if stats.forward_nfe_per_sample is not None:
                net.history.record_batch("forward_nfe_per_sample", stats.forward_nfe_per_sample)
        else:
            net.history.record_batch("valid_forward_nfe", stats.forward_nfe)
            if stats.forward_nfe_per_sample is not None:
                net.history.record_batch("valid_forward_nfe_per_sample",
                                         stats.forward_nfe_per_sample)

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        batches = net.history[-1, "batches"]
        for key in ("forward_nfe", "backward_nfe", "forward_nfe_per_sample",
                    "valid_forward_nfe", "valid_forward_nfe_per_sample"):
            values = [b[key] for b in batches if key in b]
            if values:
                net.history.record(key, sum(values) / len(values))


class DivergenceCheck(Callback):
    """Raise :class:`~skanode.DivergenceError` when a training batch's loss is not finite.

    Without it a NaN loss trains on silently: every later update is NaN too.
    """

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):  # noqa: D102
        if training and loss is not None and not torch.isfinite(loss).all():
            solver = " or a tighter solver tolerance" if hasattr(net, "rtol") else ""
            scaled = "; scale the targets (TransformedTargetRegressor)" if getattr(
                net, "_y_numeric", False) else ""
            raise DivergenceError(
                f"the training loss became {loss.item()} at epoch {len(net.history)}. "
                "Try a smaller lr, gradient clipping (skorch.callbacks.GradientNormClipping), "
                f"weight decay (optimizer__weight_decay){solver}{scaled}."
            )


def _copy(state: Any) -> Any:
    """Copy the tensors of a (nested) state dict; cheaper than ``copy.deepcopy``."""
    return map_tensors(lambda t: t.detach().clone(), state)


class LastGoodState(Callback):
    """Keep the module, optimizer and random state of the last finished epoch.

    A snapshot is taken when training begins and, by the estimator, once every
    callback has finished an epoch (a callback that fails in ``on_epoch_end``
    fails the epoch); :meth:`restore` puts it back.  The estimators call it when
    training fails or is interrupted, so a model never keeps non-finite or
    half-updated weights.

    Attributes
    ----------
    epoch_ : int
        Number of epochs in the history when the snapshot was taken.
    """

    def on_train_begin(self, net, **kwargs):  # noqa: D102
        self.snapshot(net)

    def snapshot(self, net) -> None:
        """Copy the state of ``net`` as it is now."""
        self.module_state_ = _copy(net.module_.state_dict())
        self.optimizer_state_ = _copy(net.optimizer_.state_dict())
        generator = getattr(net, "generator_", None)
        self.generator_state_ = None if generator is None else generator.get_state()
        self.epoch_ = len(net.history)

    def restore(self, net) -> int:
        """Put the snapshot back into ``net``; return the epoch it was taken at."""
        net.module_.load_state_dict(self.module_state_)
        net.optimizer_.load_state_dict(self.optimizer_state_)
        if self.generator_state_ is not None:  # the next epoch draws the batches it would have
            net.generator_.set_state(self.generator_state_)
        return self.epoch_


class Convergence(Callback):
    """Stop when the monitored loss stops improving; keep the best weights; warn if unsettled.

    The settings are read from the estimator at the start of each ``fit``, so
    ``set_params`` takes effect at once:

    - monitored: ``valid_loss`` with ``early_stopping=True``, else ``train_loss``;
    - training stops when the monitored loss has not fallen below its best value
      by more than ``tol`` for ``n_iter_no_change`` epochs (``None``: never);
    - with ``early_stopping=True`` the weights of the epoch with the lowest
      validation loss are restored at the end;
    - a ``fit`` that ends at ``max_epochs`` while the training loss still fell by
      more than ``tol`` per epoch over its last ``n_iter_no_change`` (or 10)
      epochs warns with scikit-learn's ``ConvergenceWarning``.

    ``partial_fit`` trains its epochs without stopping or warning.  The callback
    asks to stop by recording ``stopped_early`` on the epoch's history row; the
    estimator ends training once every callback has seen that epoch.
    """

    def on_train_begin(self, net, X=None, y=None, partial=False, **kwargs):  # noqa: D102
        self.active_ = not partial
        self.monitor_ = "valid_loss" if net.early_stopping else "train_loss"
        self.best_ = math.inf
        self.best_state_ = None
        self.misses_ = 0
        self.stopped_ = False  # by this callback (skorch's EarlyStopping marks its own stop)
        self.first_epoch_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        # Every epoch says whether it stopped, so history[-1, "stopped_early"] always reads.
        net.history.record("stopped_early", False)
        if not self.active_:
            return
        value = net.history[-1].get(self.monitor_)
        if value is None:
            raise ValueError(
                "early stopping needs 'valid_loss' in the history, but no validation data was "
                "used." if self.monitor_ == "valid_loss" else
                "convergence control reads 'train_loss' from the history, which the "
                "train_loss callback writes: keep it, or turn this off with "
                "callbacks__convergence=None.")
        self.misses_ = self.misses_ + 1 if value > self.best_ - net.tol else 0
        if value < self.best_:
            self.best_ = value
            if net.early_stopping:
                self.best_state_ = (map_tensors(lambda t: t.detach().clone(),
                                                net.module_.state_dict()), len(net.history))
        if net.n_iter_no_change is not None and self.misses_ >= net.n_iter_no_change:
            net.history.record("stopped_early", True)
            self.stopped_ = True

    def on_train_end(self, net, **kwargs):  # noqa: D102
        if not getattr(self, "active_", False) or len(net.history) <= self.first_epoch_:
            return  # partial_fit, or no epoch began: nothing to report
        last = net.history[-1]
        if self.stopped_:
            what = self.monitor_.replace("_", " ")
            self._say(net, f"Stopped at epoch {len(net.history)}: the {what} did not improve "
                           f"by more than tol={net.tol:g} for {net.n_iter_no_change} epochs.")
        if self.best_state_ is not None:
            state, epoch = self.best_state_
            net.module_.load_state_dict(state)
            net.history.record("best_epoch", epoch)
            self._say(net, f"Kept the weights of epoch {epoch}, the lowest validation loss "
                           f"({self.best_:.4g}).")
        if any(last.get(key) for key in ("stopped_early", "failure", "interrupted")):
            return
        if len(net.history) - self.first_epoch_ < net.max_epochs:
            return  # another callback ended training (skorch's EarlyStopping, say)
        losses = net.history[self.first_epoch_:, "train_loss"]
        window = min(net.n_iter_no_change or 10, len(losses) - 1)
        if window >= 1 and (losses[-window - 1] - losses[-1]) / window > net.tol:
            rate = (losses[-window - 1] - losses[-1]) / window
            remedy = ("Raise max_epochs: early stopping ends training when the validation "
                      "loss stops improving." if net.early_stopping else
                      "Train longer (max_epochs), with a larger lr, or use "
                      "early_stopping=True with a large max_epochs.")
            warnings.warn(  # stacklevel: the caller of fit, through notify and _train
                f"{type(net).__name__}: training ended at max_epochs={net.max_epochs} while "
                f"the training loss still fell by {rate:.3g} per epoch over the last "
                f"{'epoch' if window == 1 else f'{window} epochs'} (more than tol={net.tol:g}): "
                f"it has not converged.  {remedy}",
                ConvergenceWarning, stacklevel=7)

    @staticmethod
    def _say(net, message: str) -> None:
        """Print ``message`` where the epoch table goes, when ``verbose``."""
        if not net.verbose:
            return
        log = dict(net.callbacks_).get("print_log")
        (log.sink if log is not None else print)(message)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PrintLog(_SkorchPrintLog):
    """skorch's epoch table; the best values are coloured only on a terminal.

    Written to a file or a pipe (or with ``NO_COLOR`` set), the table is plain
    text, without ANSI colour codes.  Entries that appear in one epoch only
    (``stopped_early``, ``best_epoch``, ``failure``, ``interrupted``) are left out
    of the table, which keeps its columns; the callbacks that record them say so in
    a line of their own.

    Parameters
    ----------
    keys_ignored, sink, tablefmt, floatfmt, stralign
        As for :class:`skorch.callbacks.PrintLog`, with its defaults.
    """

    _EVENTS = ("stopped_early", "best_epoch", "failure", "interrupted")

    def initialize(self):  # noqa: D102
        super().initialize()
        self.keys_ignored_ |= set(self._EVENTS)
        return self

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        if self.sink is print and not net.verbose:
            return  # skorch would format a table every epoch only to drop it
        super().on_epoch_end(net, **kwargs)

    def format_row(self, row, key, color):  # noqa: D102
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not self._colour():
            return _ANSI.sub("", text)
        return text

    def _colour(self) -> bool:
        if os.environ.get("NO_COLOR") or self.sink is not print:
            return False
        return bool(getattr(sys.stdout, "isatty", lambda: False)())


def progress_bar(**kwargs: Any) -> Any:
    """Return a tqdm bar on stderr; ``kwargs`` go to tqdm.

    A terminal redraws it in place; a log file (stderr redirected) gets a line
    every half minute rather than one per update.
    """
    from tqdm.auto import tqdm

    return tqdm(file=sys.stderr, dynamic_ncols=True,
                mininterval=0.1 if sys.stderr.isatty() else 30.0, **kwargs)


class ProgressBar(Callback):
    """A progress bar over all training batches of a fit, with the epoch and its loss so far.

    Shown when the estimator's ``progress`` is True; written with tqdm to stderr,
    and closed when training ends: cleared on a terminal, left with its final
    count in a log file, where it is redrawn at most every 30 seconds.
    """

    def on_train_begin(self, net, X=None, **kwargs):  # noqa: D102
        self.bar_ = None
        if not net.progress:
            return
        batches = len(net.get_iterator(X, training=True)) if X is not None else None
        total = batches * net.max_epochs if batches else None
        # cleared at the end on a terminal; a log file keeps the final count
        self.bar_ = progress_bar(total=total, desc=type(net).__name__, unit="batch",
                                 leave=not sys.stderr.isatty())

    def on_epoch_begin(self, net, **kwargs):  # noqa: D102
        self.loss_sum_, self.loss_rows_ = 0.0, 0

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):  # noqa: D102
        if training and self.bar_ is not None:
            self.bar_.update(1)
            if loss is not None:
                # the epoch's loss so far, weighted by batch size as train_loss is: a short
                # last batch alone would say little
                rows = len(batch[0]) if isinstance(batch, (list, tuple)) and batch else 1
                self.loss_sum_ += loss.item() * rows
                self.loss_rows_ += rows
                self.bar_.set_postfix(epoch=len(net.history),
                                      loss=f"{self.loss_sum_ / self.loss_rows_:.4g}",
                                      refresh=False)

    def on_train_end(self, net, **kwargs):  # noqa: D102
        bar = getattr(self, "bar_", None)
        if bar is not None:
            self.batches_done_ = bar.n
            bar.close()

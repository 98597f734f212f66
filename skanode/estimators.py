"""scikit-learn estimators: NODE, ANODE and ResNet classifiers and regressors.

Each estimator is a skorch net assembled from parts that live elsewhere:

- its parameters, their defaults, checks and documentation:
  :mod:`skanode.hyperparams` (the same declarations the torch modules use);
- input validation and label / target encoding: :mod:`skanode.inputs`;
- training safety (last good weights, non-finite losses) and NFE records:
  skorch callbacks in :mod:`skanode.callbacks`;
- random generators, torch threads and the device: :mod:`skanode.runtime`;
- skorch's private names: :mod:`skanode._skorch`;
- saving and loading: the fitted-state protocol of :mod:`skanode.persistence`.

What stays here is the training loop's failure policy, the glue between skorch
and those parts, and the six public classes.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring
from skorch.callbacks.scoring import ScoringBase
from skorch.dataset import Dataset as SkorchDataset
from skorch.history import History
from skorch.utils import to_numpy
from torch import nn
from torch.utils.data import Subset

from . import _skorch, inputs, persistence
from . import hyperparams as hp
from .batching import ArrayDataset, BatchLoader, HoldOut, split_target
from .callbacks import (
    Convergence,
    DivergenceCheck,
    LastGoodState,
    NFECallback,
    PrintLog,
    ProgressBar,
)
from .exceptions import DivergenceError, SolverError
from .modules import ODENet, ResNet, build
from .odeblock import ODEBlock
from .runtime import check_device, global_seed_from, make_generator, torch_threads

__all__ = [
    "ANODEClassifier",
    "ANODERegressor",
    "NODEClassifier",
    "NODERegressor",
    "ResNetClassifier",
    "ResNetRegressor",
]


class _StopTraining(Exception):
    """Ends training after the current epoch, successfully (see ``notify``)."""


class _SkanodeNet(_skorch.SkorchHooks, ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """What every skanode estimator shares; the model family and the task fill in the rest.

    A model family sets ``_module_class`` and ``_model_groups`` (the
    hyperparameter groups its torch module takes); a task sets ``_task_groups``,
    ``_criterion_class`` and the target encoding.
    """

    _module_class: type[nn.Module]
    _model_groups: tuple[tuple[hp.Hyperparameter, ...], ...]
    _task_groups: tuple[tuple[hp.Hyperparameter, ...], ...] = ()
    _criterion_class: type[nn.Module]
    _y_numeric: bool

    @classmethod
    def hyperparameters(cls) -> tuple[hp.Hyperparameter, ...]:
        """Return the declarations of this estimator's parameters (skorch adds its own)."""
        groups = (*cls._model_groups, hp.IMAGE, *cls._task_groups, hp.TRAINING,
                  hp.CONVERGENCE)
        return tuple({p.name: p for group in groups for p in group}.values())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if issubclass(cls, NeuralNet):  # a public estimator class
            cls.__init__ = _skorch.make_init(
                cls, cls.hyperparameters(),
                {"module": cls._module_class, "criterion": cls._criterion_class,
                 "iterator_train": BatchLoader, "iterator_valid": BatchLoader})
            persistence.register(cls)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        # scikit-learn's repr (the parameters that differ from the defaults), not skorch's
        return BaseEstimator.__repr__(self, N_CHAR_MAX=N_CHAR_MAX)

    # -- the model ---------------------------------------------------------------------------
    def _check_module_overrides(self) -> None:
        # module__hidden_dim=8 beside hidden_dim=16 would build width 8 while get_params
        # says 16, and a search over hidden_dim would change nothing.
        if self.module is not self._module_class:
            return
        options = self._module_options()
        for key, value in self.get_params_for("module").items():
            if key in options and not inputs.same_values(value, options[key]):
                raise ValueError(f"module__{key}={value!r} contradicts {key}={options[key]!r}: "
                                 f"set {key}={value!r} instead (the estimator's own parameter, "
                                 "which get_params and searches see).")

    def _check_optimizer_arguments(self) -> None:
        try:
            accepted = inspect.signature(self.optimizer).parameters
        except (TypeError, ValueError):  # not introspectable: the optimizer will say
            return
        if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            return
        names = [n for n in accepted if n != "params"]
        for key in self.get_params_for("optimizer"):
            if key not in accepted and key != "param_groups" and "__" not in key:
                raise ValueError(f"optimizer__{key}: {getattr(self.optimizer, '__name__', '')} "
                                 f"takes no argument {key!r}; it takes {', '.join(names)}.")

    def _module_options(self) -> dict[str, Any]:
        names = {p.name for group in self._model_groups for p in group}
        return {name: getattr(self, name) for name in names}

    def _module_kwargs(self) -> dict[str, Any]:
        """Return the module's arguments: hyperparameters, ``module__*``, inferred sizes."""
        self._check_module_overrides()
        given = self.get_params_for("module")
        inferred = {"input_dim": self._input_shape(), "output_dim": self.n_outputs_}
        for key, value in inferred.items():
            if key in given and np.all(np.asarray(given[key]) != np.asarray(value)):
                raise ValueError(f"module__{key}={given[key]!r} does not match the data, "
                                 f"which has {key}={value!r}; leave it out: it is inferred.")
        if self.module is not self._module_class:
            return {**given, **inferred}  # a custom module gets its module__* arguments only
        return {**self._module_options(), **given, **inferred}

    def _structure(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Return what the built model is: its components and the arguments that shape it.

        The module's arguments count but for the solver's (ours); the criterion and
        optimizer (with their arguments, but for the optimizer's, which change the
        built one) count too, since a model continues with the ones it was built with.
        """
        parts = {"module": self.module, "compile": self.compile, "criterion": self.criterion,
                 "optimizer": self.optimizer,
                 **{f"criterion__{k}": v for k, v in self.get_params_for("criterion").items()}}
        return {**parts, **self._module_structure(kwargs)}

    def _module_structure(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.module is self._module_class:
            solver = {p.name for p in hp.SOLVER}
            return {k: v for k, v in kwargs.items() if k not in solver}
        if not isinstance(self.module, type):
            return dict(kwargs)
        try:  # a custom module's own defaults, so that passing one is no change
            parameters = inspect.signature(self.module).parameters.values()
        except (TypeError, ValueError):
            parameters = ()
        return {**{p.name: p.default for p in parameters if p.default is not p.empty},
                **kwargs}

    def _fixed_at_fit(self) -> dict[str, tuple[Any, Any]]:
        """Return the parameters ``fit`` turned into fitted attributes: (fitted, set now)."""
        fixed = {}
        if getattr(self, "classes", None) is not None and hasattr(self, "classes_"):
            fixed["classes"] = (self.classes_.tolist(),
                                sorted(np.unique(np.asarray(self.classes)).tolist()))
        if getattr(self, "image_shape", None) is not None and inputs.is_conv(self):
            # an MLP model takes rows and never uses image_shape (a search may vary both)
            fixed["image_shape"] = (getattr(self, "image_shape_", None),
                                    tuple(int(v) for v in self.image_shape))
        return fixed

    def _match_built_model(self, doing: str) -> None:
        """Refuse parameters changed since the module was built; pass on the solver's.

        What shapes the module (and the criterion and optimizer it trains with)
        must still describe it: ``doing`` says why, in the error.  The solver
        options do not touch the weights, so the built ODE blocks take the current
        ones (``set_params`` after fit), as ``fit`` would build them.
        """
        built = getattr(self, "_built_with_", None)
        if built is None:
            return
        ours = self.module is self._module_class
        if ours:
            hp.check(self, [p for p in hp.SOLVER if hasattr(self, p.name)])  # errors name us
        kwargs = self._module_kwargs()
        built, now = dict(built), self._structure(kwargs)
        for name, (fitted, value) in self._fixed_at_fit().items():
            built[name], now[name] = fitted, value
        changed = sorted(k for k in built.keys() | now.keys()
                         if not inputs.same_values(built.get(k), now.get(k)))
        if changed:
            what = ", ".join(f"{k} ({built.get(k)!r} -> {now.get(k)!r})" for k in changed)
            raise ValueError(
                f"{what} changed since the model was built, and {doing} the built model.  "
                "Set them back, or fit with warm_start=False to build a new model.")
        solver = {p.name: kwargs[p.name] for p in hp.SOLVER if p.name in kwargs} if ours else {}
        if solver:
            for block in self.module_.modules():
                if isinstance(block, ODEBlock):
                    block.set_solver_options(**solver)

    def _input_shape(self) -> int | tuple[int, ...]:
        return getattr(self, "image_shape_", None) or self.n_features_in_

    def _is_small(self) -> bool:
        return self.architecture == "mlp"

    def default_callbacks(self, callbacks: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Add NFE records, training safety, convergence and progress; log in plain text."""
        callbacks = [(name, PrintLog() if name == "print_log" else cb) for name, cb in callbacks]
        at = next((i for i, (name, _) in enumerate(callbacks) if name == "print_log"),
                  len(callbacks))
        # The bar closes before convergence may warn, so a warning starts a line of its own.
        ours = [("nfe", NFECallback()), ("divergence", DivergenceCheck()),
                ("last_good", LastGoodState()), ("progress_bar", ProgressBar()),
                ("convergence", Convergence())]
        return callbacks[:at] + ours + callbacks[at:]

    def notify(self, method_name: str, **cb_kwargs: Any) -> None:
        """Call the callbacks' ``method_name``; end training after an epoch marked stopped_early.

        Stopping once every callback has seen the epoch keeps its history and log
        complete.  Only then is the epoch finished, and its state kept for a later
        failure to return to (:class:`LastGoodState`).
        """
        if method_name != "on_epoch_end":
            return super().notify(method_name, **cb_kwargs)
        try:
            super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt:  # skorch's EarlyStopping asks to stop after the epoch so
            self.history.record("stopped_early", True)
            self._epoch_finished()
            raise
        self._epoch_finished()
        if self.history[-1].get("stopped_early"):
            raise _StopTraining

    def _epoch_finished(self) -> None:
        guard = dict(self.callbacks_).get("last_good")
        if guard is not None:
            guard.snapshot(self)

    def initialize_module(self):
        """Build the module from the hyperparameters and the shapes seen in ``fit``.

        ``module__*`` parameters override the hyperparameters; the default module
        also receives every model hyperparameter, a custom ``module`` only
        ``input_dim``, ``output_dim`` and its ``module__*`` parameters.  Weights are
        drawn from the estimator's own random generator.
        """
        if not hasattr(self, "n_features_in_"):
            raise ValueError(f"{type(self).__name__} infers its input size in fit; call fit "
                             "(or partial_fit) before initialize.")
        kwargs = self._module_kwargs()
        if getattr(self, "generator_", None) is None:
            self.generator_ = make_generator(self.random_state)
        if self.module is self._module_class:
            self.module_ = build(self.module, self.generator_, **kwargs)
        else:  # a custom module initialises itself from torch's global generator
            with global_seed_from(self.generator_):
                self.module_ = self.initialized_instance(self.module, kwargs)
        self._built_with_ = self._structure(kwargs)
        return self

    def initialize_criterion(self):
        """Build the criterion with ``reduction="none"``: the estimator weighs and averages."""
        kwargs = self.get_params_for("criterion")
        accepts = inspect.signature(self.criterion).parameters if isinstance(
            self.criterion, type) else {}
        if "reduction" in accepts and "reduction" not in kwargs:
            kwargs["reduction"] = "none"
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_params_for(self, prefix: str) -> dict[str, Any]:
        """Return the ``prefix__*`` parameters; torch optimizers default to ``foreach=True``.

        The multi-tensor (foreach) update is faster for models with many small
        parameter tensors, and is what torch picks on GPUs anyway.
        """
        params = super().get_params_for(prefix)
        if prefix == "optimizer" and "foreach" not in params and isinstance(self.optimizer, type):
            if "foreach" in inspect.signature(self.optimizer.__init__).parameters:
                params["foreach"] = True
        return params

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean loss over the batch, weighted by the samples' weights if there are any.

        As ``MLPClassifier`` does it: ``sum(w_i * loss_i) / sum(w_i)`` per batch; a
        batch whose weights are all zero has loss 0 (and no gradient), not 0 / 0.
        """
        y_true, weight = split_target(y_true)
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if getattr(self.criterion_, "reduction", "none") != "none":
            if weight is not None:
                raise ValueError("sample_weight and class_weight need a criterion with "
                                 "reduction='none'; leave criterion__reduction unset.")
            return loss
        per_sample = loss.reshape(len(loss), -1).mean(dim=1)
        if weight is None:
            return per_sample.mean()
        weight = weight.to(per_sample.device, per_sample.dtype)
        return (per_sample * weight).sum() / weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, *, sample_weight: Any = None, X_val: Any = None,
            y_val: Any = None) -> _SkanodeNet:
        """Initialise the module and train it for ``max_epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Training inputs: an array of any real dtype or a DataFrame; images
            for ``architecture="conv"``.  A torch ``Dataset`` of ``(x, y)`` items
            is read into memory and treated the same way.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets: class labels of any type for classifiers, numbers for
            regressors.  May be None when ``X`` is a ``Dataset`` with targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss (``sum(w * loss) / sum(w)`` per
            batch); multiplied by ``class_weight`` for classifiers.
        X_val, y_val : array-like, default=None
            Validation data, recorded as ``valid_loss`` (and ``valid_acc``) every
            epoch; it replaces ``train_split``.  In a ``Pipeline`` with
            ``transform_input=["X_val"]`` it goes through the earlier steps.

        Returns
        -------
        self
            The fitted estimator.
        """
        reset = not (self.warm_start and self._is_trained())
        return self._fit(X, y, reset=reset, partial=False, sample_weight=sample_weight,
                         X_val=X_val, y_val=y_val)

    def partial_fit(self, X: Any, y: Any = None, classes: Any = None, *,
                    sample_weight: Any = None) -> _SkanodeNet:
        """Train for ``max_epochs`` more epochs without re-initialising the module.

        The first call initialises the model; later calls continue with the same
        weights, optimizer state and random stream.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        classes : array-like, default=None
            Classifiers: every class of the whole data, needed on the first call
            when a batch may lack some, in any order (``classes_`` holds them
            sorted).  Later calls may repeat them, in any order.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit(X, y, reset=not self._is_trained(), partial=True,
                         sample_weight=sample_weight, classes=classes)

    def _is_trained(self) -> bool:
        return bool(self.initialized_) and hasattr(self, "n_features_in_")

    def _fit(self, X, y, *, reset: bool, partial: bool, sample_weight=None, classes=None,
             X_val=None, y_val=None):
        self.check_parameter_names()
        hp.check(self, self.hyperparameters())
        self._check_module_overrides()
        self._check_optimizer_arguments()
        check_device(self.device)
        if classes is not None and self._y_numeric:
            raise ValueError("classes is for classifiers; regressors take none.")
        self._check_validation_context(X_val)
        if self.dataset is not SkorchDataset or self.get_params_for("dataset"):
            raise ValueError(
                "skanode's estimators keep the validated arrays in a dataset of their own and "
                "do not use skorch's dataset parameter (or dataset__*); pass a torch Dataset "
                "as X instead (it is read into memory), or leave them unset.")
        if not reset:
            self._match_built_model("partial_fit and warm_start continue")
        with inputs.keep_fitted_state_on_error(self):
            dataset = self._training_data(X, y, reset=reset, partial=partial,
                                          sample_weight=sample_weight, classes=classes,
                                          X_val=X_val, y_val=y_val)
        with torch_threads(small=self._is_small()):
            if reset:
                self.generator_ = make_generator(self.random_state)
                self.initialize()
            self._train(dataset, partial=partial)
        return self

    def _training_data(self, X, y, *, reset, partial, sample_weight, classes, X_val,
                       y_val) -> ArrayDataset:
        X, y = inputs.validate_Xy(self, X, y, reset=reset, y_numeric=self._y_numeric)
        if not (reset or partial or self._y_numeric):
            inputs.check_warm_start_classes(self, y)
        target = self._encode_targets(y, reset=reset, classes=classes)
        weights = [w for w in (inputs.sample_weights(sample_weight, len(X)),
                               self._class_weights(target, partial=partial)) if w is not None]
        weight = np.prod(weights, axis=0) if weights else None
        if weight is not None and not weight.sum() > 0:
            raise ValueError("sample_weight * class_weight sums to zero.")
        validation = self._validation_data(X_val, y_val)
        target = torch.as_tensor(target)
        weight = None if weight is None else torch.as_tensor(weight)
        if self.early_stopping and not partial and validation is None and \
                self.train_split is None:
            keep, held = self._early_stopping_split(target)
            if weight is not None and not (weight[held].sum() > 0 and weight[keep].sum() > 0):
                part = "held-out" if not weight[held].sum() > 0 else "training"
                raise ValueError(
                    f"early_stopping: the sample weights of the {part} samples sum to zero, "
                    "so that loss means nothing.  Pass X_val / y_val, use "
                    "early_stopping=False, or give more samples a non-zero weight.")
            validation = ArrayDataset(X[held], target[held],
                                      None if weight is None else weight[held])
            X, target = X[keep], target[keep]
            weight = None if weight is None else weight[keep]
        return ArrayDataset(X, target, weight, validation=validation)

    def _early_stopping_split(self, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Split the sample indices: kept for training, held out for early stopping."""
        n = len(target)
        labels = None if self._y_numeric else target.numpy()
        if labels is not None and np.bincount(labels).min(initial=n) < 2:
            labels = None  # a class with one sample cannot be split in two
        held = max(1, round(self.validation_fraction * n))
        if n - held < 1:
            raise ValueError(f"early_stopping needs at least 2 samples, got {n}.")
        if held < _MIN_VALIDATION:
            warnings.warn(
                f"early_stopping holds out only {held} of {n} samples "
                f"(validation_fraction={self.validation_fraction}): the validation loss that "
                "decides when to stop will be noisy.  Raise validation_fraction, pass X_val / "
                "y_val, or stop on the training loss (early_stopping=False).", UserWarning,
                stacklevel=5)
        if labels is not None and held < len(np.unique(labels)):
            labels = None
        keep, valid = train_test_split(np.arange(n), test_size=held, stratify=labels,
                                       random_state=check_random_state(self.random_state))
        return keep, valid

    def _validation_data(self, X_val, y_val) -> ArrayDataset | None:
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        if X_val is None and isinstance(self.train_split, HoldOut):
            X_val, y_val = self.train_split.X, self.train_split.y
        if X_val is None:
            return None
        # The checks speak of X and y; say which arrays they mean.
        try:
            X_val = inputs.validate_X(self, X_val)
        except ValueError as err:
            raise ValueError(f"X_val: {err}") from err
        try:
            target = self._encode_targets(np.asarray(y_val), reset=False)
        except ValueError as err:
            raise ValueError(f"y_val: {err}") from err
        if len(target) != len(X_val):
            raise ValueError(f"X_val has {len(X_val)} samples but y_val has {len(target)}.")
        return ArrayDataset(X_val, torch.as_tensor(target))

    def _check_validation_context(self, X_val: Any) -> None:
        source = ("X_val" if X_val is not None else
                  "train_split=HoldOut(...)" if isinstance(self.train_split, HoldOut) else None)
        if source is not None:
            inputs.check_validation_context(self, source)

    def _train(self, dataset: ArrayDataset, *, partial: bool) -> None:
        """Skorch's training, except that failures and Ctrl-C restore the last finished epoch."""
        guard = dict(self.callbacks_).get("last_good")
        said = None  # warned after on_train_end, once the progress bar has closed its line
        self._prepare_scoring()
        self.notify("on_train_begin", X=dataset, y=None, partial=partial)
        try:
            self.fit_loop(dataset, self._split_labels(dataset))
        except _StopTraining:
            pass
        except KeyboardInterrupt:
            if guard is not None and len(self.history) and guard.epoch_ == len(self.history):
                return  # after the epoch was saved: how skorch's EarlyStopping asks to stop
            epoch = self._restore(guard, "interrupted", True)
            said = ("Training was interrupted (KeyboardInterrupt); the model keeps the "
                    f"weights of its last finished epoch ({epoch}).")
        except KeyError as err:  # skorch's History names the key a callback looked for
            self._restore(guard, "failure", f"KeyError: {err}")
            if "valid_" not in str(err) or dataset.validation is not None or self.train_split:
                raise
            raise ValueError(
                f"A callback needs validation scores ({err.args[0]}), but no validation data "
                "is used (train_split=None, the default).  Use early_stopping=True (skanode's "
                "own, with validation_fraction), pass X_val / y_val to fit, or set train_split "
                "(e.g. skorch.dataset.ValidSplit(5)).") from err
        except (SolverError, DivergenceError) as err:
            epoch = self._restore(guard, "failure", f"{type(err).__name__}: {err}")
            if self.on_failure == "raise":
                raise
            said = (f"Training stopped at epoch {len(self.history)}: {err} The model keeps "
                    f"the weights of its last finished epoch ({epoch}).")
        except Exception as err:  # a callback's or torch's: no half-updated weights either
            self._restore(guard, "failure", f"{type(err).__name__}: {err}")
            raise
        finally:
            # the history keeps the rows of unfinished epochs, marked; n_iter_ counts finished
            # ones, also when a callback's on_train_end raises
            self.n_iter_ = sum(not _UNFINISHED & row.keys() for row in self.history)
            self.notify("on_train_end", X=dataset, y=None)
        if said is not None:
            warnings.warn(said, UserWarning, stacklevel=4)

    def _prepare_scoring(self) -> None:
        """Let skorch's scoring callbacks see the targets as ``predict`` returns them."""

    def _split_labels(self, dataset: ArrayDataset) -> np.ndarray | None:
        # skorch's ValidSplit stratifies on y for classifiers
        return None if self._y_numeric else dataset.y.numpy()

    def _restore(self, guard: LastGoodState | None, key: str, value: Any) -> int | None:
        if len(self.history):
            self.history.record(key, value)
        return None if guard is None else guard.restore(self)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation data: fixed validation data if given, else ``train_split``."""
        if isinstance(X, ArrayDataset) and X.validation is not None:
            return X, X.validation
        return super().get_split_datasets(X, y, **fit_params)

    def check_data(self, X, y=None):
        """Do nothing: ``fit`` validates the data before it reaches skorch."""

    def get_dataset(self, X: Any, y: Any = None) -> Any:
        """Wrap validated inputs and encoded targets in an :class:`~.batching.ArrayDataset`."""
        if isinstance(X, torch.utils.data.Dataset):
            return X
        if not isinstance(X, torch.Tensor):
            X = self._prediction_input(X)
        if y is not None:
            y = torch.as_tensor(self._encode_targets(np.asarray(y), reset=False))
        return ArrayDataset(X, y)

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; training batches are shuffled by the estimator's generator.

        ``iterator_train__shuffle=False`` turns shuffling off.  Prediction and
        validation batches have :meth:`_predict_batch_size` rows unless
        ``iterator_valid__batch_size`` says otherwise.
        """
        if not training:
            kwargs = {"batch_size": self._predict_batch_size(),
                      **self.get_params_for("iterator_valid")}
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            return self.iterator_valid(dataset, **kwargs)
        kwargs = {"batch_size": self.batch_size, "shuffle": True,
                  **self.get_params_for("iterator_train")}
        if "generator" in inspect.signature(self.iterator_train).parameters:
            kwargs.setdefault("generator", self.generator_)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return self.iterator_train(dataset, **kwargs)

    # -- inference ---------------------------------------------------------------------------
    def _prediction_input(self, X: Any) -> Any:
        """Validate prediction-time input against what ``fit`` saw."""
        check_is_fitted(self, "n_features_in_")
        if _is_internal(X):  # skorch's scoring callbacks pass the validation data
            return X
        self._match_built_model("predictions come from")
        check_device(self.device)  # set_params(device="cuda") after fit, on a CPU machine
        return inputs.validate_X(self, X)

    @staticmethod
    def _checked_output(output: np.ndarray) -> np.ndarray:
        if not np.isfinite(output).all():
            raise DivergenceError(
                "the model produced non-finite outputs; its weights or the input scale "
                "make the solve overflow."
            )
        return output

    def evaluation_step(self, batch, training=False):
        """Run the module on a prediction batch; short batches are padded (see ``_padded``)."""
        Xi, _ = batch
        with torch.set_grad_enabled(training):
            self.set_training(training)
            return _padded(lambda x: self.infer(x), Xi.to(self.device))

    def _forward_numpy(self, X: Any) -> np.ndarray:
        X = self._prediction_input(X)
        with torch_threads(small=self._is_small()):
            return self._checked_output(NeuralNet.predict_proba(self, X))

    def transform(self, X: Any) -> np.ndarray:
        """Return the learned features ``phi(x)``, the input of the linear head.

        For ODE models this is the state ``h(T)`` with the augmented dimensions
        included, shape ``(n_samples, n_features + augment_dim)`` (images:
        flattened, ``(c + p) * h * w``); for the ResNet the state after the last
        residual block.  ``set_output(transform="pandas")`` gives a DataFrame
        with the columns of :meth:`get_feature_names_out`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_features_out)
            The features, float32.
        """
        self._need_module_method("features", "transform")
        return self._map_batches(X, lambda xb: self.module_.features(xb).flatten(1))

    @property
    def _n_features_out(self) -> int:
        """Width of :meth:`transform`'s output (``ClassNamePrefixFeaturesOutMixin`` reads it)."""
        check_is_fitted(self, "n_features_in_")
        shape = np.atleast_1d(self._input_shape())
        built = getattr(self, "_built_with_", None) or {}
        augment = built.get("augment_dim", getattr(self, "augment_dim", 0))  # the fitted one
        return int((shape[0] + augment) * np.prod(shape[1:]))

    def trajectory(self, X: Any, times: Sequence[float] | None = None) -> np.ndarray:
        """Return the hidden state along the flow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Initial points.
        times : sequence of float, default=None
            Increasing times from 0, usually up to ``integration_time`` (later
            times continue the flow past the model's T); default 50 points in
            ``[0, integration_time]``.  Ignored by the ResNet, whose "time" is
            its layer index.

        Returns
        -------
        numpy.ndarray of shape (n_times, n_samples, state_dim)
            The state at each time (ODE) or after each block (ResNet), input
            first; for images ``(n_times, n_samples, channels + p, height,
            width)``.  The solver lands on every requested time, so its steps,
            and the last state, differ from :meth:`transform`'s solve within the
            solver's tolerance unless ``times`` is just ``[0, T]``.
        """
        if times is None:
            times = np.linspace(0.0, getattr(self, "integration_time", 1.0), 50)
        times = np.asarray(times, dtype=np.float32)
        self._need_module_method("trajectory", "trajectory")
        return self._map_batches(X, lambda xb: self.module_.trajectory(xb, times), axis=1)

    def _need_module_method(self, method: str, caller: str) -> None:
        check_is_fitted(self, "n_features_in_")
        if not callable(getattr(self.module_, method, None)):
            raise TypeError(f"{caller} needs a module with a {method}() method, as skanode's "
                            f"own have; the custom module {type(self.module_).__name__} has "
                            "none.")

    def _map_batches(self, X, fn, axis: int = 0) -> np.ndarray:
        X = self._prediction_input(X)
        self.set_training(False)
        outputs = []
        with torch.no_grad(), torch_threads(small=self._is_small()):
            for xb, _ in BatchLoader(self.get_dataset(X), batch_size=self._predict_batch_size()):
                outputs.append(_padded(fn, xb.to(self.device), axis=axis).cpu())
        return torch.cat(outputs, dim=axis).numpy()

    def _predict_batch_size(self) -> int:
        """Rows per prediction batch: ``iterator_valid__batch_size`` if set, else the default.

        Where predictions do not depend on the batch (per-sample steps, fixed-step
        solvers, the ResNet), one solve over many rows is much faster than many
        small ones (measured: 2.6x on the paper's spheres against batches of 64),
        so MLP models predict in batches of ``_LARGE_PREDICT_BATCH``; image models
        and per-batch solves keep ``batch_size``.
        """
        size = self.get_params_for("iterator_valid").get("batch_size")
        if size is not None and (int(size) != size or (size < 1 and size != -1)):
            raise ValueError(f"iterator_valid__batch_size must be a positive integer or -1 "
                             f"(one batch), got {size!r}.")
        if size is None:
            size = (_LARGE_PREDICT_BATCH if self._is_small() and self._batch_independent()
                    else self.batch_size)
        return size if size > 0 else 2**31

    def _batch_independent(self) -> bool:
        return all(block.batch_independent for block in self.module_.modules()
                   if isinstance(block, ODEBlock))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        tags.transformer_tags.preserves_dtype = ["float32"]  # the network computes in float32
        return tags

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path``; see :func:`skanode.persistence.save`.

        Parameters
        ----------
        path : str or path-like
            Destination file.  Load with :func:`skanode.load`.
        """
        persistence.save(self, path)

    def fitted_state(self) -> dict[str, Any]:
        """Return everything needed to predict and to continue training (persistence protocol).

        Returns
        -------
        dict
            ``params``, ``fitted`` attributes, ``module`` and ``optimizer`` state
            dicts, ``generator`` state and ``history``, as plain containers and
            tensors.
        """
        check_is_fitted(self, "n_features_in_")
        self._match_built_model("save would store them beside the weights of")
        self._check_optimizer_arguments()  # load would build the optimizer with them
        fitted = {name: persistence.to_plain(getattr(self, name))
                  for name in inputs.FITTED_DATA_ATTRIBUTES if hasattr(self, name)}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(v) for v in self.feature_names_in_]
        if hasattr(self, "classes_"):
            fitted["classes_dtype"] = (self.classes_.dtype.str if self.classes_.dtype != object
                                       else "object")
        if hasattr(self, "n_iter_"):
            fitted["n_iter_"] = self.n_iter_
        if getattr(self, "_sklearn_output_config", None):  # set_output(transform="pandas")
            fitted["_sklearn_output_config"] = dict(self._sklearn_output_config)
        return {
            "params": self.get_params(deep=False),
            "fitted": fitted,
            "module": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "optimizer": persistence.map_tensors(lambda t: t.detach().cpu(),
                                                 self.optimizer_.state_dict()),
            "generator": self.generator_.get_state(),
            "history": persistence.to_plain(list(self.history)),
        }

    @classmethod
    def from_fitted_state(cls, params: dict[str, Any], state: dict[str, Any]) -> _SkanodeNet:
        """Rebuild an estimator from :meth:`fitted_state` (persistence protocol).

        Parameters
        ----------
        params : dict
            Constructor parameters.
        state : dict
            The rest of :meth:`fitted_state`'s output.

        Returns
        -------
        estimator
            Fitted, with the saved weights, optimizer state, generator and history.
        """
        est = cls(**params)
        fitted = dict(state["fitted"])
        dtype = fitted.pop("classes_dtype", None)
        for name, value in fitted.items():
            if name == "classes_":
                value = np.asarray(value, dtype=object if dtype == "object" else np.dtype(dtype))
            elif name == "feature_names_in_":
                value = np.asarray(value, dtype=object)
            elif isinstance(value, list):
                value = tuple(value)
            setattr(est, name, value)
        est.initialize()  # draws initial weights, which the saved ones then replace
        est.module_.load_state_dict(state["module"])
        est.optimizer_.load_state_dict(state["optimizer"])
        est.generator_.set_state(state["generator"])
        est.history_ = History(state["history"])
        return est


# torch's CPU matrix products take other kernels for batches of 1-7 rows than for larger
# ones, so a row's result changes in its last bits with the batch size (measured: up to
# 4e-6 through the paper's MLP), and so do products split over threads.  Prediction pads
# short batches to this many rows, and MLP models predict on one thread (as they train),
# so every row goes through the same kernels whatever the batch it comes in.
_MIN_PREDICT_ROWS = 8
# Rows per prediction batch where results do not depend on the batch (MLP models).
_LARGE_PREDICT_BATCH = 4096
# Fewer held-out samples than this make early stopping a coin toss; fit warns.
_MIN_VALIDATION = 10
_UNFINISHED = frozenset({"interrupted", "failure"})  # history keys of epochs that did not end


def _padded(fn, x: torch.Tensor, axis: int = 0) -> torch.Tensor:
    """Apply ``fn`` to ``x`` padded to at least ``_MIN_PREDICT_ROWS`` rows; drop the padding."""
    n = len(x)
    if n >= _MIN_PREDICT_ROWS:
        return fn(x)
    filler = x[-1:].expand(_MIN_PREDICT_ROWS - n, *x.shape[1:])
    return fn(torch.cat([x, filler])).narrow(axis, 0, n)


# -- the tasks ------------------------------------------------------------------------------
class _ClassifierTask:
    """Labels of any type in, the same type out; accuracy as ``valid_acc``."""

    _task_groups = (hp.CLASSIFICATION,)
    _criterion_class = nn.CrossEntropyLoss
    _y_numeric = False

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in the order of ``predict_proba``'s columns."""
        try:
            return vars(self)["classes_"]
        except KeyError:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet: "
                                 "it has no classes_.") from None

    @classes_.setter
    def classes_(self, value: np.ndarray) -> None:
        vars(self)["classes_"] = value

    def default_callbacks(self, callbacks):
        """Skorch's ``valid_acc`` compares encoded targets with labels; this one decodes them."""
        accuracy = EpochScoring(_label_accuracy, name="valid_acc", lower_is_better=False,
                                target_extractor=_target_labels)
        callbacks = [(name, accuracy if name == "valid_acc" else cb) for name, cb in callbacks]
        return super().default_callbacks(callbacks)

    def _prepare_scoring(self) -> None:
        # The data hold class indices and predict returns labels: a user's EpochScoring
        # ("accuracy", "f1", a make_scorer) would compare the two and score nonsense.
        # Its targets are decoded to labels, unless it brings its own target_extractor.
        for _, cb in self.callbacks_:
            if isinstance(cb, ScoringBase) and (cb.target_extractor is to_numpy or
                                                isinstance(cb.target_extractor, _DecodedLabels)):
                cb.target_extractor = _DecodedLabels(self.classes_)

    def _encode_targets(self, y, *, reset: bool, classes: Any = None) -> np.ndarray:
        return inputs.class_labels(self, y, reset=reset, partial=classes)

    def _class_weights(self, target: np.ndarray, *, partial: bool) -> np.ndarray | None:
        return inputs.class_weights(self.class_weight, self.classes_, target, partial=partial)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to 1.
        """
        return self._forward_numpy(X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Return the logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable class label for each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
            Labels, of the same type as the labels given to ``fit``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


def _label_accuracy(net: Any, X: Any, y: Any = None) -> float:
    """Accuracy of ``net`` on a dataset whose targets are encoded class indices.

    Computed from the module's outputs on the indices directly: skorch hands in the
    validation step's outputs (cached), and ``predict_proba``'s checks and
    ``accuracy_score``'s would cost more than a small model's validation solve,
    every epoch.
    """
    y = _encoded_targets(X) if y is None else y
    y = torch.as_tensor(np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)).long()
    outputs = torch.cat([out.detach().cpu() for out in net.forward_iter(X, training=False)])
    return float((outputs.argmax(dim=1) == y).double().mean())


def _encoded_targets(dataset: Any) -> torch.Tensor:
    if isinstance(dataset, Subset):
        return _encoded_targets(dataset.dataset)[torch.as_tensor(np.asarray(dataset.indices))]
    return dataset.y


def _target_labels(target: Any) -> np.ndarray:
    """Return the labels of a batch's target without its weights (for skorch's scoring)."""
    y, _ = split_target(target)
    return y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


class _DecodedLabels:
    """A scoring callback's ``target_extractor``: class indices in, labels out."""

    def __init__(self, classes: np.ndarray) -> None:
        self.classes = classes

    def __call__(self, target: Any) -> np.ndarray:
        return self.classes[_target_labels(target).astype(np.int64)]


def _is_internal(X: Any) -> bool:
    """Tell whether ``X`` is an :class:`ArrayDataset` (or a subset) the estimator made."""
    return isinstance(X, ArrayDataset) or (isinstance(X, Subset)
                                           and isinstance(X.dataset, ArrayDataset))


class _RegressorTask:
    """Float targets; 1-D targets in, 1-D predictions out."""

    _criterion_class = nn.MSELoss
    _y_numeric = True

    def _encode_targets(self, y, *, reset: bool, classes: Any = None) -> np.ndarray:
        return inputs.regression_targets(self, y, reset=reset)

    def _class_weights(self, target: np.ndarray, *, partial: bool) -> None:
        return None

    def _split_labels(self, dataset: ArrayDataset) -> None:
        return None

    def predict(self, X: Any) -> np.ndarray:
        """Return the predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when ``fit`` was given 1-D targets.
        """
        pred = self._forward_numpy(X).astype(np.float64)
        return pred.ravel() if getattr(self, "target_ndim_", 2) == 1 else pred

    @property
    def predict_proba(self):
        """Regressors have no ``predict_proba``; use ``predict``."""
        raise AttributeError(f"{type(self).__name__} has no predict_proba; use predict.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# -- the model families ---------------------------------------------------------------------
class _ODEFamily:
    _module_class = ODENet
    _model_groups = (hp.FIELD, hp.SOLVER, hp.HEAD)


class _AugmentedFamily(_ODEFamily):
    _model_groups = (hp.FIELD, hp.ANODE_AUGMENT, hp.SOLVER, hp.HEAD)


class _ResNetFamily:
    _module_class = ResNet
    _model_groups = (hp.RESNET_FIELD, hp.RESNET, hp.HEAD)


# -- docstrings ------------------------------------------------------------------------------
def _qualname(cls: type) -> str:
    module = cls.__module__.replace("torch.nn.modules.loss", "torch.nn")
    return f"{module}.{cls.__name__}"


_SKORCH_PARAMS = """\
    module : type of torch.nn.Module, default={module}
        The network; a custom module receives ``input_dim``, ``output_dim`` and
        its ``module__*`` arguments.
    criterion : type of torch.nn.Module, default={criterion}
        The loss, built with ``reduction="none"`` so that ``sample_weight``
        can weigh it.
    iterator_train, iterator_valid : type, default=skanode.batching.BatchLoader
        Batch iterators (a torch ``DataLoader`` takes over for options the
        slicing loader does not implement).
    dataset, predict_nonlinearity, compile, use_caching, torch_load_kwargs
        skorch's parameters of these names, with skorch's defaults.
    **kwargs
        Any other skorch parameter (``iterator_train__shuffle``,
        ``callbacks__nfe=None``, ``optimizer__weight_decay``, ...) and
        ``module__*`` arguments passed to the torch module.
"""

_ATTRIBUTES = """\
    Attributes
    ----------
{classes}    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame.
    n_outputs_ : int
        Output size of the network (classes or targets).
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the images, for ``architecture="conv"``.
    module_ : torch.nn.Module
        The trained network.
    generator_ : torch.Generator
        The estimator's random generator (initial weights, batch order).
    history_ : skorch.History
        Per-epoch and per-batch records, ``forward_nfe`` and ``backward_nfe``
        included.
    n_iter_ : int
        Epochs trained to the end, over all ``fit`` / ``partial_fit`` calls since
        the model was initialised (an epoch cut short by a failure or Ctrl-C
        keeps its marked row in the history but is not counted).
"""

_CLASSES_ATTRIBUTE = """\
    classes_ : ndarray of shape (n_classes,)
        The class labels, as given in ``y`` (or ``classes``).
"""

_EXAMPLE = """\
    Examples
    --------
    >>> from skanode import {name}
    >>> from skanode.datasets import make_concentric_spheres
    >>> X, y = make_concentric_spheres(n_inner=50, n_outer=100, random_state=0)
    >>> est = {name}(max_epochs=2, random_state=0).fit(X, {target})
    >>> est.predict(X[:3]).shape
    (3,)
"""


def _doc(cls: type, summary: str) -> str:
    classifier = issubclass(cls, _ClassifierTask)
    target = "y" if classifier else "y.astype(float)"
    skorch_params = _SKORCH_PARAMS.format(module=_qualname(cls._module_class),
                                          criterion=_qualname(cls._criterion_class))
    return (f"{summary}\n\n    Parameters\n    ----------\n"
            f"{hp.docstring(cls.hyperparameters())}{skorch_params}\n"
            + _ATTRIBUTES.format(classes=_CLASSES_ATTRIBUTE if classifier else "") + "\n"
            + _EXAMPLE.format(name=cls.__name__, target=target))


class NODEClassifier(_ODEFamily, _ClassifierTask, _SkanodeNet, NeuralNetClassifier):  # noqa: D101
    pass


class ANODEClassifier(_AugmentedFamily, NODEClassifier):  # noqa: D101
    pass


class ResNetClassifier(_ResNetFamily, _ClassifierTask, _SkanodeNet, NeuralNetClassifier):  # noqa: D101
    pass


class NODERegressor(_ODEFamily, _RegressorTask, _SkanodeNet, NeuralNetRegressor):  # noqa: D101
    pass


class ANODERegressor(_AugmentedFamily, NODERegressor):  # noqa: D101
    pass


class ResNetRegressor(_ResNetFamily, _RegressorTask, _SkanodeNet, NeuralNetRegressor):  # noqa: D101
    pass


NODEClassifier.__doc__ = _doc(
    NODEClassifier, "Neural ODE classifier: ``x -> h(T) -> linear -> softmax``.")
ANODEClassifier.__doc__ = _doc(
    ANODEClassifier, "Augmented Neural ODE classifier: ``[x, 0] -> h(T) -> linear -> softmax``.")
ResNetClassifier.__doc__ = _doc(
    ResNetClassifier, "ResNet classifier: ``num_layers`` blocks ``h + f(h)``, linear, softmax.")
NODERegressor.__doc__ = _doc(NODERegressor, "Neural ODE regressor trained with the squared error.")
ANODERegressor.__doc__ = _doc(
    ANODERegressor, "Augmented Neural ODE regressor trained with the squared error.")
ResNetRegressor.__doc__ = _doc(ResNetRegressor, "ResNet regressor trained with the squared error.")

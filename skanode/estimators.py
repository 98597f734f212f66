"""scikit-learn estimators: NODE, ANODE and ResNet classifiers and regressors.

Each estimator is a thin skorch subclass.  The shared machinery here does what
scikit-learn expects of an estimator and skorch leaves to its user: input
validation, dtype casting, label encoding, shape inference, seeding and the
device check.  Behaviour during training lives in callbacks.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNet, NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EpochScoring
from skorch.utils import data_from_dataset, is_dataset, to_numpy
from torch import nn

from .batching import ArrayDataset, BatchLoader, HoldOut
from .callbacks import NFECallback
from .exceptions import DivergenceError, SolverError
from .modules import ODENet, ResNet
from .parallel import torch_threads

__all__ = [
    "ANODEClassifier",
    "ANODERegressor",
    "NODEClassifier",
    "NODERegressor",
    "ResNetClassifier",
    "ResNetRegressor",
]


class _SkanodeNet(TransformerMixin):
    """Validation, encoding, shape inference and seeding shared by all estimators.

    Subclasses provide ``_module_params`` (the model hyperparameters passed to
    the module), ``_encode_target`` and ``_prepare_y``.
    """

    def __init__(
        self,
        module: type[nn.Module] | nn.Module,
        *,
        random_state: int | np.random.RandomState | None = None,
        on_failure: str = "raise",
        lr: float = 1e-3,
        max_epochs: int = 50,
        batch_size: int = 64,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        train_split: Any = None,
        verbose: int = 0,
        iterator_train: Any = BatchLoader,
        iterator_valid: Any = BatchLoader,
        **kwargs: Any,
    ) -> None:
        self.random_state = random_state
        self.on_failure = on_failure
        super().__init__(
            module,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            train_split=train_split,
            verbose=verbose,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            **kwargs,
        )

    # -- hooks for subclasses ----------------------------------------------------------
    def _module_params(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        callbacks = list(super()._default_callbacks)
        if self._tracks_nfe:
            # Before the scorers so that the printed epoch row already holds the NFE.
            callbacks.insert(1, ("nfe", NFECallback()))
        return callbacks

    _tracks_nfe = True

    # -- fitting -------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, **fit_params: Any) -> _SkanodeNet:
        """Initialise the module and train it on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, c, h, w)
            Training inputs: a numpy array of any real dtype or a DataFrame;
            images for ``architecture="conv"``.  A torch ``Dataset`` is passed
            to skorch unchanged (then set ``module__input_dim`` and
            ``module__output_dim``).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets: class labels of any type for classifiers, numbers for
            regressors.
        **fit_params : dict
            Passed on to skorch's ``fit``.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit(X, y, initialize=not (self.warm_start and self.initialized_),
                         **fit_params)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, **fit_params: Any):
        """Train for ``max_epochs`` more epochs without re-initialising the module.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        classes : array-like, default=None
            Unused; the classes are those seen in the first fit (or ``classes``).
        **fit_params : dict
            Passed on to skorch.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit(X, y, initialize=not self.initialized_, **fit_params)

    def _fit(self, X, y, *, initialize: bool, **fit_params):
        self._require_device()
        if self.on_failure not in ("raise", "stop"):
            raise ValueError(f"on_failure must be 'raise' or 'stop', got {self.on_failure!r}.")
        if not is_dataset(X):
            X, y = self._validate_training_data(X, y, reset=initialize)
        small = getattr(self, "architecture", "mlp") == "mlp"
        with self._seeded(), torch_threads(small=small):
            if initialize:
                self.initialize()
            self._train(X, y, **fit_params)
        return self

    def _train(self, X, y, **fit_params):
        # skorch's partial_fit, except that failures and Ctrl-C restore the weights of the
        # last finished epoch and say so, instead of leaving NaN or half-updated weights.
        self._keep_last_good()
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, _routing_method="fit", **fit_params)
        except KeyboardInterrupt:
            self._restore_last_good("interrupted", True)
            warnings.warn(
                "Training was interrupted (KeyboardInterrupt); the model keeps the weights "
                f"of its last finished epoch ({self._last_good_epoch_}).", UserWarning,
                stacklevel=3)
        except (SolverError, DivergenceError) as err:
            self._restore_last_good("failure", f"{type(err).__name__}: {err}")
            if self.on_failure == "raise":
                raise
            warnings.warn(
                f"Training stopped at epoch {len(self.history)}: {err} The model keeps the "
                f"weights of its last finished epoch ({self._last_good_epoch_}).",
                UserWarning, stacklevel=3)
        finally:
            self.notify("on_train_end", X=X, y=y)

    def _keep_last_good(self) -> None:
        self._last_good_ = (_clone(self.module_.state_dict()),
                            _clone(self.optimizer_.state_dict()))
        self._last_good_epoch_ = len(self.history)

    def get_params_for(self, prefix: str) -> dict[str, Any]:
        """Return the ``prefix__*`` parameters; torch optimizers default to ``foreach=True``.

        The multi-tensor (foreach) update is faster for models with many small
        parameter tensors, and is what torch picks on GPUs anyway.
        """
        params = super().get_params_for(prefix)
        if prefix == "optimizer" and "foreach" not in params and isinstance(self.optimizer, type):
            accepts = inspect.signature(self.optimizer.__init__).parameters
            if "foreach" in accepts:
                params["foreach"] = True
        return params

    def _set_training(self, training=True):
        # skorch sets the mode of every submodule before every batch; skip when unchanged.
        if self.module_.training == training and self.criterion_.training == training:
            return
        super()._set_training(training)

    def _restore_last_good(self, key: str, value: Any) -> None:
        module_state, optimizer_state = self._last_good_
        self.module_.load_state_dict(module_state)
        self.optimizer_.load_state_dict(optimizer_state)
        if len(self.history):
            self.history.record(key, value)

    def on_epoch_end(self, net, **kwargs):
        """Remember the weights of each finished epoch (restored if training fails)."""
        super().on_epoch_end(net, **kwargs)
        self._keep_last_good()

    def train_step(self, batch, **fit_params):
        """Run skorch's training step and reject a non-finite loss."""
        step = super().train_step(batch, **fit_params)
        if not torch.isfinite(step["loss"]).all():
            raise DivergenceError(
                f"the training loss became {step['loss'].item()} at epoch {len(self.history)}. "
                "Try a smaller lr, gradient clipping (skorch.callbacks.GradientNormClipping), "
                "weight decay (optimizer__weight_decay) or a tighter solver tolerance."
            )
        return step

    def _validate_training_data(self, X, y, *, reset: bool):
        X, shape = self._flatten_images(X, reset=reset)
        X, y = validate_data(self, X, y, reset=reset, **self._x_checks(), **self._y_checks())
        y = self._prepare_y(y, reset=reset)
        return self._as_tensor(self._unflatten_images(X, shape, reset=reset)), y

    def _flatten_images(self, X: Any, *, reset: bool) -> tuple[Any, tuple | None]:
        """Turn ``(n, c, h, w)`` images into rows for scikit-learn's checks; return the shape."""
        if getattr(self, "architecture", "mlp") != "conv" or getattr(X, "ndim", 2) != 4:
            return X, None
        shape = tuple(X.shape[1:])
        expected = self._image_shape(reset=reset)
        if expected is not None and shape != expected:
            raise ValueError(f"X has images of shape {shape}, but {type(self).__name__} "
                             f"expects {expected}.")
        return np.reshape(X, (len(X), -1)), shape

    def _image_shape(self, *, reset: bool) -> tuple[int, int, int] | None:
        if not reset:
            return self.image_shape_
        return None if self.image_shape is None else tuple(int(v) for v in self.image_shape)

    def _unflatten_images(self, X: np.ndarray, seen: tuple | None, *,
                          reset: bool) -> np.ndarray:
        if getattr(self, "architecture", "mlp") != "conv":
            return X
        shape = self._image_shape(reset=reset) or seen
        if shape is None:
            raise ValueError(
                "architecture='conv' needs images: pass X of shape (n, channels, height, width) "
                "or flat rows with image_shape=(channels, height, width).")
        if len(shape) != 3 or int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"image_shape={shape} does not match the {X.shape[1]} features "
                             "of each row of X.")
        if reset:
            self.image_shape_ = shape
        return X.reshape(len(X), *shape)

    def _x_checks(self) -> dict[str, Any]:
        return {"dtype": (np.float32, np.float64), "ensure_all_finite": True}

    def _y_checks(self) -> dict[str, Any]:
        return {"y_numeric": False, "multi_output": False}

    @staticmethod
    def _as_tensor(X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))

    def _validate_X(self, X: Any) -> Any:
        """Validate prediction-time input against what ``fit`` saw."""
        check_is_fitted(self, "n_features_in_")
        if is_dataset(X):  # skorch's scoring callbacks hand over the validation dataset
            return X
        X, shape = self._flatten_images(X, reset=False)
        X = validate_data(self, X, reset=False, **self._x_checks())
        return self._as_tensor(self._unflatten_images(X, shape, reset=False))

    def _require_device(self) -> None:
        device = str(self.device) if self.device is not None else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(
                f"device={self.device!r} was requested but CUDA is not available "
                "(torch.cuda.is_available() is False): install a CUDA build of torch "
                "on a machine with a GPU, or use device='cpu'."
            )

    @contextlib.contextmanager
    def _seeded(self) -> Iterator[None]:
        """Seed torch's global generators from ``random_state`` and restore them after.

        skorch draws the module's initial weights and the batch order from torch's
        global generators; forking them keeps the user's global state untouched.
        """
        if self.random_state is None:
            yield
            return
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        devices = []
        if str(self.device).startswith("cuda") and torch.cuda.is_available():
            devices = [torch.device(self.device).index or 0]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def initialize_module(self):
        """Build the module from the hyperparameters and the shapes seen in ``fit``."""
        kwargs = self.get_params_for("module")
        if "input_dim" not in kwargs:
            if not hasattr(self, "n_features_in_"):
                raise ValueError(
                    "The input size is inferred in fit; call fit (or pass module__input_dim "
                    "and module__output_dim) before initialize."
                )
            kwargs = {"input_dim": getattr(self, "image_shape_", None) or self.n_features_in_,
                      "output_dim": self.n_outputs_,
                      **self._module_params(), **kwargs}
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off the validation data; a :class:`~skanode.HoldOut` is validated here."""
        if isinstance(self.train_split, HoldOut):
            X_valid = self._validate_X(self.train_split.X)
            y_valid = self._prepare_y(np.asarray(self.train_split.y), reset=False)
            return self.get_dataset(X, y), self.get_dataset(X_valid, y_valid)
        return super().get_split_datasets(X, y, **fit_params)

    def check_data(self, X, y=None):
        """Do nothing: ``fit`` validates the data before it reaches skorch."""

    def get_dataset(self, X: Any, y: Any = None) -> Any:
        """Wrap validated arrays in an :class:`~skanode.batching.ArrayDataset`."""
        if is_dataset(X):
            return X
        if not isinstance(X, torch.Tensor):
            X = self._validate_X(X)
        return ArrayDataset(X, None if y is None else self._encode_target(y))

    # -- inference -----------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Return the module's output after ``predict_nonlinearity``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_outputs)
            Class probabilities (rows sum to 1) for classifiers.
        """
        return self._checked_output(NeuralNet.predict_proba(self, self._validate_X(X)))

    @staticmethod
    def _checked_output(output: np.ndarray) -> np.ndarray:
        if not np.isfinite(output).all():
            raise DivergenceError(
                "the model produced non-finite outputs; its weights or the input scale "
                "make the solve overflow."
            )
        return output

    def transform(self, X: Any) -> np.ndarray:
        """Return the learned features ``phi(x)``, the input of the linear head.

        For ODE models this is the state ``h(T)`` with the augmented dimensions
        included, shape ``(n_samples, n_features + augment_dim)``; for the ResNet
        the state after the last residual block.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        numpy.ndarray
            The features, float32.
        """
        return self._map_batches(X, lambda xb: self.module_.features(xb).flatten(1))

    def trajectory(self, X: Any, times: Sequence[float] | None = None) -> np.ndarray:
        """Return the hidden state along the flow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Initial points.
        times : sequence of float, default=None
            Increasing times in ``[0, integration_time]``; default 50 points.
            Ignored by the ResNet, whose "time" is its layer index.

        Returns
        -------
        numpy.ndarray of shape (n_times, n_samples, state_dim)
            The state at each time (ODE) or after each block (ResNet), input
            first.
        """
        if times is None:
            times = np.linspace(0.0, getattr(self, "integration_time", 1.0), 50)
        times = np.asarray(times, dtype=np.float32)
        return self._map_batches(X, lambda xb: self.module_.trajectory(xb, times), axis=1)

    def _map_batches(self, X, fn, axis: int = 0) -> np.ndarray:
        X = self._validate_X(X)
        self._set_training(False)
        outputs = []
        with torch.no_grad():
            for xb, _ in BatchLoader(self.get_dataset(X), batch_size=self._predict_batch_size()):
                outputs.append(fn(xb.to(self.device)).cpu())
        return torch.cat(outputs, dim=axis).numpy()

    def _predict_batch_size(self) -> int:
        size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        return size if size > 0 else 2**31

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        tags.transformer_tags.preserves_dtype = ["float32"]  # the network computes in float32
        return tags

    def set_params(self, **params: Any):
        """Set parameters; ``iterator_*__`` and ``dataset__`` ones take effect at once.

        skorch re-initialises the module when a ``module__`` parameter changes; for
        the data-loading parameters (for example ``iterator_valid__batch_size``) no
        re-initialisation is needed, so they are set directly on a fitted model.

        Parameters
        ----------
        **params : dict
            Parameter names and values.

        Returns
        -------
        self
            The estimator.
        """
        passive = {k: v for k, v in params.items() if "__" in k and k.split("__", 1)[0]
                   in ("iterator_train", "iterator_valid", "dataset")}
        for key, value in passive.items():
            setattr(self, key, value)
            self._params_to_validate.add(key)
        rest = {k: v for k, v in params.items() if k not in passive}
        return super().set_params(**rest) if rest else self

    def save(self, path) -> None:
        """Write the fitted model to ``path``; see :func:`skanode.persistence.save`.

        Parameters
        ----------
        path : str or path-like
            Destination file.  Load with :func:`skanode.load`.
        """
        from .persistence import save

        save(self, path)

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore; private ones are not
        # parameters (sklearn's clone and set_params would otherwise pass them around).
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def get_iterator(self, dataset, training=False):
        """Return the batch iterator; unlike skorch, training batches are shuffled by default.

        ``iterator_train__shuffle=False`` turns shuffling off.
        """
        if not training:
            return super().get_iterator(dataset, training=False)
        kwargs = {"batch_size": self.batch_size, "shuffle": True,
                  **self.get_params_for("iterator_train")}
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return self.iterator_train(dataset, **kwargs)


def _clone(state: Any) -> Any:
    """Copy the tensors of a (nested) state dict; cheaper than ``copy.deepcopy``."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {key: _clone(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_clone(value) for value in state)
    return state


class _Classifier(_SkanodeNet):
    """Label handling for classifiers: any label type in, the same type out."""

    def __init__(self, module, *, criterion=nn.CrossEntropyLoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)

    @property
    def _default_callbacks(self):
        # skorch's own valid_acc would compare the encoded targets of the batches with
        # predict's labels; this one decodes them first.
        return [
            (name, EpochScoring(_label_accuracy, name="valid_acc", lower_is_better=False)
             if name == "valid_acc" else callback)
            for name, callback in super()._default_callbacks
        ]

    def _prepare_y(self, y, *, reset: bool):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if reset:
            classes = np.unique(y) if self.classes is None else np.asarray(self.classes)
            if len(classes) < 2:
                raise ValueError(
                    "Classifier can't train when only one class is present "
                    f"(got only {classes!r})."
                )
            self.classes_inferred_ = classes
            self.n_outputs_ = len(classes)
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y contains labels not seen in the first fit: {unknown[:10]!r}.")
        return y

    def _encode_target(self, y) -> torch.Tensor:
        return torch.as_tensor(np.searchsorted(self.classes_, np.asarray(y)), dtype=torch.long)

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
        index = self.predict_proba(X).argmax(axis=1)
        return self.classes_[index]


def _label_accuracy(net: _Classifier, X: Any, y: Any = None) -> float:
    """Accuracy of ``net`` on a dataset whose targets are encoded class indices."""
    if y is None:
        _, y = data_from_dataset(X)
    return accuracy_score(net.classes_[to_numpy(y).astype(int)], net.predict(X))


class _Regressor(_SkanodeNet):
    """Float targets; 1-D targets in, 1-D predictions out."""

    def __init__(self, module, *, criterion=nn.MSELoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)

    def _y_checks(self) -> dict[str, Any]:
        return {"y_numeric": True, "multi_output": True}

    def _prepare_y(self, y, *, reset: bool):
        y = np.asarray(y)
        if reset:
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
            self._y_ndim_ = y.ndim
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(f"y has a different number of targets than in the first fit "
                             f"({self.n_outputs_}).")
        return y

    def _encode_target(self, y) -> torch.Tensor:
        y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        return y.reshape(len(y), -1)

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
        pred = NeuralNet.predict_proba(self, self._validate_X(X)).astype(np.float64)
        pred = self._checked_output(pred)
        return pred.ravel() if getattr(self, "_y_ndim_", 2) == 1 else pred

    @property
    def predict_proba(self):
        """Regressors have no ``predict_proba``; use ``predict``."""
        raise AttributeError(f"{type(self).__name__} has no predict_proba; use predict.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# -- the model families ------------------------------------------------------------------
class _ODEModel:
    """Hyperparameters of the ODE models; ``augment_dim`` is added by ANODE."""

    def __init__(
        self,
        module: type[nn.Module] | nn.Module = ODENet,
        *,
        architecture: str = "mlp",
        hidden_dim: int = 32,
        num_filters: int = 64,
        image_shape: tuple[int, int, int] | None = None,
        time_dependent: bool = True,
        nonlinearity: str = "relu",
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-3,
        adjoint: bool = False,
        max_num_steps: int = 1000,
        solver_options: dict[str, Any] | None = None,
        integration_time: float = 1.0,
        linear_head: bool = True,
        **kwargs: Any,
    ) -> None:
        self.architecture = architecture
        self.hidden_dim = hidden_dim
        self.num_filters = num_filters
        self.image_shape = image_shape
        self.time_dependent = time_dependent
        self.nonlinearity = nonlinearity
        self.solver = solver
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.max_num_steps = max_num_steps
        self.solver_options = solver_options
        self.integration_time = integration_time
        self.linear_head = linear_head
        super().__init__(module, **kwargs)

    def _module_params(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "hidden_dim": self.hidden_dim,
            "num_filters": self.num_filters,
            "augment_dim": getattr(self, "augment_dim", 0),
            "time_dependent": self.time_dependent,
            "nonlinearity": self.nonlinearity,
            "solver": self.solver,
            "rtol": self.rtol,
            "atol": self.atol,
            "adjoint": self.adjoint,
            "max_num_steps": self.max_num_steps,
            "solver_options": self.solver_options,
            "integration_time": self.integration_time,
            "linear_head": self.linear_head,
        }


class _Augmented:
    def __init__(self, module: type[nn.Module] | nn.Module = ODENet, *,
                 augment_dim: int = 5, **kwargs: Any) -> None:
        self.augment_dim = augment_dim
        super().__init__(module, **kwargs)


class _ResNetModel:
    _tracks_nfe = False

    def __init__(
        self,
        module: type[nn.Module] | nn.Module = ResNet,
        *,
        architecture: str = "mlp",
        hidden_dim: int = 32,
        num_filters: int = 64,
        image_shape: tuple[int, int, int] | None = None,
        num_layers: int = 5,
        nonlinearity: str = "relu",
        linear_head: bool = True,
        **kwargs: Any,
    ) -> None:
        self.architecture = architecture
        self.hidden_dim = hidden_dim
        self.num_filters = num_filters
        self.image_shape = image_shape
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.linear_head = linear_head
        super().__init__(module, **kwargs)

    def _module_params(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "hidden_dim": self.hidden_dim,
                "num_filters": self.num_filters, "num_layers": self.num_layers,
                "nonlinearity": self.nonlinearity, "linear_head": self.linear_head}


# -- docstrings ---------------------------------------------------------------------------
_IMAGE_PARAMS = """\
    architecture : {"mlp", "conv"}, default="mlp"
        ``"mlp"`` for feature vectors; ``"conv"`` for images, with the paper's
        convolutional block (appendix F.1.2) instead of the MLP.  Images are
        4-D arrays ``(n, channels, height, width)`` or flat rows with
        ``image_shape``.
    num_filters : int, default=64
        Filters ``k`` of the convolutional block (``architecture="conv"``).
    image_shape : tuple (channels, height, width) or None, default=None
        Shape of each image when ``X`` holds flat rows (for pipelines);
        4-D input carries its own shape.
"""

_MODEL_PARAMS = {
    "ode": _IMAGE_PARAMS + """\
    hidden_dim : int, default=32
        Width of the two hidden layers of the vector field
        ``(1 for t +) d+p -> hidden -> hidden -> d+p``.
    time_dependent : bool, default=True
        Whether the vector field takes the time ``t`` as an input.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation of the vector field.
    solver : str, default="dopri5"
        torchdiffeq method: adaptive ``"dopri5"``, ``"bosh3"``, ``"adaptive_heun"``,
        ``"fehlberg2"``, ``"dopri8"``, or fixed-step ``"euler"``, ``"midpoint"``,
        ``"rk4"``, ...
    rtol, atol : float, default=1e-3
        Tolerances of adaptive solvers.
    adjoint : bool, default=False
        Compute gradients with the adjoint method (constant memory, a second
        solve backwards; the backward NFE is then non-zero).
    max_num_steps : int, default=1000
        Step limit of each adaptive solve; exceeding it raises
        :class:`~skanode.SolverError`.
    solver_options : dict, default=None
        Extra torchdiffeq options, e.g. ``{"step_size": 0.05}`` for ``"rk4"``.
    integration_time : float, default=1.0
        End time ``T`` of the solve.
    linear_head : bool, default=True
        A linear layer maps ``h(T)`` to the output.  ``False`` outputs the first
        coordinates of ``h(T)`` itself, so the flow alone must fit the targets
        (the paper's ``g_1d`` experiment).
""",
    "anode": """\
    augment_dim : int, default=5
        Number of zero dimensions ``p`` appended to the input; the ODE is solved
        in ``R^(d+p)``.
""",
    "resnet": _IMAGE_PARAMS + """\
    hidden_dim : int, default=32
        Width of each residual block ``d -> hidden -> hidden -> d``.
    num_layers : int, default=5
        Number of residual blocks.
    nonlinearity : {"relu", "softplus", "tanh"}, default="relu"
        Activation of the blocks.
    linear_head : bool, default=True
        A linear layer maps the last state to the output; ``False`` outputs its
        first coordinates.
""",
}

_TRAINING_PARAMS = """\
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the batch order: two fits with the same
        ``random_state`` and data give identical predictions.  torch's global
        generator is restored after ``fit``.
    on_failure : {"raise", "stop"}, default="raise"
        What ``fit`` does when the solver fails (:class:`~skanode.SolverError`) or
        the loss becomes non-finite (:class:`~skanode.DivergenceError`): restore
        the weights of the last finished epoch and re-raise, or restore them, warn
        and stop.  The history records the failure under ``"failure"``.  Ctrl-C
        always stops with the last finished epoch's weights and records
        ``"interrupted"``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Number of epochs of ``fit``.
    batch_size : int, default=64
        Batch size for training and prediction.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer; its options route as ``optimizer__weight_decay=...``.
    train_split : callable or None, default=None
        Internal validation split.  ``None`` (the paper's setting) trains on all
        the data; ``skorch.dataset.ValidSplit(0.2)`` holds out 20% and
        ``skanode.HoldOut(X_test, y_test)`` validates on fixed data, recording
        ``valid_loss`` (and ``valid_acc`` for classifiers) every epoch.
    verbose : int, default=0
        ``1`` prints skorch's epoch table, NFE included.
    device : str, default="cpu"
        ``"cuda"`` trains and predicts on the GPU; fit raises a ``RuntimeError``
        if CUDA is not available.
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks.
    **kwargs
        Any other skorch parameter (``warm_start``, ``criterion``,
        ``iterator_train__shuffle``, ...) and ``module__*`` overrides passed to
        the torch module.
"""

_ATTRIBUTES = {
    "classifier": """\
    classes_ : ndarray of shape (n_classes,)
        The class labels, as given in ``y``.
""",
    "regressor": "",
}

_COMMON_ATTRIBUTES = """\
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame.
    n_outputs_ : int
        Output size of the network (classes or targets).
    image_shape_ : tuple of int
        ``(channels, height, width)`` of the images, for ``architecture="conv"``.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.History
        Per-epoch and per-batch records, ``forward_nfe`` and ``backward_nfe``
        included for ODE models.
"""


def _doc(summary: str, model: str, task: str, example: str) -> str:
    params = _MODEL_PARAMS["ode"] if model in ("ode", "anode") else _MODEL_PARAMS["resnet"]
    if model == "anode":
        params = _MODEL_PARAMS["anode"] + params
    return (
        f"{summary}\n\n    Parameters\n    ----------\n{params}{_TRAINING_PARAMS}\n"
        f"    Attributes\n    ----------\n{_ATTRIBUTES[task]}{_COMMON_ATTRIBUTES}\n"
        f"    Examples\n    --------\n{example}"
    )


_EXAMPLE = """\
    >>> from skanode import {name}
    >>> from skanode.datasets import make_concentric_spheres
    >>> X, y = make_concentric_spheres(n_inner=50, n_outer=100, random_state=0)
    >>> est = {name}(max_epochs=2, random_state=0).fit(X, {target})
    >>> est.predict(X[:3]).shape
    (3,)
"""


class NODEClassifier(_ODEModel, _Classifier, NeuralNetClassifier):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "Neural ODE classifier: ``x -> h(T) -> linear -> softmax``.", "ode", "classifier",
        _EXAMPLE.format(name="NODEClassifier", target="y"))


class ANODEClassifier(_Augmented, NODEClassifier):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "Augmented Neural ODE classifier: ``[x, 0] -> h(T) -> linear -> softmax``.", "anode",
        "classifier", _EXAMPLE.format(name="ANODEClassifier", target="y"))


class ResNetClassifier(_ResNetModel, _Classifier, NeuralNetClassifier):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "ResNet classifier: ``num_layers`` blocks ``h + MLP(h)`` -> linear -> softmax.",
        "resnet", "classifier", _EXAMPLE.format(name="ResNetClassifier", target="y"))


class NODERegressor(_ODEModel, _Regressor, NeuralNetRegressor):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "Neural ODE regressor trained with the squared error.", "ode", "regressor",
        _EXAMPLE.format(name="NODERegressor", target="y.astype(float)"))


class ANODERegressor(_Augmented, NODERegressor):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "Augmented Neural ODE regressor trained with the squared error.", "anode",
        "regressor", _EXAMPLE.format(name="ANODERegressor", target="y.astype(float)"))


class ResNetRegressor(_ResNetModel, _Regressor, NeuralNetRegressor):  # noqa: D101 (__doc__ is composed below)
    __doc__ = _doc(
        "ResNet regressor trained with the squared error.", "resnet", "regressor",
        _EXAMPLE.format(name="ResNetRegressor", target="y.astype(float)"))

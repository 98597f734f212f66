"""Every use of skorch's private names, in one place.

Targets skorch 1.2 to 1.4 (``setup.cfg`` pins ``skorch>=1.2,<1.5``; the suite
runs on the lowest and the newest, see ``.ci/lowest``).  The estimators use
skorch's public API (``fit_loop``, ``notify``, ``get_iterator``,
``get_split_datasets``, ``get_dataset``, ``get_loss``, ``initialize_module``,
``initialize_criterion``, ``initialized_instance``, ``get_params_for``,
``History``) everywhere else.  What is private and why:

- ``NeuralNet._default_callbacks``: skorch builds the callback list (and the
  ``callbacks__*`` parameters) from this property; it is how skorch's own
  classifier adds ``valid_acc``.  :class:`SkorchHooks` turns it into the hook
  ``default_callbacks(callbacks)``.
- ``NeuralNet._set_training``: skorch sets the train/eval mode of every module
  before every batch; skipping it when the mode is unchanged saves time on the
  paper's small models.
- ``NeuralNet._get_param_names``: skorch lists every attribute not ending in
  ``_`` as a parameter; private attributes are not parameters.
- ``NeuralNet._params_to_validate``: ``set_params`` of data-loading and
  ``module__`` options on a fitted net must not re-initialise it (skorch
  re-initialises for any ``prefix__`` parameter, which replaces the fitted
  weights, and fails on iterator ones), and ``callbacks`` set on an
  unfitted net are built in ``fit``, not at once (scikit-learn wants
  ``set_params`` not to raise); on a fitted net they are stored before they are
  built (skorch builds them from the old list).
- ``NeuralNet._params_to_validate``, again: the constructor arguments skorch did
  not know, which ``fit`` reports before any work (:meth:`check_parameter_names`).
- ``history_``, ``initialized_``, ``virtual_params_``: skorch's ``__init__``
  sets these fitted attributes; scikit-learn's convention is that ``__init__``
  stores parameters only, so their unfitted values live on the class instead.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from skorch import NeuralNet

from .hyperparams import InvalidParameterError

__all__ = ["SKORCH_VERSIONS", "SkorchHooks", "make_init", "skorch_base"]

SKORCH_VERSIONS = ">=1.2,<1.5"
# Parameters skorch would act on at once by rebuilding (the module: new weights; the
# criterion: a new optimizer) or fail on (the optimizer class, iterators).  skanode stores
# them; the estimators refuse a changed module, criterion or optimizer where a model
# continues.  optimizer__* stay skorch's: they change the built optimizer (lr, say).
_PASSIVE_PREFIXES = ("iterator_train", "iterator_valid", "dataset", "module", "criterion",
                     "compile")
_INIT_STATE = ("history_", "initialized_", "virtual_params_")


def skorch_base(cls: type) -> type:
    """Return the skorch class (``NeuralNetClassifier``, ...) that ``cls`` derives from."""
    return next(klass for klass in cls.__mro__ if klass.__module__.startswith("skorch."))


def _skorch_parameters(cls: type) -> dict[str, Any]:
    """Parameters of skorch's ``__init__`` for ``cls`` and their defaults, in order."""
    params: dict[str, Any] = {}
    for klass in (NeuralNet, skorch_base(cls)):
        for p in inspect.signature(klass.__init__).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                params[p.name] = p.default
    return params


def make_init(cls: type, declared: Iterable[Any], overrides: Mapping[str, Any]):
    """Build ``cls.__init__``: store every parameter, hand skorch's own to skorch.

    Parameters
    ----------
    cls : type
        The estimator class.
    declared : iterable of Hyperparameter
        skanode's hyperparameters of ``cls`` (name, default, annotation).
    overrides : mapping
        Defaults of skorch parameters that differ from skorch's (``module``,
        ``criterion``, iterators).

    Returns
    -------
    function
        ``__init__(self, **params)`` with a signature listing every parameter
        as keyword-only with its default, as scikit-learn requires.
    """
    skorch_params = _skorch_parameters(cls)
    declared = list(declared)
    defaults = {p.name: p.default for p in declared}  # skanode's first, in declaration order
    annotations = {p.name: p.annotation for p in declared}
    defaults.update({name: d for name, d in skorch_params.items() if name not in defaults})
    defaults.update(overrides)
    skorch_names = set(skorch_params)
    base = skorch_base(cls)
    name = cls.__name__

    def __init__(self, **params: Any) -> None:
        # Unknown names are stored and reported by fit (check_parameter_names), as
        # scikit-learn wants __init__ never to raise.
        values = {key: params.pop(key, default) for key, default in defaults.items()}
        for key, value in values.items():
            if key not in skorch_names:
                setattr(self, key, value)
        base.__init__(self, **{k: v for k, v in values.items() if k in skorch_names}, **params)
        for key in _INIT_STATE:  # see the module docstring
            vars(self).pop(key, None)

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default,
                                     annotation=annotations.get(key, inspect.Parameter.empty))
                   for key, default in defaults.items()]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    __init__.__signature__ = inspect.Signature(parameters)
    __init__.__qualname__ = f"{name}.__init__"
    __init__.__doc__ = f"Store the parameters; see :class:`{name}`."
    return __init__


_ROUTED_PREFIXES = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid",
                    "callbacks", "dataset")


def _hint(name: str, known: list[str]) -> str | None:
    """Guess the intended name: a routed ``prefix__option`` or a close parameter name."""
    for prefix in _ROUTED_PREFIXES:
        if name.startswith(prefix + "_"):
            return f"{prefix}__{name[len(prefix) + 1:]}"
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


class SkorchHooks:
    """Overrides of skorch's private methods (see the module docstring)."""

    # skorch's unfitted state, kept off the instance until initialize()
    history_ = None
    initialized_ = False
    virtual_params_: dict = {}

    def default_callbacks(self, callbacks: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Return the default callbacks, given skorch's; subclasses add their own."""
        return callbacks

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        return self.default_callbacks(list(super()._default_callbacks))

    def check_parameter_names(self) -> None:
        """Raise an ``InvalidParameterError`` for constructor arguments that are no parameter.

        skorch keeps unknown ``__init__`` arguments in ``_params_to_validate`` and
        reports them only after building the model; ``fit`` reports them first.
        (Misspelt ``prefix__`` names are still reported by skorch.)
        """
        declared = inspect.signature(type(self).__init__).parameters
        unknown = sorted(k for k in self._params_to_validate
                         if "__" not in k and not k.endswith("_") and k not in declared)
        if unknown:
            known = [k for k in self.get_params(deep=False) if "__" not in k and k not in unknown]
            said = ", ".join(
                f"{k!r}" + (f" (did you mean {h!r}?)" if (h := _hint(k, known)) else "")
                for k in unknown)
            raise InvalidParameterError(
                f"{type(self).__name__} got unexpected parameter(s) {said}.")

    def set_training(self, training: bool = True) -> None:
        """Put the module and criterion in training (or evaluation) mode."""
        self._set_training(training)

    def _set_training(self, training: bool = True) -> None:
        if self.module_.training == training and self.criterion_.training == training:
            return
        super()._set_training(training)

    def _get_param_names(self) -> list[str]:
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def set_params(self, **params: Any):
        """Set parameters without touching a fitted model's weights.

        skorch re-initialises the module at once when a ``module__`` parameter
        changes, which silently replaced a fitted model's weights; here such a
        parameter is stored, checked by the next ``fit`` (which builds the module
        anew) and refused by ``partial_fit`` / ``warm_start`` if it changes the
        built module.  Data-loading parameters (``iterator_*__``, ``dataset__``)
        need no re-initialisation either, and take effect at once.  Callbacks set
        on a fitted model are rebuilt at once, so the next training call runs them.

        Parameters
        ----------
        **params : dict
            Parameter names and values.

        Returns
        -------
        self
            The estimator.
        """
        passive = {k: v for k, v in params.items()
                   if k.split("__", 1)[0] in _PASSIVE_PREFIXES or k == "optimizer"}
        # a whole callback replaced (callbacks__nfe=None): skorch looked it up in the built
        # list, where a switched-off one is missing, and failed to unpack its name
        passive.update({k: v for k, v in params.items()
                        if k.startswith("callbacks__") and k.count("__") == 1})
        if "callbacks" in params:
            # An unfitted estimator builds its callbacks in fit, which also checks the
            # value.  skorch builds a fitted one's from the old list before storing the
            # new one, so partial_fit and warm_start would run the old callbacks.
            passive["callbacks"] = params["callbacks"]
        for key, value in passive.items():
            setattr(self, key, value)
            self._params_to_validate.add(key)
        rest = {k: v for k, v in params.items() if k not in passive}
        if rest:
            super().set_params(**rest)
        for key, value in rest.items():
            if key.startswith("optimizer__") and self.initialized_:
                # skorch applies it to the built optimizer only: keep it as a parameter too,
                # for get_params, clone and the next fit
                setattr(self, key, value)
                self._params_to_validate.add(key)
        if self.initialized_ and any(k.startswith("callbacks") for k in params):
            # skorch sets callbacks__name=None on the built callback list as None, which
            # the next training call then fails to notify
            if isinstance(self.callbacks, str):  # "disable"
                self.callbacks_ = []
            else:
                self.initialize_callbacks()
        return self

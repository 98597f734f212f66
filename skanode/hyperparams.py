"""Every hyperparameter of skanode, declared once.

A :class:`Hyperparameter` holds a name, its default, the values it accepts and
its documentation.  The groups below (:data:`FIELD`, :data:`SOLVER`, ...) are the
only place where the models' options and their defaults are written:

- the ODE block, the torch modules and the vector fields take their keyword
  options from them through :func:`accepts`, which fills in defaults, checks
  values and gives the function a real signature;
- the estimators build their ``__init__`` signature, their parameter
  validation in ``fit`` and the Parameters section of their docstrings from
  them.

Invalid values raise :class:`InvalidParameterError`, a ``ValueError`` (and
``TypeError``, like scikit-learn's) whose message names the parameter, its owner
and the values it accepts.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

__all__ = [
    "ANODE_AUGMENT",
    "AUGMENT",
    "CLASSIFICATION",
    "CONVERGENCE",
    "FIELD",
    "HEAD",
    "IMAGE",
    "RESNET",
    "RESNET_FIELD",
    "SOLVER",
    "TRAINING",
    "Hyperparameter",
    "InvalidParameterError",
    "accepts",
    "check",
    "docstring",
    "resolve",
]


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter has a value it does not accept.

    A subclass of both ``ValueError`` and ``TypeError``, as scikit-learn's own
    ``InvalidParameterError``, so either ``except`` clause catches it.
    """


# -- constraints -------------------------------------------------------------------------
class Constraint:
    """A set of accepted values, with a description for error messages."""

    def __call__(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def __str__(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """Numbers of ``kind`` (``numbers.Integral`` or ``numbers.Real``) in an interval."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"  # which ends belong: "left", "right", "both", "neither"

    def __call__(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if isinstance(value, float) and value != value:  # NaN is in no interval
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        what = "an int" if self.kind is numbers.Integral else "a float"
        left = "-inf" if self.left is None else f"{self.left:g}"
        right = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{what} in the range {lb}{left}, {right}{rb}"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a few values, or of the values a function returns (read when checked)."""

    values: tuple | Callable[[], Iterable]

    def choices(self) -> tuple:
        """Return the accepted values."""
        return tuple(self.values() if callable(self.values) else self.values)

    def __call__(self, value: Any) -> bool:
        is_bool = isinstance(value, (bool, np.bool_))
        try:  # True == 1, but a bool is not the option 1
            return any(is_bool == isinstance(choice, bool) and bool(value == choice)
                       for choice in self.choices())
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(c) for c in self.choices()) + "}"


@dataclass(frozen=True)
class InstanceOf(Constraint):
    """Instances of ``types``."""

    types: tuple[type, ...]
    description: str

    def __call__(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Satisfies(Constraint):
    """Values for which ``test`` returns True."""

    test: Callable[[Any], bool]
    description: str

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return self.description


def _is_device_name(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        torch.device(value)
    except RuntimeError:  # torch's error for an unknown device string
        return False
    return True


NONE = Satisfies(lambda v: v is None, "None")
BOOL = InstanceOf((bool, np.bool_), "a bool")
POSITIVE_INT = Interval(numbers.Integral, 1, None, "left")
NON_NEGATIVE_INT = Interval(numbers.Integral, 0, None, "left")
POSITIVE_FLOAT = Interval(numbers.Real, 0, None, "neither")


def _nonlinearities() -> Iterable[str]:
    from .dynamics import NONLINEARITIES

    return sorted(NONLINEARITIES)


def _solvers() -> Iterable[str]:
    from .odeblock import SOLVERS  # the ODE block owns the solver registry

    return SOLVERS


def _why_not_solver(value: Any) -> str | None:
    from .odeblock import UNSUPPORTED_SOLVERS

    return UNSUPPORTED_SOLVERS.get(value) if isinstance(value, str) else None


def _image_shape(value: Any) -> bool:
    shape = tuple(value)
    return len(shape) == 3 and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape)


def _random_state(value: Any) -> bool:
    if isinstance(value, np.random.RandomState):
        return True
    return Interval(numbers.Integral, 0, 2**32 - 1)(value)


# -- declarations ------------------------------------------------------------------------
@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: name, default, accepted values and documentation.

    Attributes
    ----------
    name : str
        Keyword name, the same in estimators, modules and the ODE block.
    default : object
        Default value.
    accepted : tuple of Constraint
        The value must satisfy at least one; empty accepts anything.
    type_doc : str
        Type line of the numpydoc entry, without the default.
    doc : str
        Description (numpydoc body, unindented).
    annotation : object
        Type hint used in generated signatures.
    note : callable or None
        ``note(value)`` may explain why a rejected value is not accepted.
    """

    name: str
    default: Any
    accepted: tuple[Constraint, ...]
    type_doc: str
    doc: str
    annotation: Any = Any
    note: Callable[[Any], str | None] | None = None

    def with_default(self, default: Any, doc: str | None = None) -> Hyperparameter:
        """Return a copy with another default (and optionally another description)."""
        return replace(self, default=default, doc=self.doc if doc is None else doc.strip("\n"))

    def is_valid(self, value: Any) -> bool:
        """Whether ``value`` is accepted."""
        return not self.accepted or any(c(value) for c in self.accepted)

    def check(self, value: Any, owner: str) -> None:
        """Raise :class:`InvalidParameterError` unless ``value`` is accepted."""
        if self.is_valid(value):
            return
        allowed = [str(c) for c in self.accepted]
        allowed = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + \
            " or " + allowed[-1]
        why = self.note(value) if self.note is not None else None
        raise InvalidParameterError(
            f"The {self.name!r} parameter of {owner} must be {allowed}. Got {value!r} instead"
            + (f" ({why})." if why else "."))

    def numpydoc(self) -> str:
        """Return the numpydoc Parameters entry, indented for a class docstring."""
        default = self.default.__name__ if isinstance(self.default, type) else repr(self.default)
        body = "\n".join(f"        {line}" if line else "" for line in self.doc.splitlines())
        return f"    {self.name} : {self.type_doc}, default={default}\n{body}\n"


def _p(name: str, default: Any, accepted: Sequence[Constraint], type_doc: str, doc: str,
       annotation: Any = Any, note: Callable[[Any], str | None] | None = None) -> Hyperparameter:
    return Hyperparameter(name, default, tuple(accepted), type_doc, doc.strip("\n"),
                          annotation, note)


FIELD = (
    _p("architecture", "mlp", [Options(("mlp", "conv"))], '{"mlp", "conv"}', """
``"mlp"`` for feature vectors; ``"conv"`` for images, with the paper's
convolutional block (appendix F.1.2) instead of the MLP.  Images are 4-D
arrays ``(n, channels, height, width)`` or flat rows with ``image_shape``.""", str),
    _p("hidden_dim", 32, [POSITIVE_INT], "int", """
Width of the hidden layers of the MLP vector field (``d+p (+1 for t) -> hidden
-> hidden -> d+p``) or of each residual block.""", int),
    _p("num_filters", 64, [POSITIVE_INT], "int", """
Filters ``k`` of the convolutional block (``architecture="conv"``).""", int),
    _p("time_dependent", True, [BOOL], "bool", """
Whether the vector field takes the time ``t`` as an input (an input feature of
the MLP, an input channel of each convolution).""", bool),
    _p("nonlinearity", "relu", [Options(_nonlinearities)], '{"relu", "softplus", "tanh"}', """
Activation of the vector field or residual blocks.""", str),
)

AUGMENT = (
    _p("augment_dim", 0, [NON_NEGATIVE_INT], "int", """
Number of zero dimensions ``p`` appended to the input (zero channels for
images); the ODE is solved in ``R^(d+p)``.  0 is a plain NODE.""", int),
)

# ANODE's default: the paper's best p on the toy data (appendix F.2.1).
ANODE_AUGMENT = (AUGMENT[0].with_default(5, doc="""
Number of zero dimensions ``p`` appended to the input (zero channels for
images); the ODE is solved in ``R^(d+p)``."""),)

SOLVER = (
    _p("solver", "dopri5", [Options(_solvers)], "str", """
torchdiffeq method: adaptive ``"dopri5"``, ``"bosh3"``, ``"adaptive_heun"``,
``"fehlberg2"``, ``"dopri8"``, or fixed-step ``"euler"``, ``"midpoint"``,
``"rk4"``, ...  (``"scipy_solver"`` is not supported: it solves without
gradients.)""", str, _why_not_solver),
    _p("rtol", 1e-3, [POSITIVE_FLOAT], "float", """
Relative tolerance of adaptive solvers.""", float),
    _p("atol", 1e-3, [POSITIVE_FLOAT], "float", """
Absolute tolerance of adaptive solvers.""", float),
    _p("adjoint", False, [BOOL], "bool", """
Compute gradients with the adjoint method (memory constant in the number of
steps, a second solve backwards; the backward NFE is then non-zero).""", bool),
    _p("max_num_steps", 1000, [POSITIVE_INT], "int", """
Step limit of each adaptive solve; exceeding it raises
:class:`~skanode.SolverError`.  A fixed-step method's ``step_size`` may not make
more steps than this over ``[0, integration_time]``.""", int),
    _p("solver_options", None, [NONE, InstanceOf((Mapping,), "a dict")], "dict or None", """
Extra options of the torchdiffeq method, e.g. ``{"step_size": 0.05}`` for
``"rk4"``.  Unknown option names are an error, and so are out-of-range values of
``step_size``, ``first_step``, ``min_step``, ``max_step``, ``safety``,
``ifactor`` and ``dfactor``.  Without ``step_size`` a fixed-step method takes
one step over ``[0, integration_time]`` (torchdiffeq's default).""", "Mapping[str, Any] | None"),
    _p("integration_time", 1.0, [POSITIVE_FLOAT], "float", """
End time ``T`` of the solve.""", float),
    _p("step_control", "auto", [Options(("auto", "batch", "sample"))],
       '{"auto", "batch", "sample"}', """
How an adaptive solver picks its step sizes.  ``"batch"``: one step size for
the whole batch (torchdiffeq's way and the paper's), so a sample's result
depends slightly on the other samples of its batch.  ``"sample"``: every
sample its own steps, error norm and accept / reject, evaluated in lockstep,
so results do not depend on the batch (training costs 1.4-2.1x more).
``"auto"``: per batch while training (module in train mode), per sample when
predicting, transforming or validating (eval mode), where the solver supports
it: batch-independent predictions at the training cost of ``"batch"``.
Per-sample steps are available for ``"dopri5"``, ``"bosh3"``, ``"fehlberg2"``,
``"adaptive_heun"`` and the fixed-step methods.""", str),
)

HEAD = (
    _p("linear_head", True, [BOOL], "bool", """
A linear layer maps the final state to the output.  ``False`` outputs the
first coordinates of the final state itself, so the flow alone must fit the
targets (the paper's ``g_1d`` experiment).""", bool),
)

# A residual block is the vector field without time.
RESNET_FIELD = tuple(p for p in FIELD if p.name != "time_dependent")

RESNET = (
    _p("num_layers", 5, [POSITIVE_INT], "int", """
Number of residual blocks ``h + f(h)``.""", int),
)

IMAGE = (
    _p("image_shape", None, [NONE, Satisfies(_image_shape, "a tuple of 3 positive ints")],
       "tuple (channels, height, width) or None", """
Shape of each image when ``X`` holds flat rows (for pipelines); 4-D input
carries its own shape.  Used by ``architecture="conv"`` only.""", "tuple[int, int, int] | None"),
)

TRAINING = (
    _p("random_state", None, [NONE, Satisfies(_random_state, "an int in [0, 2**32 - 1]"),
                              InstanceOf((np.random.RandomState,), "a RandomState")],
       "int, RandomState instance or None", """
Seeds the initial weights and the batch order through a ``torch.Generator``
owned by the estimator (torch's global generator is never touched): two fits
with the same ``random_state`` and data give identical predictions, and
``partial_fit`` continues the same random stream.  ``None`` draws a seed
from numpy's global generator.""", "int | np.random.RandomState | None"),
    _p("on_failure", "raise", [Options(("raise", "stop"))], '{"raise", "stop"}', """
What ``fit`` does when the solver fails (:class:`~skanode.SolverError`) or the
loss becomes non-finite (:class:`~skanode.DivergenceError`): restore the
weights of the last finished epoch and re-raise, or restore them, warn and
stop.  The history records the failure under ``"failure"``.  Ctrl-C always
stops with the last finished epoch's weights and records
``"interrupted"``.""", str),
    _p("lr", 1e-3, [POSITIVE_FLOAT], "float", """
Learning rate.""", float),
    _p("max_epochs", 50, [POSITIVE_INT], "int", """
Number of epochs of ``fit`` (and of each ``partial_fit`` call).""", int),
    _p("batch_size", 64, [POSITIVE_INT, Options((-1,))], "int", """
Batch size for training; ``-1`` trains on all samples at once.""", int),
    _p("optimizer", torch.optim.Adam, [Satisfies(callable, "a torch optimizer class")],
       "torch optimizer class", """
Optimizer; its options route as ``optimizer__weight_decay=...``.""", Any),
    _p("train_split", None, [NONE, Satisfies(callable, "a callable")], "callable or None", """
Internal validation split.  ``None`` (the paper's setting) trains on all the
data; ``skorch.dataset.ValidSplit(0.2)`` holds out 20% and
``skanode.HoldOut(X_test, y_test)`` validates on fixed data, recording
``valid_loss`` (and ``valid_acc`` for classifiers) every epoch.  Inside a
``Pipeline``, pass validation data with ``fit(X_val=..., y_val=...)``
instead (see the user guide).""", Any),
    _p("verbose", 0, [NON_NEGATIVE_INT, BOOL], "int", """
``1`` prints skorch's epoch table, NFE included (plain text unless the output
is a terminal).""", int),
    _p("device", "cpu", [NONE, Satisfies(_is_device_name, "a device name ('cpu', 'cuda', "
                                         "'cuda:1', 'mps', ...)"),
                         InstanceOf((torch.device,), "a torch.device")],
       "str or torch.device", """
``"cuda"`` trains and predicts on the GPU; ``fit`` raises a ``RuntimeError`` if
CUDA is not available.""", Any),
    _p("callbacks", None, [NONE, Options(("disable",)), InstanceOf((list, tuple), "a list")],
       "list of (name, callback) or None", """
Extra skorch callbacks.""", Any),
    _p("warm_start", False, [BOOL], "bool", """
``True``: a second ``fit`` continues from the current weights instead of
re-initialising.""", bool),
)

CLASSIFICATION = (
    _p("classes", None, [NONE, Satisfies(lambda v: len(v) >= 2 and len(set(v)) == len(v),
                                         "a sequence of at least 2 distinct labels")],
       "array-like or None", """
The class labels, in any order: ``classes_`` holds them sorted, as scikit-learn's
classifiers and metrics expect (``predict_proba``'s columns follow ``classes_``).
``None`` takes the labels of ``y`` in the first ``fit``.""", Any),
    _p("class_weight", None, [NONE, Options(("balanced",)), InstanceOf((dict,), "a dict")],
       'dict, "balanced" or None', """
Weights of the classes in the loss, multiplying ``sample_weight``: a dict
``{label: weight}`` (missing labels weigh 1), or ``"balanced"``:
``n_samples / (n_classes * np.bincount(y))``.""", Any),
)

CONVERGENCE = (
    _p("early_stopping", False, [BOOL], "bool", """
Hold out ``validation_fraction`` of the training data (stratified for
classifiers) and stop when the validation loss has not improved by ``tol``
for ``n_iter_no_change`` epochs; the weights of the best epoch are kept.
Fixed validation data (``X_val`` / ``y_val``, ``HoldOut``, a ``train_split``)
is used instead of a split when given.  As ``MLPClassifier``'s, except that the
validation *loss* decides (smoother than the accuracy on small validation
sets).""", bool),
    _p("validation_fraction", 0.1, [Interval(numbers.Real, 0, 1, "neither")], "float", """
Share of the training data held out for ``early_stopping``.""", float),
    _p("n_iter_no_change", 10, [NONE, POSITIVE_INT], "int or None", """
Epochs without an improvement of more than ``tol`` after which training
stops: of the validation loss with ``early_stopping``, else of the training
loss (as ``MLPClassifier``).  ``None`` always trains ``max_epochs`` epochs (the
paper's fixed-epoch runs).""", "int | None"),
    _p("tol", 1e-4, [Interval(numbers.Real, 0, None, "left")], "float", """
Smallest decrease of the monitored loss that counts as an improvement.  Also
decides the ``ConvergenceWarning``: ``fit`` warns when it ends at
``max_epochs`` while the training loss still fell by more than ``tol`` per
epoch over the last epochs.""", float),
    _p("progress", False, [BOOL], "bool", """
Show a progress bar over the training batches of ``fit`` (tqdm, on stderr),
with the epoch and the loss: for long fits, such as image models on a CPU.""",
       bool),
)


# -- using the declarations ---------------------------------------------------------------
def _by_name(groups: Iterable[Iterable[Hyperparameter]]) -> dict[str, Hyperparameter]:
    return {p.name: p for group in groups for p in group}


def resolve(groups: Iterable[Iterable[Hyperparameter]], given: Mapping[str, Any],
            owner: str) -> dict[str, Any]:
    """Fill in defaults and check ``given`` against the declarations in ``groups``.

    Parameters
    ----------
    groups : iterable of hyperparameter groups
        The accepted hyperparameters.
    given : mapping
        Values passed by the caller.
    owner : str
        Name used in error messages.

    Returns
    -------
    dict
        Every declared hyperparameter, given or default.

    Raises
    ------
    TypeError
        For a name that is not declared.
    InvalidParameterError
        For a value that is not accepted.
    """
    declared = _by_name(groups)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TypeError(f"{owner} got unexpected keyword argument(s) {unknown}; "
                        f"valid options are {sorted(declared)}.")
    values = {name: given.get(name, p.default) for name, p in declared.items()}
    for name, p in declared.items():
        p.check(values[name], owner)
    return values


def check(obj: Any, params: Iterable[Hyperparameter]) -> None:
    """Check the attributes of ``obj`` named by ``params`` (what ``fit`` does first)."""
    owner = type(obj).__name__
    for p in params:
        p.check(getattr(obj, p.name), owner)


def accepts(*groups: Iterable[Hyperparameter]) -> Callable[[Callable], Callable]:
    """Give a function the keyword options declared in ``groups``.

    The decorated function receives every option, given or default, checked by
    :func:`resolve`, and its signature shows them as keyword-only parameters
    with their defaults.

    Examples
    --------
    >>> @accepts(AUGMENT)
    ... def build(dim, **options):
    ...     return dim + options["augment_dim"]
    >>> build(2), build(2, augment_dim=3)
    (2, 5)
    """

    def decorate(fn: Callable) -> Callable:
        name = fn.__qualname__.split(".")[0]
        own = [p for p in inspect.signature(fn).parameters.values()
               if p.kind is not p.VAR_KEYWORD]
        own_names = {p.name for p in own}

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            explicit = {k: v for k, v in kwargs.items() if k in own_names}
            options = {k: v for k, v in kwargs.items() if k not in own_names}
            return fn(*args, **explicit, **resolve(groups, options, owner=name))

        wrapper.__signature__ = inspect.Signature(own + keyword_parameters(groups))
        if fn.__doc__:
            wrapper.__doc__ = document_options(fn.__doc__, groups)
        wrapper.option_groups = groups  # for documented() on the class of an __init__
        return wrapper

    return decorate


def keyword_parameters(groups: Iterable[Iterable[Hyperparameter]]) -> list[inspect.Parameter]:
    """Keyword-only ``inspect.Parameter`` objects for the declarations in ``groups``."""
    return [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default,
                              annotation=p.annotation)
            for p in _by_name(groups).values()]


def docstring(params: Iterable[Hyperparameter]) -> str:
    """Return the numpydoc Parameters entries of ``params``, in order."""
    return "".join(p.numpydoc() for p in params)


def documented(cls: type) -> type:
    """Class decorator: list the options its ``@accepts`` ``__init__`` takes in its docstring."""
    cls.__doc__ = document_options(cls.__doc__ or "", cls.__init__.option_groups)
    return cls


def document_options(doc: str, groups: Iterable[Iterable[Hyperparameter]]) -> str:
    """Replace the ``**options`` entry of a numpydoc Parameters section by one per option.

    The signatures that :func:`accepts` generates list every option; this makes
    the docstring list them too, each with its type, default and description.
    """
    lines = doc.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("**")), None)
    if start is None:
        return doc
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip()
                                or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # keep the blank lines after it
        end -= 1
    entries = docstring(_by_name(groups).values())
    if indent != 4:
        entries = "".join((" " * (indent - 4) + line) if line.strip() else line
                          for line in entries.splitlines(keepends=True))
    return "".join(lines[:start]) + entries + "".join(lines[end:])

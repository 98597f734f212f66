"""One definition of every hyperparameter: defaults, checks at fit, documentation."""

import inspect

import numpy as np
import pytest
import torch
from conftest import CLASSIFIERS, REGRESSORS, make
from sklearn.model_selection import GridSearchCV

from skanode import ANODEClassifier, NODEClassifier, NODERegressor, ResNetClassifier
from skanode import hyperparams as hp
from skanode.modules import ODENet, ResNet
from skanode.odeblock import ODEBlock

BAD_VALUES = [
    ("hidden_dim", 0, "an int in the range [1, inf)"),
    ("hidden_dim", 2.5, "an int in the range [1, inf)"),
    ("num_filters", -3, "an int in the range [1, inf)"),
    ("architecture", "cnn", "one of {'mlp', 'conv'}"),
    ("time_dependent", "yes", "a bool"),
    ("nonlinearity", "gelu2", "one of {'relu', 'softplus', 'tanh'}"),
    ("solver", "dopri", "one of {"),
    ("solver", "scipy_solver", "no gradient flows"),
    ("rtol", -1, "a float in the range (0, inf)"),
    ("atol", 0.0, "a float in the range (0, inf)"),
    ("adjoint", None, "a bool"),
    ("max_num_steps", 0, "an int in the range [1, inf)"),
    ("solver_options", [("step_size", 0.1)], "None or a dict"),
    ("integration_time", 0, "a float in the range (0, inf)"),
    ("linear_head", "no", "a bool"),
    ("image_shape", (1, 8), "a tuple of 3 positive ints"),
    ("lr", 0, "a float in the range (0, inf)"),
    ("max_epochs", -1, "an int in the range [1, inf)"),
    ("max_epochs", 0, "an int in the range [1, inf)"),
    ("batch_size", 0, "an int in the range [1, inf) or one of {-1}"),
    ("verbose", -1, "an int in the range [0, inf) or a bool"),
    ("on_failure", "ignore", "one of {'raise', 'stop'}"),
    ("random_state", -1, "an int in [0, 2**32 - 1]"),
    ("device", 3, "a device name ('cpu', 'cuda', 'cuda:1', 'mps', ...)"),
    ("device", "foo", "or a torch.device"),
    ("warm_start", "yes", "a bool"),
]


@pytest.mark.parametrize("name, value, allowed", BAD_VALUES,
                         ids=[f"{n}={v!r}" for n, v, _ in BAD_VALUES])
@pytest.mark.parametrize("cls", [ANODEClassifier, NODERegressor])
def test_invalid_values_are_rejected_at_fit_naming_the_parameter(cls, name, value, allowed,
                                                                 spheres):
    X, y = spheres
    est = cls(**{name: value})  # __init__ only stores, as scikit-learn requires
    with pytest.raises(ValueError) as info:
        est.fit(X, y)
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of {cls.__name__} must be ")
    assert allowed in message and f"Got {value!r} instead" in message
    assert not hasattr(est, "module_")  # nothing was built


@pytest.mark.parametrize("name, value, allowed", [
    ("num_layers", 0, "an int in the range [1, inf)"),
    ("classes", [1], "None or a sequence of at least 2 distinct labels"),
    ("classes", [1, 1, 2], "None or a sequence of at least 2 distinct labels"),
    ("class_weight", "auto", "one of {'balanced'} or a dict"),
])
def test_model_and_task_specific_values(name, value, allowed, spheres):
    X, y = spheres
    with pytest.raises(ValueError, match=f"The {name!r} parameter of ResNetClassifier") as info:
        ResNetClassifier(**{name: value}).fit(X, y)
    assert allowed in str(info.value)


def test_a_search_over_a_bad_value_reports_it(spheres):
    X, y = spheres
    search = GridSearchCV(make(ANODEClassifier), {"hidden_dim": [0, 4]}, cv=2,
                          error_score="raise")
    with pytest.raises(ValueError, match="'hidden_dim' parameter"):
        search.fit(X, y)


def test_unknown_constructor_arguments_are_reported_with_a_suggestion(spheres):
    X, y = spheres
    # InvalidParameterError, as failures.rst says, for names and solver options alike
    with pytest.raises(hp.InvalidParameterError,
                       match=r"'hiden_dim' \(did you mean 'hidden_dim'\?\)"):
        ANODEClassifier(hiden_dim=4).fit(X, y)
    with pytest.raises(hp.InvalidParameterError, match=r"solver_options\['step_size'\] must "
                                                       r"be a positive finite number, got 0"):
        ANODEClassifier(solver="rk4", solver_options={"step_size": 0}).fit(X, y)
    with pytest.raises(hp.InvalidParameterError, match=r"Unknown option\(s\) \['bogus'\]"):
        ANODEClassifier(solver_options={"bogus": 1}).fit(X, y)
    with pytest.raises(ValueError, match=r"did you mean 'iterator_train__shuffle'"):
        ANODEClassifier(iterator_train_shuffle=False).fit(X, y)
    with pytest.raises(ValueError, match=r"optimizer__bogus: Adam takes no argument 'bogus'; "
                                         r"it takes lr, betas, eps, weight_decay"):
        ANODEClassifier(optimizer__bogus=1).fit(X, y)
    est = ANODEClassifier(max_epochs=1, optimizer=torch.optim.SGD, optimizer__momentum=0.9)
    assert est.fit(X, y).optimizer_.defaults["momentum"] == 0.9


def test_modules_take_the_same_options_and_defaults():
    block = inspect.signature(ODEBlock).parameters
    net = inspect.signature(ODENet).parameters
    est = inspect.signature(NODEClassifier).parameters
    for p in hp.SOLVER:
        assert block[p.name].default == net[p.name].default == est[p.name].default == p.default
    for p in (*hp.FIELD, *hp.HEAD):
        assert net[p.name].default == est[p.name].default == p.default
    assert inspect.signature(ANODEClassifier).parameters["augment_dim"].default == 5
    assert net["augment_dim"].default == 0  # a bare ODENet is a NODE
    resnet = inspect.signature(ResNet).parameters
    assert "time_dependent" not in resnet and resnet["num_layers"].default == 5
    with pytest.raises(ValueError, match="'rtol' parameter of ODEBlock"):
        ODEBlock(lambda t, h: h, rtol=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['hiden_dim'\]"):
        ODENet(2, 2, hiden_dim=3)


@pytest.mark.parametrize("cls", CLASSIFIERS + REGRESSORS)
def test_every_parameter_is_documented(cls):
    doc = cls.__doc__
    for name in cls().get_params(deep=False):
        if name in ("module", "criterion", "iterator_train", "iterator_valid", "dataset",
                    "predict_nonlinearity", "compile", "use_caching", "torch_load_kwargs"):
            continue  # skorch's own, covered by **kwargs
        assert f"\n    {name} : " in doc, name


def test_constraints():
    interval = hp.Interval(float, 0, 1, "left")
    assert interval(0.0) and interval(0.5) and not interval(1.0) and not interval(np.nan)
    assert not hp.POSITIVE_INT(True) and hp.POSITIVE_INT(np.int64(3))
    assert hp.Options((-1,))(-1) and not hp.Options((1,))(True)

"""The declared dependency ranges hold for what is installed; skorch internals are isolated."""

import configparser
import re
from pathlib import Path

import pytest
import skorch
import torchdiffeq
from packaging.requirements import Requirement

from skanode import ANODEClassifier, _skorch

ROOT = Path(__file__).resolve().parents[1]


def _requirements():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].strip().splitlines()
    return {req.name: req for req in map(Requirement, lines)}


def test_installed_versions_are_in_the_declared_ranges():
    reqs = _requirements()
    assert str(reqs["skorch"].specifier) == str(Requirement(
        "skorch" + _skorch.SKORCH_VERSIONS).specifier)
    assert reqs["skorch"].specifier.contains(skorch.__version__)
    version = getattr(torchdiffeq, "__version__", None)
    if version:
        assert reqs["torchdiffeq"].specifier.contains(version)


def test_lowest_pins_are_the_lower_bounds():
    """.ci/lowest tests exactly the lowest version setup.cfg admits."""
    lines = (ROOT / ".ci" / "lowest.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    for name, req in _requirements().items():
        (lower,) = [s.version for s in req.specifier if s.operator == ">="]
        padded = lower + ".0" * (3 - lower.count(".") - 1)
        assert pins[name] == padded, (name, pins[name], lower)


def test_private_skorch_names_live_in_one_module():
    uses = [path.name for path in (ROOT / "skanode").glob("*.py")
            if re.search(r"_params_to_validate|_default_callbacks|_set_training|"
                         r"_validate_params|_get_param_names", path.read_text())]
    assert uses == ["_skorch.py"]


def test_skorch_init_state_is_not_set_on_the_instance():
    est = ANODEClassifier()
    assert not {"history_", "initialized_", "virtual_params_"} & set(vars(est))
    assert est.initialized_ is False and est.history_ is None


def test_unknown_parameter_hint():
    assert _skorch._hint("optimizer_momentum", []) == "optimizer__momentum"
    assert _skorch._hint("augmnt_dim", ["augment_dim"]) == "augment_dim"
    assert _skorch._hint("zzz", ["augment_dim"]) is None


@pytest.mark.parametrize("cls", [ANODEClassifier])
def test_signature_lists_skorch_parameters(cls):
    import inspect

    params = inspect.signature(cls).parameters
    for name in ("module", "criterion", "iterator_train", "use_caching", "kwargs"):
        assert name in params

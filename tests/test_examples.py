"""The examples run as their docstrings say (smoke runs)."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(*args, timeout=300):
    out = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Warning" not in out.stderr, out.stderr[-2000:]  # a smoke run is not buried in them
    return out.stdout


def test_tabular_quick_prints_the_table():
    text = _run(EXAMPLES / "tabular.py", "--quick")
    assert "smoke run" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("iris", "diabetes"))]
    models = {row[1] for row in rows}
    assert {"MLPClassifier", "MLPClassifier-ES", "LogisticRegression", "NODE", "ANODE",
            "ResNet", "Ridge", "MLPRegressor", "MLPRegressor-ES"} <= models
    anode_iris = next(row for row in rows if row[:2] == ["iris", "ANODE"])
    assert float(anode_iris[2]) > 0.8  # accuracy of a 2-fold smoke run, well above chance
    assert int(anode_iris[6]) >= 1  # epochs trained are reported
    mlp_iris = next(row for row in rows if row[:2] == ["iris", "MLPClassifier"])
    # vs MLP: the score difference and the fit-time ratio to the default MLP of the same run
    difference = float(anode_iris[2]) - float(mlp_iris[2])  # of the rounded scores
    assert abs(float(anode_iris[8]) - difference) <= 0.0015
    assert anode_iris[9].endswith("x") and float(anode_iris[9][:-1]) > 0


def test_tabular_seeds_must_be_positive():
    out = subprocess.run([sys.executable, str(EXAMPLES / "tabular.py"), "--seeds", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--seeds must be at least 1, not 0" in out.stderr


def test_grid_search_quick():
    text = _run(EXAMPLES / "grid_search.py", "--quick")
    assert "best parameters" in text and "Smoke run (--quick)" in text


def test_spheres_quick_prints_every_model():
    text = _run(EXAMPLES / "spheres.py", "--quick")
    rows = {line.split(" (")[0].split()[0] for line in text.splitlines()[2:]}
    assert {"NODE", "ANODE", "ResNet"} <= rows

"""What early stopping saves: epochs, fit time and score against a fixed number of epochs.

The "Tabular data" guide recommends ``early_stopping=True, n_iter_no_change=5,
max_epochs=300`` (with lr 1e-2, batch 64, hidden 32).  This runs the ANODE with
those settings and with the same settings but a fixed 100 epochs and no
stopping, side by side on each of scikit-learn's bundled data sets (5-fold CV,
``StandardScaler`` in a ``Pipeline``; targets scaled too for the regressions),
and prints per data set the CV score, the epochs trained and the fit time per
fold of both, and what early stopping saved.  One BLAS thread, as in
``examples/tabular.py``.

Run:  python benchmarks/early_stopping.py [--fixed-epochs 100]
"""

import argparse
import os
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_friedman1,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skanode import ANODEClassifier, ANODERegressor
from skanode.scoring import find_nets

SETTINGS = {"lr": 1e-2, "batch_size": 64, "hidden_dim": 32, "random_state": 0}


def data_sets():
    """Yield (name, X, y, is_classification)."""
    for name, load in (("iris", load_iris), ("wine", load_wine),
                       ("breast_cancer", load_breast_cancer), ("digits", load_digits)):
        yield (name, *load(return_X_y=True), True)
    yield ("diabetes", *load_diabetes(return_X_y=True), False)
    yield ("friedman1", *make_friedman1(1000, noise=1.0, random_state=0), False)


def model(classification, **params):
    if classification:
        return make_pipeline(StandardScaler(), ANODEClassifier(**SETTINGS, **params))
    return TransformedTargetRegressor(
        make_pipeline(StandardScaler(), ANODERegressor(**SETTINGS, **params)),
        transformer=StandardScaler())


def run(estimator, X, y, cv):
    result = cross_validate(estimator, X, y, cv=cv, return_estimator=True)
    epochs = np.mean([find_nets(est)[0].n_iter_ for est in result["estimator"]])
    return result["test_score"].mean(), epochs, result["fit_time"].mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed-epochs", type=int, default=100,
                        help="epochs of the run without stopping that early stopping is "
                             "compared with (default: 100)")
    args = parser.parse_args()
    runs = {"early stopping": {"early_stopping": True, "n_iter_no_change": 5,
                               "max_epochs": 300},
            f"fixed {args.fixed_epochs} epochs": {"n_iter_no_change": None,
                                                  "max_epochs": args.fixed_epochs}}
    print(f"load average at start: {[round(v, 2) for v in os.getloadavg()]}")
    print(f"{'data':<14} {'run':<20} {'score':>6} {'epochs':>7} {'fit s/fold':>11}")
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ANODEClassifier(max_epochs=1).fit(*load_iris(return_X_y=True))  # torch's first call
        for name, X, y, classification in data_sets():
            cv = (StratifiedKFold if classification else KFold)(5, shuffle=True, random_state=0)
            results = []
            for label, params in runs.items():
                score, epochs, seconds = run(model(classification, **params), X, y, cv)
                results.append((score, epochs, seconds))
                print(f"{name:<14} {label:<20} {score:>6.3f} {epochs:>7.1f} {seconds:>11.3f}",
                      flush=True)
            (s_es, e_es, t_es), (s_fx, e_fx, t_fx) = results
            if t_es <= t_fx:
                what = (f"saved {e_fx - e_es:.0f} epochs and {t_fx - t_es:.2f} s per fold "
                        f"({t_fx / t_es:.1f}x faster)")
            else:  # a fixed budget shorter than early stopping's
                what = (f"trained {e_es - e_fx:.0f} more epochs, {t_es - t_fx:.2f} s more per "
                        f"fold ({t_es / t_fx:.1f}x slower)")
            print(f"{'':<14} {what}, score {s_es - s_fx:+.3f}", flush=True)
    print(f"load average at end: {[round(v, 2) for v in os.getloadavg()]}")


if __name__ == "__main__":
    main()

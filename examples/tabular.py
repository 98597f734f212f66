"""Neural ODEs on scikit-learn's bundled tabular data, against scikit-learn's own models.

Classification (iris, wine, breast_cancer, digits; stratified 5-fold CV accuracy)
and regression (diabetes, friedman1; 5-fold CV R^2): NODE, ANODE and ResNet with
the settings recommended in the "Tabular data" guide (inputs scaled in a
Pipeline, regression targets scaled with TransformedTargetRegressor, early
stopping, batch size and learning rate below), against LogisticRegression /
Ridge and MLPClassifier / MLPRegressor with scikit-learn's defaults, and the MLP
with scikit-learn's own early stopping (``-ES``), which holds out 10% as skanode's
recommended settings do.

Every model runs on one thread: skanode trains its small models on one torch
thread, and numpy's BLAS is limited to one thread here too, which on data this
small is the fastest setting for scikit-learn's models as well (measured on the
2-core development machine: MLPClassifier on breast_cancer 0.2 s on one
thread, 1-10 s on two).  One table is printed: score (mean +- std over folds),
fit time per fold, epochs trained, the forward NFE per training batch, and for
skanode's models the score difference and fit-time ratio to the MLP.

Run:  python examples/tabular.py            (everything; under a minute on 2 cores)
      python examples/tabular.py --seeds 5  (five seeds per model, folds pooled)
      python examples/tabular.py --quick    (smoke run: 2 folds, 3 data sets)
"""

from __future__ import annotations

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
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skanode import (
    ANODEClassifier,
    ANODERegressor,
    NODEClassifier,
    NODERegressor,
    ResNetClassifier,
    ResNetRegressor,
)

# The settings the "Tabular data" guide recommends, chosen with this script.
RECOMMENDED = {"lr": 1e-2, "batch_size": 64, "hidden_dim": 32, "early_stopping": True,
               "n_iter_no_change": 5, "max_epochs": 300, "random_state": 0}


def classification_data():
    yield "iris", load_iris(return_X_y=True)
    yield "wine", load_wine(return_X_y=True)
    yield "breast_cancer", load_breast_cancer(return_X_y=True)
    yield "digits", load_digits(return_X_y=True)


def regression_data():
    yield "diabetes", load_diabetes(return_X_y=True)
    yield "friedman1", make_friedman1(n_samples=1000, noise=1.0, random_state=0)


def classifiers(seed=0):
    settings = {**RECOMMENDED, "random_state": seed}
    return {
        "LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "MLPClassifier": make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)),
        # scikit-learn's own early stopping: the same protocol as skanode's recommended one
        "MLPClassifier-ES": make_pipeline(
            StandardScaler(), MLPClassifier(early_stopping=True, random_state=seed)),
        "NODE": make_pipeline(StandardScaler(), NODEClassifier(**settings)),
        "ANODE": make_pipeline(StandardScaler(), ANODEClassifier(**settings)),
        "ResNet": make_pipeline(StandardScaler(), ResNetClassifier(**settings)),
    }


def _scaled_target(regressor):
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), regressor),
                                      transformer=StandardScaler())


def regressors(seed=0):
    settings = {**RECOMMENDED, "random_state": seed}
    return {
        "Ridge": make_pipeline(StandardScaler(), Ridge()),
        "MLPRegressor": _scaled_target(MLPRegressor(random_state=seed, max_iter=500)),
        "MLPRegressor-ES": _scaled_target(
            MLPRegressor(early_stopping=True, random_state=seed, max_iter=500)),
        "NODE": _scaled_target(NODERegressor(**settings)),
        "ANODE": _scaled_target(ANODERegressor(**settings)),
        "ResNet": _scaled_target(ResNetRegressor(**settings)),
    }


def _net(estimator):
    """Return the skanode estimator inside a fitted pipeline / target wrapper, or None."""
    from skanode.scoring import find_nets

    nets = find_nets(estimator)
    return nets[0] if nets else None


def evaluate(models, X, y, cv):
    """Cross-validate the models of each seed's ``{label: model}``; pool the folds."""
    results = {}
    for built in models:
        for label, model in built.items():
            result = cross_validate(model, X, y, cv=cv, return_estimator=True)
            nets = [_net(est) for est in result["estimator"]]
            r = results.setdefault(label, {"score": [], "fit": [], "epochs": [], "nfe": []})
            r["score"].extend(result["test_score"])
            r["fit"].extend(result["fit_time"])
            if all(net is not None for net in nets):
                r["epochs"].extend(net.n_iter_ for net in nets)
                r["nfe"].extend(np.mean(net.history[:, "forward_nfe"]) for net in nets)
    return {label: _summary(r) for label, r in results.items()}


def _summary(r):
    """Fold scores as an array; mean fit time, epochs and NFE (NaN for scikit-learn's models)."""
    mean = lambda v: np.mean(v) if v else float("nan")  # noqa: E731
    return {"score": np.asarray(r["score"]), "fit": mean(r["fit"]), "epochs": mean(r["epochs"]),
            "nfe": mean(r["nfe"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 folds, 3 data sets")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="repeat with random_state 0..N-1 for every seeded model and pool "
                             "the folds (default: 1); a single run's differences of about "
                             "0.01 are within the seeds' spread")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    folds = 2 if args.quick else 5
    print(f"load average at start: {[round(v, 2) for v in os.getloadavg()]}"
          + ("   (smoke run: 2 folds, 3 data sets; the numbers mean little)" if args.quick
             else ""))
    print(f"seeds: {args.seeds} (score: mean +- std over {folds} folds"
          + (f" x {args.seeds} seeds)" if args.seeds > 1 else ")"))
    print(f"{'data':<14} {'model':<19} {'score':>15} {'fit s/fold':>11} {'epochs':>7} "
          f"{'NFE':>6} {'vs MLP':>15}")
    tasks = [("accuracy", classification_data(), classifiers, StratifiedKFold),
             ("R^2", regression_data(), regressors, KFold)]
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's max_iter, reported below
        if args.quick:  # 2 folds of iris leave 8 rows for early stopping: skanode warns
            warnings.filterwarnings("ignore", "early_stopping holds out only", UserWarning)
        ANODEClassifier(max_epochs=1).fit(*load_iris(return_X_y=True))  # torch's first call
        for metric, data, models, splitter in tasks:
            for i, (name, (X, y)) in enumerate(data):
                if args.quick and i >= (2 if metric == "accuracy" else 1):
                    continue
                cv = splitter(folds, shuffle=True, random_state=0)
                results = evaluate((models(seed) for seed in range(args.seeds)), X, y, cv)
                mlp = next(r for label, r in results.items()
                           if label in ("MLPClassifier", "MLPRegressor"))
                for label, r in results.items():
                    score = f"{r['score'].mean():.3f} +- {r['score'].std():.3f}"
                    epochs = "" if np.isnan(r["epochs"]) else f"{r['epochs']:.0f}"
                    nfe = "" if np.isnan(r["nfe"]) else f"{r['nfe']:.1f}"
                    versus = "" if np.isnan(r["epochs"]) else (
                        f"{r['score'].mean() - mlp['score'].mean():+.3f} "
                        f"{r['fit'] / mlp['fit']:>5.1f}x")
                    print(f"{name:<14} {label:<19} {score:>15} {r['fit']:>11.3f} {epochs:>7} "
                          f"{nfe:>6} {versus:>15}", flush=True)
    print("score: CV accuracy (classification) or R^2 (regression); NFE: mean forward NFE per "
          "training batch (ResNet: its residual blocks); vs MLP: score difference and fit "
          "time ratio to the MLP (scikit-learn's defaults) of the same run; -ES: the MLP "
          "with scikit-learn's early_stopping=True")


if __name__ == "__main__":
    main()

"""What per-sample step control costs, and what it buys: one run, both modes side by side.

For the paper's 2-D concentric spheres (3000 points) and scikit-learn's
breast_cancer (569 x 30, standardised), NODE and ANODE (p=5) classifiers are
trained with ``step_control="batch"`` and ``"sample"`` (batch 64, lr 1e-3, the
same seed), alternating the modes epoch block by epoch block so that machine
noise hits both alike.  Reported per model and mode:

- training: seconds per epoch, final loss, forward NFE per batch (for
  ``"sample"`` both the lockstep count and the per-sample mean);
- prediction on the training data with the batch-trained weights, solved per
  batch (batch 64, the old default, and one batch) and per sample (batch 64,
  1024 and one batch);
- batch dependence: max |delta predict_proba| between batch sizes 1, 7, 64 and
  1000 and after shuffling the rows, per mode.

Run:  python benchmarks/step_control.py [--epochs 5] [--rounds 2]   (10 epochs per mode)
"""

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skanode import ANODEClassifier, NODEClassifier
from skanode.datasets import make_concentric_spheres


def data_sets():
    X, y = make_concentric_spheres(random_state=0)
    cancer = load_breast_cancer()
    return {"spheres": (X, y),
            "breast_cancer": (StandardScaler().fit_transform(cancer.data), cancer.target)}


def train(cls, X, y, mode, epochs, rounds):
    """Yield the estimator and its seconds per epoch after each block of epochs."""
    est = cls(max_epochs=epochs, random_state=0, step_control=mode)
    seconds = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        est.partial_fit(X, y)
        seconds += time.perf_counter() - start
        yield est, seconds / (epochs * (_ + 1))


def predict_time(est, X, mode, batch_size, repeat=3):
    est.set_params(step_control=mode)  # after fit: applied to the built ODE block
    est.set_params(iterator_valid__batch_size=batch_size)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proba = est.predict_proba(X)
        best = min(best, time.perf_counter() - start)
    return best, proba


def dependence(est, X, mode):
    est.set_params(step_control=mode)  # after fit: applied to the built ODE block
    probas = {}
    for size in (1, 7, 64, 1000):
        est.set_params(iterator_valid__batch_size=size)
        probas[size] = est.predict_proba(X)
    order = np.random.RandomState(0).permutation(len(X))
    est.set_params(iterator_valid__batch_size=64)
    shuffled = np.empty_like(probas[64])
    shuffled[order] = est.predict_proba(X[order])
    sizes = max(np.abs(probas[a] - probas[b]).max() for a in probas for b in probas)
    flips = max((probas[a].argmax(1) != probas[b].argmax(1)).sum() for a in probas for b in probas)
    return sizes, np.abs(shuffled - probas[64]).max(), flips


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per block")
    parser.add_argument("--rounds", type=int, default=2, help="blocks per mode, alternated")
    args = parser.parse_args()
    print(f"load average at start: {[round(v, 2) for v in os.getloadavg()]}")
    X, y = make_concentric_spheres(50, 100, random_state=0)
    for mode in ("batch", "sample"):  # torch's one-off start-up, billed to no block
        NODEClassifier(max_epochs=1, step_control=mode).fit(X, y).predict_proba(X)
    print(f"{'data':<14} {'model':<6} {'mode':<7} {'s/epoch':>8} {'loss':>8} "
          f"{'NFE lockstep':>13} {'NFE/sample':>11}")
    trained = {}
    for name, (X, y) in data_sets().items():
        for cls in (NODEClassifier, ANODEClassifier):
            runs = {mode: train(cls, X, y, mode, args.epochs, args.rounds)
                    for mode in ("batch", "sample")}
            result = {}
            for _ in range(args.rounds):  # alternate the modes block by block
                for mode, run in runs.items():
                    result[mode] = next(run)
            label = cls.__name__.replace("Classifier", "")
            for mode, (est, per_epoch) in result.items():
                last = est.history[-1]
                print(f"{name:<14} {label:<6} {mode:<7} {per_epoch:>8.3f} "
                      f"{last['train_loss']:>8.4f} {last['forward_nfe']:>13.1f} "
                      f"{last.get('forward_nfe_per_sample', last['forward_nfe']):>11.1f}")
            trained[name, label] = result["batch"][0]
            ratio = result["sample"][1] / result["batch"][1]
            print(f"{'':<14} {label:<6} training cost sample / batch: {ratio:.2f}x")
    print()
    print(f"{'data':<14} {'model':<6} {'predict':<22} {'seconds':>8}   "
          "(batch-trained weights, all training rows)")
    for (name, label), est in trained.items():
        X, _ = data_sets()[name]
        for mode, size in (("batch", 64), ("batch", -1), ("sample", 64), ("sample", 1024),
                           ("sample", -1)):
            seconds, _ = predict_time(est, X, mode, size)
            what = f"{mode}, batch {'all' if size == -1 else size}"
            print(f"{name:<14} {label:<6} {what:<22} {seconds:>8.4f}")
    print()
    print(f"{'data':<14} {'model':<6} {'mode':<7} {'max|dP| sizes 1/7/64/1000':>26} "
          f"{'max|dP| shuffled':>17} {'label flips':>12}")
    for (name, label), est in trained.items():
        X, _ = data_sets()[name]
        for mode in ("batch", "sample"):
            sizes, shuffled, flips = dependence(est, X, mode)
            print(f"{name:<14} {label:<6} {mode:<7} {sizes:>26.2e} {shuffled:>17.2e} {flips:>12}")


if __name__ == "__main__":
    main()

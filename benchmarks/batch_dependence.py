"""How much do predictions depend on the batch they are solved in.

dopri5 picks one step-size sequence per batch, so a point's prediction changes
slightly with the other points of its batch.  This trains NODE and ANODE
classifiers on the paper's 3000-point spheres (20 epochs) and reports, for the
predicted probabilities, max |delta| between prediction batch sizes 1, 64 and
all 3000 points, with the time of each; then the same for a model trained with
the fixed-step rk4 solver.

Run:  python benchmarks/batch_dependence.py [--epochs 20]
"""

import argparse
import itertools
import time

import numpy as np

from skanode import ANODEClassifier, NODEClassifier
from skanode.datasets import make_concentric_spheres


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    X, y = make_concentric_spheres(random_state=0)
    models = {
        "NODE dopri5": NODEClassifier(max_epochs=args.epochs, random_state=0),
        "ANODE dopri5": ANODEClassifier(max_epochs=args.epochs, random_state=0),
        "ANODE rk4 (h=0.1)": ANODEClassifier(max_epochs=args.epochs, random_state=0,
                                             solver="rk4", solver_options={"step_size": 0.1}),
    }
    print(f"{'model':<20} {'batch':>6} {'predict s':>10}")
    for name, est in models.items():
        est.fit(X, y)
        proba = {}
        for size in (1, 64, -1):
            est.set_params(iterator_valid__batch_size=size)
            start = time.perf_counter()
            proba[size] = est.predict_proba(X)
            label = "all" if size == -1 else size
            print(f"{name:<20} {label:>6} {time.perf_counter() - start:>10.3f}")
        for a, b in itertools.combinations(proba, 2):
            delta = np.abs(proba[a] - proba[b]).max()
            flips = (proba[a].argmax(1) != proba[b].argmax(1)).sum()
            print(f"{'':<20} max|dP| batch {a} vs {b}: {delta:.2e}  (label flips: {flips})")


if __name__ == "__main__":
    main()

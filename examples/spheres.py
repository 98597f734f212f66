"""NODE vs ANODE vs ResNet on the paper's 2-D concentric spheres.

Trains the three classifiers on 80% of the 3000 points (1000 in the ball
r <= 0.5, 2000 in the shell 1 <= r <= 1.5) with the paper's settings
(batch 64, Adam lr 1e-3, hidden 32, ANODE p = 5, ResNet 5 layers) and prints
held-out accuracy, final training loss, forward NFE and time per epoch.

Run:  python examples/spheres.py            (20 epochs, about a minute on 2 cores)
      python examples/spheres.py --quick    (3 epochs, a smoke run)
"""

import argparse
import time
import warnings

import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skanode import ANODEClassifier, NODEClassifier, ResNetClassifier
from skanode.datasets import make_concentric_spheres


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=20,
                        help="training epochs of each model (default: 20)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, the split and the models (default: 0)")
    parser.add_argument("--device", default="cpu",
                        help="torch device to train on, e.g. cuda (default: cpu)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 epochs")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available on this machine")
    epochs = 3 if args.quick else args.epochs

    X, y = make_concentric_spheres(random_state=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=args.seed)
    # The paper's training: a fixed number of epochs, one step size per batch.
    common = dict(max_epochs=epochs, batch_size=64, lr=1e-3, hidden_dim=32,
                  n_iter_no_change=None, random_state=args.seed, device=args.device)
    ode = dict(common, step_control="batch")
    models = {
        "NODE": NODEClassifier(**ode),
        "ANODE (p=5)": ANODEClassifier(augment_dim=5, **ode),
        "ResNet (5 layers)": ResNetClassifier(num_layers=5, **common),
    }
    print(f"Concentric spheres, d=2: {len(X_train)} train / {len(X_test)} test points, "
          f"{epochs} epochs")
    print(f"{'model':<18} {'test acc':>8} {'train loss':>10} {'fwd NFE':>8} {'s/epoch':>8}")
    for name, est in models.items():
        with warnings.catch_warnings():  # a fixed budget ends where it ends: the loss says
            warnings.simplefilter("ignore", ConvergenceWarning)
            # A first fit pays torch's one-off start-up; a one-batch rehearsal keeps it
            # out of the time per epoch (it tripled the first model's in a 3-epoch run).
            clone(est).set_params(max_epochs=1).fit(X_train[:64], y_train[:64])
            start = time.perf_counter()
            est.fit(X_train, y_train)
        per_epoch = (time.perf_counter() - start) / epochs
        last = est.history[-1]
        nfe = f"{last['forward_nfe']:.1f}" if "forward_nfe" in last else "-"
        print(f"{name:<18} {est.score(X_test, y_test):>8.4f} {last['train_loss']:>10.4f} "
              f"{nfe:>8} {per_epoch:>8.3f}")


if __name__ == "__main__":
    main()

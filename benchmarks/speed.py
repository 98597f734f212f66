"""Training speed: skanode's estimators vs the paper's reference training loop.

The reference is a plain-PyTorch re-implementation of the paper's code as it is
described: an MLP vector field that concatenates a column of ``t`` to its
input, zero augmentation by concatenation, torchdiffeq's dopri5
(rtol = atol = 1e-3), a per-sample ``Dataset`` behind a shuffling
``DataLoader`` with batch 64, Adam (lr 1e-3) and the squared error, on the
paper's 3000-point concentric spheres in 2-D.  skanode's ``NODERegressor``,
``ANODERegressor`` (p = 5) and ``ResNetRegressor`` (5 layers) train the same
models on the same data.  Runs are interleaved over several rounds, in one
process, on one thread; the table reports medians.

Columns: seconds per epoch, its ratio to the reference (speed-up), mean forward
NFE per batch, the cost of a training step per function evaluation relative to
a bare forward + backward of the same MLP written as plain tensor operations
(the floor), and the last epoch's mean loss (a ResNet has no NFE: "-").  Then
the time of ``predict`` on 100,000 points.

Run:  python benchmarks/speed.py [--rounds 3] [--epochs 2] [--threads 1]
"""

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torchdiffeq import odeint

from skanode import ANODERegressor, NODERegressor, ResNetRegressor
from skanode.datasets import make_concentric_spheres


# -- the reference implementation ------------------------------------------------------------
class RefODEFunc(nn.Module):
    """The paper's vector field: a column of t concatenated to the input."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim + 1, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, dim)
        self.act = nn.ReLU(inplace=True)
        self.nfe = 0

    def forward(self, t, x):  # noqa: D102
        self.nfe += 1
        t_vec = torch.ones(x.shape[0], 1) * t
        out = self.act(self.fc1(torch.cat([t_vec, x], 1)))
        out = self.act(self.fc2(out))
        return self.fc3(out)


class RefODENet(nn.Module):
    """The paper's ODE net: zero augmentation by concatenation, odeint, linear head."""

    def __init__(self, dim, hidden, out, augment_dim):
        super().__init__()
        self.augment_dim = augment_dim
        self.odefunc = RefODEFunc(dim + augment_dim, hidden)
        self.linear = nn.Linear(dim + augment_dim, out)

    def forward(self, x):  # noqa: D102
        if self.augment_dim:
            x = torch.cat([x, torch.zeros(x.shape[0], self.augment_dim)], 1)
        h = odeint(self.odefunc, x, torch.tensor([0.0, 1.0]), rtol=1e-3, atol=1e-3,
                   method="dopri5")[1]
        return self.linear(h)


class RefResNet(nn.Module):
    """The paper's ResNet: residual MLP blocks and a linear head."""

    def __init__(self, dim, hidden, out, num_layers):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Linear(hidden, dim)) for _ in range(num_layers))
        self.linear = nn.Linear(dim, out)

    def forward(self, x):  # noqa: D102
        for block in self.blocks:
            x = x + block(x)
        return self.linear(x)


class PointDataset(torch.utils.data.Dataset):
    """The paper's datasets hand out one sample at a time."""

    def __init__(self, X, y):
        self.X = [torch.tensor(x, dtype=torch.float32) for x in X]
        self.y = [torch.tensor([v], dtype=torch.float32) for v in y]

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def reference_epochs(kind, X, y, epochs, seed):
    torch.manual_seed(seed)
    if kind == "resnet":
        model = RefResNet(2, 32, 1, 5)
    else:
        model = RefODENet(2, 32, 1, 5 if kind == "anode" else 0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(PointDataset(X, y), batch_size=64, shuffle=True)
    times, nfes, losses = [], [], []
    for _ in range(epochs):
        start = time.perf_counter()
        losses = []
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if kind != "resnet":
                nfes.append(model.odefunc.nfe)
                model.odefunc.nfe = 0
        times.append(time.perf_counter() - start)
    return statistics.mean(times), (statistics.mean(nfes) if nfes else float("nan")), \
        statistics.mean(losses)


ESTIMATORS = {"node": NODERegressor, "anode": ANODERegressor, "resnet": ResNetRegressor}


def skanode_epochs(kind, X, y, epochs, seed):
    extra = {"augment_dim": 5} if kind == "anode" else {}
    # A fixed number of epochs, as the reference loop: no convergence control or warning.
    est = ESTIMATORS[kind](hidden_dim=32, batch_size=64, lr=1e-3, max_epochs=epochs,
                           n_iter_no_change=None, random_state=seed, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    history = est.history
    nfe = (statistics.mean(history[:, "forward_nfe"]) if kind != "resnet" else float("nan"))
    return statistics.mean(history[:, "dur"]), nfe, history[-1, "train_loss"], est


def bare_forward_backward(dim, hidden=32, batch=64, reps=3000):
    """Seconds per forward + backward of the MLP as plain tensor operations."""
    torch.manual_seed(0)
    w1 = torch.randn(hidden, dim, requires_grad=True)
    b1 = torch.zeros(hidden, requires_grad=True)
    w2 = torch.randn(hidden, hidden, requires_grad=True)
    b2 = torch.zeros(hidden, requires_grad=True)
    w3 = torch.randn(dim, hidden, requires_grad=True)
    b3 = torch.zeros(dim, requires_grad=True)
    h = torch.randn(batch, dim)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            out = torch.relu(torch.addmm(b1, h, w1.t()))
            out = torch.relu(torch.addmm(b2, out, w2.t()))
            torch.addmm(b3, out, w3.t()).sum().backward()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of every model and implementation; the "
                             "table reports medians (default: 3)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs timed per round (default: 2)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default: 1)")
    parser.add_argument("--models", nargs="+", default=["anode", "node", "resnet"],
                        help="models to time, of anode, node, resnet (default: all three)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = make_concentric_spheres(random_state=0)
    y = y.astype(float)
    n_batches = -(-len(X) // 64)
    results = {(kind, impl): [] for kind in args.models for impl in ("reference", "skanode")}
    fitted = {}
    for r in range(args.rounds):
        for kind in args.models:
            results[kind, "reference"].append(reference_epochs(kind, X, y, args.epochs, r))
            *row, est = skanode_epochs(kind, X, y, args.epochs, r)
            results[kind, "skanode"].append(tuple(row))
            fitted[kind] = est
    bare = {dim: bare_forward_backward(dim) for dim in (2, 7)}
    print(f"{len(X)} points, batch 64, {args.epochs} epochs x {args.rounds} interleaved rounds, "
          f"{args.threads} thread(s); bare MLP fwd+bwd: d=2 {bare[2] * 1e6:.0f} us, "
          f"d=7 {bare[7] * 1e6:.0f} us")
    header = (f"{'model':<8} {'implementation':<15} {'s/epoch':>8} {'speed-up':>9} "
              f"{'fwd NFE':>8} {'per-eval cost':>14} {'loss':>8}")
    print(header)
    print("-" * len(header))
    for kind in args.models:
        ref_time = statistics.median(r[0] for r in results[kind, "reference"])
        for impl in ("reference", "skanode"):
            rows = results[kind, impl]
            sec = statistics.median(r[0] for r in rows)
            nfe = statistics.median(r[1] for r in rows)
            loss = statistics.median(r[2] for r in rows)
            dim = 7 if kind == "anode" else 2
            per_eval = (f"{sec / (n_batches * nfe) / bare[dim]:.2f}x" if np.isfinite(nfe)
                        else "-")
            nfe_text = f"{nfe:.1f}" if np.isfinite(nfe) else "-"
            print(f"{kind:<8} {impl:<15} {sec:>8.3f} {ref_time / sec:>8.2f}x {nfe_text:>8} "
                  f"{per_eval:>14} {loss:>8.4f}")
    X_big, _ = make_concentric_spheres(33334, 66666, random_state=1)
    for kind, est in fitted.items():
        start = time.perf_counter()
        est.predict(X_big)
        print(f"predict on {len(X_big)} points, {kind}: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()

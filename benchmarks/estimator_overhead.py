"""Estimator overhead: ANODEClassifier.fit vs a hand-written torch loop.

Both train the same module (skanode.modules.ODENet, ANODE p=5, hidden 32, dopri5
rtol=atol=1e-3, direct backpropagation) on the same 3000-point concentric
spheres, batch 64, Adam lr 1e-3, shuffled batches.  Rounds are interleaved and
the medians of seconds per epoch are compared; NFE per batch is printed too so
that equal work is visible.

Run:  python benchmarks/estimator_overhead.py [--rounds 5] [--epochs 3] [--threads 1]
"""

import argparse
import statistics
import time

import torch

from skanode import ANODEClassifier
from skanode.datasets import make_concentric_spheres
from skanode.modules import ODENet
from skanode.odeblock import collect_stats


def torch_loop(X, y, epochs, seed):
    torch.manual_seed(seed)
    model = ODENet(2, 2, hidden_dim=32, augment_dim=5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor((y > 0).astype("int64"))
    nfe = []
    start = time.perf_counter()
    for _ in range(epochs):
        losses = []
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            nfe.append(collect_stats(model).forward_nfe)
            losses.append(loss.item())
    return (time.perf_counter() - start) / epochs, statistics.mean(nfe), statistics.mean(losses)


def estimator(X, y, epochs, seed):
    est = ANODEClassifier(augment_dim=5, hidden_dim=32, lr=1e-3, batch_size=64,
                          max_epochs=epochs, random_state=seed)
    start = time.perf_counter()
    est.fit(X, y)
    elapsed = (time.perf_counter() - start) / epochs
    return elapsed, statistics.mean(est.history[:, "forward_nfe"]), est.history[-1, "train_loss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of both; medians are compared (default: 5)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs timed per round (default: 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = make_concentric_spheres(random_state=0)
    results = {"torch loop": [], "ANODEClassifier": []}
    for r in range(args.rounds):
        results["torch loop"].append(torch_loop(X, y, args.epochs, seed=r))
        results["ANODEClassifier"].append(estimator(X, y, args.epochs, seed=r))
    print(f"3000 points, batch 64, {args.epochs} epochs x {args.rounds} interleaved rounds, "
          f"{args.threads} thread(s)")
    print(f"{'':<16} {'s/epoch (median)':>17} {'fwd NFE/batch':>14} {'last-epoch loss':>16}")
    med = {}
    for name, rows in results.items():
        med[name] = statistics.median(r[0] for r in rows)
        nfe = statistics.median(r[1] for r in rows)
        loss = statistics.median(r[2] for r in rows)
        print(f"{name:<16} {med[name]:>17.3f} {nfe:>14.1f} {loss:>16.4f}")
    print(f"ratio estimator / torch loop: {med['ANODEClassifier'] / med['torch loop']:.3f}")


if __name__ == "__main__":
    main()

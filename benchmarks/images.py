"""CPU cost of the paper's MNIST models: skanode vs a plain torch loop.

For the parameter-matched NODE (92 filters) and ANODE (64 filters + 5 channels)
on MNIST batches of 256: seconds per training batch through the estimator and
through a hand-written torch loop over the same module (Adam, cross-entropy,
direct backpropagation), the epoch time extrapolated to 60,000 images, and the
forward / backward NFE at initialisation (the adjoint's backward NFE too).
Reads the MNIST IDX files; skanode never downloads them.

Run:  python benchmarks/images.py [--data-dir ../shared/data/mnist] [--batches 4]
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from skanode import ANODEClassifier, NODEClassifier
from skanode.datasets import load_mnist
from skanode.modules import ODENet
from skanode.odeblock import collect_stats
from skanode.presets import paper_image_model


def torch_loop(params, X, y, batches, seed):
    torch.manual_seed(seed)
    net = ODENet((1, 28, 28), 10, architecture="conv", num_filters=params["num_filters"],
                 augment_dim=params.get("augment_dim", 0),
                 time_dependent=params["time_dependent"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    times, nfe = [], []
    for b in range(batches):
        xb, yb = X[b * 256:(b + 1) * 256], y[b * 256:(b + 1) * 256]
        start = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()
        times.append(time.perf_counter() - start)
        nfe.append(collect_stats(net).forward_nfe)
    return statistics.median(times), nfe[0]


def estimator(cls, params, X, y, batches, seed, adjoint=False):
    est = cls(**params, batch_size=256, max_epochs=1, lr=1e-3, random_state=seed,
              adjoint=adjoint, iterator_train__shuffle=False)
    est.fit(X[: batches * 256], y[: batches * 256])
    rows = est.history[-1, "batches"]
    per_batch = est.history[-1, "dur"] / len(rows)
    return per_batch, rows[0]["forward_nfe"], rows[0]["backward_nfe"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist",
                        help="folder with the original MNIST IDX files (default: "
                             "../shared/data/mnist, the shared data beside the development "
                             "checkout); nothing is downloaded")
    parser.add_argument("--batches", type=int, default=4,
                        help="training batches of 256 timed per model (default: 4)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads (default: torch's, here %(default)s)")
    args = parser.parse_args()
    if not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder with the MNIST IDX files")
    torch.set_num_threads(args.threads)
    try:
        X, y = load_mnist(args.data_dir, "train")
    except FileNotFoundError as err:
        parser.error(str(err))
    print(f"MNIST, batch 256, {args.batches} batches each, {args.threads} thread(s)")
    print(f"{'model':<22} {'params':>7} {'s/batch est.':>12} {'s/batch torch':>13} "
          f"{'ratio':>6} {'s/epoch est.':>12} {'fwd NFE':>8} {'bwd NFE (adjoint)':>18}")
    for name, cls in (("NODE (92 filters)", NODEClassifier),
                      ("ANODE (64 + 5 ch.)", ANODEClassifier)):
        params = paper_image_model("mnist", "node" if cls is NODEClassifier else "anode")
        est_s, fwd, _ = estimator(cls, params, X, y, args.batches, 0)
        loop_s, _ = torch_loop(params, X, y, args.batches, 0)
        _, _, bwd_adj = estimator(cls, params, X, y, 1, 0, adjoint=True)
        n_params = sum(p.numel() for p in ODENet(
            (1, 28, 28), 10, architecture="conv", num_filters=params["num_filters"],
            augment_dim=params.get("augment_dim", 0)).parameters())
        print(f"{name:<22} {n_params:>7} {est_s:>12.3f} {loop_s:>13.3f} {est_s / loop_s:>6.2f} "
              f"{est_s * 60000 / 256:>12.0f} {fwd:>8} {bwd_adj:>18}")


if __name__ == "__main__":
    main()

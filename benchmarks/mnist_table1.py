r"""Reproduce Table 1 (MNIST, NODE vs ANODE) on a GPU in about 8 minutes.

Trains the parameter-matched conv NODE (92 filters) and ANODE (64 filters + 5
channels) with the paper's setup (batch 256, Adam lr 1e-3) on the 60,000 MNIST
training images and reports test accuracy, NFE and time, mean +/- std over
repeats, as a short Markdown table printed last.  Defaults (5 epochs x 2
repeats) are sized for one modern GPU; on a CPU, use a subset:

    python benchmarks/mnist_table1.py --device cpu --n-train 512 --n-test 256 --epochs 1 \\
        --repeats 1

Run:  python benchmarks/mnist_table1.py --data-dir ../shared/data/mnist --device cuda
"""

import argparse
import sys
import time
from pathlib import Path

import torch

from skanode.cli import main as skanode_main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist",
                        help="folder with the original MNIST IDX files (train-images-idx3-ubyte"
                             "[.gz], ...; default: ../shared/data/mnist, the shared data "
                             "beside the development checkout); nothing is downloaded")
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--epochs", type=int, default=5,
                        help="training epochs of each model (default: 5)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each model with seeds 0.. (default: 2)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="train on a seeded subset of N images (default: all 60,000)")
    parser.add_argument("--n-test", type=int, default=None,
                        help="test on a seeded subset of N images (default: all 10,000)")
    parser.add_argument("--out", default="skanode-results/mnist_table1",
                        help="output folder (default: %(default)s)")
    args = parser.parse_args()
    # This script's own usage errors, before the images command would report them as its own.
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available; on a CPU use "
                     "--device cpu with a subset (see the docstring)")
    if not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder with the MNIST IDX files")
    argv = ["images", "--data", "mnist", "--data-dir", args.data_dir, "--device", args.device,
            "--epochs", str(args.epochs), "--repeats", str(args.repeats), "--out", args.out]
    if args.n_train:
        argv += ["--n-train", str(args.n_train)]
    if args.n_test:
        argv += ["--n-test", str(args.n_test)]
    start = time.perf_counter()
    code = skanode_main(argv)
    if code == 0:
        print(f"total {time.perf_counter() - start:.0f} s; paper (Table 1): NODE 96.4% +/- 0.5, "
              "ANODE 98.2% +/- 0.1 test accuracy on MNIST")
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The ``skanode`` command: run the paper's experiments, write tables and figures.

``skanode`` with no arguments runs a quick headline comparison (NODE vs ANODE vs
ResNet on 2-D concentric spheres).  Subcommands run the other experiments; see
``skanode --help`` and ``skanode COMMAND --help``.  Each writes into ``--out``:
``records.json`` (every curve and number), ``curves.csv`` (long format), PNG
figures and ``summary.md``.

The module imports nothing heavy at the top: the parser is built from plain
data, so ``skanode --help`` and ``skanode --version`` answer without importing
numpy, torch or scikit-learn (as long as ``skanode/__init__.py`` does not import
them either).  :mod:`skanode.experiments` and :mod:`skanode.plotting` are
imported by the subcommands that run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from . import __version__

COMMANDS = ("headline", "g1d", "curves", "features", "generalization", "search", "images")
MODEL_NAMES = ("anode", "node", "resnet")  # the keys of skanode.experiments.MODELS
LABELS = {"node": "NODE", "anode": "ANODE", "resnet": "ResNet"}
# ``search --quick``: a smoke run of the command on a tiny grid and data.
QUICK_SEARCH = {"grid": {"lr": [1e-3, 1e-2]}, "n_inner": 100, "n_outer": 200}
SMOKE_NOTE = ("**Smoke run (--quick): tiny grid and data; the 'best' parameters mean "
              "nothing.**")


# -- argument types: usage errors before any work --------------------------------------------
def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _integer(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    what = "an integer from 0 to 2**32 - 1"
    value = _integer(text, what)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def _n_jobs(text: str) -> int:
    what = "a number of processes, or -1 for all cores"
    value = _integer(text, what)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be {what}, got 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


# -- the options and the commands, as data ---------------------------------------------------
_OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "epochs": (("--epochs",), {
        "type": _positive_int, "metavar": "N",
        "help": "training epochs of every model (default: {epochs})"}),
    "repeats": (("--repeats",), {
        "type": _positive_int, "metavar": "N",
        "help": "runs of every model, repeat r with seed SEED + r; tables and curves show "
                "mean ± std (default: 1)"}),
    "dim": (("--dim",), {
        "type": _positive_int, "metavar": "D",
        "help": "dimension d of the concentric spheres (default: 2)"}),
    "dataset": (("--dataset",), {
        "choices": ["spheres", "sines"],
        "help": "concentric spheres in --dim dimensions, or the two shifted sine curves "
                "of Fig. 20, in the plane (--dim is then unused) (default: spheres)"}),
    "models": (("--models",), {
        "nargs": "+", "choices": list(MODEL_NAMES), "metavar": "MODEL",
        "help": "models to search, of node, anode, resnet (default: resnet node anode)"}),
    "n_jobs": (("--n-jobs",), {
        "type": _n_jobs, "metavar": "N",
        "help": "joblib processes (-1: all cores); torch threads are shared out (default: 1)"}),
    "scheduler": (("--scheduler",), {
        "metavar": "ADDRESS", "help": "address of a Dask scheduler to run the search on"}),
    "dask_local": (("--dask-local",), {
        "type": _positive_int, "metavar": "N",
        "help": "start a local Dask cluster of N single-threaded workers"}),
    "quick": (("--quick",), {
        "action": "store_true",
        "help": "a smoke run of the command: 300 points and a grid of lr 1e-3 and 1e-2 "
                "only (1e-2, outside the paper's grid, learns something in an epoch or two); "
                "its 'best' parameters mean nothing"}),
    "data": (("--data",), {
        "choices": ["digits", "mnist"],
        "help": "scikit-learn's bundled 8x8 digits, or MNIST from --data-dir (default: "
                "digits, or mnist when --data-dir is given)"}),
    "data_dir": (("--data-dir",), {
        "metavar": "DIR",
        "help": "folder with the original MNIST IDX files (train-images-idx3-ubyte[.gz], "
                "...); nothing is downloaded"}),
    "weight_decay": (("--weight-decay",), {
        "type": _non_negative_float, "metavar": "W",
        "help": "Adam's L2 weight decay, as in the paper's appendix G.3 (default: 0)"}),
    "adjoint": (("--adjoint",), {
        "action": "store_true",
        "help": "adjoint backpropagation (default: direct backpropagation, as the paper)"}),
    "no_time_channels": (("--no-time-channels",), {
        "action": "store_true",
        "help": "no time channel before each convolution: the architecture of the paper's "
                "parameter counts"}),
    "batch_size": (("--batch-size",), {
        "type": _positive_int, "metavar": "N", "help": "training batch size (default: 256)"}),
    "n_train": (("--n-train",), {
        "type": _positive_int, "metavar": "N",
        "help": "train on a seeded random subset of N images (default: all)"}),
    "n_test": (("--n-test",), {
        "type": _positive_int, "metavar": "N",
        "help": "test on a seeded random subset of N images (default: all)"}),
    "device": (("--device",), {
        "metavar": "DEVICE",
        "help": "torch device: cpu, cuda, cuda:1, mps; checked before any work "
                "(default: cpu)"}),
    "seed": (("--seed",), {
        "type": _seed, "metavar": "SEED",
        "help": "seed of the data and of the first run's initialisation and shuffling "
                "(default: 0)"}),
    "out": (("--out",), {
        "type": Path, "metavar": "DIR",
        "help": "output folder, created if needed (default: skanode-results/{command})"}),
    "quiet": (("--quiet",), {
        "action": "store_true",
        "help": "no progress output ({silenced}); the results are still printed"}),
}
_DEFAULTS: dict[str, Any] = {
    "repeats": 1, "dim": 2, "dataset": "spheres", "models": ["resnet", "node", "anode"],
    "n_jobs": 1, "scheduler": None, "dask_local": None, "quick": False, "data": None,
    "data_dir": None, "weight_decay": 0.0, "adjoint": False, "no_time_channels": False,
    "batch_size": 256, "n_train": None, "n_test": None, "device": "cpu", "seed": 0,
    "out": None, "quiet": False,
}
_COMMON = ("device", "seed", "out", "quiet")


class _Command(NamedTuple):
    help: str
    description: str
    epochs: int
    options: tuple[str, ...]


_COMMANDS: dict[str, _Command] = {
    "headline": _Command(
        "NODE vs ANODE vs ResNet on concentric spheres (the default command)",
        "Train a NODE, an ANODE (5 augmented dimensions) and a ResNet (5 layers) on the "
        "paper's concentric spheres in d dimensions (3,000 points; regression onto ±1 with "
        "the squared error, batch 64, Adam lr 1e-3, hidden width 32) and compare their "
        "training loss, forward NFE, training accuracy and time per epoch.  This is what "
        "'skanode' runs without a command.",
        20, ("epochs", "repeats", "dim", *_COMMON)),
    "g1d": _Command(
        "Prop. 1 / Fig. 3: flows on g_1d vs the identity",
        "Prop. 1 / Fig. 3: without a linear head, the flow itself must map -1 to +1 and +1 "
        "to -1 (the function g_1d).  Trains a NODE on the identity, and a NODE, an ANODE "
        "(1 augmented dimension) and a ResNet on g_1d (100 points, lr 1e-2).  A NODE cannot "
        "cross trajectories, so on g_1d its loss stays near 1.  Draws the trajectories of "
        "-1 and +1 and the NODEs' vector fields.",
        50, ("epochs", *_COMMON)),
    "curves": _Command(
        "Fig. 5 / 20: loss curves of ResNet, NODE and ANODE",
        "Fig. 5 / Fig. 20: training-loss curves of a ResNet, a NODE and an ANODE on "
        "concentric spheres in d dimensions or on the shifted sines, as mean ± std over "
        "repeats (each repeat draws its own data and initialisation from SEED + r).",
        50, ("epochs", "repeats", "dim", "dataset", *_COMMON)),
    "features": _Command(
        "Fig. 7 / 8: loss, NFE, flows and feature space, NODE vs ANODE",
        "Fig. 7 / Fig. 8: a NODE and an ANODE on d-dimensional concentric spheres: their "
        "loss and NFE curves, the feature space of 300 points before training and at about "
        "10%, 50% and 100% of the epochs, and the trajectories of 150 points.",
        50, ("epochs", "dim", *_COMMON)),
    "generalization": _Command(
        "Fig. 9: input-space maps with an angular slice held out",
        "Fig. 9: train a NODE and an ANODE on 2-D concentric spheres with every point whose "
        "angle lies in [0, π/5] held out; map the model output over the input plane and "
        "follow the loss on the held-out slice during training.",
        50, ("epochs", "repeats", *_COMMON)),
    "search": _Command(
        "Appendix F.2.1: the paper's 3-fold grid search",
        "Appendix F.2.1: the paper's 3-fold grid search, per model, over batch size, "
        "learning rate and hidden width (plus augmented dimensions for ANODE, layers for "
        "ResNet) on d-dimensional concentric spheres.  Writes each model's cv_results CSV, "
        "its best parameters against the paper's, and a plot of the candidates.  Searches "
        "run on joblib processes or on a Dask cluster.",
        50, ("epochs", "dim", "models", "n_jobs", "scheduler", "dask_local", "quick",
             *_COMMON)),
    "images": _Command(
        "Table 1 / Fig. 10-11: conv NODE vs ANODE on digits or MNIST",
        "Table 1 / Fig. 10-11: parameter-matched convolutional NODE and ANODE classifiers "
        "on scikit-learn's bundled 8x8 digits, or on MNIST read from the original IDX files "
        "in --data-dir (nothing is downloaded); batch 256, Adam lr 1e-3.  Reports test "
        "accuracy, NFE and time per epoch, and prints an estimate of the duration before "
        "it starts.",
        10, ("epochs", "repeats", "data", "data_dir", "weight_decay", "adjoint",
             "no_time_channels", "batch_size", "n_train", "n_test", *_COMMON)),
}
_DEFAULT_EPOCHS = {name: spec.epochs for name, spec in _COMMANDS.items()}
_QUIETED = {**{name: "the progress bar" for name in _COMMANDS},
            "search": "the search logs", "images": "the progress bar and the time estimate"}


def _add_options(parser: argparse.ArgumentParser, command: str) -> None:
    for name in _COMMANDS[command].options:
        flags, kwargs = _OPTIONS[name]
        kwargs = dict(kwargs, dest=name)
        kwargs["help"] = kwargs["help"].replace("{epochs}", str(_DEFAULT_EPOCHS[command]))
        kwargs["help"] = kwargs["help"].replace("{command}", command)
        if name == "seed" and "repeats" not in _COMMANDS[command].options:
            kwargs["help"] = kwargs["help"].replace("the first run's", "the models'")
        if name == "quiet":
            kwargs["help"] = kwargs["help"].replace("{silenced}", _QUIETED[command])
        parser.add_argument(*flags, **kwargs)


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    # Defaults are suppressed so that main() sees which options were given, and where.
    parser = argparse.ArgumentParser(
        prog="skanode", argument_default=argparse.SUPPRESS,
        description="Reproduce the toy and image experiments of Augmented Neural ODEs "
                    "(Dupont et al., 2019). With no command: the headline comparison, "
                    "NODE vs ANODE vs ResNet on concentric spheres.",
        epilog="Run 'skanode COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"skanode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_options(parser.add_argument_group("options of the default command (headline)"),
                 "headline")
    commands = {}
    for name, spec in _COMMANDS.items():
        commands[name] = sub.add_parser(name, help=spec.help, description=spec.description,
                                        argument_default=argparse.SUPPRESS)
        _add_options(commands[name], name)
    return parser, commands


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``skanode`` command."""
    return _build()[0]


def _flag(name: str) -> str:
    return _OPTIONS[name][0][0]


def _finish_args(args: argparse.Namespace, parser: argparse.ArgumentParser,
                 top: argparse.ArgumentParser) -> None:
    """Fill in defaults and check what one option cannot check alone; usage errors exit 2."""
    command = args.command
    given = set(vars(args)) - {"command"}
    unused = sorted(given - set(_COMMANDS[command].options))
    if unused:  # only options given before the command name can get here
        top.error(f"{command} does not take {', '.join(_flag(n) for n in unused)}")
    for name in _COMMANDS[command].options:
        if name not in given:
            setattr(args, name, _DEFAULTS.get(name))
    if "epochs" not in given:
        args.epochs = _DEFAULT_EPOCHS[command]
    if command == "search" and args.scheduler is not None and args.dask_local is not None:
        parser.error("give --scheduler or --dask-local, not both")
    if command == "search":
        twice = sorted({m for m in args.models if args.models.count(m) > 1})
        if twice:
            parser.error(f"--models lists {', '.join(twice)} more than once")
    if command == "images":
        if args.data is None:
            args.data = "mnist" if args.data_dir is not None else "digits"
        if args.data == "digits" and args.data_dir is not None:
            parser.error("--data-dir is for --data mnist; the digits are bundled with "
                         "scikit-learn")
        for name, available in zip(("n_train", "n_test"), _IMAGE_SIZES[args.data]):
            wanted = getattr(args, name)
            if wanted is not None and wanted > available:
                parser.error(f"{_flag(name)} {wanted}: {args.data} has {available:,} "
                             f"{name[2:]} images")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")


def _check_inputs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Check data files and the device before any work starts; usage errors exit 2."""
    if args.command == "images" and args.data == "mnist":
        if args.data_dir is None:
            parser.error("--data mnist needs --data-dir, the folder with the MNIST IDX files "
                         "(skanode does not download them)")
        folder = Path(args.data_dir)
        if not folder.is_dir():
            parser.error(f"--data-dir {folder} is not a folder")
        from .datasets import _MNIST_FILES

        missing = [name for names in _MNIST_FILES.values() for name in names
                   if not (folder / name).exists() and not (folder / f"{name}.gz").exists()]
        if missing:
            parser.error(f"--data-dir {folder} lacks the MNIST IDX file(s) "
                         f"{', '.join(missing)} (or .gz); skanode does not download them")
    if args.command == "search" and args.scheduler is not None:
        return  # the device is the Dask workers'
    problem = _device_problem(args.device)
    if problem:
        parser.error(problem)


def _device_problem(device: str) -> str | None:
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        return f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1, mps)"
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return (f"--device {device}: no CUDA device is available to this torch "
                    f"({torch.__version__})")
        if dev.index is not None and dev.index >= count:
            return f"--device {device}: there are only {count} CUDA device(s)"
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        return f"--device {device}: MPS is not available"
    return None


# -- the duration estimate of ``skanode images`` -----------------------------------------------
# Seconds per image and epoch (a test image counts 1/3: forward only), measured on the
# development machine: 2-core AMD EPYC, torch 2.13 (CPU), 2 threads, batch 256, direct
# backpropagation, time channels on; digits averaged over 10 epochs, MNIST over 2 epochs of
# 1,024 training images (its NFE, and so its time, may grow later in training).
_IMAGE_SECONDS = {("digits", "node"): 1.7e-3, ("digits", "anode"): 0.95e-3,
                  ("mnist", "node"): 69e-3, ("mnist", "anode"): 38e-3}
_IMAGE_SIZES = {"digits": (1437, 360), "mnist": (60_000, 10_000)}  # (train, test)
_ESTIMATE_BASIS = "a 2-core AMD EPYC CPU, 2 torch threads, direct backpropagation"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def images_estimate(args: argparse.Namespace) -> str:
    """Return a one-line estimate of how long ``skanode images`` with ``args`` will take."""
    if not str(args.device).startswith("cpu"):
        return (f"skanode images: no duration estimate for --device {args.device} (the "
                f"estimate is calibrated on {_ESTIMATE_BASIS} only).")
    n_train, n_test = _IMAGE_SIZES[args.data]
    n_train = min(n_train, args.n_train or n_train)
    n_test = min(n_test, args.n_test or n_test)
    per_epoch = sum(_IMAGE_SECONDS[args.data, model] for model in ("node", "anode"))
    seconds = args.epochs * args.repeats * per_epoch * (n_train + n_test / 3)
    return (f"skanode images: expect about {_duration(seconds)} on a CPU (a rough estimate: "
            f"{_plural(args.epochs, 'epoch')} x 2 models x {_plural(args.repeats, 'repeat')} "
            f"on {n_train:,} training and {n_test:,} test images of {args.data}; per-image "
            f"costs measured on {_ESTIMATE_BASIS}; several times longer when the cores are "
            "busy, with --adjoint or as the NFE grows).")


# -- output helpers ----------------------------------------------------------------------------
def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if k != "estimator"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _write_records(out: Path, records: Sequence[dict]) -> None:
    (out / "records.json").write_text(json.dumps(_jsonable(list(records)), indent=1))
    rows = ["model,repeat,seed,epoch,key,value"]
    for rec in records:
        for key, values in rec.get("curves", {}).items():
            rows += [f"{rec['label']},{rec['repeat']},{rec['seed']},{i + 1},{key},{v:.8g}"
                     for i, v in enumerate(values)]
    (out / "curves.csv").write_text("\n".join(rows) + "\n")


def _mean_std(values: Sequence[float], fmt: str = ".4f") -> str:
    import numpy as np

    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0 or np.all(np.isnan(values)):
        return "-"
    if len(values) == 1:
        return f"{values[0]:{fmt}}"
    return f"{np.nanmean(values):{fmt}} ± {np.nanstd(values):{fmt}}"


def summary_table(records: Sequence[dict]) -> str:
    """Markdown table of final loss, NFE, accuracy and cost per model (mean ± std)."""
    lines = ["| model | runs | final train loss | final forward NFE | training accuracy (sign) "
             "| s / epoch | parameters |", "|---|---|---|---|---|---|---|"]
    labels = list(dict.fromkeys(rec["label"] for rec in records))
    for label in labels:
        group = [rec for rec in records if rec["label"] == label]
        lines.append(
            f"| {label} | {len(group)} | {_mean_std([r['final_loss'] for r in group])} "
            f"| {_mean_std([r['final_forward_nfe'] for r in group], '.1f')} "
            f"| {_mean_std([r['accuracy'] for r in group], '.3f')} "
            f"| {_mean_std([r['seconds_per_epoch'] for r in group], '.3f')} "
            f"| {group[0]['n_parameters']} |")
    return "\n".join(lines) + "\n"


def _figure(ncols: int, width: float = 4.8, height: float = 4.0, three_d: Sequence[int] = ()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width * ncols, height))
    axes = [fig.add_subplot(1, ncols, i + 1, projection="3d" if i in three_d else None)
            for i in range(ncols)]
    return fig, axes


def _save(fig, path: Path, rect: Sequence[float] = (0, 0, 1, 1), **adjust: float) -> None:
    """Lay out (``adjust``: ``fig.subplots_adjust``; else ``tight_layout``), save, close."""
    import warnings

    if adjust:  # tight_layout misplaces 3-D axes and their labels
        fig.subplots_adjust(**adjust)
    else:
        with warnings.catch_warnings():  # 3-D axes are not "compatible with tight_layout"
            warnings.simplefilter("ignore", UserWarning)
            fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)


class _Progress:
    """A tqdm bar on stderr counting epochs; silent with ``--quiet``.

    The bar appears with the first finished epoch, so that an error raised
    before any training is not printed onto a half-drawn bar.
    """

    def __init__(self, total: int, desc: str, quiet: bool) -> None:
        self.total, self.desc, self.quiet = total, desc, quiet
        self.bar = None

    def __call__(self, n: int) -> None:
        if self.bar is None:
            from .callbacks import progress_bar

            self.bar = progress_bar(total=self.total, desc=self.desc, unit="epoch",
                                    disable=self.quiet)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- subcommands: run, write records, draw, return the summary -----------------------------
def _headline(args, out: Path, progress) -> str:
    from . import experiments as ex

    records = ex.headline_experiment(epochs=args.epochs, repeats=args.repeats, dim=args.dim,
                                     seed=args.seed, device=args.device, progress=progress)
    _write_records(out, records)
    _plot_headline(records, out, args)
    return (f"# Headline: NODE vs ANODE vs ResNet on {args.dim}-D concentric spheres\n\n"
            f"{_plural(args.epochs, 'epoch')}, {_plural(args.repeats, 'repeat')}, seed "
            f"{args.seed}; regression onto ±1 with MSE, batch 64, lr 1e-3, hidden 32, ANODE "
            "p=5, ResNet 5 layers.  Accuracy is the fraction of training points whose "
            "output has the sign of the target.\n\n"
            + summary_table(records) + "\n![](headline.png)\n")


def _plot_headline(records: Sequence[dict], out: Path, args) -> None:
    import numpy as np

    from .plotting import MODEL_COLORS, plot_curves

    fig, axes = _figure(3)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    axes[0].set_title("training loss")
    plot_curves([r for r in records if r["model"] != "resnet"], "forward_nfe", ax=axes[1])
    axes[1].set_title("forward NFE per batch (ResNet: its 5 blocks, not drawn)")
    labels = list(dict.fromkeys(r["label"] for r in records))
    accs = [[r["accuracy"] for r in records if r["label"] == lab] for lab in labels]
    mean = [float(np.mean(a)) for a in accs]
    std = [float(np.std(a)) for a in accs] if args.repeats > 1 else None
    bars = axes[2].bar(labels, mean, yerr=std, capsize=4,
                       color=[MODEL_COLORS.get(lab, "tab:gray") for lab in labels])
    axes[2].bar_label(bars, labels=[f"{m:.3f}" for m in mean], padding=3)
    axes[2].set_ylim(0, 1.12)
    axes[2].set_ylabel("training accuracy (sign of the output)")
    axes[2].set_title("training accuracy" + (f" (mean ± std, n={args.repeats})"
                                             if args.repeats > 1 else ""))
    axes[2].grid(alpha=0.3, axis="y")
    fig.suptitle(f"Concentric spheres, d={args.dim}: {_plural(args.epochs, 'epoch')}, "
                 f"{_plural(args.repeats, 'repeat')}")
    _save(fig, out / "headline.png")


def _g1d(args, out: Path, progress) -> str:
    from . import experiments as ex

    records = ex.g1d_experiment(epochs=args.epochs, seed=args.seed, device=args.device,
                                progress=progress)
    _write_records(out, records)
    _plot_g1d(records, out, args)
    lines = ["| model | target | final loss | f(-1) | f(+1) |", "|---|---|---|---|---|"]
    for rec in records:
        p = rec["prediction_at"]
        lines.append(f"| {rec['label']} | {rec['target']} | {rec['final_loss']:.4f} "
                     f"| {p['-1']:.3f} | {p['+1']:.3f} |")
    return ("# Prop. 1 / Fig. 3: g_1d(-1) = 1, g_1d(1) = -1 without a linear head\n\n"
            f"{_plural(args.epochs, 'epoch')}, seed {args.seed}.\n\n"
            + "\n".join(lines) + "\n\n![](g1d_trajectories.png)\n\n![](g1d_vector_fields.png)\n")


def _plot_g1d(records: Sequence[dict], out: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D

    from .plotting import class_legend_handles, plot_trajectories, plot_vector_field

    fig = plt.figure(figsize=(19, 5.2))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1.45, 1])
    axes = [fig.add_subplot(grid[i], projection="3d" if i == 2 else None) for i in range(4)]
    X = np.array([[-1.0], [1.0]])
    for ax, rec in zip(axes, records):
        # colour by the starting point: red starts at -1, blue at +1
        plot_trajectories(rec["estimator"], X, X.ravel(), ax=ax)
        targets = X.ravel() * (-1.0 if rec["target"] == "g_1d" else 1.0)
        if ax.name == "3d":  # the target of h1 at t = T, level with where h2 ends
            for line, target, color in zip(ax.lines, targets, ["tab:red", "tab:blue"]):
                t, _, h2 = line.get_data_3d()
                ax.scatter([t[-1]], [target], [h2[-1]], marker="x", s=90, color=color)
            ax.view_init(elev=22, azim=-55)
            ax.set_box_aspect(None, zoom=1.15)
        else:
            end = ax.lines[0].get_xdata()[-1]
            ax.scatter([end, end], targets, marker="x", s=90, c=["tab:red", "tab:blue"],
                       zorder=4)
            ax.axhline(0, color="0.7", lw=0.8, zorder=0)
        p = rec["prediction_at"]
        ax.set_title(f"{rec['label']} on {rec['target']}: loss {rec['final_loss']:.3f}\n"
                     f"output at -1: {p['-1']:+.2f}, at +1: {p['+1']:+.2f}")
    handles = class_legend_handles({-1: "starts at x = -1", 1: "starts at x = +1"},
                                   style="line")
    handles.append(Line2D([], [], ls="", marker="x", color="k", ms=8,
                          label="its target (identity: x; g_1d: -x)"))
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("Flows of x = -1 and x = +1 from t = 0 to T (ResNet: layer by layer); "
                 "the ANODE moves through its augmented dimension h2")
    _save(fig, out / "g1d_trajectories.png", rect=(0, 0.07, 1, 1))

    nodes = [r for r in records if r["model"] == "node"]
    fig, axes = _figure(len(nodes), width=4.6)
    for ax, rec in zip(axes, nodes):
        plot_vector_field(rec["estimator"], bounds=(-1.5, 1.5), n=15, ax=ax)
        ax.set_title(f"NODE vector field f(t, h), trained on {rec['target']}")
    _save(fig, out / "g1d_vector_fields.png")


def _curves(args, out: Path, progress) -> str:
    from . import experiments as ex

    records = ex.loss_curves_experiment(dataset=args.dataset, dim=args.dim, epochs=args.epochs,
                                        repeats=args.repeats, seed=args.seed,
                                        device=args.device, progress=progress)
    _write_records(out, records)
    # the sines live in the plane whatever --dim says
    name = "loss_sines.png" if args.dataset == "sines" else f"loss_spheres_d{args.dim}.png"
    _plot_curves(records, out / name, args)
    return (f"# Training loss on {_curves_data(args)} (Fig. 5 / Fig. 20)\n\n"
            f"{_plural(args.epochs, 'epoch')}, {_plural(args.repeats, 'repeat')}, seed "
            f"{args.seed}.\n\n" + summary_table(records) + f"\n![]({name})\n")


def _curves_data(args) -> str:
    return f"spheres, d={args.dim}" if args.dataset == "spheres" else "shifted sines"


def _plot_curves(records: Sequence[dict], path: Path, args) -> None:
    from .plotting import plot_curves

    fig, axes = _figure(1, width=6.0)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    axes[0].set_title(f"{_curves_data(args)}: training loss"
                      + (f" (mean ± std of {args.repeats})" if args.repeats > 1 else ""))
    _save(fig, path)


_SPHERE_CLASSES = {-1: "inner ball (y = -1)", 1: "outer shell (y = +1)"}


def _features(args, out: Path, progress) -> str:
    from . import experiments as ex

    snapshots = sorted({0, max(1, args.epochs // 10), max(1, args.epochs // 2), args.epochs})
    records = ex.feature_evolution(epochs=args.epochs, seed=args.seed, dim=args.dim,
                                   snapshot_epochs=snapshots, device=args.device,
                                   progress=progress)
    _write_records(out, records)
    _plot_features(records, out, args)
    return (f"# Fig. 7 / Fig. 8: NODE vs ANODE on {args.dim}-D spheres\n\n"
            f"{_plural(args.epochs, 'epoch')}, seed {args.seed}; regression onto ±1 with MSE, "
            "batch 64, lr 1e-3, hidden 32, ANODE p=5.\n\n"
            + summary_table(records) + "\n![](loss_and_nfe.png)\n\n"
            + "".join(f"![](features_{r['model']}.png)\n\n![](trajectories_{r['model']}.png)\n\n"
                      for r in records))


def _plot_features(records: Sequence[dict], out: Path, args) -> None:
    from matplotlib.lines import Line2D

    from .plotting import class_legend_handles, plot_curves, plot_features, plot_trajectories

    fig, axes = _figure(2, width=5.5)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    plot_curves(records, "forward_nfe", ax=axes[1])
    axes[0].set_title("training loss")
    axes[1].set_title("forward NFE per batch")
    fig.suptitle(f"NODE vs ANODE on {args.dim}-D concentric spheres")
    _save(fig, out / "loss_and_nfe.png")
    classes = class_legend_handles(_SPHERE_CLASSES, style="point")
    for rec in records:
        dims = next(iter(rec["snapshots"].values())).shape[1]
        n = len(rec["snapshots"])
        three = tuple(range(n)) if dims >= 3 else ()
        fig, axes = _figure(n, width=4.2, height=4.4, three_d=three)
        for ax, (epoch, feats) in zip(axes, sorted(rec["snapshots"].items())):
            plot_features(feats, rec["snapshot_y"], ax=ax,
                          title="before training" if epoch == 0 else f"after epoch {epoch}")
        shown = (f"; the first 3 of its {dims} dimensions, {dims - args.dim} of them "
                 "augmented" if dims > 3 else "")
        fig.suptitle(f"{rec['label']}: feature space (the state at t = T) of 300 points "
                     f"during training{shown}")
        fig.legend(handles=classes, loc="lower center", ncol=2, frameon=False)
        if three:
            _save(fig, out / f"features_{rec['model']}.png", left=0.01, right=0.97,
                  bottom=0.1, top=0.86, wspace=0.1)
        else:
            _save(fig, out / f"features_{rec['model']}.png", rect=(0, 0.06, 1, 1))
        fig, axes = _figure(1, width=5.4, height=5.0, three_d=(0,) if dims >= 3 else ())
        plot_trajectories(rec["estimator"], rec["snapshot_X"][:150], rec["snapshot_y"][:150],
                          ax=axes[0])
        shown = f"\n(the first 3 of its {dims} dimensions)" if dims > 3 else ""  # fits the width
        axes[0].set_title(f"{rec['label']}: flows of 150 points from t = 0 to T{shown}")
        ends = [Line2D([], [], ls="", marker="o", mfc="none", mec="k", label="start (t = 0)"),
                Line2D([], [], ls="", marker="o", color="k", ms=4, label="end (t = T)")]
        flows = class_legend_handles(_SPHERE_CLASSES, style="line")
        drawn = {1: [], 2: ends}.get(dims, ends[1:])  # the markers plot_trajectories draws
        axes[0].legend(handles=flows + drawn, fontsize="small", loc="best")
        _save(fig, out / f"trajectories_{rec['model']}.png")


def _generalization(args, out: Path, progress) -> str:
    from . import experiments as ex

    records = ex.generalization_experiment(epochs=args.epochs, seed=args.seed,
                                           repeats=args.repeats, device=args.device,
                                           progress=progress)
    _write_records(out, records)
    _plot_generalization(records, out / "generalization.png", args)
    lines = ["| model | runs | final train loss | final valid loss |", "|---|---|---|---|"]
    for label in dict.fromkeys(r["label"] for r in records):
        group = [r for r in records if r["label"] == label]
        lines.append(f"| {label} | {len(group)} | {_mean_std([r['final_loss'] for r in group])} "
                     f"| {_mean_std([r['curves']['valid_loss'][-1] for r in group])} |")
    return ("# Fig. 9: generalisation with the slice [0, π/5] held out\n\n"
            f"{_plural(args.epochs, 'epoch')}, {_plural(args.repeats, 'repeat')}, seed "
            f"{args.seed}.\n\n" + "\n".join(lines) + "\n\n![](generalization.png)\n")


def _plot_generalization(records: Sequence[dict], path: Path, args) -> None:
    import numpy as np

    from .plotting import plot_curves, plot_input_map

    firsts = [r for r in records if r["repeat"] == 0]
    fig, axes = _figure(len(firsts) + 1, width=4.8, height=4.4)
    for ax, rec in zip(axes, firsts):
        plot_input_map(grid=(rec["grid_x"], rec["grid_y"], rec["input_map"]), ax=ax,
                       title=f"{rec['label']}: output over the inputs")
        lo, hi = rec["slice"]
        for angle in (lo, hi):
            ax.plot([0, 1.5 * np.cos(angle)], [0, 1.5 * np.sin(angle)], "k--", lw=1.2,
                    label="held-out slice" if angle == lo else None)
        ax.legend(loc="lower left", fontsize="small")
    plot_curves(records, "valid_loss", ax=axes[-1], log=True)
    axes[-1].set_ylabel("validation loss (MSE on the held-out slice)")
    axes[-1].set_title("loss on the held-out slice")
    lo, hi = firsts[0]["slice"]
    fig.suptitle(f"Concentric spheres with the angles [{lo:.2f}, {hi:.2f}] rad held out: "
                 f"{_plural(args.epochs, 'epoch')}, maps of the first repeat")
    _save(fig, path)


def _search(args, out: Path, progress) -> str:
    import contextlib

    import joblib

    from .parallel import dask_client

    where, n_jobs = f"n_jobs={args.n_jobs}", args.n_jobs
    with contextlib.ExitStack() as stack:
        # Worker processes (joblib's, a local Dask cluster's) log to the stdout they inherit:
        # redirect it before they start.
        stack.enter_context(_logs_to_stderr(processes=n_jobs != 1 or bool(args.dask_local)))
        if args.scheduler or args.dask_local:
            client = stack.enter_context(dask_client(args.scheduler, args.dask_local))
            stack.enter_context(joblib.parallel_backend("dask"))
            where = f"Dask ({len(client.scheduler_info()['workers'])} workers)"
            n_jobs = -1  # on Dask, joblib hands every candidate to the cluster
        return _run_searches(args, out, where, n_jobs)


@contextlib.contextmanager
def _logs_to_stderr(processes: bool):
    """Send GridSearchCV's logs to stderr, where the other commands' progress goes.

    scikit-learn prints them to stdout, in joblib's worker processes too: those
    inherit the descriptor, so with ``processes`` it is redirected as well.
    """
    sys.stdout.flush()
    saved = os.dup(1) if processes else None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _grid_text(grid: dict[str, list]) -> str:
    return ", ".join(f"{k} {list(v)}" for k, v in grid.items())


def _run_searches(args, out: Path, where: str, n_jobs: int) -> str:
    import pandas as pd

    from . import experiments as ex

    lines = []
    for model in args.models:
        grid = (QUICK_SEARCH["grid"] if args.quick
                else {**ex.PAPER_GRID, **ex.PAPER_EXTRA_GRID[model]})
        n_candidates = math.prod(len(v) for v in grid.values())
        if not args.quiet:
            print(f"== {ex.LABELS[model]}, d={args.dim}: {n_candidates} candidates x 3 folds "
                  f"= {3 * n_candidates} fits of {_plural(args.epochs, 'epoch')} "
                  f"({_grid_text(grid)})" + (" [smoke run, --quick]" if args.quick else ""),
                  file=sys.stderr, flush=True)
        extra = {k: v for k, v in QUICK_SEARCH.items() if k != "grid"} if args.quick else {}
        rec = ex.search_experiment(model=model, dim=args.dim, epochs=args.epochs,
                                   seed=args.seed, n_jobs=n_jobs, device=args.device,
                                   verbose=0 if args.quiet else 2, grid=grid, **extra)
        results = pd.DataFrame(rec["cv_results"])
        results.drop(columns=["params"]).to_csv(out / f"cv_results_{model}_d{args.dim}.csv",
                                                index=False)
        (out / f"search_{model}_d{args.dim}.json").write_text(json.dumps(_jsonable(
            {**{k: v for k, v in rec.items() if k != "cv_results"},
             "smoke_run": bool(args.quick)}), indent=1))
        _plot_search(results, out / f"search_{model}_d{args.dim}.png", model, args)
        lines.append(f"| {ex.LABELS[model]} | {args.dim} | {rec['best_params']} "
                     f"| {rec['paper_best_params']} | {-rec['best_score']:.3g} "
                     f"| {len(results)} | {rec['seconds']:.1f} |")
    smoke = f"{SMOKE_NOTE}\n\n" if args.quick else ""
    return (f"# Appendix F.2.1: 3-fold grid search ({_plural(args.epochs, 'epoch')}, "
            f"{where})\n\n" + smoke
            + "| model | d | best parameters | paper's best | CV MSE | candidates | seconds |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")


def _plot_search(results, path: Path, model: str, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_search_results

    fig = plt.figure(figsize=(12, max(4.5, 1.6 + 0.24 * len(results))))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    plot_search_results(results, axes=axes,
                        title=f"{LABELS[model]}, d={args.dim}: {len(results)} candidates")
    if args.quick:
        fig.suptitle("Smoke run (--quick): tiny grid and data; the 'best' parameters mean "
                     "nothing", color="tab:red")
    _save(fig, path)


def _images(args, out: Path, progress) -> str:
    from . import experiments as ex

    records = ex.image_experiment(
        data=args.data, data_dir=args.data_dir, epochs=args.epochs, repeats=args.repeats,
        seed=args.seed, device=args.device, weight_decay=args.weight_decay,
        adjoint=args.adjoint, time_channels=not args.no_time_channels,
        batch_size=args.batch_size, n_train=args.n_train, n_test=args.n_test,
        progress=progress)
    _write_records(out, records)
    _plot_images(records, out / "images_nfe.png", args)
    lines = ["| model | filters | aug. channels | parameters | test accuracy | final train loss "
             "| forward NFE | backward NFE | s / epoch |", "|---|---|---|---|---|---|---|---|---|"]
    for label in dict.fromkeys(r["label"] for r in records):
        group = [r for r in records if r["label"] == label]
        p = group[0]["params"]
        lines.append(
            f"| {label} | {p['num_filters']} | {p.get('augment_dim', 0)} "
            f"| {group[0]['n_parameters']:,} | {_mean_std([r['test_accuracy'] for r in group])} "
            f"| {_mean_std([r['final_loss'] for r in group])} "
            f"| {_mean_std([r['final_forward_nfe'] for r in group], '.1f')} "
            f"| {_mean_std([r['final_backward_nfe'] for r in group], '.1f')} "
            f"| {_mean_std([r['seconds_per_epoch'] for r in group], '.2f')} |")
    n_train = records[0]["estimator"].history[-1, "train_batch_count"]
    backward = ("" if args.adjoint else "  The backward NFE is 0: direct backpropagation "
                "solves no ODE backwards (only --adjoint does).")
    batches = _plural(n_train, "training batch", "training batches")
    return (f"# Table 1: parameter-matched NODE vs ANODE on {args.data}\n\n"
            f"{_plural(args.epochs, 'epoch')}, {_plural(args.repeats, 'repeat')}, batch "
            f"{args.batch_size} ({batches} per epoch), Adam lr 1e-3, weight decay "
            f"{args.weight_decay}, "
            f"{'adjoint' if args.adjoint else 'direct backpropagation'}, time channels "
            f"{'on' if not args.no_time_channels else 'off'}.  NFE columns are those of the "
            f"last epoch, per training batch.{backward}\n\n"
            + "\n".join(lines) + "\n\n![](images_nfe.png)\n")


def _plot_images(records: Sequence[dict], path: Path, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_curves, plot_loss_vs_nfe

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    (nfe, loss), (acc, path_ax) = axes
    plot_curves(records, "forward_nfe", ax=nfe)
    nfe.set_title("forward NFE per training batch")
    if args.adjoint:
        plot_curves(records, "backward_nfe", ax=nfe)
        nfe.set_ylabel("NFE per batch (forward, then backward)")
    plot_curves(records, "train_loss", ax=loss, log=True)
    loss.set_ylabel("training loss (cross-entropy)")
    loss.set_title("training loss")
    plot_curves(records, "valid_acc", ax=acc)
    acc.set_ylabel("test accuracy")
    acc.set_title("test accuracy after each epoch")
    plot_loss_vs_nfe(records, "train_loss", ax=path_ax)
    path_ax.set_ylabel("training loss (cross-entropy)")
    path_ax.set_title("training loss against NFE, epochs connected")
    data = {"mnist": "MNIST", "digits": "8x8 digits"}.get(args.data, args.data)
    fig.suptitle(f"Conv NODE vs ANODE on {data} (cf. the paper's Fig. 10-11): "
                 f"{_plural(args.epochs, 'epoch')}, {_plural(args.repeats, 'repeat')}")
    _save(fig, path)


_RUNNERS: dict[str, Callable] = {
    "headline": _headline, "g1d": _g1d, "curves": _curves, "features": _features,
    "generalization": _generalization, "search": _search, "images": _images,
}


class _Interrupted(BaseException):
    """Ctrl-C during a command.

    The estimators take a ``KeyboardInterrupt`` as skorch does, as "stop training
    and keep the model", so a command would go on with a model cut short and
    write its results as if complete.  This one ends the command instead.
    """


def _interrupt(signum, frame) -> None:
    raise _Interrupted


@contextlib.contextmanager
def _ctrl_c_ends_the_command():
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skanode`` command line and return its exit status.

    0: done; 2: a usage error (bad option, missing data, unavailable device),
    found before any work and reported on one line; 1: an error during the run.
    """
    parser, commands = _build()
    try:
        args, extras = parser.parse_known_args(argv)
        explicit = getattr(args, "command", None) is not None
        args.command = args.command if explicit else "headline"
        where = commands[args.command] if explicit else parser
        if extras:  # reported by the command that did not take them, with its usage
            where.error(f"unrecognized arguments: {' '.join(extras)}")
        _finish_args(args, where, parser)
        _check_inputs(args, where)
        out = args.out or Path("skanode-results") / args.command
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            where.error(f"cannot create the output folder {out}: {err.strerror or err}")
    except SystemExit as exc:
        return _exit_code(exc)
    command = args.command
    if command == "images" and not args.quiet:
        print(images_estimate(args), file=sys.stderr, flush=True)
    repeats = getattr(args, "repeats", 1)
    runs = {"headline": 3 * repeats, "g1d": 4, "curves": 3 * repeats, "features": 2,
            "generalization": 2 * repeats, "images": 2 * repeats}.get(command, 0)
    progress = _Progress(runs * args.epochs, command, args.quiet) if runs else None
    try:
        with _ctrl_c_ends_the_command():
            summary = _RUNNERS[command](args, out, progress)
            (out / "summary.md").write_text(summary)
        print(summary)
        print(f"Results written to {out}/")
    except _Interrupted:
        if progress is not None:
            progress.close()
        print(f"skanode {command}: interrupted; its results are incomplete and no summary "
              "was written", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as other command-line tools do, and
        # keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except (ValueError, RuntimeError, OSError, ImportError) as err:
        if progress is not None:
            progress.close()
        print(f"skanode {command}: error: {err}", file=sys.stderr)
        return 1
    finally:
        if progress is not None:
            progress.close()
    return 0

"""The ``skanode`` command: run the paper's experiments, write tables and figures.

``skanode`` with no arguments runs a quick headline comparison (NODE vs ANODE vs
ResNet on 2-D concentric spheres).  Subcommands run the other experiments; see
``skanode --help``.  Each writes into ``--out``: ``records.json`` (every curve
and number), ``curves.csv`` (long format), PNG figures and ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import experiments as ex

COMMANDS = ("headline", "g1d", "curves", "features", "generalization", "search", "images")


# -- output helpers ------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
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
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0 or np.all(np.isnan(values)):
        return "-"
    if len(values) == 1:
        return f"{values[0]:{fmt}}"
    return f"{np.nanmean(values):{fmt}} ± {np.nanstd(values):{fmt}}"


def summary_table(records: Sequence[dict]) -> str:
    """Markdown table of final loss, NFE, accuracy and cost per model (mean ± std)."""
    lines = ["| model | runs | final train loss | final forward NFE | sign accuracy "
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


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)


class _Progress:
    """A tqdm bar on stderr counting epochs; silent with ``--quiet``."""

    def __init__(self, total: int, desc: str, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=quiet, file=sys.stderr,
                        dynamic_ncols=True)

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


# -- subcommands ----------------------------------------------------------------------------
def _headline(args, out: Path, progress) -> str:
    records = ex.headline_experiment(epochs=args.epochs, repeats=args.repeats, dim=args.dim,
                                     seed=args.seed, device=args.device, progress=progress)
    _write_records(out, records)
    from .plotting import plot_curves

    fig, axes = _figure(3)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    axes[0].set_title("training loss")
    plot_curves([r for r in records if r["model"] != "resnet"], "forward_nfe", ax=axes[1])
    axes[1].set_title("forward NFE per batch")
    labels = list(dict.fromkeys(r["label"] for r in records))
    acc = [np.mean([r["accuracy"] for r in records if r["label"] == lab]) for lab in labels]
    axes[2].bar(labels, acc, color=["tab:blue", "tab:orange", "tab:green"][: len(labels)])
    axes[2].set_ylim(min(acc) - 0.05, 1.0)
    axes[2].set_ylabel("sign accuracy (training data)")
    axes[2].set_title("accuracy")
    fig.suptitle(f"Concentric spheres, d={args.dim}: {args.epochs} epochs, "
                 f"{args.repeats} repeat(s)")
    _save(fig, out / "headline.png")
    return (f"# Headline: NODE vs ANODE vs ResNet on {args.dim}-D concentric spheres\n\n"
            f"{args.epochs} epochs, {args.repeats} repeat(s), seed {args.seed}; "
            "regression onto ±1 with MSE, batch 64, lr 1e-3, hidden 32, ANODE p=5, "
            "ResNet 5 layers.\n\n" + summary_table(records) + "\n![](headline.png)\n")


def _g1d(args, out: Path, progress) -> str:
    records = ex.g1d_experiment(epochs=args.epochs, seed=args.seed, device=args.device,
                                progress=progress)
    _write_records(out, records)
    from .plotting import plot_trajectories

    fig, axes = _figure(4, width=4.0, three_d=(2,))
    X = np.array([[-1.0], [1.0]])
    for ax, rec in zip(axes, records):
        y = np.array([1.0, -1.0]) if rec["target"] == "g_1d" else np.array([-1.0, 1.0])
        plot_trajectories(rec["estimator"], X, y, ax=ax)
        ax.set_title(f"{rec['label']} on {rec['target']}\nloss {rec['final_loss']:.3f}")
    _save(fig, out / "g1d_trajectories.png")
    from .plotting import plot_vector_field

    nodes = [r for r in records if r["model"] == "node"]
    fig, axes = _figure(len(nodes), width=4.6)
    for ax, rec in zip(axes, nodes):
        plot_vector_field(rec["estimator"], bounds=(-1.5, 1.5), n=15, ax=ax)
        ax.set_title(f"NODE vector field, trained on {rec['target']}")
    _save(fig, out / "g1d_vector_fields.png")
    lines = ["| model | target | final loss | f(-1) | f(+1) |", "|---|---|---|---|---|"]
    for rec in records:
        p = rec["prediction_at"]
        lines.append(f"| {rec['label']} | {rec['target']} | {rec['final_loss']:.4f} "
                     f"| {p['-1']:.3f} | {p['+1']:.3f} |")
    return ("# Prop. 1 / Fig. 3: g_1d(-1) = 1, g_1d(1) = -1 without a linear head\n\n"
            + "\n".join(lines) + "\n\n![](g1d_trajectories.png)\n\n![](g1d_vector_fields.png)\n")


def _curves(args, out: Path, progress) -> str:
    records = ex.loss_curves_experiment(dataset=args.dataset, dim=args.dim, epochs=args.epochs,
                                        repeats=args.repeats, seed=args.seed,
                                        device=args.device, progress=progress)
    _write_records(out, records)
    from .plotting import plot_curves

    fig, axes = _figure(1, width=6.0)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    axes[0].set_title(f"{args.dataset}, d={args.dim}: training loss (mean ± std)")
    name = f"loss_{args.dataset}_d{args.dim}.png"
    _save(fig, out / name)
    return (f"# Training loss on {args.dataset}, d={args.dim} (Fig. 5 / Fig. 20)\n\n"
            + summary_table(records) + f"\n![]({name})\n")


def _features(args, out: Path, progress) -> str:
    snapshots = sorted({0, max(1, args.epochs // 10), max(1, args.epochs // 2), args.epochs})
    records = ex.feature_evolution(epochs=args.epochs, seed=args.seed, dim=args.dim,
                                   snapshot_epochs=snapshots, device=args.device,
                                   progress=progress)
    _write_records(out, records)
    from .plotting import plot_curves, plot_features, plot_trajectories

    fig, axes = _figure(2, width=5.5)
    plot_curves(records, "train_loss", ax=axes[0], log=True)
    plot_curves(records, "forward_nfe", ax=axes[1])
    axes[0].set_title("training loss")
    axes[1].set_title("forward NFE per batch")
    _save(fig, out / "loss_and_nfe.png")
    for rec in records:
        dims = next(iter(rec["snapshots"].values())).shape[1]
        n = len(rec["snapshots"])
        three = tuple(range(n)) if dims >= 3 else ()
        fig, axes = _figure(n, width=4.0, three_d=three)
        for ax, (epoch, feats) in zip(axes, sorted(rec["snapshots"].items())):
            plot_features(feats, rec["snapshot_y"], ax=ax, title=f"epoch {epoch}")
        fig.suptitle(f"{rec['label']}: feature space during training")
        _save(fig, out / f"features_{rec['model']}.png")
        fig, axes = _figure(1, width=5.0, three_d=(0,) if dims >= 3 else ())
        plot_trajectories(rec["estimator"], rec["snapshot_X"][:150], rec["snapshot_y"][:150],
                          ax=axes[0])
        _save(fig, out / f"trajectories_{rec['model']}.png")
    return (f"# Fig. 7 / Fig. 8: NODE vs ANODE on {args.dim}-D spheres\n\n"
            + summary_table(records) + "\n![](loss_and_nfe.png)\n\n"
            + "".join(f"![](features_{r['model']}.png)\n\n![](trajectories_{r['model']}.png)\n\n"
                      for r in records))


def _generalization(args, out: Path, progress) -> str:
    records = ex.generalization_experiment(epochs=args.epochs, seed=args.seed,
                                           repeats=args.repeats, device=args.device,
                                           progress=progress)
    _write_records(out, records)
    from .plotting import plot_curves, plot_input_map

    firsts = [r for r in records if r["repeat"] == 0]
    fig, axes = _figure(len(firsts) + 1, width=4.6)
    for ax, rec in zip(axes, firsts):
        plot_input_map(grid=(rec["grid_x"], rec["grid_y"], rec["input_map"]), ax=ax,
                       title=f"{rec['label']}: output over the input plane")
        lo, hi = rec["slice"]
        for angle in (lo, hi):
            ax.plot([0, 1.5 * np.cos(angle)], [0, 1.5 * np.sin(angle)], "k--", lw=1)
    plot_curves(records, "valid_loss", ax=axes[-1], log=True)
    axes[-1].set_title("validation loss (held-out slice)")
    _save(fig, out / "generalization.png")
    lines = ["| model | runs | final train loss | final valid loss |", "|---|---|---|---|"]
    for label in dict.fromkeys(r["label"] for r in records):
        group = [r for r in records if r["label"] == label]
        lines.append(f"| {label} | {len(group)} | {_mean_std([r['final_loss'] for r in group])} "
                     f"| {_mean_std([r['curves']['valid_loss'][-1] for r in group])} |")
    return ("# Fig. 9: generalisation with the slice [0, π/5] held out\n\n" + "\n".join(lines)
            + "\n\n![](generalization.png)\n")


def _search(args, out: Path, progress) -> str:
    import contextlib

    import joblib

    from .parallel import dask_client

    backend = contextlib.nullcontext()
    where, n_jobs = f"n_jobs={args.n_jobs}", args.n_jobs
    if args.scheduler or args.dask_local:
        backend = contextlib.ExitStack()
        client = backend.enter_context(dask_client(args.scheduler, args.dask_local))
        backend.enter_context(joblib.parallel_backend("dask"))
        where = f"Dask ({len(client.scheduler_info()['workers'])} workers)"
        n_jobs = -1  # on Dask, joblib hands every candidate to the cluster
    with backend:
        return _run_searches(args, out, where, n_jobs)


def _run_searches(args, out: Path, where: str, n_jobs: int) -> str:
    import pandas as pd

    lines = []
    for model in args.models:
        rec = ex.search_experiment(model=model, dim=args.dim, epochs=args.epochs,
                                   seed=args.seed, n_jobs=n_jobs, device=args.device,
                                   verbose=0 if args.quiet else 2,
                                   **({"grid": {"lr": [1e-3, 1e-2]}, "n_inner": 100,
                                       "n_outer": 200} if args.quick else {}))
        results = pd.DataFrame(rec["cv_results"])
        results.drop(columns=["params"]).to_csv(out / f"cv_results_{model}_d{args.dim}.csv",
                                                index=False)
        (out / f"search_{model}_d{args.dim}.json").write_text(json.dumps(_jsonable(
            {k: v for k, v in rec.items() if k != "cv_results"}), indent=1))
        _plot_search(results, out / f"search_{model}_d{args.dim}.png", model)
        lines.append(f"| {ex.LABELS[model]} | {args.dim} | {rec['best_params']} "
                     f"| {rec['paper_best_params']} | {-rec['best_score']:.4f} "
                     f"| {len(results)} | {rec['seconds']:.0f} |")
    return (f"# Appendix F.2.1: 3-fold grid search ({args.epochs} epochs, {where})\n\n"
            "| model | d | best parameters | paper's best | CV MSE | candidates | seconds |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")


def _images(args, out: Path, progress) -> str:
    records = ex.image_experiment(
        data=args.data, data_dir=args.data_dir, epochs=args.epochs, repeats=args.repeats,
        seed=args.seed, device=args.device, weight_decay=args.weight_decay,
        adjoint=args.adjoint, time_channels=not args.no_time_channels,
        batch_size=args.batch_size, n_train=args.n_train, n_test=args.n_test,
        progress=progress)
    _write_records(out, records)
    fig, axes = _figure(2, width=5.2)
    for label in dict.fromkeys(r["label"] for r in records):
        group = [r for r in records if r["label"] == label]
        nfe = np.concatenate([r["curves"]["forward_nfe"] for r in group])
        loss = np.concatenate([r["curves"]["train_loss"] for r in group])
        acc = np.concatenate([r["curves"]["valid_acc"] for r in group])
        axes[0].scatter(nfe, loss, label=label, s=18)
        axes[1].scatter(nfe, acc, label=label, s=18)
    axes[0].set_xlabel("forward NFE per batch")
    axes[0].set_ylabel("training loss (cross-entropy)")
    axes[0].set_yscale("log")
    axes[0].set_title("NFE vs loss (Fig. 10)")
    axes[1].set_xlabel("forward NFE per batch")
    axes[1].set_ylabel("test accuracy")
    axes[1].set_title("accuracy vs NFE (Fig. 11)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, out / "images_nfe.png")
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
    return (f"# Table 1: parameter-matched NODE vs ANODE on {args.data}\n\n"
            f"{args.epochs} epochs, {args.repeats} repeat(s), batch {args.batch_size} "
            f"({n_train} training batches per epoch), Adam lr 1e-3, weight decay "
            f"{args.weight_decay}, {'adjoint' if args.adjoint else 'direct backpropagation'}, "
            f"time channels {'on' if not args.no_time_channels else 'off'}.\n\n"
            + "\n".join(lines) + "\n\n![](images_nfe.png)\n")


def _plot_search(results, path: Path, model: str) -> None:
    fig, axes = _figure(1, width=5.5)
    ax = axes[0]
    if results["mean_test_nfe"].notna().any():
        ax.scatter(results["mean_test_nfe"], -results["mean_test_score"])
        ax.set_xlabel("mean training forward NFE")
    else:
        ax.scatter(results["mean_fit_time"], -results["mean_test_score"])
        ax.set_xlabel("mean fit time (s)")
    ax.set_ylabel("CV mean squared error")
    ax.set_yscale("log")
    ax.set_title(f"{ex.LABELS[model]}: candidates of the grid search")
    ax.grid(alpha=0.3)
    _save(fig, path)


_RUNNERS: dict[str, Callable] = {
    "headline": _headline, "g1d": _g1d, "curves": _curves, "features": _features,
    "generalization": _generalization, "search": _search, "images": _images,
}
_DEFAULT_EPOCHS = {"headline": 20, "g1d": 50, "curves": 50, "features": 50,
                   "generalization": 50, "search": 50, "images": 10}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``skanode`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: 20 for headline, else 50 as in the paper)")
    common.add_argument("--repeats", type=int, default=1,
                        help="repeats with seeds seed, seed+1, ...")
    common.add_argument("--dim", type=int, default=2, help="dimension d of the data")
    common.add_argument("--device", default="cpu", help="'cpu' or 'cuda'")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--out", type=Path, default=None,
                        help="output folder (default: skanode-results/COMMAND)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")

    parser = argparse.ArgumentParser(
        prog="skanode", parents=[common],
        description="Reproduce the toy experiments of Augmented Neural ODEs (Dupont et al., "
                    "2019). With no command: a quick NODE vs ANODE vs ResNet comparison.")
    parser.add_argument("--version", action="version", version=f"skanode {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("headline", parents=[common],
                   help="NODE vs ANODE vs ResNet on concentric spheres (default)")
    sub.add_parser("g1d", parents=[common], help="Prop. 1 / Fig. 3: flows on g_1d vs identity")
    curves = sub.add_parser("curves", parents=[common],
                            help="Fig. 5 / 20: loss curves of ResNet, NODE and ANODE")
    curves.add_argument("--dataset", choices=["spheres", "sines"], default="spheres")
    sub.add_parser("features", parents=[common],
                   help="Fig. 7 / 8: loss, NFE, flows and feature space, NODE vs ANODE")
    sub.add_parser("generalization", parents=[common],
                   help="Fig. 9: input-space maps with an angular slice held out")
    search = sub.add_parser("search", parents=[common],
                            help="Appendix F.2.1: the paper's 3-fold grid search")
    search.add_argument("--models", nargs="+", choices=sorted(ex.MODELS),
                        default=["resnet", "node", "anode"])
    search.add_argument("--n-jobs", type=int, default=1,
                        help="joblib processes (-1: all cores); torch threads are shared out")
    search.add_argument("--scheduler", default=None,
                        help="address of a Dask scheduler to run the search on")
    search.add_argument("--dask-local", type=int, default=None, metavar="N",
                        help="start a local Dask cluster of N single-threaded workers")
    search.add_argument("--quick", action="store_true", help="tiny grid and data: a smoke run")
    images = sub.add_parser("images", parents=[common],
                            help="Table 1 / Fig. 10-11: conv NODE vs ANODE on digits or MNIST")
    images.add_argument("--data", choices=["digits", "mnist"], default=None,
                        help="default: digits, or mnist when --data-dir is given")
    images.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files")
    images.add_argument("--weight-decay", type=float, default=0.0)
    images.add_argument("--adjoint", action="store_true", help="adjoint backpropagation")
    images.add_argument("--no-time-channels", action="store_true",
                        help="the architecture of the paper's parameter counts")
    images.add_argument("--batch-size", type=int, default=256)
    images.add_argument("--n-train", type=int, default=None, help="random training subset")
    images.add_argument("--n-test", type=int, default=None, help="random test subset")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skanode`` command line."""
    args = build_parser().parse_args(argv)
    command = args.command or "headline"
    if args.epochs is None:
        args.epochs = _DEFAULT_EPOCHS[command]
    if command == "images" and args.data is None:
        args.data = "mnist" if args.data_dir else "digits"
    out = args.out or Path("skanode-results") / command
    out.mkdir(parents=True, exist_ok=True)
    runs = {"headline": 3 * args.repeats, "g1d": 4, "curves": 3 * args.repeats,
            "features": 2, "generalization": 2 * args.repeats,
            "images": 2 * args.repeats}.get(command, 0)
    progress = _Progress(runs * args.epochs, command, args.quiet) if runs else None
    try:
        summary = _RUNNERS[command](args, out, progress)
    except (ValueError, RuntimeError, FileNotFoundError, ImportError) as err:
        print(f"skanode {command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        if progress is not None:
            progress.close()
    (out / "summary.md").write_text(summary)
    print(summary)
    print(f"Results written to {out}/")
    return 0

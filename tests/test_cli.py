import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from skanode import cli
from skanode.cli import main

# Run in a subprocess: put a bare ``skanode`` package (no __init__ code) in sys.modules, import
# skanode.cli, run main(ARGV) and report which heavy modules got imported.
_STUB = """
import importlib.util, json, sys, types
spec = importlib.util.find_spec("skanode")
pkg = types.ModuleType("skanode")
pkg.__path__ = list(spec.submodule_search_locations)
pkg.__version__ = "0.0-stub"
sys.modules["skanode"] = pkg
from skanode.cli import main
code = main(json.loads(sys.argv[1]))
heavy = ("torch", "numpy", "sklearn", "pandas", "matplotlib", "skorch", "skanode.experiments",
         "skanode.estimators")
print(json.dumps({"code": code, "heavy": [m for m in heavy if m in sys.modules]}),
      file=sys.stderr)
"""
_REAL = """
import json, sys
from skanode.cli import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "heavy": [m for m in ("torch", "sklearn") if m in sys.modules]}),
      file=sys.stderr)
"""


def _light_run(script, argv):
    out = subprocess.run([sys.executable, "-c", script, json.dumps(argv)], capture_output=True,
                         text=True, timeout=120)
    return out.stdout, json.loads(out.stderr.strip().splitlines()[-1])


@pytest.fixture
def figures(monkeypatch):
    """The figures the command saves, by file name (saved as usual, kept for inspection)."""
    saved = {}
    original = cli._save

    def save(fig, path, *args, **kwargs):
        saved[Path(path).name] = fig
        original(fig, path, *args, **kwargs)

    monkeypatch.setattr(cli, "_save", save)
    return saved


def _legend_texts(fig_or_ax):
    legends = list(getattr(fig_or_ax, "legends", []))
    if hasattr(fig_or_ax, "get_legend") and fig_or_ax.get_legend() is not None:
        legends.append(fig_or_ax.get_legend())
    return [t.get_text() for legend in legends for t in legend.get_texts()]


# -- runs ----------------------------------------------------------------------------------------
def test_headline_writes_every_output(tmp_path, capsys, figures):
    assert main(["--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    for name in ("records.json", "curves.csv", "headline.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    records = json.loads((tmp_path / "records.json").read_text())
    assert {r["label"] for r in records} == {"NODE", "ANODE", "ResNet"}
    assert "| ANODE | 1 |" in capsys.readouterr().out
    accuracy = figures["headline.png"].axes[2]
    assert "training accuracy" in accuracy.get_title()
    assert "training accuracy" in accuracy.get_ylabel()
    assert "1 epoch," in (tmp_path / "summary.md").read_text()


def test_g1d_figures_say_which_curve_is_which(tmp_path, figures):
    assert main(["g1d", "--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "g1d_vector_fields.png").exists()
    fig = figures["g1d_trajectories.png"]
    texts = _legend_texts(fig)
    assert "starts at x = -1" in texts and "starts at x = +1" in texts
    anode = [ax for ax in fig.axes if ax.name == "3d"]
    assert len(anode) == 1
    ax = anode[0]
    assert "augmented" in ax.get_zlabel() and ax.get_xlabel() == "t"
    assert len(ax.lines) == 2 and all(line.get_linewidth() >= 2 for line in ax.lines)
    # the paths fill the box: t spans the x axis, and the limits are not the default (0, 1)
    t = ax.lines[0].get_data_3d()[0]
    assert ax.get_xlim()[0] <= t.min() and t.max() <= ax.get_xlim()[1]
    assert ax.get_xlim()[1] - ax.get_xlim()[0] < 2 * (t.max() - t.min())
    for panel in fig.axes:
        assert panel.get_xlabel() and panel.get_ylabel()


def test_search_names_each_model_and_marks_smoke_runs(tmp_path, capsys, figures):
    assert main(["search", "--quick", "--epochs", "1", "--models", "anode", "node",
                 "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    out, logs = captured.out, captured.err  # the search's logs are progress: on stderr
    anode, node = logs.index("== ANODE, d=2: 2 candidates x 3 folds"), logs.index("== NODE, d=2")
    assert anode < logs.index("Fitting 3 folds") < node
    assert "Fitting" not in out and "[CV]" not in out and "Smoke run (--quick)" in out
    assert "Smoke run (--quick)" in (tmp_path / "summary.md").read_text()
    assert json.loads((tmp_path / "search_anode_d2.json").read_text())["smoke_run"] is True
    assert (tmp_path / "cv_results_anode_d2.csv").read_text().count("\n") == 3
    left, right = figures["search_anode_d2.png"].axes[:2]
    assert {"lr = 0.001", "lr = 0.01"} <= set(_legend_texts(left))
    assert [t.get_text() for t in right.get_yticklabels()] in (["lr 0.01", "lr 0.001"],
                                                               ["lr 0.001", "lr 0.01"])
    assert "Smoke run" in figures["search_anode_d2.png"]._suptitle.get_text()


def test_search_is_quiet_with_quiet(tmp_path, capsys):
    assert main(["search", "--quick", "--epochs", "1", "--models", "node", "--quiet",
                 "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "==" not in captured.err and "Fitting" not in captured.err
    assert "Smoke run" in captured.out


def test_features_and_generalization_figures(tmp_path, figures):
    assert main(["features", "--epochs", "1", "--quiet", "--out", str(tmp_path / "f")]) == 0
    for model in ("node", "anode"):
        fig = figures[f"features_{model}.png"]
        assert "outer shell (y = +1)" in _legend_texts(fig)
        assert fig.axes[0].get_title() == "before training"
        traj = figures[f"trajectories_{model}.png"].axes[0]
        assert "inner ball (y = -1)" in _legend_texts(traj)
    assert figures["features_anode.png"].axes[0].get_zlabel() == "phi3"
    assert "start (t = 0)" in _legend_texts(figures["trajectories_node.png"].axes[0])  # 2-D
    assert main(["features", "--dim", "1", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "f1")]) == 0
    one_d = _legend_texts(figures["trajectories_node.png"].axes[0])  # h(t) curves, no markers
    assert "inner ball (y = -1)" in one_d and "start (t = 0)" not in one_d
    assert main(["generalization", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "g")]) == 0
    fig = figures["generalization.png"]
    assert "held-out slice" in _legend_texts(fig.axes[0])
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert "held-out slice" in panels[-1].get_ylabel()


def test_images_figure_shows_nfe_loss_and_accuracy_per_epoch(tmp_path, figures):
    records = [{"model": m, "label": label, "repeat": 0, "seed": 0,
                "curves": {"train_loss": [2.3, 1.0, 0.5], "valid_acc": [0.2, 0.6, 0.8],
                           "forward_nfe": [20.0, 26.0, 26.0], "backward_nfe": [0.0] * 3}}
               for m, label in (("node", "NODE"), ("anode", "ANODE"))]
    cli._plot_images(records, tmp_path / "images_nfe.png",
                     Namespace(adjoint=False, data="digits", epochs=3, repeats=1))
    nfe, loss, acc, path = figures["images_nfe.png"].axes
    assert nfe.get_xlabel() == loss.get_xlabel() == acc.get_xlabel() == "epoch"
    assert "NFE" in nfe.get_ylabel() and "cross-entropy" in loss.get_ylabel()
    assert acc.get_ylabel() == "test accuracy"
    assert "NFE" in path.get_xlabel()
    for ax in (nfe, loss, acc, path):
        assert {"NODE", "ANODE"} <= set(_legend_texts(ax))
    # loss against NFE: one path per run through its 3 epochs
    assert [len(line.get_xdata()) for line in path.lines] == [3, 3]
    assert (tmp_path / "images_nfe.png").exists()


# -- the command line itself --------------------------------------------------------------------
def test_python_m_skanode_help():
    out = subprocess.run([sys.executable, "-m", "skanode", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "headline" in out.stdout


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["images", "--help"]])
def test_help_and_version_import_nothing_heavy_from_the_cli_module(argv):
    # skanode.cli itself must stay light; see the next test for the package's __init__.
    stdout, report = _light_run(_STUB, argv)
    assert report == {"code": 0, "heavy": []}
    assert "skanode" in stdout


def test_skanode_help_does_not_import_torch():
    stdout, report = _light_run(_REAL, ["--help"])
    assert report == {"code": 0, "heavy": []}
    assert "headline" in stdout


def test_help_and_version_through_main(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("skanode ")
    assert main(["--help"]) == 0
    assert "skanode COMMAND --help" in capsys.readouterr().out


_USES = {"headline": {"--dim", "--repeats"}, "g1d": set(), "curves": {"--dim", "--repeats"},
         "features": {"--dim"}, "generalization": {"--repeats"}, "search": {"--dim"},
         "images": {"--repeats"}}


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_each_command_shows_only_the_options_it_uses(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--dim", "--repeats"):
        assert (option in text) == (option in _USES[command]), option
    assert f"(default: {cli._DEFAULT_EPOCHS[command]})" in " ".join(text.split())
    _, commands = cli._build()
    parser = commands[command]
    assert len(parser.description) > 100
    for action in parser._actions:
        assert action.help, action.option_strings
    helps = {action.dest: " ".join(action.help.split()) for action in parser._actions}
    # each command's --seed and --quiet say what they do for that command
    assert ("the first run's" in helps["seed"]) == ("--repeats" in _USES[command])
    assert ("time estimate" in helps["quiet"]) == (command == "images")
    assert ("search logs" in helps["quiet"]) == (command == "search")


def test_default_epochs_are_those_the_commands_use():
    assert cli._DEFAULT_EPOCHS == {"headline": 20, "g1d": 50, "curves": 50, "features": 50,
                                   "generalization": 50, "search": 50, "images": 10}
    from skanode import experiments as ex

    assert set(cli.MODEL_NAMES) == set(ex.MODELS) and cli.LABELS == ex.LABELS


@pytest.mark.parametrize("argv, message", [
    (["headline", "--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
    (["--epochs", "-3"], "argument --epochs: must be a positive integer, got -3"),
    (["headline", "--repeats", "0"], "argument --repeats: must be a positive integer, got 0"),
    (["search", "--quick", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["curves", "--dim", "0"], "--dim: must be a positive integer, got 0"),
    (["images", "--n-train", "0"], "--n-train: must be a positive integer, got 0"),
    (["images", "--batch-size", "x"], "--batch-size: must be a positive integer, got 'x'"),
    (["images", "--weight-decay", "-1"], "--weight-decay: must be a non-negative number"),
    (["--seed", "-1"], "--seed: must be an integer from 0 to 2**32 - 1, got -1"),
    (["search", "--n-jobs", "0"], "--n-jobs: must be a number of processes"),
    (["g1d", "--dim", "3"], "unrecognized arguments: --dim 3"),
    (["features", "--repeats", "2"], "unrecognized arguments: --repeats 2"),
    (["images", "--dim", "2"], "unrecognized arguments: --dim 2"),
    (["--dim", "3", "g1d"], "g1d does not take --dim"),
    (["search", "--scheduler", "tcp://x:1", "--dask-local", "2"], "not both"),
    (["images", "--data", "digits", "--data-dir", "."], "--data-dir is for --data mnist"),
    (["images", "--data", "mnist"], "--data mnist needs --data-dir"),
    (["--device", "nonsense"], "--device 'nonsense' is not a torch device"),
    (["search", "--models", "node", "anode", "node"], "--models lists node more than once"),
    (["images", "--n-train", "1438"], "--n-train 1438: digits has 1,437 train images"),
    (["images", "--n-test", "361"], "--n-test 361: digits has 360 test images"),
])
def test_usage_errors_exit_2_on_one_line_before_any_work(argv, message, tmp_path, capsys,
                                                          monkeypatch):
    from skanode import experiments as ex

    def no_work(*args, **kwargs):
        raise AssertionError("work started")

    for name in ("headline_experiment", "search_experiment", "image_experiment"):
        monkeypatch.setattr(ex, name, no_work)
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("skanode"), err
    assert message in errors[0]
    assert "Traceback" not in err and not out.exists()


def test_usage_error_names_the_subcommand(capsys):
    assert main(["headline", "--epochs", "0"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "skanode headline: error: argument --epochs: must be a positive integer, got 0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_an_unavailable_device_is_a_usage_error(tmp_path, capsys):
    assert main(["images", "--device", "cuda", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("skanode images: error: --device cuda: no CUDA")
    assert not (tmp_path / "o").exists()


def test_missing_mnist_files_are_reported_before_any_progress_bar(tmp_path, capsys):
    code = main(["images", "--data-dir", str(tmp_path / "nonexistent"), "--epochs", "1",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines()[-1] == (
        f"skanode images: error: --data-dir {tmp_path / 'nonexistent'} is not a folder")
    assert "%|" not in err and "epoch/s" not in err and "expect about" not in err
    code = main(["images", "--data-dir", str(tmp_path), "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "out")])
    last = capsys.readouterr().err.splitlines()[-1]
    assert code == 2 and "does not download" in last and "t10k-labels-idx1-ubyte" in last
    assert not (tmp_path / "out").exists()


def test_errors_during_the_run_exit_1_after_the_bar(tmp_path, capsys, monkeypatch):
    from skanode import experiments as ex

    def fail(*, progress, **kwargs):
        progress(1)
        raise ValueError("the solver gave up")

    monkeypatch.setattr(ex, "headline_experiment", fail)
    assert main(["headline", "--epochs", "2", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "skanode headline: error: the solver gave up"
    assert "Traceback" not in err


def test_ctrl_c_ends_the_command_instead_of_cutting_one_model_short(tmp_path, capsys,
                                                                      monkeypatch):
    import signal

    from skorch.callbacks import Callback

    from skanode import experiments as ex

    class CtrlC(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                signal.raise_signal(signal.SIGINT)

    went_on = []

    def run(*, epochs, progress, **kwargs):
        X, y = ex.make_dataset("spheres", random_state=0)
        ex.make_model("resnet", max_epochs=epochs, callbacks=[("ctrl_c", CtrlC())]).fit(X, y)
        went_on.append(True)  # the next model, the records: what a cut-short run went on to
        return []

    monkeypatch.setattr(ex, "headline_experiment", run)
    assert main(["headline", "--epochs", "5", "--quiet", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == ("skanode headline: interrupted; its results are incomplete "
                                    "and no summary was written")
    assert not went_on and not (tmp_path / "summary.md").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    run = subprocess.Popen([sys.executable, "-m", "skanode", "g1d", "--epochs", "1", "--quiet",
                            "--out", str(tmp_path)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    run.stdout.close()  # the reader went away before the results came (| head, | true)
    assert run.wait(timeout=300) == 141  # 128 + SIGPIPE, as a shell reports it
    assert run.stderr.read() == ""  # no traceback, no error line


def test_images_prints_its_expected_duration_first(tmp_path, capsys, monkeypatch):
    from skanode import experiments as ex

    def stop(**kwargs):
        print("WORK", file=sys.stderr)
        raise ValueError("stop")

    monkeypatch.setattr(ex, "image_experiment", stop)
    assert main(["images", "--out", str(tmp_path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("skanode images: expect about ") and lines[1] == "WORK"
    assert "estimate" in lines[0] and "2-core AMD EPYC" in lines[0]


def test_images_estimate_scales_with_the_work():
    args = Namespace(device="cpu", data="digits", epochs=10, repeats=1, n_train=None,
                     n_test=None)
    # measured: about 2.7 s (NODE) + 1.5 s (ANODE) per epoch on the 2-core machine
    assert "about 40 s" in cli.images_estimate(args) or "about 45 s" in cli.images_estimate(args)
    assert "10 epochs x 2 models x 1 repeat on 1,437 training and 360 test" in \
        cli.images_estimate(args)
    args.epochs, args.repeats = 100, 3
    assert "about 21 min" in cli.images_estimate(args)
    args.data, args.epochs, args.repeats = "mnist", 1, 1
    assert " h " in cli.images_estimate(args)
    args.n_train, args.n_test = 512, 256
    assert "512 training and 256 test images of mnist" in cli.images_estimate(args)
    args.device = "cuda"
    assert "no duration estimate" in cli.images_estimate(args)


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["g1d", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"skanode g1d: error: --out {tmp_path / 'file'} exists and is not a folder")


def test_options_before_the_command_apply_to_it_when_it_takes_them(monkeypatch, tmp_path):
    from skanode import experiments as ex

    seen = {}

    def record(**kwargs):
        seen.update(kwargs)
        raise ValueError("stop")

    monkeypatch.setattr(ex, "g1d_experiment", record)
    assert main(["--epochs", "3", "--quiet", "g1d", "--seed", "4", "--out", str(tmp_path)]) == 1
    assert (seen["epochs"], seen["seed"]) == (3, 4)

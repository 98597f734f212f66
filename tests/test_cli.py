import json
import subprocess
import sys

from skanode.cli import main


def test_headline_writes_every_output(tmp_path, capsys):
    assert main(["--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    for name in ("records.json", "curves.csv", "headline.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    records = json.loads((tmp_path / "records.json").read_text())
    assert {r["label"] for r in records} == {"NODE", "ANODE", "ResNet"}
    assert "| ANODE | 1 |" in capsys.readouterr().out


def test_g1d_and_search_subcommands(tmp_path):
    assert main(["g1d", "--epochs", "1", "--quiet", "--out", str(tmp_path / "g")]) == 0
    assert (tmp_path / "g" / "g1d_trajectories.png").exists()
    assert (tmp_path / "g" / "g1d_vector_fields.png").exists()
    assert main(["search", "--quick", "--models", "anode", "--quiet",
                 "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "cv_results_anode_d2.csv").read_text().count("\n") == 3


def test_python_m_skanode_help():
    out = subprocess.run([sys.executable, "-m", "skanode", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "headline" in out.stdout


def test_errors_are_reported_without_a_traceback(tmp_path, capsys):
    code = main(["images", "--data-dir", str(tmp_path), "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "does not download" in capsys.readouterr().err

"""The README's quick example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("53.0782")
    assert out[1].startswith("(1001, 1001)")
    assert (tmp_path / "map.npz").is_file()


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && pytest -q' in README.read_text()
    assert ci.strip().endswith("pytest -q")


def test_api_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[1], "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "(1000, 101) 0"
    assert out[1].startswith("(100, 100) {'lr': 0.6135") and out[1].endswith("'momentum': 0.05}")  # the fastest
    assert len((tmp_path / "sweep.csv").read_text().splitlines()) == 10_001


def test_real_network_example_runs(tmp_path, monkeypatch, capsys):
    import pytest

    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    import matplotlib.pyplot as plt

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    block = next(b for b in blocks if "import flax" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    plt.close("all")
    names, accuracy = capsys.readouterr().out.strip().rsplit("] ", 1)
    assert names == "['accuracy', 'test_accuracy', 'test_loss'" and float(accuracy) > 0.9
    assert (tmp_path / "pca.png").is_file() and (tmp_path / "interpolation.png").is_file()


def test_explorer_example_runs(tmp_path, monkeypatch):
    import pytest

    pytest.importorskip("plotly")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    block = next(b for b in blocks if "ls.plot.explore" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    page = tmp_path / "explore.html"
    assert 6.0e6 < page.stat().st_size < 7.0e6  # "6.4 MB"
    assert page.read_text().count('type="range"') == 2

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
    assert out[1].startswith("(100, 100) {'lr':")
    assert len((tmp_path / "sweep.csv").read_text().splitlines()) == 10_001

"""Every example runs (at its --quick size, in this process) and writes the figures it promises; the README gallery
is what examples/make_gallery.py makes."""

import importlib.util
import re
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUTPUTS = {  # every file each example writes
    "sgd_parameters": ["sgd.png", "sgd_momentum.png", "sgd_nesterov.png", "sgd_nesterov_weight_decay.png",
                       "sgd_dampening.png"],
    "gradient_descent_basics": ["bowl.png", "learning_rates.png", "quadratic_fit.png"],
    "optimizer_comparison": ["optimizers_arrows.png", "optimizers_contour.png", "optimizers_surface.png",
                             "optimizers.gif"],
    "hyperparameter_sweep": ["sweep_sgd.png", "sweep_adam.png", "sweep_lr.png"],
    "test_functions": ["test_functions.png", "test_functions_losses.png", "rastrigin_surface.png"],
    "real_network": [f"{net}_{view}.png" for net in ("mlp", "cnn") for view in ("plane", "pca", "interpolation")],
    "explorer": ["explorer.html", "explorer.png"],  # the screenshot where headless Chromium is installed
}


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, out: Path, capsys) -> str:
    load(name).main([str(out), "--quick"])
    plt.close("all")
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS[name])  # and no temporary files left over
    return capsys.readouterr().out


def image(path: Path) -> np.ndarray:
    assert path.is_file(), f"{path.name} was not written"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert pixels[..., :3].std() > 0.05, f"{path.name} is blank"
    return pixels


def test_sgd_parameters_draws_four_losses_per_setting(tmp_path, capsys):
    run("sgd_parameters", tmp_path, capsys)
    for name in OUTPUTS["sgd_parameters"]:
        height, width = image(tmp_path / name).shape[:2]
        assert (height, width) == (492, 2016)  # four 4.2 × 3.7 in panels side by side at 120 dpi, with a title


def test_gradient_descent_basics(tmp_path, capsys):
    out = run("gradient_descent_basics", tmp_path, capsys)
    assert "W: [4.     1.6    0.64   0.256  0.1024]" in out  # seed 001's worked example
    loss = re.search(r"quadratic fit: loss ([\d.]+) → ([\d.]+)", out)
    assert float(loss.group(2)) < float(loss.group(1)) / 10
    assert image(tmp_path / "bowl.png").shape[:2] == (528, 720)  # 6 × 4 in and a title, at 120 dpi
    assert image(tmp_path / "learning_rates.png").shape[1] == 2160  # five panels
    image(tmp_path / "quadratic_fit.png")


def test_optimizer_comparison_reproduces_seed_004(tmp_path, capsys):
    out = run("optimizer_comparison", tmp_path, capsys)
    for name in ("optimizers_arrows", "optimizers_contour", "optimizers_surface"):
        image(tmp_path / f"{name}.png")
    assert image(tmp_path / "optimizers_arrows.png").shape[:2] == (1152, 1344)  # 2 × 2 panels
    with Image.open(tmp_path / "optimizers.gif") as gif:
        assert gif.n_frames == 15 and gif.size == (512, 400)
    final = dict(re.findall(r"  (.+): loss [\d.e+-]+ → ([\d.e+-]+) after 100 steps", out))
    assert list(final) == ["GD", "GD + momentum 0.2", "RMSprop", "Adam"]
    assert float(final["GD"]) < 1e-5 and float(final["Adam"]) > float(final["RMSprop"])  # Adam turns late (seed 004)


def test_hyperparameter_sweep(tmp_path, capsys):
    out = run("hyperparameter_sweep", tmp_path, capsys)
    assert re.search(r"sgd: best \{'lr': [\d.]+, 'momentum': [\d.]+\}: final loss 0\.499\d+, within tol after \d+ "
                     r"steps \(fewest steps to final loss", out)
    assert re.search(r"; \d+ of 144 settings diverged", out) and "adam: best {'lr'" in out and "'beta1'" in out
    for name in ("sweep_sgd", "sweep_adam"):
        assert image(tmp_path / f"{name}.png").shape[1] == 1440  # two 6-inch heatmaps
    image(tmp_path / "sweep_lr.png")


def test_test_functions(tmp_path, capsys):
    out = run("test_functions", tmp_path, capsys)
    assert [line.split(":")[0] for line in out.splitlines()] == ["rosenbrock", "himmelblau", "rastrigin"]
    assert image(tmp_path / "test_functions.png").shape[1] == 1800
    image(tmp_path / "test_functions_losses.png")
    image(tmp_path / "rastrigin_surface.png")


def test_real_network_slices_a_flax_mlp_and_cnn(tmp_path, capsys):
    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    out = run("real_network", tmp_path, capsys)
    found = re.findall(r"(mlp|cnn): (\d+) parameters, trained loss ([\d.]+), held-out accuracy ([\d.]+)", out)
    assert [(net, int(n)) for net, n, _, _ in found] == [("mlp", 2410), ("cnn", 11498)]
    assert all(float(accuracy) > 0.5 for *_, accuracy in found)  # 30 Adam steps already learn the digits
    for name in OUTPUTS["real_network"]:
        image(tmp_path / name)
    assert image(tmp_path / "cnn_plane.png").shape[1] > 3 * image(tmp_path / "cnn_pca.png").shape[1] / 2  # 3 panels


def test_explorer_writes_the_page_and_its_screenshot(tmp_path, capsys):
    pytest.importorskip("plotly")
    load("explorer").main([str(tmp_path), "--quick"])
    out = capsys.readouterr().out
    assert re.match(r"explorer\.html: 40 settings × 100 steps, \d+ diverged, [\d.]+ MB", out)
    assert int(re.search(r"(\d+) diverged", out).group(1)) > 0  # lr up to 3.2: the explorer shows divergence
    written = sorted(p.name for p in tmp_path.iterdir())
    if "no Chromium" in out:
        assert written == ["explorer.html"]
    else:
        assert written == OUTPUTS["explorer"]
        assert image(tmp_path / "explorer.png").shape[:2] == (690, 1300)
    assert 'id="landscape-explorer-data"' in (tmp_path / "explorer.html").read_text()


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_examples_are_short_and_use_the_public_api(script):
    text = (EXAMPLES / script).read_text()
    assert len(text.splitlines()) <= 80, f"{script} is long"
    assert "from landscape." not in text.replace("from landscape.optim import", "")  # public API: import landscape as ls
    assert "_coordinate" not in text and "landscape.plot." not in text


def test_gallery_files_are_small_and_shown_in_the_readme():
    gallery = load("make_gallery")
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Gallery", 1)[1].split("\n## ", 1)[0]
    assert readme.index("## Gallery") < readme.index("## Tests")
    shown = re.findall(r"\(examples/gallery/([\w.]+)\)", section)
    assert sorted(shown) == sorted(gallery.GALLERY) and 3 <= len(shown) <= 7
    for name in shown:
        path = EXAMPLES / "gallery" / name
        assert path.stat().st_size < 200 * 1024
        image(path)
    for script, figure in gallery.GALLERY.values():  # each is a figure the tests above see its example write
        assert figure in OUTPUTS[script.removesuffix(".py")]


def test_gallery_shrinks_figures_under_the_limit(tmp_path):
    rng = np.random.default_rng(0)
    noisy = (rng.random((300, 400, 3)) * 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    size = load("make_gallery").shrink(tmp_path / "noisy.png", tmp_path / "small.png", 60 * 1024)
    assert size == (tmp_path / "small.png").stat().st_size <= 60 * 1024
    with Image.open(tmp_path / "small.png") as small:
        assert small.mode == "P" and small.width < 400

"""The interactive explorer (``ls.plot.explore``, ``landscape explore``): one self-contained page whose embedded paths
are the sweep's (checked against ``ls.run``), with divergence marked and diverged paths cut at the map's view; and,
in a real headless Chromium (skipped without it or selenium), the page loads with no network, a slider move redraws
the path and the screenshot is not blank."""

import base64
import dataclasses
import io
import json
import re
import shutil
import sys

import numpy as np
import pytest

import landscape as ls
from landscape import cli

LRS = [0.01, 0.1, 0.5, 1.2, 3.0]  # SGD on seed-regression diverges above 2(1 + momentum)/λmax ≈ 0.98(1 + momentum)
MOMENTA = [0.0, 0.5, 0.9]
STEPS = 40
VIEW = (-5.0, 8.0)  # both axes of the map
DATA = re.compile(r'<script type="application/json" id="landscape-explorer-data">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def prob():
    return ls.problems.seed_regression()


@pytest.fixture(scope="module")
def sweep(prob):
    return ls.sweep(prob, ls.optim.SGD, STEPS, lr=np.array(LRS), momentum=np.array(MOMENTA), keep="params")


@pytest.fixture(scope="module")
def loss_map(prob):
    return ls.loss_map(prob, ls.Axis("bias", *VIEW, 41), ls.Axis("weight", *VIEW, 41))


@pytest.fixture(scope="module")
def page(tmp_path_factory, loss_map, sweep):
    pytest.importorskip("plotly")
    path = tmp_path_factory.mktemp("explore") / "explore.html"
    assert ls.plot.explore(loss_map, sweep, path, points=12) == path
    return path


@pytest.fixture(scope="module")
def reference(prob):
    """Every setting run again with ``ls.run`` (a batch of optimizers, lr × momentum in C order)."""
    lr, momentum = (a.ravel() for a in np.meshgrid(LRS, MOMENTA, indexing="ij"))
    return ls.run(prob, ls.optim.SGD(lr=lr, momentum=momentum), STEPS)


def embedded(path) -> dict:
    """The page's data, its base64 arrays decoded, one list of arrays per setting."""
    data = json.loads(DATA.search(path.read_text()).group(1))
    decode = {"t": "<i4", "x": "<f4", "y": "<f4", "loss": "<f4"}
    for name, dtype in decode.items():
        flat = np.frombuffer(base64.b64decode(data[name]), dtype)
        data[name] = [flat[a:b] for a, b in zip(data["offsets"][:-1], data["offsets"][1:])]
    return data


def test_the_page_is_self_contained(page):
    text = page.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", text, re.I)  # nothing to fetch
    assert "plotly.js v" in text and len(text) > 3_000_000  # the library itself, inline
    assert text.count('type="range"') == 2 and 'aria-label="lr"' in text and 'aria-label="momentum"' in text


def test_the_embedded_paths_are_the_settings_rerun_with_ls_run(page, reference):
    data = embedded(page)
    assert data["shape"] == [len(LRS), len(MOMENTA)]
    assert [axis["labels"] for axis in data["axes"]] == [["0.01", "0.1", "0.5", "1.2", "3"], ["0", "0.5", "0.9"]]
    for k in range(len(LRS) * len(MOMENTA)):
        t = data["t"][k]
        end = STEPS + 1 if reference.diverged_at[k] < 0 else int(reference.diverged_at[k])
        assert t[0] == 0 and t[-1] == end - 1 and np.all(np.diff(t) > 0) and len(t) <= 12 + 2
        np.testing.assert_allclose(data["x"][k], reference.coordinate("bias", (k,))[t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(data["y"][k], reference.coordinate("weight", (k,))[t], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(data["loss"][k], reference.loss[k][t], rtol=1e-5)
        assert data["diverged_at"][k] == int(reference.diverged_at[k])


def test_divergence_is_marked_and_a_path_cut_where_it_leaves_the_view_for_good(page, reference):
    data = embedded(page)
    diverged = np.flatnonzero(reference.diverged)
    assert set(diverged) == {k for k, status in enumerate(data["status"]) if status == "diverged"}
    assert len(diverged) >= 3 and (~reference.diverged).sum() >= 3  # lr 3 diverges at every momentum, lr 1.2 at 0
    cut = 0
    for k in range(reference.diverged.size):
        x, y = reference.coordinate("bias", (k,)), reference.coordinate("weight", (k,))
        end = STEPS + 1 if reference.diverged_at[k] < 0 else int(reference.diverged_at[k])
        inside = (x[:end] >= VIEW[0]) & (x[:end] <= VIEW[1]) & (y[:end] >= VIEW[0]) & (y[:end] <= VIEW[1])
        last = int(np.flatnonzero(inside)[-1])  # every path here starts in view
        assert data["cut"][k] == last + 1 and last in data["t"][k]  # drawn to its last point in view
        if last + 1 == end:  # never left the view (the converging settings)
            assert data["exit"][k] is None
            continue
        cut += 1  # then the segment to the view's edge, towards the next point
        (ex, ey), (x0, y0), (x1, y1) = data["exit"][k], (x[last], y[last]), (x[last + 1], y[last + 1])
        assert min(abs(ex - VIEW[0]), abs(ex - VIEW[1]), abs(ey - VIEW[0]), abs(ey - VIEW[1])) < 1e-4
        assert VIEW[0] - 1e-4 <= ex <= VIEW[1] + 1e-4 and VIEW[0] - 1e-4 <= ey <= VIEW[1] + 1e-4
        assert abs((x1 - x0) * (ey - y0) - (y1 - y0) * (ex - x0)) < 1e-3 * np.hypot(x1 - x0, y1 - y0)  # on it
        assert (ex - x0) * (x1 - x0) + (ey - y0) * (y1 - y0) > 0  # and on the side of the next point
    assert cut == len(diverged) + 1  # the diverged ones, and lr 1.2 without momentum, blowing up within 40 steps
    assert "diverged at step " in page.read_text()  # the marks' text, made by the page's script


def test_explore_refuses_a_sweep_without_paths_and_a_map_of_other_parameters(tmp_path, loss_map, sweep):
    pytest.importorskip("plotly")
    with pytest.raises(ValueError, match=r'keep="params"'):
        ls.plot.explore(loss_map, dataclasses.replace(sweep, param_paths=None), tmp_path / "x.html")
    with pytest.raises(ValueError, match="y axis: 'slope' is not a parameter .* bias, weight"):
        ls.plot.explore(dataclasses.replace(loss_map, y_label="slope"), sweep, tmp_path / "x.html")
    with pytest.raises(ValueError, match="points must be"):
        ls.plot.explore(loss_map, sweep, tmp_path / "x.html", points=1)
    with pytest.raises(ValueError, match="start names 'beta1', which is not an axis .* lr, momentum"):
        ls.plot.explore(loss_map, sweep, tmp_path / "x.html", start={"beta1": 0.9})
    assert not list(tmp_path.iterdir())


def test_the_sliders_start_at_the_best_setting_or_where_asked(tmp_path, page, loss_map, sweep):
    pytest.importorskip("plotly")

    def values(path):
        return [int(v) for v in re.findall(r'type="range" min="0" max="\d+" step="1" value="(\d+)"', path.read_text())]

    assert values(page) == list(sweep.best()["index"])
    ls.plot.explore(loss_map, sweep, tmp_path / "x.html", start={"lr": 0.45, "momentum": 0.8})  # the nearest values
    assert values(tmp_path / "x.html") == [LRS.index(0.5), MOMENTA.index(0.9)]
    ls.plot.explore(loss_map, sweep.select(lr=3.0), tmp_path / "x.html")  # every setting diverged: no best
    assert values(tmp_path / "x.html") == [0] and set(embedded(tmp_path / "x.html")["status"]) == {"diverged"}


def test_without_plotly_the_api_and_the_cli_say_how_to_install(tmp_path, monkeypatch, capsys, loss_map, sweep):
    for name in ("plotly", "plotly.graph_objects", "plotly.subplots"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'landscape\[explore\]'"):
        ls.plot.explore(loss_map, sweep, tmp_path / "x.html")
    code = cli.main(["explore", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "5",
                     "--grid", "lr=0.1,0.2", "--out", str(tmp_path / "x.html")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install 'landscape[explore]'" in err[0]
    assert not list(tmp_path.iterdir())


def test_cli_explore_writes_the_page(tmp_path, capsys):
    pytest.importorskip("plotly")
    out = tmp_path / "explore.html"
    code = cli.main(["explore", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "40",
                     "--grid", "lr=log:1e-2:3:4", "--grid", "momentum=lin:0:0.9:3", "--x", "bias:-5:8:31",
                     "--y", "weight:-5:8:21", "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and printed.startswith(f"{out}: 12 settings × 40 steps") and "open it in a browser" in printed
    data = embedded(out)
    assert data["shape"] == [4, 3] and [a["name"] for a in data["axes"]] == ["lr", "momentum"]
    assert "diverged" in data["status"]  # lr 3 diverges
    assert cli.main(["explore", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "5", "--grid",
                     "lr=0.1,0.2", "--out", str(tmp_path / "explore.png")]) == 2
    assert "expected a file ending in .html" in capsys.readouterr().err


def test_cli_explore_checks_the_sweep_before_it_computes_the_map(tmp_path, capsys, monkeypatch):
    pytest.importorskip("plotly")

    def no_map(*args, **kwargs):
        raise AssertionError("the map was computed before the sweep's arguments were checked")

    monkeypatch.setattr(ls, "loss_map", no_map)
    base = ["explore", "--problem", "seed-regression", "--optimizer", "sgd", "--steps", "5", "--quiet",
            "--out", str(tmp_path / "explore.html")]
    for extra, message in ((["--grid", "lr=0.1,0.2", "--points", "1"], "--points 1: give at least 2"),
                           ([], "give at least one --grid"),
                           (["--lr", "0.1", "--grid", "lr=0.1,0.2"], "both set lr"),
                           (["--grid", "lr=0.1,0.2", "--grid", "lr=0.3,0.4"], "--grid lr is given twice")):
        assert cli.main(base + extra) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "explore.html").exists()


# ---------------------------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through selenium and the system chromedriver; name resolution blocked (no network)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--window-size=1300,760",
                 "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def test_in_a_browser_a_slider_move_redraws_the_path(browser, page, sweep, reference):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(page.as_uri())
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert not [name for name in fetched if not name.startswith(("file:", "data:", "blob:"))]
    data = embedded(page)

    def drawn():
        """The setting shown, the path trace's data, its SVG line and the status line."""
        setting, x, y = browser.execute_script(
            "const gd = document.getElementById('landscape-explorer');"
            "return [Number(gd.dataset.setting), gd.data[2].x, gd.data[2].y];")
        line = browser.execute_script(
            "return document.querySelectorAll('#landscape-explorer .subplot.xy .scatterlayer .trace')[1]"
            ".querySelector('path.js-line').getAttribute('d');")
        return setting, np.array(x, float), np.array(y, float), line, browser.find_element(By.ID, "status").text

    start, x, y, line, status = drawn()
    assert start == np.ravel_multi_index(sweep.best()["index"], sweep.shape)  # the sliders start at the best
    assert not reference.diverged[start] and "diverged" not in status and len(line) > 20
    np.testing.assert_allclose(x, data["x"][start], rtol=1e-6)
    np.testing.assert_allclose(y, data["y"][start], rtol=1e-6)

    browser.find_elements(By.CSS_SELECTOR, "#controls input[type=range]")[0].send_keys(Keys.END)  # the largest lr
    moved, x, y, new_line, status = drawn()
    assert moved == np.ravel_multi_index((len(LRS) - 1, sweep.best()["index"][1]), sweep.shape) != start
    assert reference.diverged[moved] and new_line != line
    assert f"diverged at step {int(reference.diverged_at[moved])}" in status
    n = int(np.sum(data["t"][moved] < data["cut"][moved]))
    np.testing.assert_allclose(x, [*data["x"][moved][:n], data["exit"][moved][0]], rtol=1e-6)
    np.testing.assert_allclose(y, [*data["y"][moved][:n], data["exit"][moved][1]], rtol=1e-6)
    marks = browser.execute_script(
        "return Array.from(document.querySelectorAll('#landscape-explorer .textpoint text')).map((t) => t.textContent)")
    assert marks == [f"diverged at step {int(reference.diverged_at[moved])}"] * 2  # on the map and the loss curve
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]

    pixels = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB"), float)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # a drawn map, not a blank page

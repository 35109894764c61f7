"""landscape.plot: every view draws what the results hold (read back from the matplotlib artists), and the CLI's
drawing flags (--style, --surface, --gif)."""

import shutil
import subprocess
from types import SimpleNamespace

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import colors
from PIL import Image

import landscape as ls
from landscape.cli import main
from landscape.plot.animation import frame_indices
from landscape.plot.figures import short_number
from landscape.plot.paths import Path, batch_label, in_view, view_cut

START = {"intercept": 2.0, "slope": 9.0}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ols_map():
    return ls.loss_map(ls.problems.ols(), ls.Axis("intercept", -10, 10, 41), ls.Axis("slope", -10, 10, 31),
                       grad=True)


@pytest.fixture(scope="module")
def paths():
    optimizers = [ls.optim.SGD(lr=0.1), ls.optim.Adam(lr=0.1)]
    return ls.compare(ls.problems.ols(), optimizers, 20, labels=["GD", "Adam"], init=START, record_grads=True)


@pytest.fixture(scope="module")
def small_sweep():
    # lr = 10 diverges at every momentum; lr = 0.01 never gets within tol in 30 steps
    return ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 30, lr=np.logspace(-2, 1, 5),
                    momentum=[0.0, 0.5, 0.9])


def toy_map(values):
    values = np.asarray(values, float)
    return ls.LossMap(values, np.linspace(0, 1, values.shape[1]), np.linspace(-2, 2, values.shape[0]), "a", "b",
                      meta={"problem": "toy"})


# ---------------------------------------------------------------------------------------------- loss maps


def test_heatmap_shows_the_values_with_the_maps_extent_and_names(ols_map):
    drawn = ls.plot.loss_map(ols_map)
    image = drawn.mappable
    assert isinstance(image, matplotlib.image.AxesImage)
    np.testing.assert_array_equal(image.get_array(), ols_map.values)  # values[i, j] at y = ys[i], x = xs[j]
    assert image.origin == "lower" and image.get_cmap().name == "terrain"  # seed 000's look
    dx, dy = 20 / 40 / 2, 20 / 30 / 2  # pixel centres sit on the grid's coordinates
    np.testing.assert_allclose(image.get_extent(), [-10 - dx, 10 + dx, -10 - dy, 10 + dy])
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel()) == ("intercept", "slope")
    assert drawn.colorbar.ax.get_ylabel() == "loss" and drawn.ax.get_title() == "ols loss"
    x, y, _ = ols_map.argmin
    np.testing.assert_allclose(drawn.minimum.get_data(), ([x], [y]))
    assert (x, y) == (-2.0, pytest.approx(2.0, abs=0.34))


def test_filled_sqrt_contours_are_seed_004s_look(ols_map):
    drawn = ls.plot.loss_map(ols_map, kind="filled", sqrt=True)
    np.testing.assert_array_equal(drawn.values, ols_map.values)  # loss values: the √ is in the colour scale
    levels = drawn.mappable.levels
    root = np.sqrt(ols_map.values)
    assert levels[0] <= ols_map.values.min() and levels[-1] >= ols_map.values.max() and 6 <= len(levels) <= 14
    steps = np.diff(np.sqrt(levels))  # seed 004's contours of √loss: evenly spaced in √loss, labelled in loss
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    np.testing.assert_array_equal(drawn.lines.levels, levels)  # dashed black lines at the same levels
    assert drawn.lines.get_linestyle()[0][1] is not None  # dashed
    assert drawn.ax.texts and float(drawn.ax.texts[0].get_text()) in levels  # contour labels in loss units
    lo, hi = np.sqrt(levels[0]), np.sqrt(levels[-1])  # the colour of v is that of √v on a linear scale
    np.testing.assert_allclose(drawn.mappable.norm(ols_map.values), (root - lo) / (hi - lo), rtol=1e-6)
    assert drawn.colorbar.ax.get_ylabel() == "loss (√ scale)" and drawn.ax.get_title() == "ols loss"
    assert drawn.colorbar.vmax == levels[-1]  # the colour bar reads loss, not √loss
    assert drawn.ax.get_xlim() == (-10, 10)


def test_sqrt_heatmap_colours_are_those_of_the_root():
    m = toy_map([[0.0, 1.0, 4.0], [9.0, 16.0, -1.0]])
    drawn = ls.plot.loss_map(m, sqrt=True, mark_min=False)
    np.testing.assert_array_equal(drawn.mappable.get_array().mask, [[False] * 3, [False, False, True]])
    np.testing.assert_allclose(drawn.mappable.norm(np.array([0.0, 1.0, 4.0, 9.0, 16.0])), [0, 0.25, 0.5, 0.75, 1])
    assert drawn.colorbar.ax.get_ylabel() == "loss (√ scale)"


def test_contour_lines_with_given_levels_and_log_levels(ols_map):
    drawn = ls.plot.loss_map(ols_map, kind="contour", levels=[1, 10, 100])
    np.testing.assert_array_equal(drawn.mappable.levels, [1, 10, 100])
    assert drawn.lines is drawn.mappable
    logged = ls.plot.loss_map(ols_map, kind="filled", log=True)
    levels = logged.mappable.levels
    assert isinstance(logged.mappable.norm, colors.LogNorm)
    assert levels[0] <= ols_map.values.min() and levels[-1] >= ols_map.values.max()
    ratios = levels[1:] / levels[:-1]
    assert (ratios > 1).all() and np.log10(levels[-1] / levels[0]) > 5  # log-spaced over the decades


def test_log_scale_masks_values_it_cannot_show():
    m = toy_map([[0.0, 1.0, 10.0], [100.0, np.nan, 1000.0]])
    drawn = ls.plot.loss_map(m, log=True, mark_min=False)
    shown = drawn.mappable.get_array()
    np.testing.assert_array_equal(shown.mask, [[True, False, False], [False, True, False]])
    assert isinstance(drawn.mappable.norm, colors.LogNorm)
    assert (drawn.mappable.norm.vmin, drawn.mappable.norm.vmax) == (1.0, 1000.0)
    assert drawn.colorbar.ax.get_ylabel() == "loss (log scale)"
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel(), drawn.minimum) == ("a", "b", None)


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "surface"}, "kind must be one of 'heatmap', 'contour', 'filled'"),
    ({"log": True, "sqrt": True}, "not both"),
])
def test_loss_map_rejects_bad_options(ols_map, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ls.plot.loss_map(ols_map, **kwargs)


def test_log_scale_needs_positive_values():
    with pytest.raises(ValueError, match="log=True needs some positive loss values"):
        ls.plot.loss_map(toy_map([[0.0, -1.0], [-2.0, 0.0]]), log=True)


# ---------------------------------------------------------------------------------------------- paths


def test_paths_are_drawn_at_the_trajectories_coordinates(ols_map, paths):
    ax = ls.plot.loss_map(ols_map, kind="filled", sqrt=True).ax
    limits = ax.get_xlim(), ax.get_ylim()
    drawn = ls.plot.trajectories(paths, ax=ax)
    assert [line.get_label() for line in drawn.lines] == ["GD", "Adam"]
    for line, start, traj in zip(drawn.lines, drawn.starts, paths.values()):
        np.testing.assert_array_equal(line.get_xdata(), traj.params["intercept"])
        np.testing.assert_array_equal(line.get_ydata(), traj.params["slope"])
        np.testing.assert_allclose(start.get_data(), ([2.0], [9.0]))
    assert (ax.get_xlim(), ax.get_ylim()) == limits  # the map's view is kept
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "GD" in legend and "Adam" in legend


def test_axes_default_to_the_first_two_parameters_and_every_marks_a_subset(paths):
    drawn = ls.plot.trajectories(paths["GD"], every=5, markers=True)
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel()) == ("intercept", "slope")
    assert drawn.lines[0].get_markevery() == 5 and len(drawn.lines[0].get_xdata()) == 21
    swapped = ls.plot.trajectories(paths["GD"], x="slope", y="intercept", until=10)
    np.testing.assert_array_equal(swapped.lines[0].get_xdata(), paths["GD"].params["slope"][:11])
    with pytest.raises(ValueError, match="'weight' is not a parameter"):
        ls.plot.trajectories(paths["GD"], x="weight")


def test_batched_trajectories_are_labelled_by_what_varies():
    prob = ls.problems.booth()
    trajs = ls.run(prob, ls.optim.SGD(lr=np.array([0.01, 0.05]), momentum=0.5), 10,
                   init={"x": np.array([-4.0, 4.0]), "y": np.array([-4.0, 0.0])})
    drawn = ls.plot.trajectories(trajs)
    assert [line.get_label() for line in drawn.lines] == [
        "lr=0.01, init 0", "lr=0.01, init 1", "lr=0.05, init 0", "lr=0.05, init 1"]
    np.testing.assert_array_equal(drawn.lines[3].get_ydata(), trajs.params["y"][1, 1])
    named = ls.plot.trajectories(trajs, labels=list("abcd"))
    assert [line.get_label() for line in named.lines] == list("abcd")
    with pytest.raises(ValueError, match="3 labels for 4 paths"):
        ls.plot.trajectories(trajs, labels=list("abc"))


def test_labels_read_back_the_values_as_typed():
    for value in (0.1, 1e-3, 0.614, 0.9995, 3e-4, 1.2, 3.0):
        for dtype in (np.float32, np.float64):
            assert dtype(float(short_number(dtype(value)))) == dtype(value)
    assert [short_number(v) for v in (np.float32(0.1), 1e-3, 3.0, 0.9995, np.True_, 12345, "adam")] == [
        "0.1", "0.001", "3", "0.9995", "True", "12345", "adam"]
    traj = SimpleNamespace(batch_axes=("optimizer",), optimizer=ls.optim.SGD(lr=np.array([1e-3, 0.9995])),
                           batch_shape=(2,), meta={})
    assert [batch_label(traj, (k,)) for k in range(2)] == ["lr=0.001", "lr=0.9995"]  # a legend's labels


def test_arrows_are_the_negative_gradient_at_each_point(paths):
    drawn = ls.plot.trajectories(paths, arrows=True, every=2)
    for quiver, traj in zip(drawn.arrows, paths.values()):
        at = np.arange(0, 21, 2)
        np.testing.assert_allclose(quiver.U, -traj.grads["intercept"][at])
        np.testing.assert_allclose(quiver.V, -traj.grads["slope"][at])
        np.testing.assert_allclose(quiver.X, traj.params["intercept"][at])
        np.testing.assert_allclose(quiver.Y, traj.params["slope"][at])
        assert quiver.scale == pytest.approx(1 / 0.1) and quiver.scale_units == "xy"  # −lr·∇L: one GD step
    gd = paths["GD"]  # for plain gradient descent each arrow ends at the next point
    step = gd.params["intercept"][1] - gd.params["intercept"][0]
    assert step == pytest.approx(-0.1 * gd.grads["intercept"][0], rel=1e-5)
    scaled = ls.plot.trajectories(paths, arrows=True, arrow_scale=0.02)
    assert scaled.arrows[1].scale == pytest.approx(50)


def test_arrows_need_recorded_gradients():
    traj = ls.run(ls.problems.ols(), ls.optim.SGD(lr=0.1), 5)
    with pytest.raises(ValueError, match=r"no recorded gradients; run it with ls.run\(\.\.\., record_grads=True\)"):
        ls.plot.trajectories(traj, arrows=True)


def test_one_parameter_paths_are_drawn_against_the_loss():
    traj = ls.run(ls.problems.bowl(), ls.optim.SGD(lr=0.3), 4)
    drawn = ls.plot.trajectories(traj)
    np.testing.assert_allclose(drawn.lines[0].get_xdata(), [4, 1.6, 0.64, 0.256, 0.1024], rtol=1e-6)  # seed 001
    np.testing.assert_allclose(drawn.lines[0].get_ydata(), traj.loss)
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel()) == ("W", "loss")


def test_a_diverged_path_ends_with_a_cross():
    traj = ls.run(ls.problems.rosenbrock(), ls.optim.SGD(lr=0.1), 20)
    assert traj.diverged
    drawn = ls.plot.trajectories(traj)
    (x,), (y,) = drawn.diverged[0].get_data()  # its last point in view (all diverged: the first steps')
    t = int(np.flatnonzero(traj.params["x"] == x)[0])
    assert traj.params["y"][t] == y and t < int(traj.diverged_at)
    (x0, x1), (y0, y1) = drawn.ax.get_xlim(), drawn.ax.get_ylim()
    assert x0 <= x <= x1 and y0 <= y <= y1
    curves = ls.plot.loss_curves(traj)
    assert len(curves[0].axes.lines) == 2  # the curve, and its cross at the last finite loss
    last = int(np.flatnonzero(np.isfinite(traj.loss))[-1])
    np.testing.assert_array_equal(curves[0].axes.lines[1].get_data(), ([traj.steps[last]], [traj.loss[last]]))


def test_loss_curves(paths):
    lines = ls.plot.loss_curves(paths)
    for line, traj in zip(lines, paths.values()):
        np.testing.assert_array_equal(line.get_xdata(), traj.steps)
        np.testing.assert_array_equal(line.get_ydata(), traj.loss)
    ax = lines[0].axes
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    camel = ls.run(ls.problems.six_hump_camel(), ls.optim.Adam(lr=0.05), 50)  # minimum −1.03: symlog
    assert ls.plot.loss_curves(camel)[0].axes.get_yscale() == "symlog"
    assert ls.plot.loss_curves(camel, log=False)[0].axes.get_yscale() == "linear"


# ---------------------------------------------------------------------------------------------- surface, animation


def test_surface_lifts_paths_onto_their_losses(ols_map, paths):
    drawn = ls.plot.surface(ols_map, trajs=paths, elev=60, azim=35)
    assert drawn.ax.name == "3d" and (drawn.ax.elev, drawn.ax.azim) == (60, 35)
    for line, traj in zip(drawn.lines, paths.values()):
        x, y, z = line.get_data_3d()
        np.testing.assert_array_equal(x, traj.params["intercept"])
        np.testing.assert_array_equal(y, traj.params["slope"])
        np.testing.assert_array_equal(z, traj.loss)
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel(), drawn.ax.get_zlabel()) == ("intercept", "slope", "loss")
    logged = ls.plot.surface(ols_map, trajs=paths["GD"], log=True, resolution=10)
    np.testing.assert_allclose(logged.lines[0].get_data_3d()[2], np.log10(paths["GD"].loss), rtol=1e-6)
    assert logged.ax.get_zlabel() == "log₁₀ loss"
    with pytest.raises(ValueError, match="needs 3-D axes"):
        ls.plot.surface(ols_map, ax=plt.figure().add_subplot())


def test_frame_indices_are_bounded_and_end_on_the_last_point():
    np.testing.assert_array_equal(frame_indices(11, every=3), [0, 3, 6, 9, 10])
    index = frame_indices(1001, every=1, max_frames=40)
    assert len(index) == 40 and index[0] == 0 and index[-1] == 1000 and (np.diff(index) > 0).all()
    with pytest.raises(ValueError, match="max_frames must be a positive integer"):
        frame_indices(10, max_frames=0)


def test_animate_writes_a_gif_with_a_bounded_number_of_frames(tmp_path, ols_map, paths):
    path = tmp_path / "paths.gif"
    result = ls.plot.animate(ols_map, paths, path, fps=5, every=2, max_frames=8, sqrt=True, dpi=50,
                             figsize=(4, 3))
    assert result.path == path and result.frames == 8
    assert result.steps[0] == 0 and result.steps[-1] == 20
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.size == (200, 150) and gif.n_frames == 8
        assert gif.info["duration"] == 200 and gif.info["loop"] == 0
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"), dtype=int)
        gif.seek(7)
        last = np.asarray(gif.convert("RGB"), dtype=int)
    assert np.abs(first - last).sum() > 0  # the paths grew
    assert [p.name for p in tmp_path.iterdir()] == ["paths.gif"]  # written atomically: no temporary left over
    surface = ls.plot.animate(ols_map, paths["GD"], tmp_path / "s.gif", surface=True, max_frames=3, dpi=40)
    with Image.open(surface.path) as gif:
        assert gif.n_frames == 3


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="MP4 needs ffmpeg on the PATH")
def test_animate_writes_an_mp4_with_ffmpeg(tmp_path, ols_map, paths):
    result = ls.plot.animate(ols_map, paths, tmp_path / "paths.mp4", max_frames=12, dpi=50, figsize=(4, 3))
    probe = subprocess.run([shutil.which("ffmpeg"), "-i", str(result.path), "-f", "null", "-"], capture_output=True,
                           text=True, check=False)
    assert result.frames == 12 and "200x150" in probe.stderr and "frame=   12" in probe.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["paths.mp4"]


def test_animate_refuses_what_it_cannot_write(tmp_path, ols_map, paths, monkeypatch):
    with pytest.raises(ValueError, match="expected a file ending in .gif or .mp4"):
        ls.plot.animate(ols_map, paths, tmp_path / "paths.avi")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ValueError, match="needs ffmpeg on the PATH"):
        ls.plot.animate(ols_map, paths, tmp_path / "paths.mp4")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------- sweeps, panels


def test_sweep_heatmap_masks_diverged_settings(small_sweep):
    sw = small_sweep
    drawn = ls.plot.sweep(sw)
    shown = drawn.artist.get_array()
    assert isinstance(shown, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(shown).reshape(sw.shape), sw.status == ls.Status.DIVERGED)
    assert (sw.status[-1] == ls.Status.DIVERGED).all()  # lr = 10 diverges
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel()) == ("momentum", "lr")
    assert drawn.ax.get_yscale() == "log" and drawn.ax.get_xscale() == "linear"  # logspace axis → log scale
    assert isinstance(drawn.artist.norm, colors.LogNorm) and "3 of 15 diverged" in drawn.ax.get_title()
    assert drawn.artist.cmap.get_bad()[:3] == pytest.approx(colors.to_rgb("lightgrey"))
    steps = ls.plot.sweep(sw, metric="steps_to_tol")
    never = (sw.steps_to_tol < 0) | (sw.status == ls.Status.DIVERGED)
    np.testing.assert_array_equal(np.ma.getmaskarray(steps.artist.get_array()).reshape(sw.shape), never)
    assert "never within tol" in steps.ax.get_title()


def test_sweep_heatmap_outlines_the_settings_within_tol_and_stars_the_fastest(small_sweep):
    sw = small_sweep
    within = sw.final_loss <= sw.meta["tol"]  # diverged: NaN, never within
    steps = np.where(within, sw.steps_to_tol, np.iinfo(np.int32).max)
    i, j = np.unravel_index(np.argmin(steps), sw.shape)
    assert within.sum() == 3 and (steps == steps[i, j]).sum() == 1
    drawn = ls.plot.sweep(sw)
    np.testing.assert_allclose(drawn.best.get_data(), ([sw.axes["momentum"][j]], [sw.axes["lr"][i]]))
    corners = drawn.artist.get_coordinates()  # (lr + 1, momentum + 1, 2): the cells' vertices as drawn
    expected = set()
    for a, b in zip(*np.nonzero(within)):  # each side of a cell within tol whose neighbour is not
        sides = {(a, b - 1): ((a, b), (a + 1, b)), (a, b + 1): ((a, b + 1), (a + 1, b + 1)),
                 (a - 1, b): ((a, b), (a, b + 1)), (a + 1, b): ((a + 1, b), (a + 1, b + 1))}
        for (na, nb), ends in sides.items():
            if not (0 <= na < within.shape[0] and 0 <= nb < within.shape[1] and within[na, nb]):
                expected.add(frozenset(tuple(np.round(corners[v], 9)) for v in ends))
    drawn_sides = {frozenset(tuple(np.round(p, 9)) for p in segment) for segment in drawn.region.get_segments()}
    assert drawn_sides == expected and len(expected) == 8
    legend = [text.get_text() for text in drawn.ax.get_legend().get_texts()]
    assert f"fewest steps to loss ≤ {sw.meta['tol']:.4g} ({sw.steps_to_tol[i, j]}), no tie" in legend[0]
    assert legend[1].startswith("3 of 15 settings within tol")


def test_sweep_over_seeds_draws_the_mean_and_its_spread():
    sw = ls.sweep(ls.problems.seed_regression(), ls.optim.SGD, 30, lr=[0.03, 0.1, 0.3], momentum=[0.0, 0.5],
                  seeds=3, batch_size=25)
    heat = ls.plot.sweep(sw)
    np.testing.assert_allclose(heat.artist.get_array().reshape(3, 2), sw.final_loss.mean(axis=-1), rtol=1e-6)
    assert "mean final loss" in heat.ax.get_title() and "mean over 3 seeds" in heat.ax.get_title()
    line = ls.plot.sweep(sw.select(momentum=0.5))
    (band,) = line.ax.collections
    top = band.get_paths()[0].vertices[:, 1].max()
    mean, spread = sw.final_loss[:, 1].mean(axis=-1), np.std(sw.final_loss[:, 1], axis=-1)
    assert top == pytest.approx(float((mean + spread).max()), rel=1e-5)

def test_one_dimensional_sweep_is_a_line_with_diverged_settings_crossed(small_sweep):
    row = small_sweep.select(momentum=0.5)
    drawn = ls.plot.sweep(row)
    assert drawn.colorbar is None and drawn.ax.get_xscale() == "log" and drawn.ax.get_xlabel() == "lr"
    y = drawn.artist.get_ydata()
    np.testing.assert_array_equal(np.isnan(y), row.status == ls.Status.DIVERGED)
    finite = row.status != ls.Status.DIVERGED
    np.testing.assert_allclose(y[finite], row.final_loss[finite])
    crosses = [line for line in drawn.ax.lines if line.get_label() == "diverged"]
    np.testing.assert_allclose(crosses[0].get_xdata(), row.axes["lr"][row.status == ls.Status.DIVERGED])
    with pytest.raises(ValueError, match="needs a sweep with one or two axes"):
        ls.plot.sweep(small_sweep.select(momentum=0.5, lr=0.01))


def test_grid_figure_and_atomic_save(tmp_path):
    fig, axes = ls.plot.grid_figure(5, cols=3, size=(2.0, 1.5))
    assert len(axes) == 5 and len(fig.axes) == 6 and not fig.axes[5].get_visible()
    assert tuple(fig.get_size_inches()) == (6.0, 3.0)
    path = ls.plot.save(fig, tmp_path / "panels.png", dpi=50)
    assert matplotlib.image.imread(path).shape[:2] == (150, 300)
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="expected a file ending in .png"):
        ls.plot.save(plt.figure(), tmp_path / "panels.txt")
    _, panels = ls.plot.grid_figure(2, projection="3d")
    assert [ax.name for ax in panels] == ["3d", "3d"]


def test_plotting_compiles_nothing(ols_map, paths, small_sweep, tmp_path, count_compiles):
    with count_compiles() as counter:
        ax = ls.plot.loss_map(ols_map, kind="filled", sqrt=True).ax
        ls.plot.trajectories(paths, ax=ax, arrows=True)
        ls.plot.loss_curves(paths)
        ls.plot.surface(ols_map, trajs=paths)
        ls.plot.sweep(small_sweep)
        ls.plot.animate(ols_map, paths, tmp_path / "a.gif", max_frames=2, dpi=30)
    assert counter.count == 0


# ---------------------------------------------------------------------------------------------- CLI drawing flags


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_cli_map_styles_and_surface(tmp_path, capsys):
    sizes = {}
    for style in ("heatmap", "contour", "filled"):
        out = tmp_path / f"{style}.png"
        cli(capsys, "map", "--problem", "ols", "--x", "intercept:-10:10:41", "--y", "slope:-10:10:41", "--style",
            style, "--dpi", "50", "--out", str(out), "--quiet")
        sizes[style] = out.stat().st_size
        assert matplotlib.image.imread(out).shape[:2] == (260, 320)  # 6.4 × 5.2 inches at 50 dpi
    assert len(set(sizes.values())) == 3  # three different pictures
    out = tmp_path / "surface.png"
    cli(capsys, "map", "--problem", "rosenbrock", "--log", "--surface", "--dpi", "50", "--out", str(out), "--quiet")
    assert matplotlib.image.imread(out).shape[:2] == (290, 360)
    code = main(["map", "--problem", "ols", "--style", "wireframe", "--out", str(tmp_path / "x.png")])
    assert code == 2 and "invalid choice: 'wireframe'" in capsys.readouterr().err


def test_cli_compare_with_arrows_and_gif(tmp_path, capsys):
    out, gif = tmp_path / "compare.png", tmp_path / "compare.gif"
    stdout = cli(capsys, "compare", "--problem", "ols", "--optimizer", "sgd", "--optimizer", "adam", "--lr", "0.1",
                 "--init", "2,9", "--steps", "30", "--style", "filled", "--arrows", "--gif", str(gif), "--out",
                 str(out), "--dpi", "50")
    assert "animation in" in stdout and "(31 frames)" in stdout
    with Image.open(gif) as image:
        assert image.n_frames == 31 and image.size == (512, 400)
    assert matplotlib.image.imread(out).shape[1] == 625  # 12.5 inches at 50 dpi
    stdout = cli(capsys, "run", "--problem", "booth", "--optimizer", "sgd", "--lr", "0.02", "--steps", "20",
                 "--surface", "--gif", str(tmp_path / "run.gif"), "--out", str(tmp_path / "run.png"), "--dpi", "40")
    with Image.open(tmp_path / "run.gif") as image:
        assert image.n_frames == 21
    code = main(["run", "--problem", "ols", "--optimizer", "sgd", "--steps", "5", "--gif", str(tmp_path / "a.png")])
    assert code == 2 and "--gif" in capsys.readouterr().err and not (tmp_path / "a.png").exists()


def test_a_metric_of_a_map_is_drawn_with_its_best_value_starred():
    values = np.array([[0.2, 0.9], [0.5, 0.1]])
    m = ls.LossMap(values + 1, np.array([0.0, 1.0]), np.array([0.0, 1.0]), "a", "b",
                   metrics={"test_accuracy": values})
    drawn = ls.plot.loss_map(m, metric="test_accuracy")
    np.testing.assert_array_equal(drawn.values, values)
    assert drawn.minimum.get_xydata().tolist() == [[1.0, 0.0]]  # the highest accuracy
    assert drawn.colorbar.ax.get_ylabel() == "test_accuracy"
    assert ls.plot.loss_map(m).minimum.get_xydata().tolist() == [[1.0, 1.0]]  # the lowest loss
    with pytest.raises(KeyError, match="no metric 'accuracy'"):
        ls.plot.loss_map(m, metric="accuracy")
    plt.close("all")


def test_a_line_draws_losses_left_and_accuracies_right():
    xs = np.linspace(-0.5, 1.5, 5)
    line = ls.LossLine(xs**2, xs, "t", metrics={"accuracy": 1 - xs / 4, "test_loss": xs**2 + 1})
    drawn = ls.plot.loss_line(line)
    assert set(drawn.lines) == {"loss", "accuracy", "test_loss"}
    assert drawn.lines["accuracy"].axes is drawn.twin and drawn.lines["test_loss"].axes is drawn.ax
    np.testing.assert_array_equal(drawn.lines["loss"].get_ydata(), xs**2)
    assert ls.plot.loss_line(line, metrics=["loss"]).twin is None
    plt.close("all")


def test_a_path_in_a_plane_is_drawn_at_its_coordinates():
    coords = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 0.25]])
    artists = ls.plot.plane_path(coords, annotate_every=1)
    np.testing.assert_array_equal(artists[0].get_xydata(), coords)
    assert artists[1].get_xydata().tolist() == [[0.0, 0.0]] and artists[2].get_xydata().tolist() == [[2.0, 0.25]]
    assert len(artists) == 6
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        ls.plot.plane_path(np.zeros((3, 3)))
    plt.close("all")


# ---------------------------------------------------------------------------------------------- big maps


def big_map(ny=1200, nx=1800, seed=0):
    """A map far larger than a figure's pixels, with one sharp minimum and some points not finite."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 2.0, (ny, nx)).astype(np.float32)
    values[ny * 2 // 3 - 23, nx * 2 // 3 + 34] = 0.25  # a one-point well: a stride would step over it
    values[:5, :7] = np.nan
    values[10, 10:20] = np.inf
    return ls.LossMap(values, np.linspace(-3, 3, nx), np.linspace(-1, 2, ny), "a", "b", meta={"problem": "big"})


def test_a_big_map_is_drawn_from_its_block_minima_with_the_true_minimum_starred():
    m = big_map()
    fig, ax = plt.subplots(figsize=(4, 3), dpi=50)  # axes of about 150×110 pixels
    box = ax.get_window_extent().frozen()
    drawn = ls.plot.loss_map(m, ax=ax)
    shown = drawn.mappable.get_array()
    assert shown.shape[0] <= 2 * box.height + 1 and shown.shape[1] <= 2 * box.width + 1  # the figure's pixels
    # reference: NumPy block minima over the same blocks (edges from linspace), NaN-aware, finite where any is
    rows = np.unique(np.linspace(0, m.values.shape[0], shown.shape[0] + 1).astype(int))
    cols = np.unique(np.linspace(0, m.values.shape[1], shown.shape[1] + 1).astype(int))
    expected = np.array([[np.nanmin(m.values[a:b, c:d]) if np.isfinite(m.values[a:b, c:d]).any() or
                          not np.isnan(m.values[a:b, c:d]).all() else np.nan
                          for c, d in zip(cols[:-1], cols[1:])] for a, b in zip(rows[:-1], rows[1:])])
    np.testing.assert_array_equal(np.ma.filled(shown, np.nan), np.where(np.isfinite(expected), expected, np.nan))
    assert float(shown.min()) == 0.25  # the one-point well survives the reduction
    x, y = drawn.minimum.get_data()
    i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(m.values), m.values, np.nan)), m.values.shape)
    assert (x[0], y[0]) == (m.xs[j], m.ys[i])
    assert drawn.mappable.get_extent()[:2] == pytest.approx([m.xs[0] - 3 / 1799, m.xs[-1] + 3 / 1799])


def test_a_big_maps_contours_and_surface_use_the_reduced_view():
    m = big_map(600, 900)
    drawn = ls.plot.loss_map(m, kind="filled", resolution=100)
    assert drawn.values.shape == (100, 100) and float(drawn.values.min()) == 0.25
    surf = ls.plot.surface(m, resolution=40)
    assert surf.surface.norm.vmin == pytest.approx(0.25)  # the lowest height drawn: the well's
    assert surf.surface.get_array().size <= 39 * 39  # one face per pair of reduced rows and columns


def test_best_of_a_map_skips_infinities_and_nans_band_by_band():
    m = big_map(700, 120)  # several bands of rows
    values = m.values.copy()
    values[600, 3] = -np.inf  # not finite: never the best
    m = ls.LossMap(values, m.xs, m.ys, "a", "b")
    i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(values), values, np.nan)), values.shape)
    assert m.best() == (m.xs[j], m.ys[i], pytest.approx(float(values[i, j])))
    accuracy = ls.LossMap(values, m.xs, m.ys, "a", "b", metrics={"accuracy": -values})
    assert accuracy.best("accuracy")[:2] == (m.xs[j], m.ys[i])
    with pytest.raises(ValueError, match="no finite value"):
        ls.LossMap(np.full((3, 3), np.nan), m.xs[:3], m.ys[:3], "a", "b").best()


# ---------------------------------------------------------------------------------------------- divergence


@pytest.fixture(scope="module")
def one_diverges():
    """seed regression from (bias, weight) = (−3, 6): SGD lr 0.1 converges, lr 1.5 overflows (at step 56)."""
    prob = ls.problems.seed_regression()
    trajs = ls.compare(prob, [ls.optim.SGD(lr=0.1), ls.optim.SGD(lr=1.5)], 100, labels=["calm", "wild"],
                       progress=False)
    m = ls.loss_map(prob, ls.Axis("bias", -5, 8, 41), ls.Axis("weight", -5, 8, 41), progress=False)
    return trajs, m


def first_non_finite(loss) -> int:
    """The step of the first non-finite recorded loss (every step recorded), found with NumPy alone."""
    bad = np.flatnonzero(~np.isfinite(np.asarray(loss)))
    assert bad.size, "the path was expected to diverge"
    return int(bad[0])


def legend_texts(ax) -> list:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_a_diverged_path_leaves_the_view_on_the_map(one_diverges):
    trajs, m = one_diverges
    k = first_non_finite(trajs["wild"].loss)
    assert k == int(trajs["wild"].diverged_at) and np.isfinite(trajs["calm"].loss).all()
    fig, (left, right) = plt.subplots(1, 2)
    drawn_map = ls.plot.loss_map(m, ax=left)
    drawn = ls.plot.trajectories(trajs, ax=left)
    x0, x1, y0, y1 = drawn_map.mappable.get_extent()
    assert x0 <= left.get_xlim()[0] < left.get_xlim()[1] <= x1 and y0 <= left.get_ylim()[0] < left.get_ylim()[1] <= y1
    assert drawn_map.colorbar.norm.vmax <= np.nanmax(m.values) and np.isfinite(m.values).all()
    wild_x, wild_y = drawn.lines[1].get_data()  # cut where it leaves the map
    assert x0 <= wild_x.min() and wild_x.max() <= x1 and y0 <= wild_y.min() and wild_y.max() <= y1
    assert f"wild, diverged at step {k}" in legend_texts(left) and "calm" in legend_texts(left)
    assert drawn.diverged[0] is None  # one entry per path: calm has no cross
    (cross_x,), (cross_y,) = drawn.diverged[1].get_data()  # the last point in view, a recorded one
    assert (cross_x, cross_y) in set(zip(trajs["wild"].coordinate("bias"), trajs["wild"].coordinate("weight")))
    assert x0 <= cross_x <= x1 and y0 <= cross_y <= y1
    np.testing.assert_array_equal(drawn.lines[0].get_data()[0], trajs["calm"].coordinate("bias"))  # whole

    curves = ls.plot.loss_curves(trajs, ax=right)
    calm_max = float(trajs["calm"].loss.max())
    assert calm_max < right.get_ylim()[1] <= 10 * calm_max  # not stretched to the wild path's 1e36
    assert f"wild, diverged at step {k}" in legend_texts(right)
    assert np.nanmax(curves[1].get_ydata()) <= right.get_ylim()[1]


def test_without_a_map_the_view_holds_the_paths_that_did_not_diverge(one_diverges):
    trajs, _ = one_diverges
    drawn = ls.plot.trajectories(trajs)
    calm_x, calm_y = trajs["calm"].coordinate("bias"), trajs["calm"].coordinate("weight")
    (lo, hi), span = drawn.ax.get_xlim(), np.ptp(calm_x)
    assert lo <= calm_x.min() and calm_x.max() <= hi and hi - lo <= 1.2 * span  # not ±1.7e18
    assert np.ptp(drawn.ax.get_ylim()) <= 1.2 * np.ptp(calm_y)
    only_wild = ls.plot.trajectories(trajs["wild"], ax=plt.figure().add_subplot(), legend=False)
    k = first_non_finite(trajs["wild"].loss)
    assert np.ptp(only_wild.ax.get_xlim()) < 100  # all diverged: the first steps
    assert f"diverged at step {k}" in [text.get_text() for text in only_wild.ax.texts]  # no legend: a note


def test_surface_and_animation_mark_a_diverged_path_on_the_map(one_diverges, tmp_path):
    trajs, m = one_diverges
    k = first_non_finite(trajs["wild"].loss)
    surf = ls.plot.surface(m, trajs=trajs, resolution=20)
    assert surf.ax.get_zlim()[1] <= 1.2 * np.nanmax(m.values)  # the path's heights stay on the map's scale
    wild_x, wild_y, _ = surf.lines[1].get_data_3d()
    assert m.xs[0] <= wild_x.min() and wild_x.max() <= m.xs[-1] and m.ys[0] <= wild_y.min() <= wild_y.max() <= m.ys[-1]
    assert surf.diverged[0] is None and surf.diverged[1] is not None
    assert f"wild, diverged at step {k}" in legend_texts(surf.ax)

    drawn = []  # what each frame draws over the map: (marker, x data, y data)
    draw_artist = matplotlib.axes.Axes.draw_artist

    def record(ax, artist):
        if isinstance(artist, matplotlib.lines.Line2D):
            drawn.append((artist.get_marker(), *(np.array(d, float) for d in artist.get_data())))
        return draw_artist(ax, artist)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.axes.Axes, "draw_artist", record)
        ls.plot.animate(m, trajs, tmp_path / "wild.gif", max_frames=12, dpi=40)
    crosses = [(x, y) for marker, x, y in drawn if marker == "X"]
    assert crosses and all(m.xs[0] <= x <= m.xs[-1] and m.ys[0] <= y <= m.ys[-1] for x, y in crosses)
    xs = np.concatenate([x for _, x, _ in drawn])
    assert xs.min() >= m.xs[0] - 1 and xs.max() <= m.xs[-1] + 1  # no frame draws the path at ±1.7e18


def test_a_path_is_cut_where_it_leaves_the_view_for_good():
    """By hand, in the unit square: out at step 1, back at step 2, then out for good between (0.8, 0.8) and
    (1.4, 1.1), a segment that meets x = 1 a third along, at (1, 0.9) (y = 1 only two thirds along)."""
    xs, ys = np.array([0.5, 1.5, 0.5, 0.8, 1.4, 3.0]), np.array([0.5, 0.5, 0.5, 0.8, 1.1, 3.0])
    box = ((0.0, 1.0), (0.0, 1.0))
    stop, exit_point = view_cut(xs, ys, 6, box)
    assert stop == 4 and exit_point == pytest.approx((1.0, 0.9))
    assert view_cut(xs, ys, 4, box) == (4, None)  # no point counts after its last one in the box
    assert view_cut(xs + 2, ys, 6, box) == (0, None)  # never in the box
    assert view_cut(np.array([0.5, np.nan]), np.array([0.5, 0.5]), 2, box) == (1, None)  # nowhere to head
    stop, exit_point = view_cut(np.arange(3.0), np.array([0.5, 0.9, 1.3]), 3, ((-np.inf, np.inf), (-np.inf, 1.0)))
    assert stop == 2 and exit_point == pytest.approx((1.25, 1.0))  # a loss curve leaving the top of its axis

    wild = SimpleNamespace(diverged=np.array(True), diverged_at=np.array(5), steps=np.arange(6))
    last, x, y = in_view(Path("wild", xs, ys, np.zeros(6), None, None, wild, ()), box)  # as trajectories draws it
    assert last == 3 and x == pytest.approx([0.5, 1.5, 0.5, 0.8, 1.0]) and y == pytest.approx([0.5, 0.5, 0.5, 0.8, 0.9])

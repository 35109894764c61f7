"""landscape.plot: every view draws what the results hold (read back from the matplotlib artists), and the CLI's
drawing flags (--style, --surface, --gif)."""

import shutil
import subprocess

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
    np.testing.assert_allclose(drawn.values, np.sqrt(ols_map.values), rtol=1e-6)
    levels = drawn.mappable.levels
    root = np.sqrt(ols_map.values)
    assert levels[0] <= root.min() and levels[-1] >= root.max() and 6 <= len(levels) <= 14  # every value filled
    np.testing.assert_array_equal(drawn.lines.levels, levels)  # dashed black lines at the same levels
    assert drawn.lines.get_linestyle()[0][1] is not None  # dashed
    assert drawn.ax.texts  # contour labels
    assert drawn.colorbar.ax.get_ylabel() == "√loss" and drawn.ax.get_title() == "ols √loss"
    assert drawn.ax.get_xlim() == (-10, 10)


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
    last = int(traj.diverged_at) - 1  # parameters stay at their last finite values
    np.testing.assert_allclose(drawn.diverged[0].get_data(), ([traj.params["x"][last]], [traj.params["y"][last]]))
    curves = ls.plot.loss_curves(traj)
    assert len(curves[0].axes.lines) == 2  # the curve, and its cross at the last finite loss


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


def test_sweep_heatmap_masks_diverged_settings_and_stars_the_best(small_sweep):
    sw = small_sweep
    drawn = ls.plot.sweep(sw)
    shown = drawn.artist.get_array()
    assert isinstance(shown, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(shown).reshape(sw.shape), sw.status == ls.Status.DIVERGED)
    assert (sw.status[-1] == ls.Status.DIVERGED).all()  # lr = 10 diverges
    i, j = np.unravel_index(np.nanargmin(np.where(sw.status == ls.Status.DIVERGED, np.nan, sw.final_loss)), sw.shape)
    np.testing.assert_allclose(drawn.best.get_data(), ([sw.axes["momentum"][j]], [sw.axes["lr"][i]]))
    assert (drawn.ax.get_xlabel(), drawn.ax.get_ylabel()) == ("momentum", "lr")
    assert drawn.ax.get_yscale() == "log" and drawn.ax.get_xscale() == "linear"  # logspace axis → log scale
    assert isinstance(drawn.artist.norm, colors.LogNorm) and "3 of 15 diverged" in drawn.ax.get_title()
    assert drawn.artist.cmap.get_bad()[:3] == pytest.approx(colors.to_rgb("lightgrey"))
    steps = ls.plot.sweep(sw, metric="steps_to_tol")
    never = (sw.steps_to_tol < 0) | (sw.status == ls.Status.DIVERGED)
    np.testing.assert_array_equal(np.ma.getmaskarray(steps.artist.get_array()).reshape(sw.shape), never)
    assert "never within tol" in steps.ax.get_title()


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

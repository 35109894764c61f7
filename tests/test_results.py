import csv
import dataclasses
import io
import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import _serial, optim, problems, results


@pytest.fixture
def loss_map():
    prob = problems.seed_regression()
    return ls.loss_map(prob, ls.Axis("bias", -5, 8, 6), ls.Axis("weight", -5, 8, 4), grad=True)


def test_round_trip(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    back = ls.LossMap.load(path)
    for name in ("values", "xs", "ys", "grad_x", "grad_y"):
        np.testing.assert_array_equal(getattr(back, name), getattr(loss_map, name))
        assert getattr(back, name).dtype == getattr(loss_map, name).dtype
    assert (back.x_label, back.y_label) == ("bias", "weight")
    assert back == loss_map and back.meta == loss_map.meta
    assert back.meta["problem"] == "seed-regression" and back.meta["dtype"] == "float32"
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]  # no temporary files left


def test_metadata_is_plain_json_with_version(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["__landscape__"].tobytes())
    assert header["kind"] == "LossMap" and header["version"] == ls.__version__
    assert header["record"]["meta"]["x_axis"]["num"] == 6


def test_failed_write_keeps_previous_file(tmp_path, loss_map, monkeypatch):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        loss_map.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["map.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ls.LossMap.load(tmp_path / "absent.npz")


def test_missing_directory_on_save(tmp_path, loss_map):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loss_map.save(tmp_path / "no" / "map.npz")


def test_truncated_file(tmp_path, loss_map):
    path = tmp_path / "map.npz"
    loss_map.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not an .npz"):
        ls.LossMap.load(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "map.npz"
    path.write_bytes(b"hello, this is not a zip archive" * 10)
    with pytest.raises(ValueError, match="not a readable landscape result"):
        ls.LossMap.load(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, values=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not one written by landscape"):
        ls.LossMap.load(path)


def test_pickled_content_is_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, values=np.array([{"a": 1}], dtype=object), __landscape__=np.frombuffer(b"{}", np.uint8))
    with pytest.raises(ValueError, match="not a readable landscape result"):
        ls.LossMap.load(path)


def test_wrong_kind(tmp_path):
    path = tmp_path / "other.npz"
    _serial.save_npz(path, "Sweep", {"x": np.zeros(3)}, {})
    with pytest.raises(ValueError, match="holds a landscape 'Sweep', not a 'LossMap'"):
        ls.LossMap.load(path)


def test_damaged_map_missing_arrays(tmp_path):
    path = tmp_path / "partial.npz"
    _serial.save_npz(path, "LossMap", {"values": np.zeros((2, 2))}, {})
    with pytest.raises(ValueError, match=r"missing arrays \['xs', 'ys'\]"):
        ls.LossMap.load(path)


def test_written_files_get_the_usual_permissions(tmp_path, loss_map):
    mask = os.umask(0o022)
    try:
        loss_map.save(tmp_path / "m.npz")
    finally:
        os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644



# ---------------------------------------------------------------------------------------------------------- round trips


class Point(NamedTuple):
    x: jax.Array
    y: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Weights:
    """A user's own pytree class: a file cannot rebuild it without a template."""

    w: jax.Array
    b: jax.Array


def rosenbrock_on(params_of):
    """Rosenbrock with its two coordinates stored in any pytree (``params_of(x, y)``)."""
    def fn(p, _):
        x, y = jax.tree_util.tree_leaves(p)
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    return ls.Problem(name="rosenbrock-tree", fn=fn, params=params_of(jnp.float32(-1.2), jnp.float32(1.0)))


@pytest.mark.parametrize("params_of", [
    lambda x, y: {"x": x, "y": y},
    lambda x, y: [x, y],
    lambda x, y: (x, {"y": [y]}),
    lambda x, y: Point(x, y),
], ids=["dict", "list", "nested", "namedtuple"])
def test_trajectory_round_trip_keeps_the_structure_and_reruns(tmp_path, params_of):
    prob = rosenbrock_on(params_of)
    opt = optim.Adam(lr=np.array([1e-3, 1e-2]), betas=(0.8, np.array([0.99, 0.999])), amsgrad=True)
    traj = ls.run(prob, opt, steps=12, every=4, record_grads=True)
    traj.save(tmp_path / "t.npz")
    back = ls.Trajectory.load(tmp_path / "t.npz")
    assert back == traj and back is not traj
    assert jax.tree_util.tree_structure(back.params).num_leaves == 2
    assert [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(back.params)[0]] == \
        [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(traj.params)[0]]
    assert type(back.optimizer) is optim.Adam and back.optimizer.amsgrad is True
    again = ls.run(prob, back.optimizer, steps=12, every=4, record_grads=True)  # the loaded optimizer runs again
    np.testing.assert_array_equal(again.loss, traj.loss)
    assert not (dataclasses.replace(back, loss=back.loss + 1) == traj)


def test_a_named_tuple_class_comes_back_through_a_template(tmp_path):
    traj = ls.run(rosenbrock_on(Point), optim.SGD(lr=1e-3), steps=3)
    traj.save(tmp_path / "t.npz")
    rebuilt = ls.Trajectory.load(tmp_path / "t.npz")
    assert type(rebuilt.params).__name__ == "Point" and type(rebuilt.params) is not Point  # a look-alike
    exact = ls.Trajectory.load(tmp_path / "t.npz", template=Point(0.0, 0.0))
    assert type(exact.params) is Point and exact == traj


def test_a_custom_pytree_class_needs_a_template(tmp_path):
    traj = ls.run(rosenbrock_on(Weights), optim.SGD(lr=1e-3, momentum=0.9), steps=3)
    traj.save(tmp_path / "t.npz")
    with pytest.raises(ValueError, match=r"pytree class 'Weights'.*pass template="):
        ls.Trajectory.load(tmp_path / "t.npz")
    back = ls.Trajectory.load(tmp_path / "t.npz", template=Weights(0.0, 0.0))
    assert type(back.params) is Weights and back == traj
    with pytest.raises(ValueError, match="do not match the saved ones"):
        ls.Trajectory.load(tmp_path / "t.npz", template={"w": 0.0, "b": 0.0})


@pytest.mark.parametrize("lr", [
    optim.CosineAnnealingLR(0.05, T_max=10, eta_min=1e-3),
    optim.ReduceLROnPlateau(0.05, mode="max", factor=0.5, patience=2, threshold_mode="abs"),
    optim.LinearWarmup(optim.StepLR(0.05, step_size=3), warmup_steps=4),
])
def test_schedules_round_trip(tmp_path, lr):
    prob = problems.booth()
    traj = ls.run(prob, optim.SGD(lr=lr, momentum=0.5), steps=10)
    traj.save(tmp_path / "t.npz")
    back = ls.Trajectory.load(tmp_path / "t.npz")
    assert back == traj and type(back.optimizer.lr) is type(lr)
    np.testing.assert_array_equal(ls.run(prob, back.optimizer, steps=10).loss, traj.loss)


def test_sweep_round_trip_and_rerun_of_a_setting(tmp_path):
    prob = problems.seed_regression()
    init = {"weight": np.array([6.0, -2.0]), "bias": np.array([-3.0, 4.0])}
    sw = ls.sweep(prob, optim.Adam, 15, init=init, seeds=[3, 5], batch_size=16, keep="params",
                  lr=[0.01, 0.1], beta1=[0.5, 0.9], betas=(0.8, 0.99), weight_decay=np.float32(0.01))
    sw.save(tmp_path / "s.npz")
    back = ls.Sweep.load(tmp_path / "s.npz")
    assert back == sw and list(back.axes) == ["lr", "beta1", "init", "seed"]
    assert back.fixed == {"betas": (0.8, 0.99), "weight_decay": np.float32(0.01)}
    assert back.best() == sw.best()
    index = (1, 0, 1, 1)
    opt = back.optimizer(index)
    assert isinstance(opt, optim.Adam) and opt.betas == (0.5, 0.99) and float(opt.lr) == 0.1
    traj = ls.run(prob, opt, 15, init={"weight": -2.0, "bias": 4.0}, batch_size=16, seed=5)
    np.testing.assert_allclose(traj.loss, sw.loss_curves[index], rtol=1e-5)


def test_random_search_round_trip(tmp_path):
    result = ls.random_search(problems.seed_regression(), 64, {"weight": (-5, 8)}, seed=2)
    result.save(tmp_path / "r.npz")
    back = ls.RandomSearch.load(tmp_path / "r.npz")
    assert back == result and back.best_params.keys() == {"weight", "bias"}


def test_one_status_for_runs_sweeps_and_tables(tmp_path):
    assert [s.label for s in ls.Status] == ["ok", "converged", "not converged", "diverged"]
    traj = ls.run(problems.seed_regression(), optim.SGD(lr=np.array([0.1, 3.0])), steps=50)
    assert traj.status.tolist() == [ls.Status.OK, ls.Status.DIVERGED]
    sw = ls.sweep(problems.seed_regression(), optim.SGD, 50, lr=[1e-4, 0.1, 3.0])
    assert sw.status.tolist() == [ls.Status.NOT_CONVERGED, ls.Status.CONVERGED, ls.Status.DIVERGED]
    sw.to_csv(tmp_path / "s.csv")
    with open(tmp_path / "s.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["status"] for row in rows] == ["not converged", "converged", "diverged"]


def table_reference(sw, param_names=("bias", "weight"), scalar=np.generic.item) -> list[dict]:
    """Sweep.table's rows built one setting at a time from the sweep's arrays ("seed", when there, the last axis),
    each NumPy scalar as ``scalar`` makes it (default: a Python value)."""
    names = [name for name in sw.axes if name != "seed"]
    leaves = jax.tree_util.tree_leaves(sw.final_params)
    rows = []
    for index in np.ndindex(*(len(sw.axes[name]) for name in names)):
        row = {name: scalar(sw.axes[name][i]) for name, i in zip(names, index)}
        if "seed" in sw.axes:
            row["seeds"] = len(sw.axes["seed"])
            for name in ("final_loss", "best_loss", "steps_to_tol"):
                values = getattr(sw, name)[index]
                values = np.where(values >= 0, values, np.nan) if name == "steps_to_tol" else values
                row[name], row[f"{name}_std"] = scalar(np.mean(values)), scalar(np.std(values))
            row["converged"] = scalar(np.sum(sw.status[index] == ls.Status.CONVERGED))
            row["diverged"] = scalar(np.sum(sw.status[index] == ls.Status.DIVERGED))
        else:
            row.update({name: scalar(getattr(sw, name)[index]) for name in ("final_loss", "best_loss", "best_step")})
            row.update(status=ls.Status(int(sw.status[index])).label, diverged_at=scalar(sw.diverged_at[index]))
            if sw.steps_to_tol is not None:
                row["steps_to_tol"] = scalar(sw.steps_to_tol[index])
            values = [v for leaf in leaves for v in np.ravel(leaf[index])]
            row.update({f"final.{name}": scalar(v) for name, v in zip(param_names, values, strict=True)})
        rows.append(row)
    return rows


def csv_reference(sw, param_names=("bias", "weight")) -> str:
    """What Sweep.to_csv writes, by csv.DictWriter: each number as NumPy prints it at its own precision."""
    return dict_writer_text(table_reference(sw, param_names, scalar=str))


def dict_writer_text(rows: list[dict]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def made_up_sweep(axes: dict, leaves: dict, tol: bool = True) -> ls.Sweep:
    """A sweep of random summaries over ``axes`` (float32 losses, NaN where diverged, some inf), parameters
    ``{name: (leaf shape, dtype)}``."""
    rng = np.random.default_rng(0)
    shape = tuple(len(values) for values in axes.values())
    status = rng.integers(1, 4, shape).astype(np.int8)
    diverged = status == ls.Status.DIVERGED
    final_loss = np.where(diverged, np.nan, rng.lognormal(size=shape)).astype(np.float32)
    best_loss = np.where(rng.random(shape) < 0.2, np.inf, final_loss / 3).astype(np.float32)
    steps = rng.integers(-1, 50, shape).astype(np.int32)
    params = {name: rng.standard_normal(shape + leaf).astype(dtype) for name, (leaf, dtype) in leaves.items()}
    return ls.Sweep(axes={name: np.asarray(values) for name, values in axes.items()}, fixed={},
                    final_loss=final_loss, best_loss=best_loss, best_step=steps + 1,
                    steps_to_tol=steps if tol else None, status=status,
                    diverged_at=np.where(diverged, steps + 1, -1).astype(np.int32), final_params=params)


def test_sweep_csv_is_its_table_by_csv_dictwriter(tmp_path):
    sw = ls.sweep(problems.seed_regression(), optim.SGD, 30, lr=[0.05, 0.5, 3.0], momentum=[0.0, 0.9], seeds=3,
                  batch_size=10, tol=0.6)
    assert set(sw.status.ravel()) == {ls.Status.CONVERGED, ls.Status.NOT_CONVERGED, ls.Status.DIVERGED}
    sw.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes().decode() == csv_reference(sw)
    assert dict_writer_text(sw.table()) == dict_writer_text(table_reference(sw))


def test_sweep_csv_with_vector_leaves_and_no_tol(tmp_path):
    sw = made_up_sweep({"lr": [0.1, 1 / 3], "nesterov": [False, True], "step_size": [2, 5, 7]},
                       {"b": ((2,), np.float64), "w": ((2, 2), np.float32)}, tol=False)
    names = ["b[0]", "b[1]", "w[0,0]", "w[0,1]", "w[1,0]", "w[1,1]"]
    expected = csv_reference(sw, names)
    assert expected.startswith('lr,nesterov,step_size,final_loss,best_loss,best_step,status,diverged_at,final.b[0],'
                               'final.b[1],"final.w[0,0]"')  # names with commas quoted
    sw.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes().decode() == expected
    assert dict_writer_text(sw.table()) == dict_writer_text(table_reference(sw, names))


@pytest.mark.parametrize("seeds", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")  # std of seeds with an inf loss
def test_sweep_csv_of_many_blocks(tmp_path, monkeypatch, seeds):
    axes = {"lr": np.logspace(-3, 0, 5), "momentum": np.linspace(0, 0.9, 7), **({"seed": [4, 5, 6]} if seeds else {})}
    sw = made_up_sweep(axes, {"bias": ((), np.float32), "weight": ((), np.float32)})
    monkeypatch.setattr(results, "_TABLE_BLOCK", 4)  # 35 rows: 8 blocks of 4, then 3
    expected = csv_reference(sw)
    sw.to_csv(tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_bytes().decode() == expected
    assert dict_writer_text(sw.table()) == dict_writer_text(table_reference(sw))
    assert expected.count("\n") == 1 + 35
    part = sw.select(momentum=axes["momentum"][3])  # strided views of the sweep's arrays
    part.to_csv(tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_bytes().decode() == csv_reference(part)


def test_sweep_csv_numbers_read_back_exactly_in_their_fewest_digits(tmp_path):
    sw = made_up_sweep({"lr": np.float32([0.1, 1e-3]), "momentum": [0.9]}, {"w": ((), np.float32)})
    sw.to_csv(tmp_path / "s.csv")
    with open(tmp_path / "s.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["lr"] for row in rows] == ["0.1", "0.001"]  # float32 0.1, not 0.10000000149011612
    for row, loss, w in zip(rows, sw.final_loss.ravel(), sw.final_params["w"].ravel(), strict=True):
        for text, value in ((row["final_loss"], loss), (row["final.w"], w)):
            assert np.float32(text) == value or (np.isnan(value) and text == "nan")
            assert len(text.replace("-", "").replace(".", "").lstrip("0")) <= 9  # at most float32's 9 digits


def test_a_file_of_the_earlier_format_is_refused_clearly(tmp_path):
    path = tmp_path / "old.npz"
    header = {"kind": "LossMap", "version": "0.1.0", "x_label": "bias", "y_label": "weight"}  # the flat 0.1.0 header
    np.savez(path, values=np.zeros((2, 2)), xs=np.zeros(2), ys=np.zeros(2),
             __landscape__=np.frombuffer(json.dumps(header).encode(), np.uint8))
    with pytest.raises(ValueError, match=r"format of landscape 0\.1\.0, which this version .* does not read"):
        ls.LossMap.load(path)


def test_maps_and_lines_with_metrics_round_trip(tmp_path):
    values = np.arange(6.0).reshape(2, 3)
    m = ls.LossMap(values, np.arange(3.0), np.arange(2.0), "α", "β", meta={"problem": "p"},
                   metrics={"accuracy": values / 10, "test_loss": values + 1})
    m.save(tmp_path / "m.npz")
    back = ls.LossMap.load(tmp_path / "m.npz")
    assert back == m and back.metric("test_loss")[1, 2] == 6.0
    with pytest.raises(KeyError, match="loss, accuracy, test_loss"):
        m.metric("test_accuracy")
    line = ls.LossLine(np.array([3.0, 1.0, 2.0]), np.array([-1.0, 0.0, 1.0]), "t", grad=np.array([-2.0, 0.5, 1.0]),
                       metrics={"accuracy": np.array([0.1, 0.9, 0.5])})
    line.save(tmp_path / "l.npz")
    assert ls.LossLine.load(tmp_path / "l.npz") == line
    assert line.argmin == (0.0, 1.0)
    with pytest.raises(ValueError, match="LossMap"):
        ls.LossMap.load(tmp_path / "l.npz")


def test_sweep_coordinate_is_each_settings_path_of_one_scalar_parameter():
    prob = problems.logistic_regression()  # {"bias": scalar, "weight": (2,)}: names bias, weight[0], weight[1]
    lrs, momenta = np.array([0.05, 0.5, 2.0]), np.array([0.0, 0.9])
    sw = ls.sweep(prob, optim.SGD, 6, lr=lrs, momentum=momenta, keep="params")
    lr, momentum = (a.ravel() for a in np.meshgrid(lrs, momenta, indexing="ij"))  # the settings in C order
    traj = ls.run(prob, optim.SGD(lr=lr, momentum=momentum), 6)
    for name, paths in (("bias", traj.params["bias"]), ("weight[1]", traj.params["weight"][..., 1])):
        assert sw.coordinate(name).shape == (3, 2, 7)
        np.testing.assert_allclose(sw.coordinate(name).reshape(6, 7), paths, rtol=1e-6)
    with pytest.raises(ValueError, match=r"'weight' is not a parameter .* bias, weight\[0\], weight\[1\]"):
        sw.coordinate("weight")
    with pytest.raises(ValueError, match=r'keep="params"'):
        dataclasses.replace(sw, param_paths=None).coordinate("bias")  # a sweep run without keep="params"


def test_load_reads_any_result_and_compares_paths_in_one_file(tmp_path):
    prob = ls.problems.ols()
    paths = ls.compare(prob, [optim.SGD(lr=0.1), optim.Adam(lr=optim.StepLR(0.1, step_size=3))], 6, labels=["a", "b"],
                       record_grads=True)
    ls.save_trajectories(tmp_path / "c.npz", paths)
    loaded = ls.load(tmp_path / "c.npz")
    assert list(loaded) == ["a", "b"] and loaded == paths
    np.testing.assert_array_equal(loaded["b"].grads["slope"], paths["b"].grads["slope"])
    m = ls.loss_map(prob, ls.Axis("intercept", -1, 1, 3), ls.Axis("slope", -1, 1, 4))
    sw = ls.sweep(prob, optim.SGD, 3, lr=[0.1, 0.2])
    for name, result in (("m", m), ("t", paths["a"]), ("s", sw)):
        result.save(tmp_path / f"{name}.npz")
        back = ls.load(tmp_path / f"{name}.npz")
        assert type(back) is type(result) and back == result
    with pytest.raises(ValueError, match="holds a landscape 'Trajectories', not a 'Trajectory'"):
        ls.Trajectory.load(tmp_path / "c.npz")
    with pytest.raises(TypeError, match=r"non-empty \{label: Trajectory\} dict"):
        ls.save_trajectories(tmp_path / "x.npz", paths["a"])
    arrays = dict(np.load(tmp_path / "c.npz"))
    header = json.loads(arrays.pop("__landscape__").tobytes())
    del arrays["1/loss"]
    _serial.save_npz(tmp_path / "d.npz", "Trajectories", arrays, header["record"])
    with pytest.raises(ValueError, match=r"is a damaged Trajectories: missing arrays \['loss'\]"):
        ls.load(tmp_path / "d.npz")
    _serial.save_npz(tmp_path / "k.npz", "Hologram", {}, {})
    with pytest.raises(ValueError, match="holds a landscape 'Hologram', which this version does not read"):
        ls.load(tmp_path / "k.npz")

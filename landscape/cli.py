"""Command line: ``landscape problems`` and ``landscape map``.

Every bad input ends with one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise CLIError(f"{self.prog}: {message} (see --help)")


def _axis_spec(text: str):
    """Parse ``PARAM:LO:HI:NUM`` into (param, lo, hi, num)."""
    parts = text.rsplit(":", 3)
    if len(parts) != 4 or not parts[0]:
        raise argparse.ArgumentTypeError(f"axis {text!r} is not PARAM:LO:HI:NUM (e.g. bias:-5:8:101)")
    name, lo, hi, num = parts
    try:
        return name, float(lo), float(hi), int(num)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"axis {text!r}: LO and HI must be numbers and NUM an integer (e.g. bias:-5:8:101)"
        ) from None


def _check_writable(path: str | None, flag: str, suffixes: tuple[str, ...]) -> None:
    if path is None:
        return
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise CLIError(f"{flag} {path!r}: expected a file ending in {', '.join(suffixes)}")
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.is_dir():
        raise CLIError(f"{flag} {path!r}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CLIError(f"{flag} {path!r}: not writable")


def _build_problem(name: str, loss: str | None):
    from landscape import problems

    return problems.get(name) if loss is None else problems.get(name, loss=loss)


def _cmd_problems(args) -> int:
    from landscape import problems

    for name in problems.names():
        prob = problems.get(name)
        params = ", ".join(prob.names)
        params = params if len(params) <= 32 else params[:31] + "…"
        print(f"{name:20s} {params:32s}  {prob.description}")
    return 0


def _default_axes(prob, num: int = 201):
    if len(prob.names) < 2:
        raise CLIError(f"problem {prob.name!r} has {len(prob.names)} parameter; a map needs two (--x and --y)")
    if prob.bounds and len(prob.bounds) >= 2:
        (xn, xb), (yn, yb) = list(prob.bounds.items())[:2]
        return (xn, *xb, num), (yn, *yb, num)
    raise CLIError(f"problem {prob.name!r} has no default view; give --x PARAM:LO:HI:NUM and --y PARAM:LO:HI:NUM")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _map_figure(m, args, trajs=None):
    """The map alone (``--style``), or its 3-D surface (``--surface``), with ``trajs`` on it when given."""
    import landscape as ls

    plt = _pyplot()
    if getattr(args, "surface", False):
        fig = plt.figure(figsize=(7.2, 5.8), layout="constrained")
        ls.plot.surface(m, trajs=trajs, ax=fig.add_subplot(projection="3d"), log=args.log)
        return fig
    fig, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained")
    ls.plot.loss_map(m, ax=ax, kind=args.style, log=args.log)
    return fig


def _cmd_map(args) -> int:
    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    _check_writable(args.save, "--save", (".npz",))
    import landscape as ls

    prob = _build_problem(args.problem, args.loss)
    if args.x is None or args.y is None:
        default_x, default_y = _default_axes(prob)
    x_spec = args.x or default_x
    y_spec = args.y or default_y
    start = time.perf_counter()
    m = ls.loss_map(prob, ls.Axis(*x_spec), ls.Axis(*y_spec), memory_budget=args.memory_budget,
                    progress=False if args.quiet else None)
    elapsed = time.perf_counter() - start
    fig = _map_figure(m, args)
    ls.plot.save(fig, args.out, dpi=args.dpi)
    if args.save:
        m.save(args.save)
    x, y, value = m.argmin
    print(f"{args.out}: {prob.name} loss on {m.y_label} × {m.x_label} ({y_spec[3]}×{x_spec[3]} points, "
          f"{elapsed:.2f} s); grid minimum {value:.6g} at {m.x_label}={x:.4g}, {m.y_label}={y:.4g}"
          + (f"; numbers in {args.save}" if args.save else ""))
    return 0


# ---------------------------------------------------------------------------------------------- optimizers


def _optimizer_classes() -> dict:
    from landscape import optim

    names = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "NAdam", "RAdam", "Adamax", "Lion")
    return {name.lower(): getattr(optim, name) for name in names}


def _optimizer_class(name: str):
    classes = _optimizer_classes()
    if name.lower() not in classes:
        raise CLIError(f"unknown optimizer {name!r}; expected one of: {', '.join(classes)}")
    return classes[name.lower()]


def _hyperparameter(cls, name: str, text: str):
    """Parse ``text`` as the value of ``cls``'s field ``name`` (bool, pair or number, from the default's type)."""
    from landscape.optim import hyperparameter_names

    valid = hyperparameter_names(cls)
    if name not in valid:
        raise CLIError(f"optimizer {cls.__name__.lower()!r} has no hyperparameter {name!r}; valid: {', '.join(valid)}")
    default = cls._field_defaults.get(name)
    try:
        if isinstance(default, bool):
            return _boolean(text)
        if isinstance(default, tuple):
            values = tuple(float(v) for v in text.split(","))
            if len(values) != len(default):
                raise ValueError
            return values
        return float(text)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else "two numbers like 0.9,0.999" \
            if isinstance(default, tuple) else "a number"
        raise CLIError(f"{name}={text!r}: expected {kind}") from None


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


HYPERPARAMETERS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "betas", "eps", "amsgrad",
                   "alpha", "centered", "lr_decay", "initial_accumulator_value", "rho", "momentum_decay",
                   "decoupled_weight_decay")


def _global_hyperparameters(args) -> dict:
    return {name: getattr(args, name) for name in HYPERPARAMETERS if getattr(args, name, None) is not None}


def _build_optimizer(spec: str, shared: dict):
    """``NAME[:key=value[:key=value…]]`` plus the shared ``--lr``-style flags → an optimizer instance."""
    name, *pairs = spec.split(":")
    cls = _optimizer_class(name)
    texts = dict(shared)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--optimizer {spec!r}: expected NAME or NAME:key=value[:key=value], e.g. sgd:momentum=0.2")
        texts[key.replace("-", "_")] = value
    values = {key: _hyperparameter(cls, key, text) for key, text in texts.items()}
    from landscape.optim import build

    return build(cls, **values)


def _init_params(prob, text: str | None):
    """``--init``: every parameter in `landscape problems` order (``2,9``), or some by name (``slope=9``; the
    others keep the problem's start)."""
    if text is None:
        return None
    import numpy as np
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(prob.params)
    values = np.asarray(flat, np.float64)
    parts = [part.strip() for part in text.split(",")]
    try:
        if all("=" in part for part in parts):
            for part in parts:
                name, value = (piece.strip() for piece in part.split("=", 1))
                if name not in prob.names:
                    raise CLIError(f"--init: {prob.name!r} has no parameter {name!r}; parameters: "
                                   f"{', '.join(prob.names)}")
                values[prob.names.index(name)] = float(value)
        else:
            if len(parts) != len(prob.names):
                raise CLIError(f"--init {text!r}: {prob.name!r} has {len(prob.names)} parameters "
                               f"({', '.join(prob.names)}), got {len(parts)} values")
            values = np.asarray([float(v) for v in parts])
    except ValueError:
        raise CLIError(f"--init {text!r}: expected numbers, one per parameter ({', '.join(prob.names)}), "
                       "or NAME=VALUE pairs") from None
    return unravel(np.asarray(values, flat.dtype))


# ---------------------------------------------------------------------------------------------- run / compare


def _paths_map(prob, trajs: dict, args):
    """The loss map behind the paths: ``--x``/``--y``, else the problem's view widened to hold every path (201²
    points, through the start); None for a one-parameter problem."""
    import numpy as np

    import landscape as ls

    if len(prob.names) < 2:
        return None
    if args.x and args.y:
        x_name, y_name = args.x[0], args.y[0]
    else:
        x_name, y_name = (list(prob.bounds)[:2] if prob.bounds and len(prob.bounds) >= 2 else prob.names[:2])
    spans = []
    for name, spec, bound in ((x_name, args.x, (prob.bounds or {}).get(x_name)),
                              (y_name, args.y, (prob.bounds or {}).get(y_name))):
        if spec:
            spans.append(spec)
            continue
        coords = np.concatenate([t.coordinate(name) for t in trajs.values()])
        coords = coords[np.isfinite(coords)]
        lo, hi = (min(bound[0], coords.min()), max(bound[1], coords.max())) if bound else (coords.min(), coords.max())
        pad = 0.05 * max(hi - lo, 1e-3)
        spans.append((name, float(lo - pad), float(hi + pad), 201))
    center = _first_step(next(iter(trajs.values())).params)
    return ls.loss_map(prob, ls.Axis(*spans[0]), ls.Axis(*spans[1]), center=center, progress=False)


def _paths_figure(prob, trajs: dict, args, title: str, m=None):
    """Paths over the loss map ``m`` (``--style``; a 3-D surface with ``--surface``; the loss against the parameter
    for a one-parameter problem), and the loss curves beside it."""
    import landscape as ls

    plt = _pyplot()
    fig = plt.figure(figsize=(12.5, 5.2), layout="constrained")
    grid = fig.add_gridspec(1, 2, width_ratios=[1.2, 1])
    right = fig.add_subplot(grid[1])
    if m is not None and getattr(args, "surface", False):
        ls.plot.surface(m, trajs=trajs, ax=fig.add_subplot(grid[0], projection="3d"), log=args.log)
    elif m is not None:
        left = fig.add_subplot(grid[0])
        ls.plot.loss_map(m, ax=left, kind=args.style, log=args.log, mark_min=False)
        every = max(1, len(next(iter(trajs.values())).steps) // 25)  # at most ~25 markers (and arrows) per path
        ls.plot.trajectories(trajs, ax=left, x=m.x_label, y=m.y_label, arrows=getattr(args, "arrows", False),
                             every=every)
    else:  # one parameter: the path on the loss curve
        left = fig.add_subplot(grid[0])
        ls.plot.trajectories(trajs, ax=left, arrows=getattr(args, "arrows", False))
        _loss_curve(prob, left)
    ls.plot.loss_curves(trajs, ax=right)
    fig.suptitle(title)
    return fig


def _loss_curve(prob, ax) -> None:
    """A one-parameter problem's loss over the axes' horizontal range, under the paths drawn there."""
    import jax
    import numpy as np
    from jax.flatten_util import ravel_pytree

    _, unravel = ravel_pytree(prob.params)
    lo, hi = ax.get_xlim()
    ws = np.linspace(lo, hi, 401, dtype=np.float32)
    ax.plot(ws, np.asarray(jax.vmap(lambda w: prob.loss(unravel(w[None])))(ws)), color="grey", linewidth=1,
            zorder=1, label="_loss")
    ax.set_xlim(lo, hi)


def _write_gif(m, trajs: dict, args) -> str:
    """``--gif``: the paths unfolding over the map (or the surface with ``--surface``); returns a note for stdout."""
    import landscape as ls

    if not args.gif:
        return ""
    if m is None:
        raise CLIError("--gif needs a problem with two or more parameters (a map to draw the paths on)")
    animation = ls.plot.animate(m, trajs, args.gif, kind=args.style, log=args.log,
                                surface=getattr(args, "surface", False))
    return f"; animation in {args.gif} ({animation.frames} frames)"


def _first_step(params):
    """The parameters at step 0 of an unbatched trajectory's path."""
    import jax

    return jax.tree_util.tree_map(lambda leaf: leaf[0], params)


def _cmd_paths(args, optimizers: list) -> dict:
    import landscape as ls

    prob = _build_problem(args.problem, args.loss)
    init = _init_params(prob, args.init)
    shared = _global_hyperparameters(args)
    built = [_build_optimizer(spec, shared) for spec in optimizers]
    return prob, ls.compare(prob, built, args.steps, init=init, batch_size=args.batch_size, seed=args.seed,
                            record_grads=bool(getattr(args, "arrows", False)))


def _report_paths(trajs: dict) -> None:
    for label, traj in trajs.items():
        status = f"diverged at step {int(traj.diverged_at)}" if traj.diverged else \
            f"final loss {float(traj.loss[-1]):.6g}"
        print(f"  {label}: {status}; best {float(traj.best_loss):.6g} at step {int(traj.best_step)}")


def _draw_paths(args, optimizers: list, title) -> int:
    """``run`` and ``compare``: run the optimizers, draw their paths (and ``--gif``), save, report."""
    import landscape as ls

    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    _check_writable(args.gif, "--gif", (".gif", ".mp4"))
    save = getattr(args, "save", None)
    _check_writable(save, "--save", (".npz",))
    prob, trajs = _cmd_paths(args, optimizers)
    m = _paths_map(prob, trajs, args)
    ls.plot.save(_paths_figure(prob, trajs, args, title(prob, trajs), m), args.out, dpi=args.dpi)
    note = _write_gif(m, trajs, args)
    if save:
        next(iter(trajs.values())).save(save)
    print(f"{args.out}: {prob.name}" + (f"; trajectory in {save}" if save else "") + note)
    _report_paths(trajs)
    return 0


def _cmd_run(args) -> int:
    return _draw_paths(args, [args.optimizer],
                       lambda prob, trajs: f"{prob.name}: {next(iter(trajs))}, {args.steps} steps")


def _cmd_compare(args) -> int:
    return _draw_paths(args, args.optimizer,
                       lambda prob, trajs: f"{prob.name}: {len(trajs)} optimizers, {args.steps} steps")


# ---------------------------------------------------------------------------------------------- sweep


def _grid_spec(text: str):
    """``NAME=log:LO:HI:NUM`` | ``NAME=lin:LO:HI:NUM`` | ``NAME=v1,v2,…`` → (name, text) (values parsed later)."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise argparse.ArgumentTypeError(
            f"grid {text!r} is not NAME=log:LO:HI:NUM, NAME=lin:LO:HI:NUM or NAME=v1,v2,… (e.g. lr=log:1e-3:1:100)")
    return name.replace("-", "_"), values


def _grid_values(cls, name: str, text: str):
    import numpy as np

    kind, _, rest = text.partition(":")
    if kind in ("log", "lin"):
        parts = rest.split(":")
        try:
            lo, hi, num = float(parts[0]), float(parts[1]), int(parts[2])
            if len(parts) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise CLIError(f"--grid {name}={text}: expected {kind}:LO:HI:NUM, e.g. {name}={kind}:1e-3:1:100") from None
        if num < 1:
            raise CLIError(f"--grid {name}={text}: NUM must be ≥ 1, got {num} (an empty grid)")
        if kind == "log" and not (lo > 0 and hi > 0):
            raise CLIError(f"--grid {name}={text}: log ranges need LO > 0 and HI > 0")
        return np.logspace(np.log10(lo), np.log10(hi), num) if kind == "log" else np.linspace(lo, hi, num)
    values = [_hyperparameter(cls, name, v) for v in text.split(",") if v.strip()]
    if not values:
        raise CLIError(f"--grid {name}={text}: no values (an empty grid)")
    return np.asarray(values)


def _cmd_sweep(args) -> int:
    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    _check_writable(args.csv, "--csv", (".csv",))
    _check_writable(args.save, "--save", (".npz",))
    if not args.grid:
        raise CLIError("give at least one --grid NAME=…, e.g. --grid lr=log:1e-3:1:100")
    import landscape as ls

    prob = _build_problem(args.problem, args.loss)
    cls = _optimizer_class(args.optimizer)
    grid = {}
    for name, text in args.grid:
        _hyperparameter(cls, name, "0" if name not in cls._field_defaults else _default_text(cls, name))
        if name in grid:
            raise CLIError(f"--grid {name} is given twice")
        grid[name] = _grid_values(cls, name, text)
    fixed = {k: _hyperparameter(cls, k, v) for k, v in _global_hyperparameters(args).items() if k not in grid}
    start = time.perf_counter()
    sw = ls.sweep(prob, cls, args.steps, init=_init_params(prob, args.init), seeds=args.seeds,
                  batch_size=args.batch_size, tol=args.tol, memory_budget=args.memory_budget,
                  progress=False if args.quiet else None, **fixed, **grid)
    elapsed = time.perf_counter() - start
    ls.plot.save(_sweep_figure(sw), args.out, dpi=args.dpi)
    if args.csv:
        sw.to_csv(args.csv)
    if args.save:
        sw.save(args.save)
    counts = {status.label: int((sw.status == status).sum())
              for status in (ls.Status.CONVERGED, ls.Status.NOT_CONVERGED, ls.Status.DIVERGED)}
    best = sw.best()
    setting = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["setting"].items())
    print(f"{args.out}: {sw.size:,} settings × {args.steps} steps in {elapsed:.2f} s; "
          + ", ".join(f"{n} {k}" for k, n in counts.items())
          + f"; best final loss {best['final_loss']:.6g} at {setting}"
          + (f"; table in {args.csv}" if args.csv else "") + (f"; numbers in {args.save}" if args.save else ""))
    return 0


def _sweep_figure(sw):
    """One heatmap per combination of the axes beyond the first two (small multiples, at most 12)."""
    import itertools

    import landscape as ls

    _pyplot()
    extra = list(sw.axes)[2:]
    combos = list(itertools.product(*(sw.axes[name] for name in extra)))
    if len(combos) > 12:
        best = sw.best()["setting"]
        combos = [tuple(best[name] for name in extra)]
    cols = min(len(combos), 3)
    fig, axes = ls.plot.grid_figure(len(combos), cols=cols, size=(7, 5.8))
    for ax, combo in zip(axes, combos):  # a panel's title names the values of the extra axes it shows
        ls.plot.sweep(sw.select(**dict(zip(extra, combo))) if extra else sw, ax=ax)
    return fig


def _default_text(cls, name: str) -> str:
    default = cls._field_defaults[name]
    return ",".join(map(str, default)) if isinstance(default, tuple) else str(default)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="landscape", description="Loss landscapes and optimizer trajectories in JAX. Compiled "
                     "code is cached between runs in $LANDSCAPE_CACHE_DIR (default ~/.cache/landscape/jax); "
                     "--no-cache, anywhere on the command line, turns that off.")
    parser.add_argument("--no-cache", action="store_true", help="don't use the persistent compilation cache")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("problems", help="list the built-in problems and their parameters")
    p.set_defaults(func=_cmd_problems)

    p = sub.add_parser(
        "map",
        help="draw a problem's loss over two parameters",
        description="Evaluate a problem's loss on a dense grid over two parameters and draw it as a heatmap. "
        "Example: landscape map --problem seed-regression --x bias:-5:8:101 --y weight:-5:8:101 --out map.png",
    )
    _problem_arguments(p)
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM",
                   help="horizontal axis, e.g. bias:-5:8:101 (default: the problem's own view, 201 points)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="vertical axis, e.g. weight:-5:8:101")
    p.add_argument("--log", action="store_true", help="logarithmic colour scale")
    _drawing_arguments(p)
    p.add_argument("--out", default="map.png", help="image to write (.png, .pdf, .svg, .jpg; default map.png)")
    p.add_argument("--save", metavar="PATH.npz", help="also save the numbers (values, axes, metadata)")
    p.add_argument("--dpi", type=int, default=120, help="image resolution (default 120)")
    _chunk_arguments(p, "points")
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser(
        "run", help="run one optimizer and draw its path over the loss map",
        description="Run one optimizer on a problem and draw its path over the loss map, with its loss curve. "
        "Example: landscape run --problem seed-regression --optimizer sgd --lr 0.1 --steps 100 --out run.png")
    _problem_arguments(p)
    p.add_argument("--optimizer", required=True, help="sgd, adam, adamw, rmsprop, adagrad, adadelta, nadam, radam, "
                   "adamax or lion (optionally NAME:key=value, e.g. sgd:momentum=0.9)")
    _run_arguments(p, "run.png")
    p.add_argument("--save", metavar="PATH.npz", help="also save the trajectory")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "compare", help="run several optimizers from one start and draw their paths",
        description="Run several optimizers from the same start; draw their paths and loss curves. Example (seed "
        "004): landscape compare --problem ols --optimizer sgd --optimizer sgd:momentum=0.2 --optimizer rmsprop "
        "--optimizer adam --lr 0.1 --init slope=9,intercept=2 --steps 100 --out compare.png")
    _problem_arguments(p)
    p.add_argument("--optimizer", required=True, action="append",
                   help="repeat for each optimizer: NAME or NAME:key=value[:key=value], e.g. sgd:momentum=0.2")
    _run_arguments(p, "compare.png")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "sweep", help="run every combination of hyperparameter values; heatmap, CSV and numbers",
        description="Run the cartesian product of hyperparameter values in compiled batches. Example: landscape "
        "sweep --problem seed-regression --optimizer sgd --steps 1000 --grid lr=log:1e-3:1:100 "
        "--grid momentum=lin:0:0.99:100 --csv sweep.csv --out sweep.png. On CPU the settings are split over one "
        "JAX device per core (at most 8), which runs sweeps about twice as fast on 2 cores; JAX_NUM_CPU_DEVICES=N "
        "chooses another count.")
    _problem_arguments(p)
    p.add_argument("--optimizer", required=True, help="sgd, adam, adamw, rmsprop, adagrad, adadelta, nadam, radam, "
                   "adamax or lion")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps per setting")
    p.add_argument("--grid", type=_grid_spec, action="append", metavar="NAME=SPEC",
                   help="a swept hyperparameter: NAME=log:LO:HI:NUM, NAME=lin:LO:HI:NUM or NAME=v1,v2,… "
                   "(booleans: true,false; Adam's beta1/beta2); repeat for more axes, in order")
    _hyperparameter_arguments(p, "fixed hyperparameter")
    _start_arguments(p)
    p.add_argument("--seeds", type=int, default=1, help="number of shuffle seeds, a sweep axis when > 1")
    p.add_argument("--tol", type=float, help="converged when the final loss is ≤ TOL")
    p.add_argument("--out", default="sweep.png", help="heatmap image (default sweep.png)")
    p.add_argument("--csv", metavar="PATH.csv", help="one row per setting: hyperparameters and summaries")
    p.add_argument("--save", metavar="PATH.npz", help="also save the numbers")
    p.add_argument("--dpi", type=int, default=120, help="image resolution (default 120)")
    _chunk_arguments(p, "settings")
    p.set_defaults(func=_cmd_sweep)

    from landscape import bench  # the workloads run in their own processes

    p = sub.add_parser("bench", help="run the benchmark suite and print one table")
    bench.add_arguments(p)
    p.set_defaults(func=bench.command)
    return parser


def _problem_arguments(p) -> None:
    p.add_argument("--problem", required=True, help="a built-in problem (see `landscape problems`)")
    p.add_argument("--loss", help="loss for problems that take one: mse, l1, huber, smooth_l1")


def _hyperparameter_arguments(p, what: str) -> None:
    group = p.add_argument_group("hyperparameters (torch names; each applies where the optimizer has it)")
    for name in HYPERPARAMETERS:
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="V", help=f"{what} {name}")


def _start_arguments(p) -> None:
    p.add_argument("--init", metavar="P1,P2,…", help="starting parameters: all, in the order `landscape problems` "
                   "lists (2,9), or by name (slope=9)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default: full batch)")


def _chunk_arguments(p, items: str) -> None:
    p.add_argument("--memory-budget", type=int, metavar="BYTES", help=f"device memory per chunk of {items}")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _drawing_arguments(p) -> None:
    p.add_argument("--style", choices=("heatmap", "contour", "filled"), default="heatmap",
                   help="how to draw the map: heatmap (default), contour (labelled lines) or filled (filled contours "
                   "under labelled lines)")
    p.add_argument("--surface", action="store_true", help="draw the map as a 3-D surface (paths on it)")


def _run_arguments(p, default_out: str) -> None:
    _hyperparameter_arguments(p, "hyperparameter")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps")
    _start_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="shuffle seed for mini-batches")
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="map's horizontal axis (default: fit the paths)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="map's vertical axis")
    p.add_argument("--log", action="store_true", help="logarithmic colour scale for the map")
    _drawing_arguments(p)
    p.add_argument("--arrows", action="store_true",
                   help="draw the negative gradient at each point as an arrow, −lr·∇loss long (seed 004)")
    p.add_argument("--gif", metavar="PATH", help="also write an animation of the paths unfolding over the map "
                   "(.gif; .mp4 when ffmpeg is installed)")
    p.add_argument("--out", default=default_out, help=f"image to write (default {default_out})")
    p.add_argument("--dpi", type=int, default=120, help="image resolution (default 120)")


def compilation_cache_dir() -> str:
    """Where the CLI keeps JAX's persistent compilation cache: ``$LANDSCAPE_CACHE_DIR``, else the user cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("LANDSCAPE_CACHE_DIR") or os.path.join(base, "landscape", "jax")


def _enable_compilation_cache() -> None:
    """Let a second process reuse the first one's compiled code (silently skipped if the directory can't be made)."""
    directory = compilation_cache_dir()
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``landscape`` console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    use_cache = "--no-cache" not in argv  # accepted anywhere on the command line
    argv = [a for a in argv if a != "--no-cache"]
    try:
        args = parser.parse_args(argv)
        if use_cache and args.command not in (None, "problems", "bench"):
            _enable_compilation_cache()
        if args.command == "sweep":  # its settings shard over the devices: one per core (see landscape.devices)
            from landscape.devices import one_device_per_cpu_core

            with contextlib.suppress(RuntimeError):  # JAX already started in this process: keep its devices
                one_device_per_cpu_core()
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except BrokenPipeError:  # the reader left (`landscape problems | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 1
    except CLIError as err:
        print(f"landscape: error: {err}", file=sys.stderr)
    except (ValueError, TypeError, MemoryError, OSError) as err:
        print(f"landscape: error: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        print("landscape: interrupted", file=sys.stderr)
        return 130
    return 2

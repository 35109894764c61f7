"""Command line: ``landscape problems``, ``map``, ``run``, ``compare``, ``sweep``, ``plot``, ``explore`` and
``bench``.

``--problem`` names a built-in problem or a user's own (``FILE.py:FUNCTION`` / ``MODULE:FUNCTION``, see
:func:`load_problem`). Every bad input ends with one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from landscape._files import atomic_files

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


DPI_RANGE = (10, 2000)  # --dpi, as its help says: at 2000 a 7×6-inch figure is already 0.7 GB of pixels


def _dpi(text: str) -> int:
    """``--dpi``: a whole number of dots per inch within ``DPI_RANGE``."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not DPI_RANGE[0] <= value <= DPI_RANGE[1]:
        raise argparse.ArgumentTypeError(f"expected a whole number of dots per inch from {DPI_RANGE[0]} to "
                                         f"{DPI_RANGE[1]}, got {text!r}")
    return value


def _dpi_argument(p) -> None:
    p.add_argument("--dpi", type=_dpi, default=120, help=f"image resolution, {DPI_RANGE[0]}–{DPI_RANGE[1]} dots per "
                   "inch (default 120)")


def _check_writable(path: str | None, flag: str, suffixes: tuple[str, ...]) -> None:
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise CLIError(f"{flag} {path!r} is a directory; give a file name, e.g. {str(p / ('out' + suffixes[0]))!r}")
    if p.suffix.lower() not in suffixes:
        raise CLIError(f"{flag} {path!r}: expected a file ending in {', '.join(suffixes)}")
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.is_dir():
        raise CLIError(f"{flag} {path!r}: directory {str(directory)!r} does not exist")
    if not os.access(directory, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CLIError(f"{flag} {path!r}: not writable")


def _build_problem(spec: str, loss: str | None):
    """``--problem``: a built-in name, or ``FILE.py:FUNCTION`` / ``MODULE:FUNCTION`` (a user's own problem)."""
    from landscape import problems

    if _is_user_problem(spec):
        if loss is not None:
            raise CLIError(f"--loss applies to the built-in problems; {spec!r} builds its own loss (set it in "
                           "Problem.from_model(..., loss=...))")
        return load_problem(spec)
    if spec.replace("_", "-").lower() not in problems.names():
        hint = f" (for your own file, give its function: {spec}:make_problem)" if spec.endswith(".py") else \
            " (or your own: FILE.py:FUNCTION or MODULE:FUNCTION)"
        raise CLIError(f"unknown problem {spec!r}; expected one of: {', '.join(problems.names())}{hint}")
    return problems.get(spec) if loss is None else problems.get(spec, loss=loss)


# ---------------------------------------------------------------------------------------------- user problems


def _is_user_problem(spec: str) -> bool:
    return ":" in spec


def _one_line(err: BaseException) -> str:
    """``TypeName: first line of the message`` (a multi-line message, such as JAX's, is cut to its first line)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] + (" …" if len(lines) > 1 else "") if lines else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


@contextlib.contextmanager
def _on_sys_path(directory: str):
    """``directory`` first on ``sys.path`` while loading a user's module (its sibling imports resolve), then as
    before."""
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)
    try:
        yield
    finally:
        if added and directory in sys.path:
            sys.path.remove(directory)


def _import_file(path_text: str, spec: str):
    import hashlib
    import importlib.machinery
    import importlib.util

    path = Path(path_text).expanduser()
    if not path.is_file():
        what = "is a directory, not a Python file" if path.is_dir() else "not found"
        raise CLIError(f"--problem {spec!r}: file {path_text!r} {what}")
    path = path.resolve()
    name = f"_landscape_problem_{path.stem if path.stem.isidentifier() else 'file'}_" \
        f"{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    sys.modules[name] = module  # dataclasses and pickling look their module up by name
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as err:
        sys.modules.pop(name, None)
        raise CLIError(f"--problem {spec!r}: could not load {path_text!r}: {_one_line(err)}") from None
    return module


def _import_module(module_name: str, spec: str):
    import importlib

    if not all(part.isidentifier() for part in module_name.split(".")):
        raise CLIError(f"--problem {spec!r}: expected FILE.py:FUNCTION (e.g. my_model.py:make_problem) or "
                       f"MODULE:FUNCTION (e.g. mypackage.models:make_problem); {module_name!r} is neither")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
            raise CLIError(f"--problem {spec!r}: no module named {module_name!r} in the current directory or on "
                           f"sys.path (add its folder to PYTHONPATH, or give the file: path/to/"
                           f"{module_name.rsplit('.', 1)[-1]}.py:FUNCTION)") from None
        raise CLIError(f"--problem {spec!r}: could not import {module_name!r}: {_one_line(err)}") from None
    except (Exception, SystemExit) as err:
        raise CLIError(f"--problem {spec!r}: could not import {module_name!r}: {_one_line(err)}") from None


def load_problem(spec: str):
    """The :class:`landscape.Problem` that ``FILE.py:FUNCTION`` or ``MODULE:FUNCTION`` returns.

    The function is called with no arguments. A file is loaded with its own folder first on ``sys.path`` (so it
    can import the modules beside it); a module is imported with the current directory first on ``sys.path``.
    Every failure (no file, no module, no such function, the function raising or returning something else) is a
    :class:`CLIError` of one line.
    """
    import inspect

    import landscape as ls

    target, _, function = spec.rpartition(":")
    if not target or not function.isidentifier():
        raise CLIError(f"--problem {spec!r}: expected FILE.py:FUNCTION (e.g. my_model.py:make_problem) or "
                       "MODULE:FUNCTION (e.g. mypackage.models:make_problem)")
    is_file = target.endswith(".py") or "/" in target or os.sep in target
    directory = str(Path(target).expanduser().resolve().parent) if is_file else os.getcwd()
    where = repr(target)
    with _on_sys_path(directory):
        module = _import_file(target, spec) if is_file else _import_module(target, spec)
        if not hasattr(module, function):
            public = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                            and getattr(v, "__module__", None) == module.__name__)
            raise CLIError(f"--problem {spec!r}: {where} has no function {function!r}"
                           + (f"; its functions: {', '.join(public[:12])}{' …' if len(public) > 12 else ''}"
                              if public else ""))
        fn = getattr(module, function)
        if not callable(fn):
            raise CLIError(f"--problem {spec!r}: {function!r} in {where} is {_a(fn)}, not a function")
        with contextlib.suppress(TypeError, ValueError):  # builtins and some callables have no signature
            required = [p.name for p in inspect.signature(fn).parameters.values()
                        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if required:
                raise CLIError(f"--problem {spec!r}: {function} must take no arguments (it is called as "
                               f"{function}()), but it requires {', '.join(map(repr, required))}")
        try:
            problem = fn()
        except (Exception, SystemExit) as err:
            raise CLIError(f"--problem {spec!r}: {function} raised {_one_line(err)}") from None
    if not isinstance(problem, ls.Problem):
        raise CLIError(f"--problem {spec!r}: {function} returned {_a(problem)}, not a landscape.Problem (build one "
                       "with ls.Problem.from_model(model, params, x, y) or ls.Problem(name, fn, params, data))")
    return problem


def _a(value) -> str:
    """``a tuple``, ``None``, ``an int`` … for messages about what a user's function gave."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


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
    if len(prob.names) > 2:
        raise CLIError(f"problem {prob.name!r} has {len(prob.names):,} parameters and no default view; map it along "
                       f"two directions with --directions random (or --directions pca --steps N, around a training "
                       f"path), or name two parameters: --x {prob.names[0]}:LO:HI:NUM --y {prob.names[1]}:LO:HI:NUM")
    raise CLIError(f"problem {prob.name!r} has no default view; give --x {prob.names[0]}:LO:HI:NUM and "
                   f"--y {prob.names[1]}:LO:HI:NUM")


def _span_spec(text: str):
    """``--span``: ``LO:HI``, or ``R`` for ``-R:R``."""
    parts = text.split(":")
    try:
        lo, hi = (-abs(float(parts[0])), abs(float(parts[0]))) if len(parts) == 1 else map(float, parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"span {text!r} is not LO:HI or R (e.g. -1:1, or 1 for -1:1)") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"span {text!r}: LO must be less than HI (e.g. -1:1)")
    return lo, hi


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _map_figure(m, args, metric: str = "loss", path=None):
    """The map alone (``--style``), or its 3-D surface (``--surface``); ``metric`` names what is drawn (the loss or
    one of ``m.metrics``), ``path`` is a :class:`_PlanePath` drawn over it (``--directions pca``)."""
    import landscape as ls
    from landscape.plot.maps import surface_height

    plt = _pyplot()
    title = f"{m.meta.get('problem', '')} {metric}".strip()
    scale = _color_scale(args)
    surface = getattr(args, "surface", False)
    flat = not surface or args.style is not None  # --surface --style: the surface and the flat map side by side
    fig = plt.figure(figsize=(7.2 * surface + 6.4 * flat, 5.8 if surface else 5.2), layout="constrained")
    if surface:
        drawn = ls.plot.surface(m, metric=metric, ax=fig.add_subplot(1, 1 + flat, 1, projection="3d"),
                                title=title, **scale)
        if path is not None and metric == "loss":  # the path at its recorded loss (the metric's scale differs)
            z = surface_height(path.loss, log=scale["log"], sqrt=scale["sqrt"])
            drawn.ax.plot(path.coords[:, 0], path.coords[:, 1], z, color="black", marker="o", markersize=2,
                          linewidth=1.5, zorder=10, label=path.label)
            drawn.ax.legend(loc="upper left", fontsize="small")
        _axis_labels(drawn.ax, path)
    if not flat:
        return fig
    ax = fig.add_subplot(1, 1 + surface, 1 + surface)
    ls.plot.loss_map(m, metric=metric, ax=ax, kind=args.style or "heatmap", title=title, **scale)
    if path is not None:
        limits = ax.get_xlim(), ax.get_ylim()  # the map's view, whatever the path's extent
        ls.plot.plane_path(path.coords, ax=ax, label=path.label, color="black")
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.legend(loc="best", fontsize="small", framealpha=0.85)
    _axis_labels(ax, path)
    return fig


def _axis_labels(ax, path) -> None:
    if path is not None and path.variance is not None:
        ax.set_xlabel(f"{ax.get_xlabel()} ({path.variance[0]:.0%} of the path's variance)")
        ax.set_ylabel(f"{ax.get_ylabel()} ({path.variance[1]:.0%})")


class _PlanePath(NamedTuple):
    """A training path in a map's plane: ``coords`` ``(T, 2)``, its recorded ``loss`` ``(T,)``, a legend label and
    the fraction of its variance along each axis."""

    coords: Any
    loss: Any
    label: str
    variance: Any = None


def _map_plane(prob, args):
    """The map's axes and centre: ``--x``/``--y`` (or the problem's view), or two ``--directions``; with ``pca``
    also the training path, in the plane. Returns ``(x_axis, y_axis, center, path, meta)``."""
    import numpy as np

    import landscape as ls

    directions = args.directions
    trained = [f"--{name.replace('_', '-')}" for name in ("optimizer", "steps", "init", "batch_size", "schedule",
                                                          *HYPERPARAMETERS)
               if getattr(args, name, None) is not None]
    if directions != "pca" and trained:
        raise CLIError(f"{trained[0]} trains the model for --directions pca; "
                       + ("random directions need no training" if directions else "add --directions pca --steps N"))
    if directions is None:
        if args.span is not None:
            raise CLIError("--span sets the extent along --directions; with --x/--y, give PARAM:LO:HI:NUM")
        if args.num is not None and args.x is not None and args.y is not None:
            raise CLIError("--num: --x and --y already give their NUM")
        num = 201 if args.num is None else args.num
        if args.x is None or args.y is None:
            default_x, default_y = _default_axes(prob, num)
        x_spec, y_spec = args.x or default_x, args.y or default_y
        return ls.Axis(*x_spec), ls.Axis(*y_spec), None, None, {}
    if args.x is not None or args.y is not None:
        raise CLIError("give either --directions or --x/--y, not both (--directions maps along two directions "
                       "through all parameters, --x/--y along two named ones)")
    num = 51 if args.num is None else args.num
    if directions == "random":
        import jax

        if all(axis is None for axis in ls.directions.filter_axes(prob.params)):
            raise CLIError(f"--directions random: every parameter of {prob.name!r} is a scalar, bias or "
                           "normalisation parameter, which filter-normalised directions leave out; name two "
                           "parameters with --x/--y instead")
        dx, dy = ls.random_directions(prob.params, jax.random.PRNGKey(args.seed))
        (lo, hi) = args.span or (-1.0, 1.0)
        meta = {"kind": "random", "seed": args.seed, "normalization": "filter", "ignore": "biasbn"}
        return (ls.Axis(dx, lo, hi, num, label="direction 1"), ls.Axis(dy, lo, hi, num, label="direction 2"),
                None, None, meta)
    # pca: train, then the plane of the path's two principal components, through its last point
    if args.steps is None:
        raise CLIError("--directions pca trains the model first: give --steps N (and --optimizer, --lr, e.g. "
                       "--optimizer sgd --lr 0.1 --steps 200)")
    optimizer = _build_optimizer(args.optimizer or "sgd", _global_hyperparameters(args), args.schedule)
    traj = ls.run(prob, optimizer, args.steps, init=_init_params(prob, args.init), batch_size=args.batch_size,
                  seed=args.seed)
    plane = ls.directions.pca(traj)
    (x_lo, x_hi), (y_lo, y_hi) = (args.span, args.span) if args.span else plane.bounds()
    described = ls.optim.describe(optimizer)
    status = f"diverged at step {int(traj.diverged_at)}" if traj.diverged else \
        f"final loss {float(traj.loss[-1]):.6g}"
    path = _PlanePath(np.asarray(plane.coords), np.asarray(traj.loss, float), f"{described}, {args.steps} steps",
                      np.asarray(plane.explained_variance))
    meta = {"kind": "pca", "optimizer": described, "steps": args.steps, "batch_size": args.batch_size,
            "seed": args.seed, "status": status, "explained_variance": path.variance.tolist(),
            "path": path.coords.tolist(), "path_loss": path.loss.tolist()}
    return (ls.Axis(plane.dx, x_lo, x_hi, num, label="PC1"), ls.Axis(plane.dy, y_lo, y_hi, num, label="PC2"),
            plane.origin, path, meta)


def _map_metrics(prob, name: str) -> dict | None:
    """``--metric``: check ``name`` is something a map of ``prob`` computes (the loss; ``test_loss`` with held-out
    data; ``accuracy``, and ``test_accuracy`` with held-out data, for a classifier built with a model) and return
    the ``metrics`` the map needs for it."""
    classifier = prob.predictor is not None and prob.loss_name in ("cross_entropy", "nll")
    held_out = prob.held_out is not None
    available = ["loss"] + ["test_loss"] * held_out + ["accuracy"] * classifier + ["test_accuracy"] * (
        classifier and held_out)
    if name not in available:
        extra = "" if held_out else \
            " (test_loss needs held-out data: Problem.from_model(..., held_out=(x_test, y_test)))"
        raise CLIError(f"--metric {name!r}: a map of {prob.name!r} has {', '.join(available)}{extra}")
    import landscape as ls

    return {"accuracy": ls.losses.accuracy} if name.endswith("accuracy") else None


def _say(args, text: str) -> None:
    """A status line on stderr (what the command is doing now), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(f"landscape: {text}", file=sys.stderr, flush=True)


def _cmd_map(args) -> int:
    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    _check_writable(args.save, "--save", (".npz",))
    import dataclasses

    import landscape as ls
    from landscape.results import higher_is_better

    prob = _build_problem(args.problem, args.loss)
    metric = args.metric or "loss"
    metrics = _map_metrics(prob, metric)
    x_axis, y_axis, center, path, directions = _map_plane(prob, args)
    start = time.perf_counter()
    m = ls.loss_map(prob, x_axis, y_axis, center=center, metrics=metrics, memory_budget=args.memory_budget,
                    progress=False if args.quiet else None)
    elapsed = time.perf_counter() - start
    if directions:
        m = dataclasses.replace(m, meta={**m.meta, "directions": directions})
    _say(args, f"drawing {args.out} …")
    with atomic_files():  # the figure and its numbers appear together, or neither does
        ls.plot.save(_map_figure(m, args, metric=metric, path=path), args.out, dpi=args.dpi)
        if args.save:
            m.save(args.save)
    _say(args, f"saved {args.out}" + (f" and {args.save}" if args.save else ""))
    x, y, value = m.best(metric)
    word = "maximum" if higher_is_better(metric) else "minimum"
    print(f"{args.out}: {prob.name} {metric} on {m.y_label} × {m.x_label} ({y_axis.num}×{x_axis.num} points, "
          f"{elapsed:.2f} s); grid {word} {value:.6g} at {m.x_label}={x:.4g}, {m.y_label}={y:.4g}"
          + (f"; numbers in {args.save}" if args.save else ""))
    if path is not None:
        print(f"  path: {path.label}, {directions['status']}; PC1 and PC2 hold {path.variance[0]:.0%} and "
              f"{path.variance[1]:.0%} of its variance")
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
            values = tuple(_finite(v) for v in text.split(","))
            if len(values) != len(default):
                raise ValueError
            return values
        return _finite(text)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else "two finite numbers like 0.9,0.999" \
            if isinstance(default, tuple) else "a finite number"
        raise CLIError(f"{name}={text!r}: expected {kind}") from None


def _finite(text: str) -> float:
    """``text`` as a finite float; else a ValueError (``inf`` and ``nan`` parse as floats, but no setting is one)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


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


def _build_optimizer(spec: str, shared: dict, schedules: list | None = None):
    """``NAME[:key=value[:key=value…]]`` plus the shared ``--lr``-style flags → an optimizer instance, its lr
    wrapped in the ``--schedule`` specs when given."""
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

    optimizer = build(cls, **values)
    return optimizer._replace(lr=_schedule(schedules, optimizer.lr)) if schedules else optimizer


# ---------------------------------------------------------------------------------------------- schedules

SCHEDULE_NAMES = {"step": "StepLR", "exponential": "ExponentialLR", "cosine": "CosineAnnealingLR",
                  "warmup": "LinearWarmup", "plateau": "ReduceLROnPlateau"}
_COUNT_FIELDS = ("step_size", "T_max", "warmup_steps", "patience", "cooldown")  # schedule fields counted in steps


def _schedule_classes() -> dict:
    """``--schedule`` names: the short ones, then every schedule class of :mod:`landscape.optim` by its lower-cased
    name (``cosineannealinglr``), → the class."""
    from landscape import optim

    classes = {name: getattr(optim, cls_name) for name, cls_name in SCHEDULE_NAMES.items()}
    for cls_name in optim.__all__:
        cls = getattr(optim, cls_name)
        if isinstance(cls, type) and issubclass(cls, optim.Schedule) and cls not in (optim.Schedule, optim.Constant):
            classes[cls_name.lower()] = cls
    return classes


def _schedule(specs: list, lr):
    """``--schedule NAME[:key=value…]`` (repeatable: each but the last a warm-up into the next) around the base
    learning rate ``lr``, e.g. ``["warmup:warmup_steps=10", "cosine:T_max=100"]`` →
    ``LinearWarmup(CosineAnnealingLR(lr, T_max=100), warmup_steps=10)``."""
    from landscape import optim

    classes = _schedule_classes()
    parsed = []
    for spec in specs:
        name, *pairs = spec.split(":")
        cls = classes.get(name.strip().lower())
        if cls is None:
            raise CLIError(f"--schedule {spec!r}: unknown schedule {name!r}; expected one of: {', '.join(classes)}")
        parsed.append((spec, cls, pairs))
    for spec, cls, _ in parsed[:-1]:
        if cls is not optim.LinearWarmup:
            raise CLIError(f"--schedule {spec!r}: only warmup may come before another --schedule (it warms up into "
                           f"the next one); give {cls.__name__} last")
    schedule = lr
    for spec, cls, pairs in reversed(parsed):
        schedule = cls(lr=schedule, **_schedule_values(spec, cls, pairs))
    return schedule


def _schedule_values(spec: str, cls, pairs: list) -> dict:
    """``key=value`` pairs of a ``--schedule`` as ``cls``'s fields: whole numbers for the counts of steps, words
    for the modes, finite numbers otherwise."""
    valid = [name for name in cls._fields if name != "lr"]
    values = {}
    for pair in pairs:
        key, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not key or not text:
            raise CLIError(f"--schedule {spec!r}: expected NAME:key=value[:key=value], e.g. cosine:T_max=100")
        if key == "lr":
            raise CLIError(f"--schedule {spec!r}: the schedule starts from the optimizer's lr; set it with --lr")
        if key not in valid:
            raise CLIError(f"--schedule {spec!r}: {cls.__name__} has no parameter {key!r}; valid: {', '.join(valid)}")
        default = cls._field_defaults.get(key)
        try:
            if isinstance(default, str):
                values[key] = text
            elif key in _COUNT_FIELDS:
                values[key] = int(text)
            else:
                values[key] = _finite(text)
        except ValueError:
            kind = "a whole number of steps" if key in _COUNT_FIELDS else "a finite number"
            raise CLIError(f"--schedule {spec!r}: {key}={text!r}: expected {kind}") from None
    missing = [name for name in valid if name not in cls._field_defaults and name not in values]
    if missing:
        raise CLIError(f"--schedule {spec!r}: {cls.__name__} needs {' and '.join(missing)}, e.g. "
                       f"{spec.split(':')[0]}:" + ":".join(f"{name}=…" for name in missing))
    return values


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
            given = set()
            for part in parts:
                name, value = (piece.strip() for piece in part.split("=", 1))
                if name not in prob.names:
                    raise CLIError(f"--init: {prob.name!r} has no parameter {name!r}; parameters: "
                                   f"{', '.join(prob.names)}")
                if name in given:
                    raise CLIError(f"--init {text!r}: {name} is given twice")
                given.add(name)
                values[prob.names.index(name)] = _finite(value)
        else:
            if len(parts) != len(prob.names):
                raise CLIError(f"--init {text!r}: {prob.name!r} has {len(prob.names)} parameters "
                               f"({', '.join(prob.names)}), got {len(parts)} values")
            values = np.asarray([_finite(v) for v in parts])
    except ValueError:
        raise CLIError(f"--init {text!r}: expected finite numbers, one per parameter ({', '.join(prob.names)}), "
                       "or NAME=VALUE pairs") from None
    return unravel(np.asarray(values, flat.dtype))


# ---------------------------------------------------------------------------------------------- run / compare


def _paths_map(prob, trajs: dict, args):
    """The loss map behind the paths: ``--x``/``--y``, else the problem's view widened to hold every path that did
    not diverge (``plot.paths.view_box``: a diverged path is drawn until it leaves the map; 201² points, through the
    start); None for a one-parameter problem."""
    import landscape as ls
    from landscape.plot.paths import path_data, view_box

    if len(prob.names) < 2:
        return None
    if args.x and args.y:
        x_name, y_name = args.x[0], args.y[0]
    else:
        x_name, y_name = (list(prob.bounds)[:2] if prob.bounds and len(prob.bounds) >= 2 else prob.names[:2])
    box = view_box(path_data(trajs, x=x_name, y=y_name))
    spans = []
    for axis, (name, spec, bound) in enumerate(((x_name, args.x, (prob.bounds or {}).get(x_name)),
                                                (y_name, args.y, (prob.bounds or {}).get(y_name)))):
        if spec:
            spans.append(spec)
            continue
        extents = [extent for extent in (bound, box and box[axis]) if extent] or [(-1.0, 1.0)]  # (no finite point)
        lo, hi = min(lo for lo, _ in extents), max(hi for _, hi in extents)
        pad = 0.05 * max(hi - lo, 1e-3)
        spans.append((name, float(lo - pad), float(hi + pad), 201))
    center = _first_step(next(iter(trajs.values())).params)
    return ls.loss_map(prob, ls.Axis(*spans[0]), ls.Axis(*spans[1]), center=center, progress=False)


def _paths_figure(prob, trajs: dict, args, title: str, m=None):
    """Paths over the loss map ``m`` (``--style``; a 3-D surface with ``--surface``; the loss against the parameter
    for a one-parameter problem), and the loss curves beside it."""
    import landscape as ls

    plt = _pyplot()
    scale = _color_scale(args)
    surface = m is not None and getattr(args, "surface", False)
    both = surface and args.style is not None  # --surface --style: the surface, then the flat map
    fig = plt.figure(figsize=(18.5 if both else 12.5, 5.2), layout="constrained")
    grid = fig.add_gridspec(1, 2 + both, width_ratios=[1.2] * (1 + both) + [1])
    right = fig.add_subplot(grid[-1])
    if surface:
        ls.plot.surface(m, trajs=trajs, ax=fig.add_subplot(grid[0], projection="3d"), **scale)
    if m is not None and (both or not surface):
        left = fig.add_subplot(grid[int(both)])
        ls.plot.loss_map(m, ax=left, kind=args.style or "heatmap", mark_min=False, **scale)
        every = max(1, len(next(iter(trajs.values())).steps) // 25)  # at most ~25 markers (and arrows) per path
        ls.plot.trajectories(trajs, ax=left, x=m.x_label, y=m.y_label, arrows=getattr(args, "arrows", False),
                             every=every)
    elif m is None:  # one parameter: the path on the loss curve
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
    animation = ls.plot.animate(m, trajs, args.gif, kind=args.style or "heatmap",
                                surface=getattr(args, "surface", False), **_color_scale(args))
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
    built = [_build_optimizer(spec, shared, args.schedule) for spec in optimizers]
    return prob, ls.compare(prob, built, args.steps, init=init, batch_size=args.batch_size, seed=args.seed,
                            record_grads=bool(getattr(args, "arrows", False)), progress=False if args.quiet else None)


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
    several = args.command == "compare"  # (compare saves its dict of trajectories, run the one)
    with atomic_files():  # the figure, animation and trajectory appear together, or none does
        ls.plot.save(_paths_figure(prob, trajs, args, title(prob, trajs), m), args.out, dpi=args.dpi)
        note = _write_gif(m, trajs, args)
        if save and several:
            ls.save_trajectories(save, trajs)
        elif save:
            next(iter(trajs.values())).save(save)
    saved = f"; {'trajectories' if several else 'trajectory'} in {save}" if save else ""
    print(f"{args.out}: {prob.name}{saved}{note}")
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
            lo, hi, num = _finite(parts[0]), _finite(parts[1]), int(parts[2])
            if len(parts) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise CLIError(f"--grid {name}={text}: expected {kind}:LO:HI:NUM with finite LO and HI, e.g. "
                           f"{name}={kind}:1e-3:1:100") from None
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
    import landscape as ls

    prob = _build_problem(args.problem, args.loss)
    sw, elapsed = _run_sweep(args, prob, _sweep_request(args, prob))
    written = [args.out] + [path for path in (args.csv, args.save) if path]
    _say(args, f"drawing {args.out}" + (f" and writing {', '.join(written[1:])}" if written[1:] else "") + " …")
    with atomic_files():  # the figure, table and numbers appear together, or none does
        ls.plot.save(_sweep_figure(sw), args.out, dpi=args.dpi)
        if args.csv:
            sw.to_csv(args.csv)
        if args.save:
            sw.save(args.save)
    _say(args, f"saved {', '.join(written)}")
    counts = {status.label: int((sw.status == status).sum())
              for status in (ls.Status.CONVERGED, ls.Status.NOT_CONVERGED, ls.Status.DIVERGED)}
    print(f"{args.out}: {sw.size:,} settings × {args.steps} steps in {elapsed:.2f} s; "
          + ", ".join(f"{n} {k}" for k, n in counts.items())
          + (f"; table in {args.csv}" if args.csv else "") + (f"; numbers in {args.save}" if args.save else ""))
    try:
        print(_best_line(sw.best()))
    except ValueError:  # every setting diverged
        print("best: none, every setting diverged" + (" in some seed" if "seed" in sw.axes else ""))
    return 0


def _best_line(best: dict) -> str:
    """``landscape sweep``'s report of :meth:`Sweep.best`: the setting, its loss and steps (mean ± std over seeds),
    the rule and the ties."""
    setting = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["setting"].items())
    seeds = best.get("seeds")

    def spread(name: str) -> str:
        return f" ± {best[name + '_std']:.2g}" if seeds else ""

    steps = "" if best["steps_to_tol"] is None else \
        f", loss ≤ {best['tol']:.6g} after {best['steps_to_tol']:.4g}{spread('steps_to_tol')} steps"
    within = f"the {best['within_tol']:,} settings within tol"
    ties = f"{best['tied']:,} of {within} tie" if best["tied"] > 1 else f"no tie among {within}"
    return (f"best{f' (mean ± std over {seeds} seeds)' if seeds else ''}: {setting}: final loss "
            f"{best['final_loss']:.6g}{spread('final_loss')}{steps}; rule: {best['rule']}; {ties}")


def _sweep_request(args, prob) -> tuple[type, dict]:
    """``sweep`` and ``explore``: the sweep of ``prob`` that ``--optimizer``, ``--grid``, the fixed hyperparameters
    and the start flags ask for, checked before any work: ``(optimizer class, ls.sweep's keywords)``."""
    if not args.grid:
        raise CLIError("give at least one --grid NAME=…, e.g. --grid lr=log:1e-3:1:100")
    cls = _optimizer_class(args.optimizer)
    grid = {}
    for name, text in args.grid:
        _hyperparameter(cls, name, "0" if name not in cls._field_defaults else _default_text(cls, name))
        if name in grid:
            raise CLIError(f"--grid {name} is given twice")
        grid[name] = _grid_values(cls, name, text)
    given = _global_hyperparameters(args)
    both = [name for name in grid if name in given]
    if both:
        raise CLIError(f"--{both[0].replace('_', '-')} {given[both[0]]} and --grid {both[0]}=… both set {both[0]}: "
                       f"give the flag to fix it or the grid to sweep it, not both")
    fixed = {k: _hyperparameter(cls, k, v) for k, v in given.items()}
    if args.schedule:
        if "lr" in grid:
            raise CLIError("--schedule starts from one base lr; a sweep of --grid lr=… under a schedule is not "
                           "supported: fix the base lr with --lr, or sweep without --schedule")
        fixed["lr"] = _schedule(args.schedule, fixed.get("lr", cls._field_defaults["lr"]))
    return cls, dict(init=_init_params(prob, args.init), seeds=args.seeds, batch_size=args.batch_size, tol=args.tol,
                     memory_budget=args.memory_budget, progress=False if args.quiet else None, **fixed, **grid)


def _run_sweep(args, prob, request: tuple[type, dict], keep: str | None = None):
    """The sweep of :func:`_sweep_request`'s ``request``: ``(sweep, seconds)``."""
    import landscape as ls

    cls, kwargs = request
    start = time.perf_counter()
    sw = ls.sweep(prob, cls, args.steps, keep=keep, **kwargs)
    return sw, time.perf_counter() - start


def _cmd_explore(args) -> int:
    import importlib.util

    _check_writable(args.out, "--out", (".html", ".htm"))
    if importlib.util.find_spec("plotly") is None:
        raise CLIError("explore draws its page with plotly, an optional extra: pip install 'landscape[explore]'")
    import landscape as ls

    if args.points is not None and args.points < 2:
        raise CLIError(f"--points {args.points}: give at least 2 recorded steps per path")
    prob = _build_problem(args.problem, args.loss)
    request = _sweep_request(args, prob)  # (checked before the map is computed)
    if args.x is None or args.y is None:
        default_x, default_y = _default_axes(prob)
    m = ls.loss_map(prob, ls.Axis(*(args.x or default_x)), ls.Axis(*(args.y or default_y)),
                    center=request[1]["init"], progress=False)
    sw, elapsed = _run_sweep(args, prob, request, keep="params")
    _say(args, f"writing {args.out} …")
    path = ls.plot.explore(m, sw, args.out, points=args.points)
    diverged = int((sw.status == ls.Status.DIVERGED).sum())
    print(f"{args.out}: {sw.size:,} settings × {args.steps} steps ({elapsed:.2f} s, {diverged:,} diverged) over the "
          f"{m.y_label} × {m.x_label} map, {path.stat().st_size / 1e6:.1f} MB; open it in a browser")
    return 0


# ---------------------------------------------------------------------------------------------- plot


def _cmd_plot(args) -> int:
    """``landscape plot``: saved results drawn as the command that made them would draw them."""
    import landscape as ls

    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    results = [(path, ls.load(path)) for path in args.files]
    maps = [(path, r) for path, r in results if isinstance(r, ls.LossMap)]
    paths = [(path, r) for path, r in results if isinstance(r, (ls.Trajectory, dict))]
    alone = [(path, r) for path, r in results if not isinstance(r, (ls.LossMap, ls.Trajectory, dict))]
    if alone and len(results) > 1:
        raise CLIError(f"{alone[0][0]} holds a {type(alone[0][1]).__name__}, which is drawn alone; give it by itself")
    if len(maps) > 1:
        raise CLIError(f"{maps[0][0]} and {maps[1][0]} are both maps; give one (the paths are drawn over one map)")
    map_flags = [flag for flag, value in (("--style", args.style), ("--surface", args.surface),
                                          ("--log", args.log), ("--color", args.color), ("--metric", args.metric))
                 if value]
    if map_flags and not maps:
        raise CLIError(f"{map_flags[0]} draws a map; {', '.join(args.files)} hold no LossMap")
    m = maps[0][1] if maps else None
    if alone:
        fig = _single_result_figure(*alone[0])
    elif paths:
        fig = _saved_paths_figure(paths, m, maps[0][0] if maps else None, args)
    else:
        metric = args.metric or "loss"
        if metric not in ("loss", *m.metrics):
            raise CLIError(f"--metric {metric!r}: {maps[0][0]} holds {', '.join(['loss', *m.metrics])}")
        fig = _map_figure(m, args, metric=metric, path=_saved_plane_path(m))
    ls.plot.save(fig, args.out, dpi=args.dpi)
    kinds = ", ".join("trajectories" if isinstance(r, dict) else type(r).__name__ for _, r in results)
    print(f"{args.out}: {kinds} from {', '.join(args.files)}")
    return 0


def _single_result_figure(path: str, result):
    """A sweep's heatmaps (as ``landscape sweep`` draws them) or a 1-D slice's curves."""
    import landscape as ls

    if isinstance(result, ls.Sweep):
        return _sweep_figure(result)
    if isinstance(result, ls.LossLine):
        return ls.plot.loss_line(result).ax.figure
    raise CLIError(f"{path} holds a {type(result).__name__}, which landscape plot does not draw (it draws maps, "
                   "trajectories, sweeps and 1-D slices)")


def _saved_paths_figure(found: list, m, map_path, args):
    """Trajectory files' paths over the map ``m`` with their loss curves (as ``run``/``compare`` draw them), or
    their loss curves alone without a map."""
    import landscape as ls

    from landscape.runs import unique_labels

    items = []
    for path, result in found:  # compare's labels; a run's optimizer (a batch: the file's name, then each setting)
        items += result.items() if isinstance(result, dict) else [(
            ls.optim.describe(result.optimizer) if isinstance(result.optimizer, ls.optim.Optimizer)
            and not result.batch_shape else Path(path).stem, result)]
    trajs = dict(zip(unique_labels([label for label, _ in items]), (traj for _, traj in items)))
    first = next(iter(trajs.values()))
    title = f"{first.meta.get('problem', '')}: {len(trajs)} path{'s' * (len(trajs) > 1)}".lstrip(": ")
    if m is not None:
        missing = [name for name in (m.x_label, m.y_label) if name not in first.names]
        if missing:
            raise CLIError(f"{map_path} maps {m.x_label} × {m.y_label}, but {missing[0]!r} is not a parameter of the "
                           f"trajectories ({', '.join(first.names[:6])}{' …' if len(first.names) > 6 else ''}); give "
                           "a map of two of their parameters")
        return _paths_figure(None, trajs, args, title, m)
    fig, ax = _pyplot().subplots(figsize=(6.4, 5.2), layout="constrained")
    ls.plot.loss_curves(trajs, ax=ax)
    ax.set_title(title)
    return fig


def _saved_plane_path(m):
    """The training path that ``map --directions pca`` saved in the map's metadata, or None."""
    import numpy as np

    saved = m.meta.get("directions")
    if not (isinstance(saved, dict) and saved.get("kind") == "pca" and saved.get("path")):
        return None
    coords = np.asarray(saved["path"], float)
    loss = np.asarray(saved.get("path_loss", [np.nan] * len(coords)), float)
    variance = saved.get("explained_variance")
    return _PlanePath(coords, loss, f"{saved.get('optimizer', 'path')}, {saved.get('steps', '?')} steps",
                      None if variance is None else np.asarray(variance, float))


def _sweep_figure(sw):
    """One heatmap per combination of the axes beyond the first two (small multiples, at most 12)."""
    import itertools

    import landscape as ls

    _pyplot()
    extra = [name for name in sw.axes if name != "seed"][2:]  # a heatmap shows the mean over seeds
    combos = list(itertools.product(*(sw.axes[name] for name in extra)))
    if len(combos) > 12:  # the best setting's panel (the first one when every setting diverged)
        try:
            best = sw.best()["setting"]
            combos = [tuple(best[name] for name in extra)]
        except ValueError:
            combos = combos[:1]
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

    p = sub.add_parser("problems", help="list the built-in problems and their parameters (your own model: "
                       "--problem FILE.py:FUNCTION)")
    p.set_defaults(func=_cmd_problems)

    p = sub.add_parser(
        "map",
        help="draw a problem's loss over two parameters, or two directions through all of them",
        description="Evaluate a problem's loss on a dense grid over a plane of parameter space and draw it as a "
        "heatmap. The plane is spanned by two named parameters (--x, --y; default: the problem's own view), or, for "
        "a model with many parameters, by two directions through all of them (--directions). "
        "Examples: landscape map --problem seed-regression --x bias:-5:8:101 --y weight:-5:8:101 --out map.png; "
        "landscape map --problem my_model.py:make_problem --directions random --out random.png; "
        "landscape map --problem my_model.py:make_problem --directions pca --optimizer sgd --lr 0.1 --steps 200 "
        "--out pca.png.",
    )
    _problem_arguments(p)
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM",
                   help="horizontal axis, e.g. bias:-5:8:101 (default: the problem's own view, 201 points)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="vertical axis, e.g. weight:-5:8:101")
    p.add_argument("--directions", choices=("random", "pca"),
                   help="instead of --x/--y, map along two directions through all parameters: random = two "
                   "Gaussian directions, filter-normalised, biases and normalisation parameters left out (Li et al. "
                   "2018), centred on the problem's parameters; pca = train first (--optimizer, --lr, --steps, …) "
                   "and map the plane of the path's two principal components, centred on its last point, with "
                   "the path drawn on it")
    p.add_argument("--span", type=_span_spec, metavar="LO:HI",
                   help="with --directions: offsets along both directions, e.g. -1:1 (or 1 for -1:1; write "
                   "--span=-2:2 or --span -2:2); default -1:1 for random, the path's extent plus a quarter on "
                   "each side for pca")
    p.add_argument("--num", type=int, metavar="N",
                   help="points along each axis (default 51 with --directions, 201 for the problem's view)")
    p.add_argument("--seed", type=int, default=0,
                   help="random: the directions' seed (jax.random.PRNGKey(SEED)); pca: the mini-batch shuffle seed "
                   "(default 0)")
    p.add_argument("--metric", metavar="NAME",
                   help="what to draw: loss (default), test_loss (the loss on the problem's held-out data, for a "
                   "problem built with Problem.from_model(..., held_out=(x_test, y_test))), accuracy or test_accuracy "
                   "(for a classifier: a model with a cross-entropy or NLL loss)")
    _drawing_arguments(p)
    p.add_argument("--out", default="map.png", help="image to write (.png, .pdf, .svg, .jpg; default map.png)")
    p.add_argument("--save", metavar="PATH.npz", help="also save the numbers (values, axes, metadata; with "
                   "--directions pca the path's coordinates in the plane too, in meta['directions'])")
    _dpi_argument(p)
    _chunk_arguments(p, "points")
    training = p.add_argument_group("training for --directions pca")
    training.add_argument("--optimizer", help=f"{_OPTIMIZER_HELP} (default sgd)")
    training.add_argument("--steps", type=int, help="optimizer steps (required with --directions pca)")
    _start_arguments(training)
    _hyperparameter_arguments(p, "hyperparameter", "hyperparameters for --directions pca")
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser(
        "run", help="run one optimizer and draw its path over the loss map",
        description="Run one optimizer on a problem and draw its path over the loss map, with its loss curve. "
        "Example: landscape run --problem seed-regression --optimizer sgd --lr 0.1 --steps 100 --out run.png")
    _problem_arguments(p)
    p.add_argument("--optimizer", required=True, help=_OPTIMIZER_HELP)
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
    p.add_argument("--save", metavar="PATH.npz", help="also save every trajectory, in one file (ls.load(PATH) gives "
                   "back the {label: Trajectory} dict; landscape plot PATH redraws it)")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser(
        "sweep", help="run every combination of hyperparameter values; heatmap, CSV and numbers",
        description="Run the cartesian product of hyperparameter values in compiled batches. Example: landscape "
        "sweep --problem seed-regression --optimizer sgd --steps 1000 --grid lr=log:1e-3:1:100 "
        "--grid momentum=lin:0:0.99:100 --csv sweep.csv --out sweep.png. On CPU the settings are split over one "
        "JAX device per core (at most 8): 2× faster on 2 cores for 10,000 settings × 1000 steps (landscape bench), "
        "where sweeps of a few steps per setting ran as fast on one; JAX_NUM_CPU_DEVICES=N chooses another count.")
    _sweep_arguments(p, "sweep axis")
    p.add_argument("--out", default="sweep.png", help="heatmap image (default sweep.png)")
    p.add_argument("--csv", metavar="PATH.csv", help="one row per setting: hyperparameters and summaries")
    p.add_argument("--save", metavar="PATH.npz", help="also save the numbers")
    _dpi_argument(p)
    _chunk_arguments(p, "settings")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "explore", help="an interactive page: a sweep's paths over the loss map, one slider per hyperparameter",
        description="Run a sweep that keeps every setting's path and write one self-contained HTML page (it works "
        "offline; needs plotly: pip install 'landscape[explore]'): the loss map, one slider per swept "
        "hyperparameter, and the chosen setting's path over the map beside its loss curve, divergence marked. "
        "Example: landscape explore --problem seed-regression --optimizer sgd --steps 100 "
        "--grid lr=log:1e-3:1:30 --grid momentum=lin:0:0.99:20 --out explore.html")
    _sweep_arguments(p, "slider")
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM",
                   help="the map's horizontal axis, e.g. bias:-5:8:201 (default: the problem's own view)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="the map's vertical axis")
    p.add_argument("--points", type=int, metavar="N", help="recorded steps per path kept in the page (default up "
                   "to 200, fewer for big sweeps, to keep the page a few MB)")
    p.add_argument("--out", default="explore.html", help="the page to write (.html; default explore.html)")
    _chunk_arguments(p, "settings")
    p.set_defaults(func=_cmd_explore)

    p = sub.add_parser(
        "plot", help="redraw saved results: maps, trajectories (over a map), sweeps",
        description="Draw results saved with --save (or result.save() in Python) as the command that made them "
        "would: a map (--style, --surface, --color, --metric), trajectories from run or compare (their loss curves; "
        "with a map file too, their paths over the map), a sweep's heatmap, a 1-D slice. Examples: landscape plot "
        "map.npz --style filled --color sqrt --out map.png; landscape plot map.npz compare.npz --out paths.png; "
        "landscape plot sweep.npz --out sweep.png")
    p.add_argument("files", nargs="+", metavar="RESULT.npz",
                   help="one map, sweep or 1-D slice; or trajectory files (run or compare --save) and at most one map "
                   "of two of their parameters to draw them over")
    p.add_argument("--metric", metavar="NAME",
                   help="with a map alone: what to draw, loss (default) or one of the map's metrics (test_loss, "
                   "accuracy, …)")
    _drawing_arguments(p)
    p.add_argument("--out", default="plot.png", help="image to write (.png, .pdf, .svg, .jpg; default plot.png)")
    _dpi_argument(p)
    p.set_defaults(func=_cmd_plot)

    from landscape import bench  # the workloads run in their own processes

    p = sub.add_parser("bench", help="run the benchmark suite and print one table")
    bench.add_arguments(p)
    p.set_defaults(func=bench.command)
    return parser


_OPTIMIZER_HELP = ("sgd, adam, adamw, rmsprop, adagrad, adadelta, nadam, radam, adamax or lion (optionally "
                   "NAME:key=value, e.g. sgd:momentum=0.9)")


def _problem_arguments(p) -> None:
    p.add_argument("--problem", required=True, metavar="NAME|FILE.py:FUNCTION|MODULE:FUNCTION",
                   help="a built-in problem (see `landscape problems`), or your own model: a function of no "
                   "arguments that returns a landscape.Problem (e.g. ls.Problem.from_model(model, params, x, y)), "
                   "given as FILE.py:FUNCTION (e.g. my_model.py:make_problem; the file's folder is on sys.path "
                   "while it loads) or MODULE:FUNCTION (e.g. mypackage.models:make_problem; importable from the "
                   "current directory or PYTHONPATH)")
    p.add_argument("--loss", help="loss for the built-in problems that take one: mse, l1, huber, smooth_l1")


def _sweep_arguments(p, axis: str) -> None:
    """The problem, optimizer, steps, grid, fixed hyperparameters, start, seeds and tol of ``sweep`` and ``explore``
    (``axis``: what a swept hyperparameter becomes: "sweep axis" or "slider")."""
    _problem_arguments(p)
    p.add_argument("--optimizer", required=True, help="sgd, adam, adamw, rmsprop, adagrad, adadelta, nadam, radam, "
                   "adamax or lion")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps per setting")
    p.add_argument("--grid", type=_grid_spec, action="append", metavar="NAME=SPEC",
                   help=f"a swept hyperparameter (a {axis}): NAME=log:LO:HI:NUM, NAME=lin:LO:HI:NUM or NAME=v1,v2,… "
                   "(booleans: true,false; Adam's beta1/beta2); repeat for more, in order")
    _hyperparameter_arguments(p, "fixed hyperparameter")
    _start_arguments(p)
    p.add_argument("--seeds", type=int, default=1, help=f"number of shuffle seeds, a {axis} when > 1")
    p.add_argument("--tol", type=float, help="converged when the final loss is ≤ TOL")


def _hyperparameter_arguments(p, what: str, title: str = "hyperparameters") -> None:
    group = p.add_argument_group(f"{title} (torch names; each applies where the optimizer has it)")
    for name in HYPERPARAMETERS:
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="V", help=f"{what} {name}")
    group.add_argument("--schedule", action="append", metavar="NAME:key=value",
                       help="learning-rate schedule starting from the optimizer's lr, torch.optim.lr_scheduler's "
                       "semantics, stepped once per step: step:step_size=N[:gamma=G], exponential:gamma=G, "
                       "cosine:T_max=N[:eta_min=E], warmup:warmup_steps=N[:start_factor=S], "
                       "plateau[:factor=F:patience=N:threshold=T:threshold_mode=rel|abs:cooldown=N:min_lr=M:eps=E:"
                       "mode=min|max] (or the class names, e.g. CosineAnnealingLR). Repeat to chain: --schedule "
                       "warmup:warmup_steps=10 --schedule cosine:T_max=100 warms up into the cosine")


def _start_arguments(p) -> None:
    p.add_argument("--init", metavar="P1,P2,…", help="starting parameters: all, in the order `landscape problems` "
                   "lists (2,9), or by name (slope=9)")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default: full batch)")


def _chunk_arguments(p, items: str) -> None:
    p.add_argument("--memory-budget", type=int, metavar="BYTES", help=f"device memory per chunk of {items}")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _drawing_arguments(p) -> None:
    p.add_argument("--style", choices=("heatmap", "contour", "filled"),
                   help="how to draw the map: heatmap (default), contour (labelled lines) or filled (filled contours "
                   "under labelled lines); with --surface, the flat map drawn so beside the surface")
    p.add_argument("--surface", action="store_true", help="draw the map as a 3-D surface (paths on it); add --style "
                   "to draw the flat map beside it")
    p.add_argument("--color", choices=COLOR_SCALES,
                   help="colour scale of the map: linear (default), sqrt (the colours and contour levels of √loss, "
                   "seed 004's) or log; the colour bar reads loss values. With --surface, the height's scale")
    p.add_argument("--log", action="store_true", help="the same as --color log")


COLOR_SCALES = ("linear", "sqrt", "log")


def _resolve_color(args) -> None:
    """``--log`` as ``--color log``, once, before any work (a clash with another ``--color`` is refused)."""
    if getattr(args, "log", False):
        if args.color not in (None, "log"):
            raise CLIError(f"--log is --color log; give one colour scale, not both --log and --color {args.color}")
        args.color = "log"


def _color_scale(args) -> dict:
    """``--color`` as the plot layer's ``log=``/``sqrt=`` keywords."""
    color = getattr(args, "color", None)
    return {"log": color == "log", "sqrt": color == "sqrt"}


def _run_arguments(p, default_out: str) -> None:
    _hyperparameter_arguments(p, "hyperparameter")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps")
    _start_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="shuffle seed for mini-batches")
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="map's horizontal axis (default: fit the paths)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="map's vertical axis")
    _drawing_arguments(p)
    p.add_argument("--arrows", action="store_true",
                   help="draw the negative gradient at each point as an arrow, −lr·∇loss long (seed 004)")
    p.add_argument("--gif", metavar="PATH", help="also write an animation of the paths unfolding over the map "
                   "(.gif; .mp4 when ffmpeg is installed)")
    p.add_argument("--out", default=default_out, help=f"image to write (default {default_out})")
    _dpi_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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


def _glue_negative_values(argv: list[str], flags=("--span",)) -> list[str]:
    """``--span -2:2`` → ``--span=-2:2``: argparse would take ``-2:2`` for an option."""
    out = []
    for arg in argv:
        if out and out[-1] in flags and arg[:1] == "-" and (arg[1:2].isdigit() or arg[1:2] == "."):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


class _Terminated(BaseException):
    """SIGTERM as an exception (as SIGINT is ``KeyboardInterrupt``): writes under way remove their temporary files."""


def _raise_terminated(signum, frame):
    raise _Terminated


def _set_sigterm_handler(handler):
    """Install ``handler`` for SIGTERM; the previous one, or None where it stays (not the main thread, or SIGTERM
    ignored on purpose by whoever started the process)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        return None
    return signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``landscape`` console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    use_cache = "--no-cache" not in argv  # accepted anywhere on the command line
    argv = _glue_negative_values([a for a in argv if a != "--no-cache"])
    previous_sigterm_handler = _set_sigterm_handler(_raise_terminated)
    try:
        args = parser.parse_args(argv)
        _resolve_color(args)
        if use_cache and args.command not in (None, "problems", "bench"):
            _enable_compilation_cache()
        if args.command in ("sweep", "explore"):  # settings shard over the devices: one per core (landscape.devices)
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
        lines = [line for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
        print(f"landscape: error: {lines[0]}{' …' if len(lines) > 1 else ''}", file=sys.stderr)  # JAX's run long
    except KeyboardInterrupt:
        print("landscape: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("landscape: terminated", file=sys.stderr)
        return 143
    finally:
        if previous_sigterm_handler is not None:
            _set_sigterm_handler(previous_sigterm_handler)
    return 2

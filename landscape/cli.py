"""Command line: ``landscape problems`` and ``landscape map``.

Every bad input ends with one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
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


def _cmd_map(args) -> int:
    _check_writable(args.out, "--out", IMAGE_SUFFIXES)
    _check_writable(args.save, "--save", (".npz",))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ls.plot.loss_map(m, ax=ax, log=args.log)
    fig.tight_layout()
    ls.io.atomic_write(args.out, lambda f: fig.savefig(f, format=Path(args.out).suffix[1:].lower(), dpi=args.dpi))
    plt.close(fig)
    if args.save:
        m.save(args.save)
    x, y, value = m.argmin
    print(f"{args.out}: {prob.name} loss on {m.y_label} × {m.x_label} ({y_spec[3]}×{x_spec[3]} points, "
          f"{elapsed:.2f} s); grid minimum {value:.6g} at {m.x_label}={x:.4g}, {m.y_label}={y:.4g}"
          + (f"; numbers in {args.save}" if args.save else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="landscape", description="Loss landscapes and optimizer trajectories in JAX.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("problems", help="list the built-in problems and their parameters")
    p.set_defaults(func=_cmd_problems)

    p = sub.add_parser(
        "map",
        help="draw a problem's loss over two parameters",
        description="Evaluate a problem's loss on a dense grid over two parameters and draw it as a heatmap. "
        "Example: landscape map --problem seed-regression --x bias:-5:8:101 --y weight:-5:8:101 --out map.png",
    )
    p.add_argument("--problem", required=True, help="a built-in problem (see `landscape problems`)")
    p.add_argument("--loss", help="loss for problems that take one: mse, l1, huber, smooth_l1")
    p.add_argument("--x", type=_axis_spec, metavar="PARAM:LO:HI:NUM",
                   help="horizontal axis, e.g. bias:-5:8:101 (default: the problem's own view, 201 points)")
    p.add_argument("--y", type=_axis_spec, metavar="PARAM:LO:HI:NUM", help="vertical axis, e.g. weight:-5:8:101")
    p.add_argument("--log", action="store_true", help="logarithmic colour scale")
    p.add_argument("--out", default="map.png", help="image to write (.png, .pdf, .svg, .jpg; default map.png)")
    p.add_argument("--save", metavar="PATH.npz", help="also save the numbers (values, axes, metadata)")
    p.add_argument("--dpi", type=int, default=120, help="image resolution (default 120)")
    p.add_argument("--memory-budget", type=int, metavar="BYTES", help="device memory per chunk of points")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_map)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``landscape`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except CLIError as err:
        print(f"landscape: error: {err}", file=sys.stderr)
    except (ValueError, TypeError, MemoryError, OSError) as err:
        print(f"landscape: error: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        print("landscape: interrupted", file=sys.stderr)
        return 130
    return 2

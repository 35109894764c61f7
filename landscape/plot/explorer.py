"""An interactive page for teaching: a loss map and, for a precomputed sweep, one slider per swept hyperparameter;
moving the sliders shows that setting's path over the map and its loss curve at once, with divergence marked.

One self-contained HTML file (plotly.js is embedded, so it works offline), written atomically. Needs plotly, an
optional extra: ``pip install 'landscape[explore]'``. Consumes a :class:`~landscape.LossMap` and a
:class:`~landscape.Sweep` run with ``keep="params"``; nothing traces JAX.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from landscape import _checks
from landscape._files import atomic_write_text
from landscape.plot.figures import short_number
from landscape.plot.maps import drawn_view, scaled_values
from landscape.plot.paths import view_cut
from landscape.results import LossMap, Status, Sweep

MAP_PIXELS = 300  # the map is drawn from at most this many rows and columns (figures.reduced)
POINTS_BUDGET = 1_000_000  # recorded points over all settings, when points=None: keeps the page a few MB
PLOT_ID = "landscape-explorer"  # the plot's element; its data is in the element PLOT_ID + "-data"


def explore(m: LossMap, sw: Sweep, path, *, start: dict | None = None, points: int | None = None,
            title: str | None = None) -> Path:
    """Write an interactive page of the map ``m`` and the sweep ``sw``'s paths to ``path`` (``.html``).

    The page holds the map (contours, log colours when the loss is non-negative), and one slider per axis of the
    sweep (hyperparameters, then init and seed when batched); the sliders pick a setting, whose path is drawn over
    the map and whose loss curve (log axis, finite values only) beside it. A diverged setting is marked "diverged at
    step k" on both. A path is drawn until it leaves the map's view for good (as a blowing-up path does, which
    would else cross the map back and forth); the view stays on the map.

    Args:
        m: a map over two scalar parameters of the problem (``ls.Axis("bias", …)``), e.g. ``ls.loss_map(prob, …)``.
        sw: ``ls.sweep(prob, …, keep="params")``: every setting's loss curve and parameter path.
        path: the HTML file to write.
        start: where the sliders start, ``{axis: value}`` (the nearest value of each axis named); the others start
            at the best setting (``sw.best()``), or the first when every setting diverged.
        points: at most this many recorded steps per setting in the page (evenly spaced, with the last finite one);
            default up to 200, fewer for big sweeps (about a million points in all).
        title: the page's title (default: problem, optimizer, fixed hyperparameters, steps, settings).

    Returns:
        The path written. Raises ImportError without plotly, ValueError for a sweep without paths or a map whose
        axes are not parameters of the paths.
    """
    if not isinstance(m, LossMap):
        raise TypeError(f"plot.explore: m must be a LossMap (ls.loss_map(prob, x, y)), got {type(m).__name__}.")
    if not isinstance(sw, Sweep):
        raise TypeError(f"plot.explore: sw must be a Sweep (ls.sweep(prob, …, keep='params')), got "
                        f"{type(sw).__name__}.")
    if sw.param_paths is None:
        raise ValueError("plot.explore: this sweep kept no parameter paths; run it with "
                         "ls.sweep(prob, optimizer, steps, keep=\"params\", …).")
    if points is not None:
        points = _checks.integer("plot.explore", "points", points, 2)
    first = _start_index(sw, start or {})
    go, make_subplots = _plotly()
    coords = {}
    for which, name in (("x", m.x_label), ("y", m.y_label)):
        try:
            coords[which] = sw.coordinate(name)
        except ValueError as err:
            raise ValueError(f"plot.explore: the map's {which} axis: {err} Make the map over two of them, e.g. "
                             "ls.loss_map(prob, ls.Axis(NAME, lo, hi, num), ls.Axis(NAME, lo, hi, num)).") from None
    data = _setting_data(m, sw, coords["x"], coords["y"], points)
    data["loss_range"] = _loss_range(data)
    figure, traces = _figure(go, make_subplots, m, data)
    page = _page(figure, traces, data, sw, first, title or _default_title(sw))
    return atomic_write_text(path, page)


def _plotly():
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise ImportError("plot.explore needs plotly, an optional extra: pip install 'landscape[explore]'") from None
    return go, make_subplots


def _setting_data(m: LossMap, sw: Sweep, xs: np.ndarray, ys: np.ndarray, points: int | None) -> dict:
    """What the page embeds, per setting (C order over ``sw.axes``): the recorded steps ``t`` kept (up to ``points``,
    evenly spaced, plus the last finite one and the last one in view), the path ``x``/``y`` and ``loss`` there
    (ragged, concatenated: setting ``k`` is ``offsets[k]:offsets[k + 1]``), ``cut`` (the path is drawn for
    ``t < cut``: until it leaves the map's view for good, as a blowing-up path does), ``exit`` (where it then
    crosses the view's edge, else None), and its summaries. ``xs``/``ys``: ``(*sw.shape, T)``, the two coordinates
    over time."""
    n, n_records = sw.size, sw.loss_curves.shape[-1]
    xs, ys = np.reshape(xs, (n, n_records)).astype(float), np.reshape(ys, (n, n_records)).astype(float)
    loss = np.reshape(sw.loss_curves, (n, n_records))
    diverged_at = np.reshape(sw.diverged_at, n).astype(int)
    if points is None:
        points = int(np.clip(POINTS_BUDGET // n, 20, 200))
    even = np.unique(np.linspace(0, n_records - 1, min(points, n_records)).round().astype(int))
    (x0, x1), (y0, y1) = view = [sorted((float(a[0]), float(a[-1]))) for a in (m.xs, m.ys)]
    kept, cut, exits = [], [], []
    for k in range(n):
        end = n_records if diverged_at[k] < 0 else diverged_at[k]  # records before divergence are finite
        stop, exit_point = view_cut(xs[k], ys[k], end, view)
        kept.append(np.union1d(even[even < end], [t for t in (stop - 1, end - 1) if 0 <= t < end]).astype(int))
        cut.append(stop)
        exits.append(exit_point)
    rows = np.repeat(np.arange(n), [len(t) for t in kept])
    steps = np.concatenate(kept) if n else np.zeros(0, int)
    finite_loss = loss[np.isfinite(loss)]
    return {
        "shape": list(sw.shape),
        "offsets": np.concatenate([[0], np.cumsum([len(t) for t in kept])]).tolist(),
        "t": steps, "x": xs[rows, steps], "y": ys[rows, steps], "loss": loss[rows, steps],
        "cut": cut, "exit": exits, "diverged_at": diverged_at.tolist(),
        "status": [Status(int(s)).label for s in np.reshape(sw.status, n)],
        "final_loss": _numbers(sw.final_loss), "best_loss": _numbers(sw.best_loss),
        "best_step": np.reshape(sw.best_step, n).astype(int).tolist(),
        "log_loss": bool(finite_loss.size and finite_loss.min() >= 0 and finite_loss.max() > 0),
        "view": [x0, x1, y0, y1], "last_step": n_records - 1,
    }


def _numbers(values) -> list:
    """JSON numbers (6 significant digits), None where not finite."""
    return [float(f"{v:.6g}") if np.isfinite(v) else None for v in np.ravel(values).tolist()]


def _start_index(sw: Sweep, start: dict) -> list:
    """The sliders' first position, an index per axis: the nearest value of each axis named in ``start``, else the
    best setting's (``sw.best()``; the first value of an axis it leaves out, such as the seed, or of every axis when
    every setting diverged)."""
    unknown = [name for name in start if name not in sw.axes]
    if unknown:
        raise ValueError(f"plot.explore: start names {unknown[0]!r}, which is not an axis of the sweep; its axes: "
                         f"{', '.join(sw.axes)}.")
    try:
        best = sw.best()["setting"]
    except ValueError:  # every setting diverged: there is no best
        best = {}
    wanted = {**best, **start}
    return [int(np.argmin(np.abs(np.asarray(values, float) - float(wanted[name])))) if name in wanted else 0
            for name, values in sw.axes.items()]


def _base64(values, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def _fixed_text(value) -> str:
    if hasattr(value, "_fields"):  # a schedule
        return type(value).__name__
    if isinstance(value, tuple):
        return "(" + ", ".join(map(short_number, value)) + ")"
    return short_number(value)


def _default_title(sw: Sweep) -> str:
    fixed = ", ".join(f"{k}={_fixed_text(v)}" for k, v in sw.fixed.items())
    optimizer = sw.meta.get("optimizer", "optimizer") + (f"({fixed})" if fixed else "")
    return (f"{sw.meta.get('problem', 'problem')}: {optimizer}, {sw.meta.get('steps', '?')} steps, "
            f"{sw.size:,} settings")


def _figure(go, make_subplots, m: LossMap, data: dict):
    """The map (with its minimum) on the left, the loss curve on the right: ``(figure, {name: trace index})`` of the
    traces that start empty and that the page's script fills (path, start, path_mark, curve, curve_mark)."""
    values, xs, ys = drawn_view(m, "loss", MAP_PIXELS, MAP_PIXELS)  # (each cell its block's lowest)
    finite = values[np.isfinite(values)]
    log = bool(finite.size and finite.min() >= 0 and finite.max() > 0)
    shown = scaled_values(values, log=log, owner="plot.explore")
    z = (np.ma.log10(shown) if log else shown).filled(np.nan).astype(np.float32)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.56, 0.44], horizontal_spacing=0.14,
                        subplot_titles=("path over the loss map", "loss curve"))
    fig.add_trace(go.Contour(x=xs.astype(np.float32), y=ys.astype(np.float32),
                             z=z, colorscale="Viridis", ncontours=24, contours={"coloring": "heatmap"},
                             line={"width": 0.6, "color": "rgba(255,255,255,0.5)"},
                             colorbar={"title": {"text": "log₁₀ loss" if log else "loss"}, "x": 0.51,
                                       "xanchor": "left", "thickness": 14, "len": 0.9},
                             hovertemplate=f"{m.x_label}=%{{x:.4g}}<br>{m.y_label}=%{{y:.4g}}<br>"
                             + ("log₁₀ loss" if log else "loss") + "=%{z:.4g}<extra></extra>", name="map"), 1, 1)
    best_x, best_y, best_loss = m.best("loss") if finite.size else (np.nan, np.nan, np.nan)
    fig.add_trace(go.Scatter(x=[best_x], y=[best_y], mode="markers", name=f"grid minimum {best_loss:.4g}",
                             marker={"symbol": "star", "size": 15, "color": "white", "line": {"color": "black",
                                                                                            "width": 1}}), 1, 1)
    traces = {}

    def moving(name: str, trace, col: int):
        traces[name] = len(fig.data)
        fig.add_trace(trace, 1, col)

    moving("path", go.Scatter(x=[], y=[], mode="lines+markers", name="path", line={"color": "#e8392c", "width": 2.5},
                              marker={"size": 4, "color": "#e8392c"}, customdata=[],
                              hovertemplate=f"%{{customdata}}<br>{m.x_label}=%{{x:.4g}}<br>"
                              f"{m.y_label}=%{{y:.4g}}<extra></extra>"), 1)
    moving("start", go.Scatter(x=[], y=[], mode="markers", name="start", marker={
        "symbol": "square", "size": 11, "color": "white", "line": {"color": "#e8392c", "width": 2}}), 1)
    mark = {"symbol": "x", "size": 14, "color": "#d00000", "line": {"color": "white", "width": 1.5}}
    text = {"color": "#d00000", "size": 13}
    moving("path_mark", go.Scatter(x=[], y=[], mode="markers+text", name="diverged", marker=mark, text=[],
                                   textposition="top center", textfont=text, cliponaxis=False), 1)
    moving("curve", go.Scatter(x=[], y=[], mode="lines", name="loss", line={"color": "#1f3b73", "width": 2},
                               hovertemplate="step %{x}<br>loss=%{y:.6g}<extra></extra>"), 2)
    moving("curve_mark", go.Scatter(x=[], y=[], mode="markers+text", name="diverged ", marker=mark, text=[],
                                    textposition="top left", textfont=text, cliponaxis=False), 2)
    fig.update_xaxes(title_text=m.x_label, range=[float(m.xs[0]), float(m.xs[-1])], row=1, col=1)
    fig.update_yaxes(title_text=m.y_label, range=[float(m.ys[0]), float(m.ys[-1])], row=1, col=1)
    fig.update_xaxes(title_text="step", range=[0, max(data["last_step"], 1)], row=1, col=2)
    fig.update_yaxes(title_text="loss" + (" (log scale)" if data["log_loss"] else ""),
                     type="log" if data["log_loss"] else "linear", range=data["loss_range"],
                     dtick=1 if data["log_loss"] else None, row=1, col=2)  # a log axis: decades
    fig.update_layout(template="plotly_white", showlegend=False, height=560, margin={"l": 60, "r": 30, "t": 40,
                                                                                     "b": 50})
    return fig, traces


def _loss_range(data: dict) -> list:
    """The loss axis's range: from the lowest loss drawn to a decade above the highest start (log₁₀ units on a log
    axis; half the span above it on a linear one), so that blowing-up curves leave the top, not squash the rest."""
    loss, t = data["loss"], data["t"]
    drawn = np.isfinite(loss) & ((loss > 0) if data["log_loss"] else True)
    if not drawn.any():
        return [0, 1]
    starts = drawn & (t == 0) if (drawn & (t == 0)).any() else drawn
    low, start = float(loss[drawn].min()), float(loss[starts].max())
    if data["log_loss"]:
        return [float(np.log10(low)) - 0.1, float(np.log10(start)) + 1]
    return [low - 0.05 * (start - low), start + 0.5 * max(start - low, 1e-12)]


def _page(figure, traces: dict, data: dict, sw: Sweep, start: list, title: str) -> str:
    embedded = {**{k: v for k, v in data.items() if k not in ("t", "x", "y", "loss")},
                "t": _base64(data["t"], "<i4"), "x": _base64(data["x"], "<f4"), "y": _base64(data["y"], "<f4"),
                "loss": _base64(data["loss"], "<f4"),
                "axes": [{"name": name, "labels": [short_number(v) for v in values]}
                         for name, values in sw.axes.items()],
                "traces": traces}
    sliders = "\n".join(
        f'<label class="slider"><span>{html.escape(name)}</span><input type="range" min="0" max="{len(values) - 1}" '
        f'step="1" value="{first}" aria-label="{html.escape(name)}"><output></output></label>'
        for (name, values), first in zip(sw.axes.items(), start))
    plot = figure.to_html(full_html=False, include_plotlyjs=True, div_id=PLOT_ID,
                          config={"displaylogo": False, "responsive": True},
                          post_script=f"landscapeExplorer(document.getElementById('{PLOT_ID}'));")
    payload = json.dumps(embedded, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return _TEMPLATE.format(title=html.escape(title), sliders=sliders, data_id=f"{PLOT_ID}-data", data=payload,
                            script=_SCRIPT, plot=plot)


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px 24px; color: #1d2330; }}
h1 {{ font-size: 1.2em; margin: 0 0 10px; }}
#controls {{ display: flex; flex-wrap: wrap; gap: 8px 28px; }}
.slider {{ display: flex; align-items: center; gap: 8px; }}
.slider span {{ font-weight: 600; }}
.slider input {{ width: 260px; }}
.slider output {{ font-variant-numeric: tabular-nums; min-width: 5em; }}
#status {{ margin: 10px 0 0; min-height: 1.3em; }}
#status.diverged {{ color: #d00000; font-weight: 600; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div id="controls">
{sliders}
</div>
<p id="status"></p>
<script type="application/json" id="{data_id}">{data}</script>
<script>{script}</script>
{plot}
</body>
</html>
"""

_SCRIPT = """
function landscapeExplorer(gd) {
  const data = JSON.parse(document.getElementById(gd.id + "-data").textContent);
  function decode(text, Type) {  // base64 → a typed array (little-endian, as every browser's platform)
    const chars = atob(text), bytes = new Uint8Array(chars.length);
    for (let i = 0; i < chars.length; i++) bytes[i] = chars.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const t = decode(data.t, Int32Array), x = decode(data.x, Float32Array), y = decode(data.y, Float32Array);
  const loss = decode(data.loss, Float32Array);
  const sliders = Array.from(document.querySelectorAll("#controls input[type=range]"));
  const status = document.getElementById("status");
  const number = (v) => (v === null ? "—" : Number(v).toPrecision(4));
  function show() {
    const k = sliders.reduce((flat, s, a) => flat * data.shape[a] + Number(s.value), 0);
    const setting = sliders.map((s, a) => {
      const label = data.axes[a].labels[Number(s.value)];
      s.nextElementSibling.textContent = label;
      return data.axes[a].name + " = " + label;
    }).join(", ");
    const lo = data.offsets[k], hi = data.offsets[k + 1];
    const px = [], py = [], pt = [], cs = [], cl = [];
    for (let i = lo; i < hi; i++) {
      if (t[i] < data.cut[k]) { px.push(x[i]); py.push(y[i]); pt.push("step " + t[i]); }
      if (Number.isFinite(loss[i]) && (!data.log_loss || loss[i] > 0)) { cs.push(t[i]); cl.push(loss[i]); }
    }
    const exit = data.exit[k];
    if (exit !== null) { px.push(exit[0]); py.push(exit[1]); pt.push("leaves the view"); }
    // divergence: a cross where the path ends on the map, and at the step of divergence on the loss curve (at the
    // top of the view when the loss had already blown past it); each labelled on the side towards the middle
    const d = data.diverged_at[k], diverged = d >= 0;
    const mark = diverged ? "diverged at step " + d : "";
    const [x0, x1, y0, y1] = data.view, [low, top] = data.loss_range;
    const onCurve = (v) => Math.min(data.log_loss ? Math.log10(v) : v, top);
    const pathMark = diverged && px.length ? [px[px.length - 1], py[py.length - 1]] : null;
    const curveMark = diverged && cl.length ? [d, onCurve(cl[cl.length - 1])] : null;
    const inward = (p, xs, ys) => p === null ? "top center"
      : (p[1] > (ys[0] + ys[1]) / 2 ? "bottom " : "top ") + (p[0] > (xs[0] + xs[1]) / 2 ? "left" : "right");
    const at = (p, i) => (p === null ? [] : [p[i]]);
    const tr = data.traces;
    Plotly.restyle(gd, {
      x: [px, px.slice(0, 1), at(pathMark, 0), cs, at(curveMark, 0)],
      y: [py, py.slice(0, 1), at(pathMark, 1), cl,
          curveMark === null ? [] : [data.log_loss ? 10 ** curveMark[1] : curveMark[1]]],
    }, [tr.path, tr.start, tr.path_mark, tr.curve, tr.curve_mark]);
    Plotly.restyle(gd, {customdata: [pt]}, [tr.path]);
    Plotly.restyle(gd, {text: [[mark], [mark]], textposition: [inward(pathMark, [x0, x1], [y0, y1]),
      inward(curveMark, [0, data.last_step], [low, top])]}, [tr.path_mark, tr.curve_mark]);
    status.className = diverged ? "diverged" : "";
    const left = exit !== null ? " (left the view at step " + data.cut[k] + ")"
      : data.cut[k] === 0 ? " (starts outside the view)" : "";
    status.textContent = setting + ": " + (diverged ? mark : data.status[k] + ", final loss "
      + number(data.final_loss[k])) + left + "; lowest loss " + number(data.best_loss[k])
      + " at step " + data.best_step[k];
    gd.dataset.setting = k;
  }
  sliders.forEach((s) => s.addEventListener("input", show));
  show();
}
"""

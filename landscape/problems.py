"""Problems: a loss over a parameter pytree and a data set, and the built-in catalogue.

A :class:`Problem` holds a pure ``fn(params, data) -> scalar`` plus the data it is evaluated on, the
initial parameters, and, where one is known, the minimum. ``problem.loss(params)`` is the full-batch loss;
``problem.batch_loss(params, batch)`` the loss on any batch of the same structure as ``problem.data``.

A problem may carry **model state** beside its parameters (BatchNorm statistics): ``state`` is a pytree that is
not trained, and ``fn(params, data, state, train) -> (loss, new_state)``. Slices evaluate it with
``train=False`` and the state held fixed; :func:`landscape.run` trains with ``train=True`` and carries the new
state from step to step.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from landscape import _checks, _convolutions, _datasets
from landscape import losses as _losses
from landscape._pytrees import Params, as_float, param_names

Data = Any  # a pytree of arrays with a leading sample axis, or None


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A loss over a parameter pytree and a data set.

    Attributes:
        name: identifier (the catalogue name for built-ins).
        fn: pure ``fn(params, data) -> scalar`` loss; with ``state``, ``fn(params, data, state, train) ->
            (scalar, new_state)``.
        params: initial parameter pytree.
        data: pytree of arrays with a leading sample axis (``(inputs, targets)`` for models), or None.
        minima: known global minimisers (parameter pytrees), possibly empty.
        min_value: the loss at the minimum, where known.
        bounds: a default view ``{param_name: (lo, hi)}`` for maps.
        description: one line for ``landscape problems``.
        sample_mean: True when ``fn(params, data)`` is the mean over samples ``s`` of ``fn(params, data[s:s+1])``;
            loss maps then accumulate it one sample at a time, vectorised over points (several times faster).
        model: ``model(params, inputs) -> predictions`` when the loss is ``loss_name(model(params, x), y)``.
        loss_name: the name of that loss (see :func:`landscape.losses.names`).
        linear: the model is affine in its parameters; with ``loss_name == "mse"`` the loss on any plane is a
            quadratic, which loss maps evaluate exactly from sufficient statistics (the least-squares fast path).
        state: non-trainable model state (e.g. BatchNorm statistics), or None.
        held_out: held-out data ``(inputs, targets)``: maps and lines also report the loss (and metrics) on it.
        criterion: ``criterion(predictions, targets) -> scalar``, the loss applied to ``model``'s output.
    """

    name: str
    fn: Callable[[Params, Data], jax.Array]
    params: Params
    data: Data = None
    minima: tuple = ()
    min_value: float | None = None
    bounds: dict | None = None
    description: str = ""
    sample_mean: bool = False
    model: Callable | None = None
    loss_name: str | None = None
    linear: bool = False
    state: Params | None = None
    held_out: Data = None
    criterion: Callable | None = None

    def __post_init__(self):
        # a model's data are from_model's (x, y): its checks name that constructor
        owner = "Problem.from_model" if self.model is not None else f"Problem {self.name!r}"
        _check_finite_data(owner, self.data, self.model is not None, "")
        _check_finite_data(owner, self.held_out, True, "_test")
        if self.sample_mean and self.n_samples is None:
            raise ValueError(f"Problem {self.name!r}: sample_mean=True needs data (a mean over samples of what?).")
        if self.held_out is not None and (self.model is None or self.criterion is None):
            raise ValueError(f"Problem {self.name!r}: held_out data needs a model and a criterion "
                             f"(build the problem with Problem.from_model).")

    def loss(self, params: Params) -> jax.Array:
        """Full-batch loss at ``params`` (with the state held fixed, ``train=False``)."""
        return self.batch_loss(params, self.data)

    def batch_loss(self, params: Params, batch: Data) -> jax.Array:
        """Loss at ``params`` on ``batch`` (same structure as ``data``, any number of samples)."""
        return self.objective(params, batch, self.state, False)[0]

    @property
    def objective(self) -> Callable:
        """``objective(params, data, state, train) -> (loss, new_state)`` for every problem (a stateless problem's
        state is None and stays None): the form runs and slices evaluate."""
        return self.fn if self.state is not None else _stateless(self.fn)

    @functools.cached_property
    def convolves(self) -> bool:
        """Whether the loss convolves (its traced program, nested calls included, has a convolution): loss maps
        then go one point at a time, and runs and sweeps one trajectory at a time on CPU, since vectorised items turn
        a convolution into a grouped one, which XLA:CPU ran 5–9× slower for a small CNN; on CPU the engine writes
        the convolutions in XLA's fast layout (``landscape._convolutions``)."""
        sample = jax.tree_util.tree_map(lambda a: a[:1], self.data)  # (None: a loss without data, traced as is)
        return _convolutions.has_convolution(
            jax.make_jaxpr(lambda p: self.objective(p, sample, self.state, False)[0])(self.params))

    @property
    def predictor(self) -> Callable | None:
        """``predictor(params, state, inputs) -> predictions`` in evaluation mode, or None without a model."""
        if self.model is None:
            return None
        return _stateful_predictor(self.model) if self.state is not None else _stateless_predictor(self.model)

    @property
    def minimum(self) -> Params | None:
        """The first known global minimiser, or None."""
        return self.minima[0] if self.minima else None

    @property
    def names(self) -> list[str]:
        """Names of the scalar parameters (see :func:`param_names`)."""
        return param_names(self.params)

    @property
    def n_samples(self) -> int | None:
        """Number of samples in ``data`` (None for data-free problems)."""
        leaves = jax.tree_util.tree_leaves(self.data)
        return int(np.shape(leaves[0])[0]) if leaves else None

    def with_params(self, params: Params) -> "Problem":
        """The same problem started from other parameters."""
        return dataclasses.replace(self, params=as_float(params))

    @classmethod
    def from_model(
        cls,
        model_fn: Callable[[Params, Any], jax.Array],
        params: Params,
        x,
        y,
        loss: str | Callable = "mse",
        *,
        name: str = "custom",
        minima: tuple = (),
        sample_mean: bool | None = None,
        linear: bool = False,
        state: Params | None = None,
        held_out: tuple | None = None,
        **loss_kwargs,
    ) -> "Problem":
        """A problem ``loss(model_fn(params, x), y)`` for a user model.

        With ``state`` (non-trainable model state, e.g. BatchNorm statistics), ``model_fn(params, state, x, train)
        -> (predictions, new_state)``; e.g. for Flax Linen ``out, upd = net.apply({"params": p, "batch_stats": s},
        x, train=train, mutable=["batch_stats"])`` then ``return out, upd["batch_stats"]``. ``held_out = (x_test,
        y_test)`` is data that maps and lines also evaluate (``test_loss`` and ``test_<metric>``).

        ``loss`` is a name from :func:`landscape.losses.names` (with ``loss_kwargs`` such as ``delta``) or a
        callable ``loss(prediction, target) -> scalar``. ``sample_mean`` (see :class:`Problem`) defaults to True
        for the per-sample mean losses (mse, l1, huber, smooth_l1, bce and bce_with_logits without ``weight``)
        and False otherwise; set it for a model that treats samples independently with a custom mean loss.
        ``linear=True`` declares the model affine in its parameters (e.g. polynomial or linear regression), which
        with ``loss="mse"`` enables the exact least-squares fast path of :func:`landscape.loss_map`; the claim is
        checked (at a random point, to float32 rounding) and a model that is not affine is refused.

        Data with NaN or infinite values is refused (every loss over it would be NaN), and so are targets that the
        named loss refuses (class indices out of range, bce targets outside [0, 1]).
        """
        if not callable(model_fn):
            raise TypeError(f"Problem.from_model: model_fn must be callable, got {type(model_fn).__name__}.")
        loss_fn = _losses.get(loss) if isinstance(loss, str) else loss
        if not callable(loss_fn):
            raise TypeError(f"Problem.from_model: loss must be a loss name or a callable, got {loss!r}.")
        if np.shape(x)[:1] != np.shape(y)[:1]:
            raise ValueError(
                f"Problem.from_model: x and y need the same number of samples, got shapes {np.shape(x)} and {np.shape(y)}."
            )
        if held_out is not None:
            if not isinstance(held_out, (tuple, list)) or len(held_out) != 2 or \
                    np.shape(held_out[0])[1:] != np.shape(x)[1:] or np.shape(held_out[0])[:1] != np.shape(held_out[1])[:1]:
                raise ValueError(f"Problem.from_model: held_out must be (x_test, y_test) with samples shaped like x's "
                                 f"{np.shape(x)[1:]}, got {type(held_out).__name__}.")
            held_out = (np.asarray(held_out[0]), np.asarray(held_out[1]))
        params = as_float(params)
        criterion = functools.partial(loss_fn, **loss_kwargs) if loss_kwargs else loss_fn
        x, y = np.asarray(x), np.asarray(y)
        fn = _stateful_loss(model_fn, criterion) if state is not None else _model_loss(model_fn, criterion)
        if sample_mean is None:
            sample_mean = (isinstance(loss, str) and loss.replace("-", "_") in _SAMPLE_MEAN_LOSSES
                           and "weight" not in loss_kwargs and loss_kwargs.get("reduction", "mean") == "mean")
        loss_name = loss.replace("-", "_") if isinstance(loss, str) and not loss_kwargs else None
        # built first: __post_init__ refuses NaN or infinite data before the checks below see it
        problem = cls(name=name, fn=fn, params=params, data=(x, y), minima=minima,
                      sample_mean=sample_mean, model=model_fn, loss_name=loss_name, linear=bool(linear), state=state,
                      held_out=held_out, criterion=criterion)
        predictions = _check_model(model_fn, params, state, x)
        if isinstance(loss, str):
            _check_targets(loss, {"y": (y, predictions.shape), **({} if held_out is None else {
                "y_test": (held_out[1], (len(held_out[1]),) + predictions.shape[1:])})}, loss_kwargs)
        if linear and state is None:
            _check_affine(model_fn, params, x)
        return problem


_SAMPLE_MEAN_LOSSES = ("mse", "l1", "huber", "smooth_l1", "bce", "bce_with_logits")


# ----------------------------------------------------------------------------------------------------------------
# Models and stable loss functions (module-level, so repeated calls share jit caches)


def _linear(params, x):
    return params["weight"] * x + params["bias"]


def _ols_line(params, x):
    return params["intercept"] + params["slope"] * x


def _quadratic(params, t):
    return params["a"] * t**2 + params["b"] * t + params["c"]


def _logistic(params, x):
    return jax.nn.sigmoid(x @ params["weight"] + params["bias"])


def _softmax_logits(params, x):
    return x @ params["weight"].T + params["bias"]


# The functions below are cached on their arguments, so that problems built from the same model share jit caches.


@functools.lru_cache(maxsize=None)
def _model_loss(model: Callable, criterion: Callable) -> Callable:
    def fn(params, batch):
        inputs, targets = batch
        return criterion(model(params, inputs), targets)

    return fn


@functools.lru_cache(maxsize=None)
def _stateful_loss(model: Callable, criterion: Callable) -> Callable:
    def fn(params, batch, state, train):
        inputs, targets = batch
        predictions, new_state = model(params, state, inputs, train)
        return criterion(predictions, targets), new_state

    return fn


@functools.lru_cache(maxsize=None)
def _stateless(fn: Callable) -> Callable:
    def objective(params, data, state, train):
        return fn(params, data), state

    return objective


@functools.lru_cache(maxsize=None)
def _stateless_predictor(model: Callable) -> Callable:
    return lambda params, state, inputs: model(params, inputs)


@functools.lru_cache(maxsize=None)
def _stateful_predictor(model: Callable) -> Callable:
    return lambda params, state, inputs: model(params, state, inputs, False)[0]


def _check_model(model_fn: Callable, params: Params, state: Params | None, x: np.ndarray) -> jax.ShapeDtypeStruct:
    """Trace the model once (no compute) so that a wrong calling convention fails here, with what to do; the
    shape and dtype of its predictions."""
    if state is None:
        out = jax.eval_shape(model_fn, params, x)
        if isinstance(out, (tuple, list)):
            raise TypeError(
                f"Problem.from_model: model_fn returned a {type(out).__name__} of {len(out)} where an array of "
                f"predictions is expected. A model that returns (output, new_state) (e.g. Flax with "
                f"mutable=['batch_stats']) has state: pass state=<its initial state> and write model_fn(params, "
                f"state, x, train) -> (output, new_state).")
        return out
    for train in (False, True):
        out = jax.eval_shape(lambda p, s, inputs: model_fn(p, s, inputs, train), params, state, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2 or \
                jax.tree_util.tree_structure(out[1]) != jax.tree_util.tree_structure(state):
            raise TypeError(
                f"Problem.from_model: with state, model_fn(params, state, x, train={train}) must return "
                f"(predictions, new_state) with new_state shaped like state; got {type(out).__name__}.")
    return out[0]


def _check_finite_data(owner: str, data, model: bool, suffix: str) -> None:
    """A ValueError naming the first leaf of ``data`` (samples first) with NaN or infinite values and its rows;
    a model's ``(inputs, targets)`` are named ``x``/``y`` (+ ``suffix``), other leaves by their path."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(data)[0]:
        values = np.asarray(leaf)
        if values.dtype.kind not in "fc" or np.isfinite(values).all():
            continue
        where = jax.tree_util.keystr(path)
        name = ("x", "y")[int(where[1])] + suffix + where[3:] if model and where[:3] in ("[0]", "[1]") \
            else f"data{suffix}{where}"
        counts = [(int(test(values).sum()), kind) for test, kind in ((np.isnan, "NaN"), (np.isinf, "infinite"))]
        found = " and ".join(f"{n} {kind} value{'s' * (n > 1)}" for n, kind in counts if n)
        rows = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1)) if values.ndim else [0]
        listed = ", ".join(map(str, rows[:8])) + (", …" if len(rows) > 8 else "")
        raise ValueError(f"{owner}: {name} contains {found} at row{'s' * (len(rows) > 1)} {listed} (of "
                         f"{len(values) if values.ndim else 1}); every loss over them would be NaN: drop or fill "
                         f"those samples.")


def _check_targets(loss: str, targets: dict, loss_kwargs: dict) -> None:
    """The loss's own check of its targets (``{name: (targets, predictions' shape)}``), once, when the problem is
    built: under jit a class index out of range is a silent NaN."""
    for name, (target, shape) in targets.items():
        try:
            _losses.check_target(loss, target, shape, **loss_kwargs)
        except ValueError as err:
            raise ValueError(f"Problem.from_model: {name}: {err}") from None


def _check_affine(model_fn: Callable, params: Params, x: np.ndarray) -> None:
    """A ValueError unless ``model_fn`` is affine in its parameters: its predictions at a random point equal their
    first-order expansion around ``params`` (in float64, as the fast path's features), to within float32 rounding
    of the values involved."""
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        flat, unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params))
        # a step of 0.5–1.5 × max(1, |θ|) in every coordinate, random signs: far enough for curvature to show
        step = rng.choice([-1.0, 1.0], flat.shape) * rng.uniform(0.5, 1.5, flat.shape) * np.maximum(1.0, np.abs(flat))
        predict = lambda theta: model_fn(unravel(theta), x)  # noqa: E731
        at, slope = jax.jvp(predict, (flat,), (jnp.asarray(step),))
        far = predict(flat + step)
        error = float(jnp.max(jnp.abs(far - (at + slope))))
        scale = max(float(jnp.max(jnp.abs(a))) for a in (at, slope, far))
    if not error <= 1e-4 * scale + 1e-30:
        raise ValueError(
            f"Problem.from_model: linear=True, but model_fn is not affine in its parameters: at a random point its "
            f"predictions differ from their linear extrapolation by up to {error:.3g} (values up to {scale:.3g}), "
            f"so the least-squares fast path would draw a wrong map. Drop linear=True.")


def _fitted(model: Callable, loss_name: str, **fields) -> Problem:
    """A built-in that fits ``model`` to its data with a per-sample mean loss (the cached loss function, so
    repeated calls share jit caches)."""
    criterion = _losses.get(loss_name)
    return Problem(fn=_model_loss(model, criterion), model=model, loss_name=loss_name, sample_mean=True,
                   criterion=criterion, **fields)


def _least_squares(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact minimiser and minimum MSE of ``mean((design @ β − y)²)``, in float64."""
    design, y = np.asarray(design, np.float64), np.asarray(y, np.float64)
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    return beta, float(np.mean((design @ beta - y) ** 2))


# ----------------------------------------------------------------------------------------------------------------
# Built-ins

SEED_REGRESSION_LOSSES = ("mse", "l1", "huber", "smooth_l1")


def seed_regression(loss: str = "mse") -> Problem:
    """Seed 000: fit ``weight·x + bias`` to 50 points of ``y = 0.75x² + x + 2 + noise``; start (6, −3)."""
    key = loss.replace("-", "_")
    if key not in SEED_REGRESSION_LOSSES:
        raise ValueError(f"seed_regression: loss={loss!r} is not supported; expected one of {SEED_REGRESSION_LOSSES}.")
    x, y = _datasets.seed_regression_data()
    minima, min_value = (), None
    if key == "mse":
        beta, min_value = _least_squares(np.column_stack((x, np.ones_like(x))), y)
        minima = (as_float({"weight": beta[0], "bias": beta[1]}),)
    return _fitted(
        _linear, key,
        name="seed-regression",
        linear=True,
        params=as_float({"weight": 6.0, "bias": -3.0}),
        data=(x, y),
        minima=minima,
        min_value=min_value,
        bounds={"bias": (-5.0, 8.0), "weight": (-5.0, 8.0)},
        description=f"seed 000: linear fit to 50 noisy points of a parabola, {key} loss",
    )


def ols() -> Problem:
    """Seed 004: ordinary least squares on 1000 points of ``y = −2 + 2x + N(0, 0.001²)``.

    Starts where the seed does: its ``init = (9, 2)`` sets the torch layer's (weight, bias), i.e. slope 9 and
    intercept 2.
    """
    design, y = _datasets.ols_data()
    beta, min_value = _least_squares(design, y)
    return _fitted(
        _ols_line, "mse",
        name="ols",
        linear=True,
        params=as_float({"intercept": 2.0, "slope": 9.0}),
        data=(design[:, 1], y),
        minima=(as_float({"intercept": beta[0], "slope": beta[1]}),),
        min_value=min_value,
        bounds={"intercept": (-10.0, 10.0), "slope": (-10.0, 10.0)},
        description="seed 004: least squares, intercept −2 and slope 2, noise σ=0.001",
    )


def quadratic_fit() -> Problem:
    """Seed 003: fit ``a·t² + b·t + c`` to 20 noisy speeds ``0.5(t − 9.5)² + 1``; MSE."""
    t, speed = _datasets.quadratic_fit_data()
    beta, min_value = _least_squares(np.column_stack((t**2, t, np.ones_like(t))), speed)
    return _fitted(
        _quadratic, "mse",
        name="quadratic-fit",
        linear=True,
        params=as_float({"a": -0.5, "b": 0.8, "c": 0.3}),
        data=(t, speed),
        minima=(as_float(dict(zip("abc", beta))),),
        min_value=min_value,
        bounds={"a": (-1.0, 2.0), "b": (-20.0, 10.0), "c": (-50.0, 100.0)},
        description="seed 003: quadratic a·t²+b·t+c fitted to 20 noisy speeds",
    )


def _bowl(params, _):
    return params["W"] ** 2


def bowl() -> Problem:
    """Seed 001: ``L(W) = W²`` from W = 4."""
    return Problem(
        name="bowl", fn=_bowl, params=as_float({"W": 4.0}), minima=(as_float({"W": 0.0}),), min_value=0.0,
        bounds={"W": (-5.0, 5.0)}, description="seed 001: L(W) = W²",
    )


def _rosenbrock(p, _):
    x, y = p["x"], p["y"]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _beale(p, _):
    x, y = p["x"], p["y"]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(p, _):
    x, y = p["x"], p["y"]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _rastrigin(p, _):
    x, y = p["x"], p["y"]
    return 20 + x**2 - 10 * jnp.cos(2 * jnp.pi * x) + y**2 - 10 * jnp.cos(2 * jnp.pi * y)


def _ackley(p, _):
    x, y = p["x"], p["y"]
    r2 = 0.5 * (x**2 + y**2)
    positive = r2 > 0
    r = jnp.where(positive, jnp.sqrt(jnp.where(positive, r2, 1.0)), 0.0)  # gradient 0, not nan, at the origin
    return -20 * jnp.exp(-0.2 * r) - jnp.exp(0.5 * (jnp.cos(2 * jnp.pi * x) + jnp.cos(2 * jnp.pi * y))) + math.e + 20


def _booth(p, _):
    x, y = p["x"], p["y"]
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _six_hump_camel(p, _):
    x, y = p["x"], p["y"]
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


@functools.lru_cache(maxsize=None)
def _ill_conditioned_fn(condition: float) -> Callable:
    def fn(p, _):
        return 0.5 * (p["x"] ** 2 + condition * p["y"] ** 2)

    return fn


def _test_function(name, fn, start, minima, min_value, box, description) -> Problem:
    return Problem(
        name=name,
        fn=fn,
        params=as_float(dict(zip("xy", start))),
        minima=tuple(as_float(dict(zip("xy", m))) for m in minima),
        min_value=min_value,
        bounds={"x": box[0], "y": box[1]},
        description=description,
    )


def rosenbrock() -> Problem:
    """Rosenbrock's banana ``(1 − x)² + 100(y − x²)²``; minimum 0 at (1, 1); start (−1.2, 1)."""
    return _test_function("rosenbrock", _rosenbrock, (-1.2, 1.0), [(1.0, 1.0)], 0.0, ((-2, 2), (-1, 3)),
                          "Rosenbrock: curved narrow valley, minimum 0 at (1, 1)")


def beale() -> Problem:
    """Beale's function; minimum 0 at (3, 0.5); start (1, 1)."""
    return _test_function("beale", _beale, (1.0, 1.0), [(3.0, 0.5)], 0.0, ((-4.5, 4.5), (-4.5, 4.5)),
                          "Beale: flat plateaus and sharp ridges, minimum 0 at (3, 0.5)")


def himmelblau() -> Problem:
    """Himmelblau's function; four minima of value 0; start (0, 0)."""
    minima = [(3.0, 2.0), (-2.805118086952745, 3.131312518250573),
              (-3.779310253377747, -3.283185991286169), (3.5844283403304917, -1.8481265269644036)]
    return _test_function("himmelblau", _himmelblau, (0.0, 0.0), minima, 0.0, ((-5, 5), (-5, 5)),
                          "Himmelblau: four global minima of value 0")


def rastrigin() -> Problem:
    """Rastrigin's function (A = 10); minimum 0 at the origin among many local minima; start (2.2, −1.6)."""
    return _test_function("rastrigin", _rastrigin, (2.2, -1.6), [(0.0, 0.0)], 0.0, ((-5.12, 5.12), (-5.12, 5.12)),
                          "Rastrigin: a lattice of local minima, global minimum 0 at the origin")


def ackley() -> Problem:
    """Ackley's function; minimum 0 at the origin; start (2.5, −1.5)."""
    return _test_function("ackley", _ackley, (2.5, -1.5), [(0.0, 0.0)], 0.0, ((-5, 5), (-5, 5)),
                          "Ackley: nearly flat outer region, deep hole at the origin")


def booth() -> Problem:
    """Booth's function ``(x + 2y − 7)² + (2x + y − 5)²``; minimum 0 at (1, 3); start (−4, −4)."""
    return _test_function("booth", _booth, (-4.0, -4.0), [(1.0, 3.0)], 0.0, ((-10, 10), (-10, 10)),
                          "Booth: a tilted quadratic bowl, minimum 0 at (1, 3)")


def six_hump_camel() -> Problem:
    """Six-hump camel; two global minima ≈ ±(0.0898, −0.7126) of value ≈ −1.0316; start (−1.5, 1)."""
    minima = [(0.08984201310031806, -0.7126564030207396), (-0.08984201310031806, 0.7126564030207396)]
    return _test_function("six-hump-camel", _six_hump_camel, (-1.5, 1.0), minima, -1.0316284534898774,
                          ((-2, 2), (-1, 1)), "six-hump camel: six local minima, two global ones")


def ill_conditioned(condition: float = 100.0) -> Problem:
    """The quadratic ``0.5(x² + κ·y²)`` with condition number κ; minimum 0 at the origin; start (−4, 1)."""
    if not condition >= 1:
        raise ValueError(f"ill_conditioned: condition must be ≥ 1, got {condition!r}.")
    return _test_function("ill-conditioned", _ill_conditioned_fn(float(condition)), (-4.0, 1.0), [(0.0, 0.0)], 0.0,
                          ((-5, 5), (-2, 2)), f"ill-conditioned quadratic 0.5(x² + {condition:g}·y²)")


def logistic_regression() -> Problem:
    """Seed 001 (BCE): logistic regression ``σ(x·w + b)`` on two 2-D Gaussian blobs; start w = (−2, 2), b = 0."""
    x, labels = _datasets.classification_data(classes=2)
    return _fitted(
        _logistic, "bce",
        name="logistic-regression",
        params=as_float({"weight": np.array([-2.0, 2.0]), "bias": 0.0}),
        data=(x, labels.astype(np.float32)),
        bounds={"weight[0]": (-6.0, 6.0), "weight[1]": (-6.0, 6.0)},
        description="seed 001: logistic regression (BCE) on 200 points in two 2-D blobs",
    )


def softmax_regression(classes: int = 3) -> Problem:
    """Seed 001 (cross-entropy): softmax regression on ``classes`` 2-D Gaussian blobs; start at zero."""
    _checks.integer("softmax_regression", "classes", classes, 2)
    x, labels = _datasets.classification_data(n=100 * classes, classes=classes)
    return _fitted(
        _softmax_logits, "cross_entropy",
        name="softmax-regression",
        params=as_float({"weight": np.zeros((classes, 2)), "bias": np.zeros(classes)}),
        data=(x, labels),
        bounds={"weight[0,0]": (-6.0, 6.0), "weight[0,1]": (-6.0, 6.0)},
        description=f"seed 001: softmax regression (cross-entropy) on {classes} 2-D blobs",
    )


_BUILTINS: dict[str, Callable[..., Problem]] = {
    "seed-regression": seed_regression,
    "ols": ols,
    "quadratic-fit": quadratic_fit,
    "bowl": bowl,
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "rastrigin": rastrigin,
    "ackley": ackley,
    "booth": booth,
    "six-hump-camel": six_hump_camel,
    "ill-conditioned": ill_conditioned,
    "logistic-regression": logistic_regression,
    "softmax-regression": softmax_regression,
}


def names() -> tuple[str, ...]:
    """Names of the built-in problems."""
    return tuple(_BUILTINS)


def get(name: str, **kwargs) -> Problem:
    """The built-in problem called ``name`` (``_`` and ``-`` are interchangeable), built with ``kwargs``."""
    key = str(name).replace("_", "-").lower()
    if key not in _BUILTINS:
        raise ValueError(f"unknown problem {name!r}; expected one of: {', '.join(_BUILTINS)}.")
    options = tuple(inspect.signature(_BUILTINS[key]).parameters)
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise ValueError(f"problem {key!r} takes no option {unknown[0]!r}; its options: {', '.join(options) or 'none'}.")
    return _BUILTINS[key](**kwargs)

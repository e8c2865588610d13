"""`anomaly(field, method=zscore, threshold=3.0, window=100, by=[…])`."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Any

from .. import codes
from ..runtime.base import Processor, Record, RecordError, StageContext
from ..runtime.ops import get_path
from ..types import ANY, BOOL, FLOAT, INT, Nullable
from ._rules import with_field
from .spec import Example, Param, ParamKind, RuleContext, StageSpec
from .summarize import freeze_value


def alpha_problem(alpha: float) -> str | None:
    return (
        None if 0.0 < alpha < 1.0 else "`alpha` must be between 0 and 1 (1 would keep no history)"
    )


def threshold_problem(threshold: float) -> str | None:
    return None if threshold > 0.0 else "`threshold` must be greater than 0"


def window_problem(window: int) -> str | None:
    return None if window >= 2 else "`window` must be at least 2 values"


def warmup_problem(warmup: int) -> str | None:
    return None if warmup >= 2 else "`warmup` must be at least 2 values (one value has no spread)"


def max_keys_problem(max_keys: int) -> str | None:
    return None if max_keys >= 1 else "`max_keys` must be at least 1"


_ALPHA = Param(
    "alpha", ParamKind.VALUE, "smoothing factor", type=FLOAT, default=0.1, check=alpha_problem
)


def _warmup_problem(method: str, window: int, warmup: int) -> str | None:
    if method == "zscore" and warmup > window:
        return (
            f"`warmup` ({warmup}) is larger than `window` ({window}), "
            "so no value could ever be flagged"
        )
    return None


def _output(ctx: RuleContext):
    # each value's own rule is its parameter's; this one holds two together,
    # checked here when both are literals and by the runtime class otherwise
    warmup, window = ctx.args["warmup"], ctx.args["window"]
    if isinstance(warmup, int) and isinstance(window, int):
        problem = _warmup_problem(ctx.args["method"], window, warmup)
        if problem:
            ctx.error(codes.BAD_ARG_VALUE, problem, param="warmup")
    out = with_field(ctx.input, "anomaly", BOOL)
    return with_field(out, "anomaly_score", Nullable(FLOAT))


SPEC = StageSpec(
    name="anomaly",
    role="processor",
    doc=(
        "Flags values far from what came before, per key (`by`). Each value is "
        "scored against the values before it, then joins them. `zscore`: the signed "
        "distance from the mean of the last `window` values, in (population) "
        "standard deviations; `ewma(alpha=0.1)`: the same against an exponentially "
        "weighted mean and variance. Adds `anomaly: bool` (`abs(score) > threshold`) "
        "and `anomaly_score: float?`. Fewer than `warmup` earlier values is never an "
        "anomaly (score null). When all earlier values are equal the score is null "
        "and a different value is an anomaly. A null value is not an anomaly and is "
        "not counted; a value that is not a finite number goes to the error stream. "
        "Keys are bounded by `max_keys` (least recently seen evicted, counted as "
        "`evicted`); flagged values are counted as `anomalies`."
    ),
    params=(
        Param(
            "field",
            ParamKind.FIELD,
            "the numeric value",
            accepts=(INT, FLOAT, Nullable(INT), Nullable(FLOAT), ANY),
        ),
        Param(
            "method",
            ParamKind.CHOICE,
            "the detector",
            default="zscore",
            options={
                "zscore": (),
                "ewma": (_ALPHA,),
            },
        ),
        Param(
            "threshold",
            ParamKind.VALUE,
            "an anomaly is a score beyond ±threshold",
            type=FLOAT,
            default=3.0,
            check=threshold_problem,
        ),
        Param(
            "window",
            ParamKind.VALUE,
            "values kept per key (zscore)",
            type=INT,
            default=100,
            check=window_problem,
        ),
        Param("by", ParamKind.FIELDS, "keys with separate statistics", default=()),
        Param(
            "warmup",
            ParamKind.VALUE,
            "values needed before flagging",
            type=INT,
            default=10,
            check=warmup_problem,
        ),
        Param(
            "max_keys",
            ParamKind.VALUE,
            "keys kept",
            type=INT,
            default=100_000,
            check=max_keys_problem,
        ),
    ),
    output=_output,
    runtime="Anomaly",
    module=__name__,
    examples=(
        Example(
            "anomaly(latency_ms, window=4, warmup=4)",
            doc="The fifth value is 5 standard deviations above the mean of the "
            "four before it; the first four are the warm-up.",
            input=(
                {"latency_ms": 10},
                {"latency_ms": 12},
                {"latency_ms": 10},
                {"latency_ms": 12},
                {"latency_ms": 16},
            ),
            output=(
                {"latency_ms": 10, "anomaly": False, "anomaly_score": None},
                {"latency_ms": 12, "anomaly": False, "anomaly_score": None},
                {"latency_ms": 10, "anomaly": False, "anomaly_score": None},
                {"latency_ms": 12, "anomaly": False, "anomaly_score": None},
                {"latency_ms": 16, "anomaly": True, "anomaly_score": 5.0},
            ),
        ),
        Example(
            "anomaly(latency_ms, threshold=4.0, by=[host])", doc="Separate statistics per host."
        ),
        Example(
            "anomaly(requests, method=ewma(alpha=0.05), warmup=30, by=[country])",
            doc="Against an exponentially weighted mean: slow drifts are "
            "followed, sudden jumps flagged.",
        ),
    ),
)


# ---------------------------------------------------------------- runtime


class _Window:
    """The last `size` values of one key with their mean and sum of squared
    deviations, updated in O(1) per value (sliding Welford). The sums are
    recomputed exactly from the values once per `size` updates, and whenever an
    update cancels most of what it subtracts from, so rounding never builds up."""

    __slots__ = ("values", "mean", "m2", "run", "updates")

    def __init__(self, size: int):
        self.values: deque[float] = deque(maxlen=size)
        self.mean = 0.0
        self.m2 = 0.0
        self.run = 0  # how many of the latest values equal the last one
        self.updates = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def variance(self) -> float:
        return self.m2 / len(self.values) if self.values else 0.0

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def add(self, x: float) -> None:
        values = self.values
        n = len(values)
        self.run = self.run + 1 if n and x == values[-1] else 1
        if self.run > n:  # every value in the window equals x
            values.append(x)
            self.mean, self.m2, self.updates = x, 0.0, 0
            return
        if n < values.maxlen:
            values.append(x)
            delta = x - self.mean
            self.mean += delta / (n + 1)
            self.m2 += delta * (x - self.mean)
        else:
            old = values[0]
            values.append(x)
            mean = self.mean + (x - old) / n
            change = (x - old) * (x - mean + old - self.mean)
            m2 = self.m2 + change
            self.mean = mean
            self.m2 = m2
            # Cancellation: the result is far smaller than the terms it came from.
            if m2 <= 1e-9 * (abs(m2 - change) + abs(change)):
                self._recompute()
        self.updates += 1
        if self.updates >= values.maxlen:
            self._recompute()

    def _recompute(self) -> None:
        values = self.values
        mean = self.mean = math.fsum(values) / len(values)
        self.m2 = math.fsum((v - mean) * (v - mean) for v in values)
        self.updates = 0

    def constant(self) -> bool:
        """All values in the window are equal (the variance is exactly zero)."""
        return self.run >= len(self.values)


class _Ewma:
    """Exponentially weighted mean and variance (Finch 2009, "Incremental
    calculation of weighted mean and variance"): for each new value x,
    `d = x - mean; mean += alpha * d; var = (1 - alpha) * (var + alpha * d * d)`,
    starting from the first value with variance 0."""

    __slots__ = ("n", "mean", "variance", "run", "last", "alpha")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.n = 0
        self.mean = 0.0
        self.variance = 0.0
        self.run = 0
        self.last: float | None = None

    def add(self, x: float) -> None:
        self.run = self.run + 1 if x == self.last else 1
        self.last = x
        if self.n == 0:
            self.mean = x
        else:
            alpha = self.alpha
            d = x - self.mean
            self.mean += alpha * d
            self.variance = (1.0 - alpha) * (self.variance + alpha * d * d)
        self.n += 1

    def constant(self) -> bool:
        return self.run >= self.n


class Anomaly(Processor):
    """The `anomaly` processor.

    Per key, a value is scored against the statistics of the values *before*
    it; then it joins them. The score is signed, `(x - mean) / stddev`
    (population standard deviation of the last `window` values for `zscore`;
    the exponentially weighted one for `ewma`), and `anomaly` is
    `abs(score) > threshold`. While a key has fewer than `warmup` earlier
    values, nothing is flagged and the score is null. When every earlier value
    is the same (zero variance) the score is null, and the value is an anomaly
    exactly when it differs from them (an infinite score could not be stored as
    JSON or in InfluxDB). A null value gets `anomaly: false`, a null score, and
    leaves the statistics alone; a value that is not a finite number goes to
    the error stream. At most `max_keys` keys are kept; the least recently seen
    one is forgotten first (counted as `evicted`).
    """

    splits_exactly = False  # the statistics of a key are per process

    def __init__(
        self,
        ctx: StageContext,
        *,
        field: tuple[str, ...],
        method: str = "zscore",
        method_args: dict[str, Any] | None = None,
        threshold: float = 3.0,
        window: int = 100,
        by: tuple[tuple[str, ...], ...] = (),
        warmup: int = 10,
        max_keys: int = 100_000,
    ) -> None:
        super().__init__(ctx)
        if method not in ("zscore", "ewma"):
            raise ValueError(f"anomaly: unknown method {method!r}")
        alpha = float((method_args or {}).get("alpha", _ALPHA.default))
        problem = _warmup_problem(method, window, warmup)
        for rule, value in (
            (alpha_problem, alpha),
            (threshold_problem, threshold),
            (window_problem, window),
            (warmup_problem, warmup),
            (max_keys_problem, max_keys),
        ):
            problem = problem or rule(value)
        if problem:
            raise ValueError(f"anomaly: {problem}")
        self._path = tuple(field)
        self._label = ".".join(self._path)
        self._ewma = method == "ewma"
        self._alpha = alpha
        self._threshold = float(threshold)
        self._window = int(window)
        self._by = tuple(tuple(p) for p in by)
        self._warmup = int(warmup)
        self._max_keys = int(max_keys)
        self._states: OrderedDict[Any, _Window | _Ewma] = OrderedDict()

    @staticmethod
    def _get(rec: Record, path: tuple[str, ...]) -> Any:
        return rec.get(path[0]) if len(path) == 1 else get_path(rec, path)

    def __call__(self, rec: Record) -> Record:
        x = self._get(rec, self._path)
        if x is None:
            rec["anomaly"] = False
            rec["anomaly_score"] = None
            return rec
        typ = type(x)
        if typ is float:
            if x - x != 0.0:
                raise RecordError("type", f"`{self._label}` is {x!r}, not a finite number")
        elif typ is not int:
            raise RecordError("type", f"`{self._label}` is a {typ.__name__}, not a number")
        else:
            try:
                x = float(x)
            except OverflowError:
                raise RecordError(
                    "type", f"`{self._label}` is an integer beyond what a float can hold"
                ) from None
        key = tuple(freeze_value(self._get(rec, p)) for p in self._by) if self._by else None
        states = self._states
        state = states.get(key)
        if state is None:
            state = states[key] = _Ewma(self._alpha) if self._ewma else _Window(self._window)
            if len(states) > self._max_keys:
                states.popitem(last=False)
                self.ctx.count("evicted")
        else:
            states.move_to_end(key)
        score, flagged = self._score(state, x)
        state.add(x)
        rec["anomaly"] = flagged
        rec["anomaly_score"] = score
        if flagged:
            self.ctx.count("anomalies")
        return rec

    def _score(self, state: _Window | _Ewma, x: float) -> tuple[float | None, bool]:
        n = state.n
        if n == 0 or n < self._warmup:
            return None, False
        if state.constant():
            return None, x != state.last
        variance = state.variance
        if variance <= 0.0:
            # Values differ but the spread underflowed (below about 1e-154):
            # no meaningful score, and no alarm on a rounding artefact.
            return None, False
        score = (x - state.mean) / math.sqrt(variance)
        return score, abs(score) > self._threshold

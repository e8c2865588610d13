"""`summarize agg, … [by key, …] every DURATION [on FIELD] [allowed_lateness = DURATION]`.

Tumbling windows: one output record per window and group of keys. `summarize`
is written in its own syntax rather than called, so its SPEC declares the
clauses as `ParamKind.SYNTAX` parameters: the checker types them
(`checker/summarize.py`) and the code generator passes them to `Summarize`
by the declared names, like any stage's arguments.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
from array import array
from operator import itemgetter
from typing import Any, Callable

from ..runtime import times as _times
from ..runtime.base import Record, RecordError, StageContext, WindowProcessor
from ..runtime.ops import get_path
from ..runtime.sketch import DistinctSketch, QuantileSketch, nearest_rank
from ..syntax import duration_text, time_text
from ..types import DURATION
from .spec import Example, Param, ParamKind, StageSpec

DOC = (
    "Turns records into time series: one record per window and group, "
    "`{window_start: time, window_end: time, <keys>, <aggregates>}`. Windows are "
    "tumbling and aligned to the Unix epoch in UTC (`every 1m` gives windows "
    "starting on each minute). With `on FIELD` they follow event time: a window "
    "closes when a record arrives whose time is at or past the window's end plus "
    "`allowed_lateness` (default 0); a record for a window that has already closed "
    "goes to the error stream (code `late`), as does a record whose `on` field is "
    "null or not a time (code `window`). Without `on` they follow processing time "
    "and close by the clock. Every open window is emitted at the end of the input. "
    "At a stop (SIGINT, SIGTERM) open windows are emitted too when the "
    "input cannot be read again (a file read once, stdin); when it can "
    "(`follow=true`, `nats`), their records stay unacknowledged and the next "
    "run (or, after a reload on SIGHUP, the new program) reads them again and "
    "emits those windows whole. After a restart, or a reload that left the "
    "`summarize` unchanged, a record read again for an event-time window "
    "emitted before it is skipped (counted as `replayed`). Records come out in window order, then key order (null "
    "first, then booleans, numbers, strings, times). Keys may be nested fields "
    "(`by geo.country_iso` gives the output field `country_iso`; `by country = "
    "geo.country_iso` names it); a null key is a group of its own.\n\n"
    "Aggregates: `count()` (records), `sum` (0 when no value), `avg`, `min`, "
    "`max`, `p50` `p90` `p95` `p99` (nearest-rank percentiles: the smallest value "
    "with at least that share of the values at or below it) and "
    "`distinct_count`. Null values are skipped; `avg`, `min`, `max` and the "
    "percentiles of a group with no non-null value are null. A value that is "
    "not a finite number where a number is needed sends the record to the error "
    "stream (code `type`), and so does an integer beyond what a float can hold "
    "(about 1.8e308), which no average or percentile could hold.\n\n"
    "Memory is bounded per group: percentiles and distinct counts are exact up "
    "to 1,024 values per group and field in a window; beyond that a group "
    "switches to a sketch (counted as `sketched`): percentiles within 1% "
    "relative error of the exact nearest-rank value (DDSketch), distinct counts "
    "within 3% plus 2 (HyperLogLog, 16 KiB). See `flowlang.runtime.sketch`."
)

EXAMPLES = (
    Example(
        "summarize n = count(), p95 = p95(latency_ms) by host every 1m on ts",
        doc="Requests and 95th-percentile latency per host and minute.",
        input=(
            {
                "ts": _dt.datetime(2024, 5, 1, 12, 0, 5, tzinfo=_dt.timezone.utc),
                "host": "a",
                "latency_ms": 12.0,
            },
            {
                "ts": _dt.datetime(2024, 5, 1, 12, 0, 40, tzinfo=_dt.timezone.utc),
                "host": "a",
                "latency_ms": 30.0,
            },
            {
                "ts": _dt.datetime(2024, 5, 1, 12, 0, 41, tzinfo=_dt.timezone.utc),
                "host": "b",
                "latency_ms": 7.5,
            },
            {
                "ts": _dt.datetime(2024, 5, 1, 12, 1, 2, tzinfo=_dt.timezone.utc),
                "host": "a",
                "latency_ms": 9.0,
            },
        ),
        output=(
            {
                "window_start": _dt.datetime(2024, 5, 1, 12, 0, tzinfo=_dt.timezone.utc),
                "window_end": _dt.datetime(2024, 5, 1, 12, 1, tzinfo=_dt.timezone.utc),
                "host": "a",
                "n": 2,
                "p95": 30.0,
            },
            {
                "window_start": _dt.datetime(2024, 5, 1, 12, 0, tzinfo=_dt.timezone.utc),
                "window_end": _dt.datetime(2024, 5, 1, 12, 1, tzinfo=_dt.timezone.utc),
                "host": "b",
                "n": 1,
                "p95": 7.5,
            },
            {
                "window_start": _dt.datetime(2024, 5, 1, 12, 1, tzinfo=_dt.timezone.utc),
                "window_end": _dt.datetime(2024, 5, 1, 12, 2, tzinfo=_dt.timezone.utc),
                "host": "a",
                "n": 1,
                "p95": 9.0,
            },
        ),
    ),
    Example(
        "summarize users = distinct_count(user), bytes = sum(bytes) "
        "by country = geo.country_iso every 5m on ts allowed_lateness = 30s",
        doc="Distinct users and traffic per country in five-minute windows, "
        "accepting records up to 30 seconds out of order.",
    ),
)


def _aggregate_table() -> list[str]:
    from ..builtins import AGGREGATES

    lines = ["| aggregate | result |", "|---|---|"]
    for agg in AGGREGATES.values():
        call = f"{agg.name}(field)" if agg.takes_field else f"{agg.name}()"
        lines.append(f"| `{call}` | {agg.doc.replace('|', chr(92) + '|')} |")
    return lines


SPEC = StageSpec(
    name="summarize",
    role="window",
    doc=DOC,
    params=(
        Param("aggregates", ParamKind.SYNTAX, "`name = agg(field), …`: the output fields"),
        Param(
            "keys",
            ParamKind.SYNTAX,
            "`by key, …`: the fields that make a group (`by name = path` names one)",
            default=(),
        ),
        Param("every", ParamKind.SYNTAX, "`every DURATION`: the window length", type=DURATION),
        Param(
            "on",
            ParamKind.SYNTAX,
            "`on FIELD`: the time field of event-time windows (none: processing time)",
            default=None,
        ),
        Param(
            "allowed_lateness",
            ParamKind.SYNTAX,
            "`allowed_lateness = DURATION`: how long an event-time window waits for late records",
            type=DURATION,
            default=0,
        ),
    ),
    output=None,
    runtime="Summarize",
    module="flowlang.stages.summarize",
    examples=EXAMPLES,
    form=(
        "| summarize name = agg(field), … [by key, …] every DURATION [on FIELD] "
        "[allowed_lateness = DURATION]"
    ),
    reference=_aggregate_table,
)

EXACT_LIMIT = 1024  # values kept exactly per group and field before sketching

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_MICROSECOND = _dt.timedelta(microseconds=1)
_FLOAT_MAX = sys.float_info.max
_NEVER = -(1 << 62)  # before any time a datetime can hold, in microseconds

_PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}
_NUMERIC = {"sum", "avg", "min", "max", *_PERCENTILES}
_FUNCTIONS = {"count", "distinct_count", *_NUMERIC}

# A group's state is one list: the key values as first seen, the number of
# records, then _WIDTH slots per aggregated field from _BASE on: non-null
# count, total, min, max, values (a list of the first _FEW, then an array
# of doubles, then a QuantileSketch beyond the exact limit) and distinct
# values (set, then a DistinctSketch).
_WIDTH = 6
_BASE = 2
# Most groups of a busy window hold a few values: a list takes them at a
# fraction of an array's cost (no conversion to a double, no array object),
# and beyond _FEW the array keeps 8 bytes a value instead of a float object.
_FEW = 16

_BOOL_TAG = "\x00bool"
_NAN_TAG = "\x00nan"
_LIST_TAG = "\x00list"
_DICT_TAG = "\x00dict"


def freeze_value(v: Any) -> Any:
    """A hashable stand-in for a key or distinct value: equal values freeze
    equally, and true/1 or false/0 stay apart (Python would merge them)."""
    if v is None or type(v) is str:
        return v
    if type(v) is bool:
        return (_BOOL_TAG, v)
    if type(v) is float and v != v:
        return (_NAN_TAG,)
    if isinstance(v, list):
        return (_LIST_TAG, tuple(freeze_value(x) for x in v))
    if isinstance(v, dict):
        return (_DICT_TAG, tuple(sorted((str(k), freeze_value(x)) for k, x in v.items())))
    return v


def _order(v: Any) -> tuple:
    """Sort key of a key value: null, bool, numbers, strings, times, durations,
    then anything else by its text."""
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, v)
    if isinstance(v, (int, float)):
        return (2, v) if v == v else (2, math.inf, 1)  # NaN after every number
    if isinstance(v, str):
        return (3, v)
    if isinstance(v, _dt.datetime):
        return (4, v if v.tzinfo is not None else v.replace(tzinfo=_UTC))
    if isinstance(v, _dt.timedelta):
        return (5, v)
    return (6, repr(freeze_value(v)))


def _group_order(state: list) -> tuple:
    return tuple([_order(v) for v in state[0]])


# Key values that are all strings: their tuples sort natively in the same
# order as the rules
_plain_order = itemgetter(0)


def _epoch_us(t: _dt.datetime) -> int:
    if t.tzinfo is None:
        t = t.replace(tzinfo=_UTC)
    return (t - _EPOCH) // _MICROSECOND


def _not_a_number(plan: "_FieldPlan", v: Any) -> RecordError:
    if isinstance(v, float):
        return RecordError("type", f"`{plan.label}` is {v!r}, not a finite number")
    if type(v) is int:
        # an average, a percentile or a total with a float in it could not
        # hold it: refused with the record, never a failure of the stage
        return RecordError(
            "type",
            f"`{plan.label}` is an integer beyond what summarize's number aggregates "
            "can hold (a float, up to about 1.8e308)",
        )
    return RecordError("type", f"`{plan.label}` is a {type(v).__name__}, not a number")


def _reraise(rec: Record, exc: BaseException) -> None:
    raise exc


def _getter(path: tuple[str, ...]) -> Callable[[Record], Any]:
    if len(path) == 1:
        name = path[0]
        return lambda rec: rec.get(name)
    return lambda rec: get_path(rec, path)


class _FieldPlan:
    """What is tracked for one aggregated field."""

    __slots__ = ("path", "name", "label", "get", "numeric", "minmax", "values", "distinct")

    def __init__(self, path: tuple[str, ...]):
        self.path = path
        self.name = path[0] if len(path) == 1 else None  # read without a path walk
        self.label = ".".join(path)
        self.get = _getter(path)
        self.numeric = self.minmax = self.values = self.distinct = False


class Summarize(WindowProcessor):
    """Tumbling-window aggregation (see DOC). `every` and `allowed_lateness`
    are milliseconds; `aggregates` are (output name, function, field path or
    None) and `keys` (output name, field path). `exact_limit` is the number of
    values per group and field kept exactly; `clock` gives the processing time
    (aware UTC datetime) for windows without `on`."""

    def __init__(
        self,
        ctx: StageContext,
        *,
        aggregates: tuple[tuple[str, str, tuple[str, ...] | None], ...],
        keys: tuple[tuple[str, tuple[str, ...]], ...] = (),
        every: int,
        on: tuple[str, ...] | None = None,
        allowed_lateness: int = 0,
        exact_limit: int = EXACT_LIMIT,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        super().__init__(ctx)
        if every <= 0:
            raise ValueError("summarize: `every` must be a positive duration")
        if allowed_lateness < 0:
            raise ValueError("summarize: `allowed_lateness` must not be negative")
        if exact_limit < 1:
            raise ValueError("summarize: `exact_limit` must be at least 1")
        self._every_us = every * 1000
        self._lateness_us = allowed_lateness * 1000
        self._lateness_text = duration_text(allowed_lateness)
        self._on = on
        self._on_label = ".".join(on) if on else ""
        self._clock = clock or _times.now
        self._exact_limit = exact_limit
        self._few = min(_FEW, exact_limit)
        self._key_names = tuple(name for name, _ in keys)
        self._key_getters = tuple(_getter(path) for _, path in keys)
        self._fields: list[_FieldPlan] = []
        self._outputs: list[tuple[str, str, int]] = []  # (name, function, field slot offset)
        by_path: dict[tuple[str, ...], int] = {}
        for name, function, path in aggregates:
            if function not in _FUNCTIONS:
                raise ValueError(f"summarize: unknown aggregate {function!r}")
            if path is None:
                if function != "count":
                    raise ValueError(f"summarize: {function}() needs a field")
                self._outputs.append((name, function, -1))
                continue
            index = by_path.setdefault(tuple(path), len(self._fields))
            if index == len(self._fields):
                self._fields.append(_FieldPlan(tuple(path)))
            plan = self._fields[index]
            plan.numeric |= function in _NUMERIC
            plan.minmax |= function in ("min", "max")
            plan.values |= function in _PERCENTILES
            plan.distinct |= function == "distinct_count"
            self._outputs.append((name, function, _BASE + index * _WIDTH))
        # Single names (the common case) are read without a path walk.
        self._on_name = on[0] if on and len(on) == 1 else None
        self._key_name = keys[0][1][0] if len(keys) == 1 and len(keys[0][1]) == 1 else None
        flat = all(len(path) == 1 for _, path in keys)
        self._flat_keys = tuple(path[0] for _, path in keys) if flat else None
        flat = all(len(plan.path) == 1 for plan in self._fields)
        self._flat_fields = tuple(plan.path[0] for plan in self._fields) if flat else None
        self._single = self._fields[0] if len(self._fields) == 1 else None
        self._fresh = (0, 0, None, None, None, None) * len(self._fields)
        self._output_names = tuple(name for name, _, _ in self._outputs)
        self._windows: dict[int, dict[Any, list]] = {}
        self._mixed: set[int] = set()  # windows with a key value that is not a string
        self._last_window: int | None = None  # the window the previous record went to
        self._last_groups: dict[Any, list] = {}
        self._watermark_us = _NEVER  # the latest time seen (event or processing)
        self._closed_below = _NEVER  # windows with a lower index have been emitted
        self._replayed_below = _NEVER  # ... by an earlier run (see `restore`)
        self._high = _NEVER  # the highest window a record went to since `high_window`
        self._batch_us: int | None = None  # processing time of the current batch

    # ------------------------------------------------------------ engine hooks

    def begin_batch(self) -> None:
        """Processing time: a batch's records all go to the window of the
        time it arrived, so no batch is split between two windows."""
        if self._on is None:
            self._batch_us = max(_epoch_us(self._clock()), self._watermark_us)

    def high_window(self) -> int | None:
        high, self._high = self._high, _NEVER
        return None if high == _NEVER else high

    def emitted_below(self) -> float:
        return self._closed_below

    def open_windows(self) -> int | None:
        return len(self._windows)

    def state(self) -> dict | None:
        """Event time: up to which time windows have been emitted. (Processing
        time keeps nothing: records read again after a restart belong to the
        windows of the time they are read again.)"""
        if self._on is None or self._closed_below == _NEVER:
            return None
        before = self._closed_below * self._every_us
        saved: dict = {"emitted_before_us": before}
        try:
            saved["emitted_before"] = time_text(_EPOCH + _dt.timedelta(microseconds=before))
        except OverflowError:
            pass  # past the year 9999: the number alone
        return saved

    def restore(self, state: dict) -> None:
        """Windows before `state`'s time were emitted by an earlier run: a
        record for one of them is a record read again, skipped."""
        if self._on is None:
            return
        frontier = int(state["emitted_before_us"]) // self._every_us
        self._replayed_below = frontier
        if frontier > self._closed_below:
            self._closed_below = frontier

    # ------------------------------------------------------------ records in

    def add(self, rec: Record) -> list[Record]:
        """Absorb one record; returns the windows it closed (event time) or
        that the clock closed (processing time)."""
        return self.add_batch((rec,), _reraise)

    def add_batch(self, records, fail: Callable[[Record, BaseException], None]) -> list[Record]:
        """Absorb records in order; a record that cannot be absorbed goes to
        `fail(rec, error)` and changes nothing. Returns what closed.

        One loop over the batch with the stage's settings in locals: the
        per-record work is what the aggregates need and no more."""
        every = self._every_us
        on = self._on
        on_name = self._on_name
        lateness = self._lateness_us if on is not None else 0
        key_name = self._key_name
        single = self._single
        fields = self._fields
        flat_fields = self._flat_fields
        windows = self._windows
        fresh = self._fresh
        update = self._update
        if single is not None:
            s_name, s_get = single.name, single.get
            s_numeric = single.numeric
        out: list[Record] = []
        for rec in records:
            try:
                if on is not None:
                    t = rec.get(on_name) if on_name is not None else get_path(rec, on)
                    try:
                        now_us = (t - _EPOCH) // _MICROSECOND
                    except TypeError:
                        now_us = self._event_time_us(t)
                    window = now_us // every
                    if window < self._closed_below:
                        if window < self._replayed_below:
                            self.ctx.count("replayed")
                            continue
                        self.ctx.count("late")
                        raise RecordError("late", self._late_message(t, window))
                else:
                    # Processing time never goes back, even if the wall clock does.
                    now_us = self._batch_us
                    if now_us is None:
                        now_us = max(_epoch_us(self._clock()), self._watermark_us)
                    window = now_us // every

                # Read and validate everything before any state changes, so
                # that a rejected record leaves no trace.
                if key_name is not None:
                    group_key = raw = rec.get(key_name)
                    if raw.__class__ is not str and raw is not None:
                        group_key = freeze_value(raw)
                else:
                    group_key = self._group_key(rec)
                if single is not None:
                    v = rec.get(s_name) if s_name is not None else s_get(rec)
                    if (
                        s_numeric
                        and (v.__class__ is not float or v - v != 0.0)
                        and (v.__class__ is not int or not -_FLOAT_MAX <= v <= _FLOAT_MAX)
                        and v is not None
                    ):
                        raise _not_a_number(single, v)
                else:
                    if flat_fields is not None:
                        values = tuple(map(rec.get, flat_fields))
                    else:
                        values = tuple(plan.get(rec) for plan in fields)
                    for plan, v in zip(fields, values):
                        if (
                            plan.numeric
                            and (v.__class__ is not float or v - v != 0.0)
                            and (v.__class__ is not int or not -_FLOAT_MAX <= v <= _FLOAT_MAX)
                            and v is not None
                        ):
                            raise _not_a_number(plan, v)
            except Exception as exc:
                fail(rec, exc)
                continue

            if now_us > self._watermark_us:
                self._watermark_us = now_us
                frontier = (now_us - lateness) // every
                if frontier > self._closed_below:
                    self._closed_below = frontier
                    out += self._close(frontier)

            if window == self._last_window:
                groups = self._last_groups
            else:
                groups = windows.get(window)
                if groups is None:
                    groups = windows[window] = {}
                self._last_window, self._last_groups = window, groups
            state = groups.get(group_key)
            if state is None:
                if key_name is not None:
                    key_values = (raw,)
                    if raw.__class__ is not str:
                        self._mixed.add(window)
                else:
                    key_values = self._new_key_values(rec, window)
                state = groups[group_key] = [key_values, 0, *fresh]
            state[1] += 1
            if single is not None:
                if v is not None:
                    update(state, _BASE, single, v)
            else:
                base = _BASE
                for plan, v in zip(fields, values):
                    if v is not None:
                        update(state, base, plan, v)
                    base += _WIDTH
            if window > self._high:
                self._high = window
        return out

    def _update(self, state: list, base: int, plan: _FieldPlan, v: Any) -> None:
        """Add one non-null value of a field to a group's state."""
        state[base] += 1  # the field's non-null values
        if plan.numeric:
            state[base + 1] += v  # their total
            if plan.minmax:
                lo = state[base + 2]
                if lo is None:
                    state[base + 2] = state[base + 3] = v
                elif v < lo:
                    state[base + 2] = v
                elif v > state[base + 3]:
                    state[base + 3] = v
        if plan.values:
            store = state[base + 4]
            if store.__class__ is list and len(store) < self._few:
                store.append(v)
            elif store.__class__ is array and len(store) < self._exact_limit:
                store.append(v)
            else:
                self._add_value(state, base + 4, v)
        if plan.distinct:
            self._add_distinct(state, base + 5, v)

    def _event_time_us(self, t: Any) -> int:
        if not isinstance(t, _dt.datetime):
            what = "null" if t is None else f"a {type(t).__name__}, not a time"
            raise RecordError(
                "window",
                f"`{self._on_label}` is {what}; summarize … on {self._on_label} needs a time",
            )
        return _epoch_us(t)  # a naive time, taken as UTC

    def _group_key(self, rec: Record) -> Any:
        if self._flat_keys is not None:
            key_values = tuple(map(rec.get, self._flat_keys))
        else:
            key_values = tuple(get(rec) for get in self._key_getters)
        for v in key_values:
            if v is not None and type(v) is not str:
                return tuple(map(freeze_value, key_values))
        return key_values

    def _new_key_values(self, rec: Record, window: int) -> tuple:
        """The key values of a new group, as they will be written out."""
        if self._flat_keys is not None:
            key_values = tuple(map(rec.get, self._flat_keys))
        else:
            key_values = tuple(get(rec) for get in self._key_getters)
        for v in key_values:
            if v.__class__ is not str:
                self._mixed.add(window)  # needs the full ordering rules
                break
        return key_values

    def tick(self, now: _dt.datetime) -> list[Record]:
        """Processing time: emit the windows the clock has closed. Event time
        advances only with records, so this returns nothing then."""
        if self._on is not None:
            return []
        self._batch_us = None
        now_us = _epoch_us(now)
        if now_us <= self._watermark_us:
            return []
        self._watermark_us = now_us
        frontier = now_us // self._every_us
        if frontier <= self._closed_below:
            return []
        self._closed_below = frontier
        return self._close(frontier)

    def flush(self) -> list[Record]:
        """Emit every open window (end of input, shutdown). With event time, a
        record for a flushed window is late afterwards."""
        if not self._windows:
            return []
        frontier = max(self._windows) + 1
        if self._on is not None and frontier > self._closed_below:
            self._closed_below = frontier
        return self._close(frontier)

    def _late_message(self, t: _dt.datetime, window: int) -> str:
        start = _EPOCH + _dt.timedelta(microseconds=window * self._every_us)
        end = start + _dt.timedelta(microseconds=self._every_us)
        return (
            f"`{self._on_label}` {time_text(t)} falls in the window {time_text(start)} to "
            f"{time_text(end)}, which was already emitted "
            f"(allowed_lateness {self._lateness_text})"
        )

    def _add_value(self, state: list, slot: int, v: int | float) -> None:
        store = state[slot]
        if store is None:
            state[slot] = [v]
        elif type(store) is list or type(store) is array:
            store.append(v)
            if len(store) <= self._exact_limit:
                if type(store) is list:
                    state[slot] = array("d", store)  # past the first few
            else:
                sketch = QuantileSketch()
                for x in store:
                    sketch.add(x)
                state[slot] = sketch
                self.ctx.count("sketched")
        else:
            store.add(v)

    def _add_distinct(self, state: list, slot: int, v: Any) -> None:
        store = state[slot]
        if store is None:
            state[slot] = {freeze_value(v)}
        elif type(store) is set:
            store.add(freeze_value(v))
            if len(store) > self._exact_limit:
                sketch = DistinctSketch()
                for x in store:
                    sketch.add(x)
                state[slot] = sketch
                self.ctx.count("sketched")
        else:
            store.add(freeze_value(v))

    # ------------------------------------------------------------ records out

    def _close(self, frontier: int) -> list[Record]:
        """Emit the windows whose index is below `frontier`, oldest first."""
        ready = sorted(w for w in self._windows if w < frontier)
        out: list[Record] = []
        if self._last_window is not None and self._last_window < frontier:
            self._last_window, self._last_groups = None, {}
        for window in ready:
            states = list(self._windows.pop(window).values())
            mixed = window in self._mixed
            self._mixed.discard(window)
            states.sort(key=_group_order if mixed else _plain_order)
            start = _EPOCH + _dt.timedelta(microseconds=window * self._every_us)
            end = start + _dt.timedelta(microseconds=self._every_us)
            # each record built in one call from its fields' names and values
            names = ("window_start", "window_end", *self._key_names, *self._output_names)
            head = (start, end)
            columns = [_column(function, base, states) for _, function, base in self._outputs]
            out += [
                dict(zip(names, head + state[0] + row)) for state, row in zip(states, zip(*columns))
            ]
            self.ctx.count("windows")
        return out


def _column(function: str, base: int, states: list[list]) -> list:
    """One aggregate read from every group's state, in order (`base`: the
    field's first slot; -1 for count()). A column at a time, so that each
    function's reading is one comprehension, not a call per group."""
    if base < 0:
        return [state[1] for state in states]
    n, total, lo, hi, values, distinct = range(base, base + _WIDTH)
    if function == "count":
        return [state[n] for state in states]
    if function == "sum":
        return [state[total] for state in states]
    if function == "avg":
        return [state[total] / state[n] if state[n] else None for state in states]
    if function == "min":
        return [state[lo] for state in states]
    if function == "max":
        return [state[hi] for state in states]
    column: list = []
    append = column.append
    if function == "distinct_count":
        for state in states:
            store = state[distinct]
            if store is None:
                append(0)
            else:
                append(len(store) if store.__class__ is set else store.estimate())
        return column
    percent = _PERCENTILES[function]
    for state in states:
        store = state[values]
        if store is None:
            append(None)
            continue
        if store.__class__ is array:
            store = state[values] = store.tolist()
        elif store.__class__ is not list:
            append(store.quantile(percent))
            continue
        # Sorted in place when the window closes: the field's other
        # percentiles sort it again in linear time. Its values may be ints.
        store.sort()
        append(float(store[nearest_rank(len(store), percent)]))
    return column

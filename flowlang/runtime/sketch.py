"""Bounded-memory summaries for windows that outgrow exact aggregation.

`QuantileSketch` answers nearest-rank percentiles with a *relative* error
bound, DDSketch style (Masson, Rim and Lee, VLDB 2019): values fall into
logarithmic buckets `(g**(i-1), g**i]` with `g = (1 + a) / (1 - a)`, and a
bucket answers with the value `2 * g**i / (g + 1)`, which is within a
relative distance `a` of every value in the bucket. So for any percentile,
`abs(estimate - exact) <= a * abs(exact)`, where `exact` is the nearest-rank
value of everything added. The bound holds while the values of one sign span
at most `max_buckets` buckets (about 17 orders of magnitude with the defaults
`a = 0.01`, `max_buckets = 2048`); beyond that the buckets nearest zero are
merged, so only values more than that many orders of magnitude smaller than
the largest lose accuracy. Memory: at most `2 * max_buckets` counters.

`DistinctSketch` estimates the number of distinct values with HyperLogLog
(Flajolet et al. 2007) over a 64-bit BLAKE2b hash of a canonical encoding of
each value (stable across runs and processes), with `2**precision` one-byte
registers (16 KiB at the default precision 14), read with Ertl's improved
estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
2017), which needs no empirical bias tables and is nearly unbiased at every
count. Its relative standard error is about `1.04 / sqrt(2**precision)`,
0.81% at precision 14. The stated bound, checked by the tests, is
`abs(estimate - exact) <= DISTINCT_BOUND * exact + DISTINCT_SLACK` (3% plus 2).
It is probabilistic, as every HyperLogLog bound is: 3% is more than 3.5
standard errors, exceeded by about one large estimate in 5,000; the slack
covers the register collisions of a few dozen values.

`nearest_rank` defines the percentiles both exact and sketched answers use.
"""

from __future__ import annotations

import datetime as _dt
import math
from hashlib import blake2b
from typing import Any

DISTINCT_BOUND = 0.03  # relative error bound of DistinctSketch (see module doc)
DISTINCT_SLACK = 2  # absolute slack of that bound
QUANTILE_ACCURACY = 0.01  # default relative accuracy of QuantileSketch


def nearest_rank(n: int, percent: int) -> int:
    """The 0-based index, in ascending order, of the `percent`-th percentile
    of `n` values: the smallest value with at least `percent`% of the values
    at or below it (the nearest-rank definition)."""
    return max(1, -(-percent * n // 100)) - 1


class _Store:
    """Counts per bucket index, dense, for one sign."""

    __slots__ = ("offset", "counts", "max_buckets", "collapsed")

    def __init__(self, max_buckets: int):
        self.offset = 0
        self.counts: list[int] = []
        self.max_buckets = max_buckets
        self.collapsed = False

    def add(self, index: int) -> None:
        counts = self.counts
        if not counts:
            self.offset = index
            counts.append(1)
            return
        pos = index - self.offset
        if pos < 0:
            if len(counts) - pos > self.max_buckets:
                # Too wide: values nearest zero share the lowest kept bucket.
                self.collapsed = True
                counts[0] += 1
                return
            self.counts = [0] * (-pos) + counts
            self.offset = index
            self.counts[0] += 1
        elif pos >= len(counts):
            counts.extend([0] * (pos - len(counts) + 1))
            counts[pos] += 1
            overflow = len(counts) - self.max_buckets
            if overflow > 0:
                self.collapsed = True
                merged = sum(counts[: overflow + 1])
                del counts[:overflow]
                counts[0] = merged
                self.offset += overflow
        else:
            counts[pos] += 1


class QuantileSketch:
    """Nearest-rank percentiles within a relative error bound (see module doc)."""

    __slots__ = ("_pos", "_neg", "_zeros", "_log_gamma", "_gamma", "count", "min", "max")

    def __init__(self, relative_accuracy: float = QUANTILE_ACCURACY, max_buckets: int = 2048):
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError("relative_accuracy must be in (0, 1)")
        self._gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self._log_gamma = math.log(self._gamma)
        self._pos = _Store(max_buckets)
        self._neg = _Store(max_buckets)
        self._zeros = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    @property
    def collapsed(self) -> bool:
        """Whether buckets had to be merged (the bound then holds only for
        values within the kept range)."""
        return self._pos.collapsed or self._neg.collapsed

    def add(self, x: float) -> None:
        """Add one finite number."""
        self.count += 1
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x
        if x > 0.0:
            self._pos.add(math.ceil(math.log(x) / self._log_gamma))
        elif x < 0.0:
            self._neg.add(math.ceil(math.log(-x) / self._log_gamma))
        else:
            self._zeros += 1

    def _value(self, index: int) -> float:
        return 2.0 * math.exp(index * self._log_gamma) / (self._gamma + 1.0)

    def quantile(self, percent: int) -> float | None:
        """The `percent`-th percentile (nearest rank), or None when empty."""
        if self.count == 0:
            return None
        rank = nearest_rank(self.count, percent)
        seen = 0
        neg = self._neg
        for pos in range(len(neg.counts) - 1, -1, -1):
            seen += neg.counts[pos]
            if seen > rank:
                return self._clamp(-self._value(pos + neg.offset))
        seen += self._zeros
        if seen > rank:
            return 0.0
        store = self._pos
        for pos, c in enumerate(store.counts):
            seen += c
            if seen > rank:
                return self._clamp(self._value(pos + store.offset))
        return float(self.max)  # not reached: rank < count and the buckets hold count values

    def _clamp(self, v: float) -> float:
        # The exact answer lies in [min, max]: clamping only moves closer to it.
        return float(min(max(v, self.min), self.max))


def _encode(value: Any) -> bytes:
    """A canonical byte encoding: equal values (as the exact distinct count
    sees them) encode equally, and values of different kinds never collide."""
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, bool):
        return b"b1" if value else b"b0"
    if isinstance(value, int):
        return b"n%d" % value
    if isinstance(value, float):
        if value.is_integer():
            return b"n%d" % int(value)
        return b"f" + value.hex().encode()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return b"t" + value.replace(tzinfo=None).isoformat().encode()
    if isinstance(value, _dt.timedelta):
        return b"d" + repr((value.days, value.seconds, value.microseconds)).encode()
    if isinstance(value, (list, tuple)):
        return b"[" + b",".join(_encode(v) for v in value) + b"]"
    if isinstance(value, dict):
        items = sorted(
            (str(k).encode("utf-8", "surrogatepass"), _encode(v)) for k, v in value.items()
        )
        return b"{" + b",".join(k + b":" + v for k, v in items) + b"}"
    if value is None:
        return b"z"
    return b"r" + repr(value).encode("utf-8", "backslashreplace")


def stable_hash64(value: Any) -> int:
    """A 64-bit hash of `value` that is the same in every process and run."""
    return int.from_bytes(blake2b(_encode(value), digest_size=8).digest(), "big")


class DistinctSketch:
    """HyperLogLog distinct count (see module doc for the error bound)."""

    __slots__ = ("_p", "_registers")

    def __init__(self, precision: int = 14):
        if not 4 <= precision <= 18:
            raise ValueError("precision must be between 4 and 18")
        self._p = precision
        self._registers = bytearray(1 << precision)

    def add(self, value: Any) -> None:
        """Add one value (any kind; see `stable_hash64`)."""
        h = stable_hash64(value)
        width = 64 - self._p
        index = h >> width
        rest = h & ((1 << width) - 1)
        rho = width - rest.bit_length() + 1
        if rho > self._registers[index]:
            self._registers[index] = rho

    def estimate(self) -> int:
        """The estimated number of distinct values added (Ertl's improved
        estimator, unbiased from empty to very large counts)."""
        m = len(self._registers)
        q = 64 - self._p
        registers = bytes(self._registers)
        hist = [registers.count(k) for k in range(q + 2)]  # C-level scans
        if hist[0] == m:
            return 0
        z = m * _tau(1.0 - hist[q + 1] / m)
        for k in range(q, 0, -1):
            z = 0.5 * (z + hist[k])
        z += m * _sigma(hist[0] / m)
        return round(m * m / (2.0 * math.log(2.0) * z))


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3.0

"""`sample(rate, key=field?)`: keep one record in `rate`."""

from __future__ import annotations

from ..types import INT
from .spec import Example, Param, ParamKind, RuleContext, StageSpec


def rate_problem(rate: int) -> str | None:
    return "`rate` must be at least 1" if rate < 1 else None


def _output(ctx: RuleContext):
    return ctx.input


SPEC = StageSpec(
    name="sample",
    role="processor",
    doc=(
        "Keeps one record in `rate` and drops the others (counted as dropped), as "
        "Vector's `sample` transform does. Without `key`, the records are counted: "
        "the first is kept, then every `rate`-th after it (the 1st, the "
        "`rate`+1-th, …), so of n records ⌈n / rate⌉ are kept, in order. With "
        "`key`, the decision is a function of the key's value: it is kept when a "
        "64-bit BLAKE2b hash of the value (the UTF-8 text of a string, the JSON "
        'text of any other value, record keys sorted, so `5` and `"5"` are one value, '
        "as in Vector) is a multiple of `rate`. "
        "Every record with the same value is kept, or every one dropped, in every "
        "run and every process, so all the records of a request or a user are "
        "sampled together; about 1 value in `rate` is kept, and the share of "
        "records kept follows how the values are spread. As in Vector, a record "
        "whose key is null or missing is sampled by the counter. The counter "
        "starts again when the run does."
    ),
    params=(
        Param(
            "rate",
            ParamKind.VALUE,
            "keep one record (or key value) in `rate`",
            type=INT,
            check=rate_problem,
        ),
        Param("key", ParamKind.FIELD, "sample by the hash of this field's value", default=None),
    ),
    output=_output,
    runtime="Sample",
    module=__name__,
    may_drop=True,
    examples=(
        Example(
            "sample(rate=2)",
            doc="Without a key: the first record, then every second.",
            input=({"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}),
            output=({"n": 1}, {"n": 3}, {"n": 5}),
        ),
        Example(
            "sample(rate=3, key=user)",
            doc="By key: every record of a user that is kept, none of the others.",
            input=(
                {"user": "ana", "n": 1},
                {"user": "bo", "n": 2},
                {"user": "cy", "n": 3},
                {"user": "bo", "n": 4},
                {"user": "ana", "n": 5},
            ),
            output=({"user": "bo", "n": 2}, {"user": "bo", "n": 4}),
        ),
    ),
)


# ---------------------------------------------------------------- runtime


def key_hash(value) -> int:
    """A hash of a non-null value that is the same in every process (Python's
    own `hash()` of a string is salted per process)."""
    import hashlib

    from ..runtime.jsonl import dumps

    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    else:
        data = dumps(_sorted(value))
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _sorted(value):
    """`value` with the keys of its records sorted (their order is no part of it)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


class Sample:
    """Keeps one record in `rate`: by a counter, or by the hash of `key`."""

    splits_exactly = False  # the counter are per process

    def __init__(self, ctx, rate, key=None):
        from ..runtime.ops import get_path

        self.ctx = ctx
        self.rate = max(1, int(rate))
        self.path = tuple(key) if key is not None else None
        self.count = 0
        self._get_path = get_path

    def __call__(self, rec):
        if self.path is not None:
            path = self.path
            value = rec.get(path[0]) if len(path) == 1 else self._get_path(rec, path)
            if value is not None:
                return rec if key_hash(value) % self.rate == 0 else None
        kept = self.count == 0
        self.count = (self.count + 1) % self.rate
        return rec if kept else None

"""`dedup(fields, within=duration)`: drop repeats seen within a time window."""

from __future__ import annotations

from .. import codes
from ..types import DURATION, INT
from .spec import Example, Param, ParamKind, RuleContext, StageSpec


def within_problem(within: int) -> str | None:
    return "`within` must be a positive duration" if within <= 0 else None


def capacity_problem(capacity: int) -> str | None:
    return "`capacity` must be at least 1" if capacity < 1 else None


def _output(ctx: RuleContext):
    if ctx.args.get("fields") == ():
        ctx.error(codes.BAD_ARG_VALUE, "name at least one field", param="fields")
    return ctx.input


SPEC = StageSpec(
    name="dedup",
    role="processor",
    doc=(
        "Drops a record when another with the same values of `fields` passed "
        "within the last `within` (processing time: when the stage saw it). A "
        "dropped repeat does not extend the window; the first record after it "
        "passes and starts a new one. Null and missing values are values like any "
        "other. Memory is bounded by `capacity` keys: when it is full, the key "
        "that passed longest ago is forgotten first (counted as `evicted`), so a "
        "repeat of it may pass again."
    ),
    params=(
        Param("fields", ParamKind.FIELDS, "the fields that identify a repeat"),
        Param(
            "within",
            ParamKind.VALUE,
            "how long a record is remembered",
            type=DURATION,
            default=60_000,
            check=within_problem,
        ),
        Param(
            "capacity",
            ParamKind.VALUE,
            "most keys remembered",
            type=INT,
            default=100_000,
            check=capacity_problem,
        ),
    ),
    output=_output,
    runtime="Dedup",
    module=__name__,
    may_drop=True,
    examples=(
        Example(
            "dedup([user, action], within=1m)",
            input=(
                {"user": "a", "action": "x"},
                {"user": "a", "action": "x"},
                {"user": "b", "action": "x"},
            ),
            output=({"user": "a", "action": "x"}, {"user": "b", "action": "x"}),
        ),
    ),
)


# ---------------------------------------------------------------- runtime


def _frozen(value):
    """A hashable stand-in for a record or list value used in a key."""
    if isinstance(value, dict):
        return ("{}", tuple(sorted((k, _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("[]", tuple(_frozen(v) for v in value))
    return value


class Dedup:
    """Drops records whose `fields` repeat within `within` milliseconds."""

    splits_exactly = False  # the records seen are per process

    def __init__(self, ctx, fields, within=60_000, capacity=100_000, clock=None):
        import time
        from collections import OrderedDict

        from ..runtime.ops import get_path

        self.ctx = ctx
        self.paths = tuple(tuple(p) for p in fields)
        self.within = within / 1000.0
        self.capacity = max(1, int(capacity))
        self.clock = clock or time.monotonic
        # key -> when it last passed, oldest first
        self.seen: OrderedDict = OrderedDict()
        self._get_path = get_path
        self._single = (
            self.paths[0][0] if len(self.paths) == 1 and len(self.paths[0]) == 1 else None
        )

    def key(self, rec):
        if self._single is not None:
            return rec.get(self._single)
        return tuple(self._get_path(rec, p) for p in self.paths)

    def __call__(self, rec):
        key = self.key(rec)
        try:
            hash(key)
        except TypeError:
            key = _frozen(key)
        now = self.clock()
        seen = self.seen
        within = self.within
        # forget keys whose window has passed (they are in pass order)
        while seen:
            if now - next(iter(seen.values())) < within:
                break
            seen.popitem(last=False)
        if key in seen:
            return None
        seen[key] = now
        if len(seen) > self.capacity:
            seen.popitem(last=False)
            self.ctx.count("evicted")
        return rec

"""`dedup(fields, within=duration)`: drop repeats seen within a time window."""

from __future__ import annotations

from ..types import DURATION, INT
from ._spec import Example, Kind, Param, RuleContext, StageSpec


def _output(ctx: RuleContext):
    return ctx.input


SPEC = StageSpec(
    name="dedup",
    kind="processor",
    doc=(
        "Drops a record when another with the same values of `fields` passed "
        "within the last `within` (processing time). Memory is bounded by "
        "`capacity` keys; the oldest are forgotten first (counted)."
    ),
    params=(
        Param("fields", Kind.FIELDS, "the fields that identify a repeat"),
        Param("within", Kind.VALUE, "how long a record is remembered", type=DURATION,
              default=60_000),
        Param("capacity", Kind.VALUE, "most keys remembered", type=INT, default=100_000),
    ),  # fmt: skip
    output=_output,
    runtime="Dedup",
    module=__name__,
    may_drop=True,
    examples=(
        Example(
            "dedup([user, action], within=1m)",
            input=({"user": "a", "action": "x"}, {"user": "a", "action": "x"},
                   {"user": "b", "action": "x"}),
            output=({"user": "a", "action": "x"}, {"user": "b", "action": "x"}),
        ),  # fmt: skip
    ),
)

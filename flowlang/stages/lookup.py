"""`lookup(table, key=…, into=…)`: enrich from a CSV or JSON file loaded once."""

from __future__ import annotations

from ..types import OPEN_RECORD, STR, nullable
from ._rules import with_field
from ._spec import Example, Kind, Param, RuleContext, StageSpec


def _output(ctx: RuleContext):
    return with_field(ctx.input, ctx.args["into"], nullable(OPEN_RECORD))


SPEC = StageSpec(
    name="lookup",
    kind="processor",
    doc=(
        "Adds `into`: the row of `table` (a CSV file with a header, or a JSON file "
        "holding an object of objects or a list of objects) whose `column` equals "
        "the record's `key`, or null when there is none. The table is loaded once "
        "when the pipeline starts."
    ),
    params=(
        Param("table", Kind.VALUE, "CSV or JSON file", type=STR, allow_env=True),
        Param("key", Kind.FIELD, "the record's field to look up"),
        Param("into", Kind.NEW_FIELD, "the field to add", default="lookup"),
        Param("column", Kind.VALUE, "the table's key column (default: the key's name)",
              type=STR, default=None),
    ),  # fmt: skip
    output=_output,
    runtime="Lookup",
    module=__name__,
    examples=(Example('lookup("hosts.csv", key=host, into=owner)'),),
)

"""`source stdin(format=auto, schema=S)`."""

from __future__ import annotations

from ._rules import FORMAT_OPTIONS, decoded_record
from ._spec import Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="stdin",
    kind="source",
    doc="Reads records from standard input, decoded as by `file` (`format`, `schema`).",
    params=(
        Param("format", Kind.CHOICE, "how lines are decoded", default="auto",
              options=FORMAT_OPTIONS),
        Param("schema", Kind.SCHEMA, "validate and coerce each record", default=None),
    ),  # fmt: skip
    output=decoded_record,
    runtime="StdinSource",
    module=__name__,
    examples=(Example("source stdin(format=json) | sink stdout(format=pretty)"),),
)

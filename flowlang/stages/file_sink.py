"""`sink file(path, format=json)`."""

from __future__ import annotations

from ..types import STR
from ._spec import Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="file",
    kind="sink",
    doc=(
        "Appends records to a file as JSON lines (time as ISO 8601 UTC). Each "
        "batch is written and flushed before its records count as accepted."
    ),
    params=(
        Param("path", Kind.VALUE, "output file", type=STR, allow_env=True),
        Param("format", Kind.CHOICE, "output format", default="json", options={"json": ()}),
    ),
    output=lambda ctx: None,
    runtime="FileSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink file("out.jsonl")'),),
)

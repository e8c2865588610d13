"""`sink null`: accepts and discards every record."""

from __future__ import annotations

from ._spec import Example, StageSpec

SPEC = StageSpec(
    name="null",
    kind="sink",
    doc="Accepts every record and discards it (benchmarks, dry runs).",
    params=(),
    output=lambda ctx: None,
    runtime="NullSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink null'),),
)

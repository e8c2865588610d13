"""`sink stdout(format=json|pretty)`."""

from __future__ import annotations

from ._spec import Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="stdout",
    kind="sink",
    doc="Writes records to standard output: JSON lines, or `pretty` for people.",
    params=(
        Param("format", Kind.CHOICE, "output format", default="json",
              options={"json": (), "pretty": ()}),
    ),  # fmt: skip
    output=lambda ctx: None,
    runtime="StdoutSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink stdout(format=pretty)'),),
)

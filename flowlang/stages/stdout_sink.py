"""`sink stdout(format=json|pretty)`."""

from __future__ import annotations

from .spec import Example, Param, ParamKind, StageSpec

SPEC = StageSpec(
    name="stdout",
    role="sink",
    doc="Writes records to standard output: JSON lines, or `pretty` for people.",
    params=(
        Param(
            "format",
            ParamKind.CHOICE,
            "output format",
            default="json",
            options={"json": (), "pretty": ()},
        ),
    ),
    output=lambda ctx: None,
    runtime="StdoutSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink stdout(format=pretty)'),),
)


# the runtime class (generated code instantiates it; checking never does)
import sys  # noqa: E402

from ..runtime import jsonl  # noqa: E402
from ..runtime.base import Rejected, Sink, StageContext  # noqa: E402
from ..runtime.errors import FlowError  # noqa: E402


class StdoutSink(Sink):
    """Writes each batch to standard output and flushes it."""

    shareable = False  # the lines of several processes would interleave

    def __init__(self, ctx: StageContext, format: str = "json") -> None:
        if format not in ("json", "pretty"):
            raise FlowError(f"stdout sink: unknown format {format!r}")
        self.ctx = ctx
        self.dump = None if format == "json" else jsonl.dumps_pretty

    async def write(self, records: list) -> list[Rejected]:
        if not records:
            return []
        data, failed = jsonl.encode_lines(records, self.dump)
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return [Rejected.unencodable(exc) for _, exc in failed]

    async def close(self) -> None:
        sys.stdout.flush()

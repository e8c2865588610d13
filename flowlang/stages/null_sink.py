"""`sink null`: accepts and discards every record."""

from __future__ import annotations

from .spec import Example, StageSpec

SPEC = StageSpec(
    name="null",
    role="sink",
    doc="Accepts every record and discards it (benchmarks, dry runs).",
    params=(),
    output=lambda ctx: None,
    runtime="NullSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink null'),),
)


# the runtime class (generated code instantiates it; checking never does)
from ..runtime.base import Rejected, Sink, StageContext  # noqa: E402


class NullSink(Sink):
    """Accepts every record and keeps none."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx

    async def write(self, records: list) -> list[Rejected]:
        return []

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


# the runtime class (generated code instantiates it; checking never does)
import os  # noqa: E402
import stat  # noqa: E402

from ..runtime.base import Rejected, Sink, StageContext  # noqa: E402
from ..runtime.errors import FlowError  # noqa: E402
from ..runtime.jsonl import dumps_lines  # noqa: E402


class FileSink(Sink):
    """Appends JSON lines; each batch is written and flushed before `write`
    returns, and the file is fsynced when the sink closes."""

    def __init__(self, ctx: StageContext, path: str, format: str = "json") -> None:
        if format != "json":
            raise FlowError(f"file sink: unknown format {format!r}")
        self.ctx = ctx
        self.path = path
        self.f = None

    async def start(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            if directory:
                os.makedirs(directory, exist_ok=True)
            self.f = open(self.path, "ab")
        except OSError as exc:
            raise FlowError(f"cannot open {self.path!r} for appending: {exc.strerror}") from None

    async def write(self, records: list) -> list[Rejected]:
        if records:
            self.f.write(dumps_lines(records))
            self.f.flush()
        return []

    async def close(self) -> None:
        if self.f is not None:
            self.f.flush()
            if stat.S_ISREG(os.fstat(self.f.fileno()).st_mode):
                os.fsync(self.f.fileno())  # pipes and devices cannot be synced
            self.f.close()
            self.f = None

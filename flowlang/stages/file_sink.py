"""`sink file(path, format=json)`."""

from __future__ import annotations

from ..types import STR
from ._rules import RETRY_PARAMS
from .spec import Example, Param, ParamKind, StageSpec

SPEC = StageSpec(
    name="file",
    role="sink",
    doc=(
        "Appends records to a file as JSON lines (time as ISO 8601 UTC). Each "
        "batch is written before its records count as accepted; a batch that "
        "cannot be written (disk full) is taken back to the last whole record "
        "and retried, and a partial last line left by an earlier run is cut "
        "off at start. A record that cannot be written as JSON (nested too "
        "deep) goes to the error stream. Under `flowc run --workers N` each "
        "worker appends to a file of its own: `out.jsonl` becomes `out.w0.jsonl`, "
        "`out.w1.jsonl`, … (see docs/scaling.md)."
    ),
    params=(
        Param("path", ParamKind.VALUE, "output file", type=STR),
        Param("format", ParamKind.CHOICE, "output format", default="json", options={"json": ()}),
        *RETRY_PARAMS,
    ),
    output=lambda ctx: None,
    runtime="FileSink",
    module=__name__,
    examples=(Example('source file("in.log") | sink file("out.jsonl")'),),
)


# the runtime class (generated code instantiates it; checking never does)
import logging  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402

from ..runtime.base import Rejected, Sink, StageContext  # noqa: E402
from ..runtime.errors import FlowError  # noqa: E402
from ..runtime.jsonl import encode_lines  # noqa: E402
from ._netsink import Retrier  # noqa: E402

log = logging.getLogger("flowlang.sink.file")


def worker_path(path: str, index: int) -> str:
    """The file worker `index` of `--workers` writes instead of `path`, as
    two processes cannot append to one file safely: `out.jsonl` becomes
    `out.w0.jsonl`, `out` becomes `out.w0`."""
    head, tail = os.path.split(path)
    stem, dot, ext = tail.rpartition(".")
    name = f"{stem}.w{index}.{ext}" if dot and stem else f"{tail}.w{index}"
    return os.path.join(head, name)


class FileSink(Sink):
    """Appends JSON lines. The sink knows its committed size, the end of the
    last whole record it wrote: a write that fails (disk full, file too
    large) is cut back to it and retried with the network sinks' policy, and
    a partial last line found at start (a run that died in the middle of a
    write) is cut off, so the file never holds a torn record. It assumes it
    is the only writer of its file. The file is fsynced when the sink closes."""

    def __init__(
        self,
        ctx: StageContext,
        path: str,
        format: str = "json",
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
    ) -> None:
        if format != "json":
            raise FlowError(f"file sink: unknown format {format!r}")
        self.ctx = ctx
        worker = ctx.options.get("worker")
        self.path = path if worker is None else worker_path(path, worker[0])
        self.fd: int | None = None
        self.regular = False  # a regular file (not a pipe or a device): it can be cut back
        self.committed = 0
        self.retrier = Retrier(
            ctx, f"file sink {path!r}", retry_initial, retry_max / 1000, shutdown_grace / 1000, log
        )

    async def start(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            if directory:
                os.makedirs(directory, exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            st = os.fstat(self.fd)
            self.regular = stat.S_ISREG(st.st_mode)
            if self.regular:
                self.committed = self._cut_partial_line(st.st_size)
        except OSError as exc:
            raise FlowError(f"cannot open {self.path!r} for appending: {exc.strerror}") from None

    def _cut_partial_line(self, size: int) -> int:
        """The size up to the end of the file's last whole line; a partial
        line after it is cut off (with a warning)."""
        end = size
        with open(self.path, "rb") as f:
            while end > 0:
                step = min(65536, end)
                block = os.pread(f.fileno(), step, end - step)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    end = end - step + newline + 1
                    break
                end -= step
        if end < size:
            os.ftruncate(self.fd, end)
            log.warning(
                "%s: cut off a partial last line of %d bytes in %s, left by a run "
                "that stopped while writing it",
                self.ctx.stage,
                size - end,
                self.path,
            )
        return end

    async def write(self, records: list) -> list[Rejected]:
        if not records:
            return []
        data, failed = encode_lines(records)
        rejected = [Rejected.unencodable(exc) for _, exc in failed]
        if rejected:
            self.ctx.count("rejected", len(rejected))
        attempt = 0
        while True:
            try:
                self._write_all(data)
            except OSError as exc:
                self._take_back()
                reason = f"cannot write to {self.path}: {exc.strerror or exc}"
                await self.retrier.wait(attempt, reason, len(records) - len(rejected))
                attempt += 1
                continue
            self.committed += len(data)
            if attempt:
                self.retrier.recovered(attempt)
            return rejected

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def _take_back(self) -> None:
        """Cut what a failed write left after the committed size."""
        if not self.regular:
            return  # a pipe cannot be cut back; what went through is gone
        try:
            if os.fstat(self.fd).st_size > self.committed:
                os.ftruncate(self.fd, self.committed)
        except OSError as exc:
            log.warning(
                "%s: cannot cut %s back to its last whole record: %s",
                self.ctx.stage,
                self.path,
                exc.strerror,
            )

    async def close(self) -> None:
        self.retrier.close()
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                if self.regular:
                    os.fsync(fd)  # pipes and devices cannot be synced
            finally:
                os.close(fd)

"""`source file(path, format=auto, schema=S, follow=false, start=beginning)`."""

from __future__ import annotations

from ..types import BOOL, STR
from ._rules import FORMAT_OPTIONS, decoded_record
from ._spec import Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="file",
    kind="source",
    doc=(
        "Reads records from files. `path` may be a glob (files are read in sorted "
        "order). `format=auto` reads a line as a JSON object when it is one, else "
        "as `{message: line}`; `json` expects one JSON object per line; `lines` "
        "gives `{message: str}`; `csv(header=true, delimiter=\",\")` reads columns. "
        "With `schema=S` every record is validated and coerced to `S`; one that "
        "does not conform goes to the error stream. `follow=true` tails the files "
        "(rotation and truncation handled) and checkpoints the offset once the "
        "sinks have accepted the records, so a restart resumes without loss.\n\n"
        "**Truncation.** A followed file is known by its device and inode and by "
        "its fingerprint: its first 1 KiB as read (all of it while it is shorter; "
        "the fingerprint grows with the file). Before every read the file's first "
        "bytes are compared with the fingerprint. A file that became shorter than "
        "the offset read so far, or whose first bytes changed (truncated, as by "
        "copytruncate, and written again, even past the old offset, between two "
        "reads), is read again from its start; so is one found changed that way at "
        "a restart. As in Filebeat and Vector, a file rewritten in place with the "
        "same first KiB is taken for the same file, grown. Records read before a "
        "truncation are delivered, but if the run is killed before the sinks "
        "accepted them they cannot be read again: the file no longer holds them."
    ),
    params=(
        Param("path", Kind.VALUE, "file path or glob", type=STR, allow_env=True),
        Param("format", Kind.CHOICE, "how lines are decoded", default="auto",
              options=FORMAT_OPTIONS),
        Param("schema", Kind.SCHEMA, "validate and coerce each record", default=None),
        Param("follow", Kind.VALUE, "keep reading as the files grow", type=BOOL,
              default=False),
        Param("start", Kind.CHOICE, "where a followed file without checkpoint starts",
              default="beginning", options={"beginning": (), "end": ()}),
    ),  # fmt: skip
    output=decoded_record,
    runtime="FileSource",
    module=__name__,
    examples=(
        Example('source file("access.log") | sink stdout'),
        Example(
            'schema Event { ts: time, level: str, latency_ms: float? }\n'
            'source file("events-*.jsonl", format=json, schema=Event) | sink stdout',
            doc="Typed records: a line that does not fit `Event` goes to the error stream.",
        ),
        Example('source file("app.log", format=lines, follow=true) | sink file("out.jsonl")'),
    ),
)


# the runtime class (generated code instantiates it; checking never does)
from ..runtime.base import Source, SourceBatch, StageContext  # noqa: E402


class FileSource(Source):
    """Reads the files a path or glob names, once or following them."""

    def __init__(self, ctx: StageContext, path: str, format: str = "auto", format_args: dict | None = None,
                 schema=None, follow: bool = False, start: str = "beginning",
                 poll: float = 0.25) -> None:  # fmt: skip
        from ..runtime.context import DEFAULT_BATCH_SIZE, DEFAULT_STATE_DIR
        from ..runtime.errors import FlowError
        from ..runtime.tail import expand

        self.ctx = ctx
        self.path = path
        self.format, self.format_args, self.schema = format, dict(format_args or {}), schema
        self.follow = follow
        self.start = start
        self.poll = poll
        self.batch_size = int(ctx.options.get("batch_size", DEFAULT_BATCH_SIZE))
        self.state_dir = ctx.state_dir or DEFAULT_STATE_DIR
        self.paths: list[str] = []
        self.tailer = None
        self._stopped = False
        self._wake = None
        self._decoder()  # reject a bad format or schema now, before running
        if not follow:
            self.paths = expand(path)
            if not self.paths:
                raise FlowError(f"no file matches {path!r}")

    def _decoder(self):
        from ..runtime.decode import Decoder

        return Decoder(self.format, self.format_args, self.schema)

    def stop(self) -> None:
        self._stopped = True
        if self._wake is not None:
            self._wake.set()

    async def batches(self):
        if self.follow:
            async for batch in self._follow():
                yield batch
            return
        from ..runtime.lines import line_batches

        decoder = self._decoder()
        for path in self.paths:
            decoder.new_file()
            with open(path, "rb") as f:
                for lines in line_batches(f, self.batch_size):
                    records, failed = decoder.decode(lines)
                    if records or failed:
                        yield SourceBatch(failed, records=records)
                    if self._stopped:
                        return

    async def _follow(self):
        import asyncio
        from functools import partial

        from ..runtime.checkpoint import checkpoint_path
        from ..runtime.tail import Tailer

        self._wake = asyncio.Event()
        state = checkpoint_path(self.state_dir, "file", self.ctx.pipeline, self.path)
        self.tailer = tailer = Tailer(self.path, state, start=self.start)
        tailer.open()
        decoders: dict = {}
        while not self._stopped:
            got = tailer.read(self.batch_size)
            if got is None:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                except TimeoutError:
                    pass
                continue
            watched, lines = got
            records, failed = self._decoder_for(decoders, watched).decode(lines)
            ack = partial(
                tailer.acked, watched, watched.reader.restarts, watched.reader.offset
            )
            yield SourceBatch(failed, ack=ack, records=records)

    def _decoder_for(self, decoders: dict, watched):
        """One decoder per followed file (a CSV header belongs to its file);
        a file resumed past its start has its header read again."""
        known = decoders.get(watched.key)
        if known is not None and known[1] == watched.reader.restarts:
            return known[0]
        decoder = self._decoder()
        if self.format == "csv" and self.format_args.get("header", True):
            if watched.reader.last_start > 0:
                import os

                from ..runtime.lines import MAX_LINE

                head = os.pread(watched.f.fileno(), MAX_LINE, 0)
                decoder.decode([head.split(b"\n", 1)[0]])
        decoders[watched.key] = (decoder, watched.reader.restarts)
        return decoder

    async def close(self) -> None:
        if self.tailer is not None:
            self.tailer.close()

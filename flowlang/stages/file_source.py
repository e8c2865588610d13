"""`source file(path, format=auto, schema=S, follow=false, start=beginning)`."""

from __future__ import annotations

from ..types import BOOL, STR
from ._rules import decode_params, decoded_record, with_field
from .spec import Example, Param, ParamKind, RuleContext, StageSpec


def _output(ctx: RuleContext):
    record = decoded_record(ctx)
    for param in ("path_field", "host_field"):
        if ctx.args.get(param) is not None:
            record = with_field(record, ctx.args[param], STR)
    return record


SPEC = StageSpec(
    name="file",
    role="source",
    doc=(
        "Reads records from files. `path` may be a glob (files are read in sorted "
        "order). `format=auto` reads a line as a JSON object when it is one, else "
        "as `{message: line}`; `json` expects one JSON object per line; `lines` "
        'gives `{message: str}`; `csv(header=true, delimiter=",")` reads columns. '
        "With `schema=S` every record is validated and coerced to `S`; one that "
        "does not conform goes to the error stream. `follow=true` tails the files "
        "(rotation and truncation handled) and checkpoints the offset once the "
        "sinks have accepted the records, so a restart resumes without loss. A "
        "UTF-8 byte-order mark opening a file (or standard input) is dropped.\n\n"
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
        "accepted them they cannot be read again: the file no longer holds them.\n\n"
        "**Rotation.** A followed file keeps its identity when it is renamed: it is "
        "read to its end through the descriptor already open (before the file that "
        "took its place at the path), and closed once it has been out of the path "
        "or glob and quiet for 2 s. On Linux the directory of the path is watched "
        "(inotify): a file that comes to the path is opened the moment the kernel "
        "reports it, and a file renamed again before that (logrotate shifting "
        "`app.log.1` to `app.log.2`) is found where the renames took it, so "
        "rotation at any speed loses nothing: once open, a file is read to its end "
        "even if it is then deleted. A file deleted or moved out of the directory "
        "before the report was handled (milliseconds) cannot be read. Where inotify is not "
        "available (other systems, the user's inotify limits reached) and for a "
        "glob whose directories are patterns too (`logs/*/app.log`), the files are "
        "found by rescanning once a second: a file that sits at the path for less "
        "than that may be missed.\n\n"
        "**Where a record came from.** As Vector's file source adds `file` and "
        "`host`, `path_field=NAME` adds the path of the file a record was read from "
        "(as the glob matched it; a followed file that was rotated carries the name "
        "the source last saw it at, such as `app.log.1`) and `host_field=NAME` the "
        "name of the machine that ran the source; both are `str` in the record "
        "type and replace a field of that name the line held. Without them records "
        "are as the lines hold them.\n\n"
        "**CSV.** Records are read as RFC 4180 writes them: a quoted field may hold "
        'the delimiter, doubled quotes (`""`) and line breaks, so one record may '
        "span lines (the breaks inside it are kept as written, CRLF included). With "
        "`header=true` the first record names the columns; `columns=[a, b]` names "
        "them instead (with `header=true` the header is then skipped), and the "
        "record type is `{a: str, b: str}` unless `schema=` types them; with "
        "`header=false` and no `columns` they are `column1`, `column2`, …. A record "
        "with another number of values than the columns, a quote closed before "
        "other text, a quote still open at the end of the file, or a record over "
        "1 MiB goes to the error stream with its text and the reason; the next "
        "record is read as usual. A followed file's checkpoint stays before a "
        "record whose lines are not all written yet, so a restart reads it whole.\n\n"
        "**Compressed files.** A file whose name ends in `.gz`, or that starts with "
        "the gzip magic bytes `1f 8b`, is read as the lines it holds once "
        "uncompressed, for a single path and a glob alike; every member of a "
        "multi-member file is read in order. Damaged data (a file cut short, a "
        "checksum that does not match, bytes after the stream that are not gzip) "
        "does not stop the run: the records before the damage are delivered, then "
        "one error record (code `decode`) names the file, how many uncompressed "
        "bytes were read and why (for a file cut short, the partial line it ends "
        "in is the error's `raw`); the next file is read. The checksum of a member is checked "
        "at its end, so lines of a member damaged in its middle may come out "
        "garbled before the error. With `follow=true` a gzip file (found at the "
        "start or arriving later, as a rotated log compressed after rotation) is "
        "read once, whole, and not followed for growth once its stream ended. One "
        "that is empty or ends inside its stream is taken to be still written (by "
        "its compressor, or a copy) and waited for: an empty one however long, one "
        "cut short until nothing came from it for 2 s, when it gives the error "
        "record; should it grow after that, reading goes on where it stopped, the "
        "cut line read whole. Its checkpoint holds the "
        "offset in the uncompressed stream and the fingerprint of its compressed "
        "first bytes: a restart decompresses the file again and skips the bytes "
        "already accepted (what was read and not yet accepted is read again), and "
        "a file read to its end and accepted is not read again (one cut short is: "
        "it may have grown). A followed file truncated or written again in place "
        "is read again from its start as what it holds now: unless its name ends "
        "in `.gz`, its first bytes decide again whether it is gzip or text. A glob "
        "that matches both a log and its compressed "
        "rotations (`app.log*`) reads their records twice; name one of them "
        "(`app.log`, or `app.log.*.gz` for the archives).\n\n"
        "**Workers.** Under `flowc run --workers N`, files read once are cut into "
        "N byte ranges at line starts (a gzip or CSV file goes whole to one "
        "worker), and each followed file is followed by one worker, chosen by its "
        "device and inode, with its checkpoint (see docs/scaling.md)."
    ),
    params=(
        Param("path", ParamKind.VALUE, "file path or glob", type=STR),
        *decode_params("lines"),
        Param(
            "follow", ParamKind.VALUE, "keep reading as the files grow", type=BOOL, default=False
        ),
        Param(
            "start",
            ParamKind.CHOICE,
            "where a followed file without checkpoint starts",
            default="beginning",
            options={"beginning": (), "end": ()},
        ),
        Param(
            "path_field",
            ParamKind.NEW_FIELD,
            "a field to add holding the path of the file the record was read from",
            default=None,
        ),
        Param(
            "host_field",
            ParamKind.NEW_FIELD,
            "a field to add holding the host name of the machine that read it",
            default=None,
        ),
    ),
    output=_output,
    runtime="FileSource",
    module=__name__,
    examples=(
        Example('source file("access.log") | sink stdout'),
        Example(
            "schema Event { ts: time, level: str, latency_ms: float? }\n"
            'source file("events-*.jsonl", format=json, schema=Event) | sink stdout',
            doc="Typed records: a line that does not fit `Event` goes to the error stream.",
        ),
        Example('source file("app.log", format=lines, follow=true) | sink file("out.jsonl")'),
        Example(
            'source file("archive/app.log.*.gz", format=lines, path_field=file) | sink stdout',
            doc="Rotated logs compressed by logrotate, read as the lines they hold.",
        ),
        Example(
            'source file("users.csv", format=csv(header=false, columns=["id", "name"]))\n'
            '  | where id != ""\n'
            "  | sink stdout",
            doc="A CSV file without a header line: the columns are named in the program.",
        ),
        Example(
            'source file("logs/*.log", format=lines, path_field=file, host_field=host)\n'
            '  | where host != "" and ends_with(file, ".log")\n'
            "  | sink stdout",
            doc="Each record says which file and machine it came from.",
        ),
    ),
)


# the runtime class (generated code instantiates it; checking never does)
from typing import Any  # noqa: E402

from ..runtime.base import Source, SourceBatch, StageContext  # noqa: E402


class FileSource(Source):
    """Reads the files a path or glob names, once or following them."""

    def __init__(
        self,
        ctx: StageContext,
        path: str,
        format: str = "auto",
        format_args: dict | None = None,
        schema=None,
        follow: bool = False,
        start: str = "beginning",
        path_field: str | None = None,
        host_field: str | None = None,
        poll: float = 0.25,
    ) -> None:
        from ..runtime.context import DEFAULT_BATCH_SIZE, DEFAULT_STATE_DIR
        from ..runtime.errors import FlowError
        from ..runtime.tail import expand

        self.ctx = ctx
        self.path = path
        self.format, self.format_args, self.schema = format, dict(format_args or {}), schema
        self.follow = follow
        self.keeps_state = self.acknowledges = follow  # a followed file's checkpoint
        self.start = start
        self.poll = poll
        self.batch_size = int(ctx.options.get("batch_size", DEFAULT_BATCH_SIZE))
        self.state_dir = ctx.state_dir or DEFAULT_STATE_DIR
        self.paths: list[str] = []
        self.tailer = None
        self._stopped = False
        self._wake = None
        self._watched_fd: int | None = None  # the tailer's directory watch, in the loop
        # (index in the plan, file, its gzip reader or None) of a file read once
        self._reading: tuple[int, Any, Any] | None = None
        # with `--workers`: (index, count) of this process's share (`shard`)
        self._share: tuple[int, int] | None = None
        self._plan: list = []  # the pieces (`shards.Piece`) being read
        self._range_end = 0  # where the piece being read ends
        self.path_field = path_field
        self.host = None
        if host_field is not None:
            import socket

            self.host = (host_field, socket.gethostname())
        self._decoder()  # reject a bad format or schema now, before running
        if not follow:
            self.paths = expand(path)
            if not self.paths:
                raise FlowError(f"no file matches {path!r}")

    def _decoder(self):
        from ..runtime.decode import Decoder

        return Decoder(self.format, self.format_args, self.schema)

    def shard(self, index: int, count: int) -> str | None:
        """Read share `index` of `count` of the files: byte ranges of the
        files read once (`runtime.shards`), whole files when followed (the
        worker `tail.owner` names)."""
        self._share = (index, count)
        return None

    def before_workers(self, count: int) -> None:
        """Deal a followed glob's checkpointed files out to `count` workers."""
        if self.follow:
            from ..runtime.tail import reshard

            reshard(self._state_path(), count)

    def _state_path(self) -> str:
        from ..runtime.checkpoint import checkpoint_path

        return checkpoint_path(self.state_dir, "file", self.ctx.pipeline, self.path)

    def _pieces(self) -> list:
        """What this process reads: every file whole, or its share."""
        import os

        from ..runtime.gzipped import is_gzip
        from ..runtime.shards import Piece, plan

        if self._share is None:
            return [Piece(k, 0, None) for k in range(len(self.paths))]
        sizes, splittable = [], []
        for path in self.paths:
            try:
                with open(path, "rb") as f:
                    sizes.append(os.fstat(f.fileno()).st_size)
                    splittable.append(self.format != "csv" and not is_gzip(path, f.fileno()))
            except OSError:
                # gone since the glob was expanded: its open fails and says so
                sizes.append(0)
                splittable.append(False)
        return plan(sizes, splittable, *self._share)

    def stop(self) -> None:
        self._stopped = True
        if self._wake is not None:
            self._wake.set()

    async def batches(self):
        if self.follow:
            async for batch in self._follow():
                yield batch
            return
        from ..runtime.gzipped import GzipReader, gzip_line_batches, is_gzip
        from ..runtime.lines import line_batches

        decoder = self._decoder()
        self._plan = pieces = self._pieces()
        for at, (k, start, end) in enumerate(pieces):
            path = self.paths[k]
            decoder.new_file()
            with open(path, "rb") as f:
                gz = GzipReader(f.fileno(), path) if is_gzip(path, f.fileno()) else None
                self._reading = (at, f, gz)
                if gz:
                    batches = gzip_line_batches(gz, self.batch_size)
                elif start == 0 and end is None:
                    batches = line_batches(f, self.batch_size)
                else:
                    batches = self._range(f, start, end)
                for lines in batches:
                    records, failed = decoder.decode(lines)
                    self._mark(records, path)
                    if records or failed:
                        yield SourceBatch(failed, records=records)
                    if self._stopped:
                        return
            self._reading = None
            unfinished = decoder.finish()  # a CSV quote the file never closed
            if gz is not None and gz.damage is not None:
                unfinished.append(_damaged(gz.damage, gz.rest()))
            if unfinished:
                yield SourceBatch(unfinished)

    def _range(self, f, start: int, end: int | None):
        """The lines of `f` that start in bytes `start`..`end` (a share)."""
        import os

        from ..runtime.lines import line_batches
        from ..runtime.shards import Bounded, align

        size = os.fstat(f.fileno()).st_size
        first = align(f.fileno(), start, size)
        last = size if end is None else align(f.fileno(), end, size)
        f.seek(first)
        self._range_end = last
        return line_batches(Bounded(f, last), self.batch_size, at_start=first == 0)

    async def _follow(self):
        import asyncio
        from functools import partial

        from ..runtime.tail import Tailer

        self._wake = asyncio.Event()
        self.tailer = tailer = Tailer(
            self.path, self._state_path(), start=self.start, share=self._share
        )
        tailer.open()
        # the directory watch is served by the loop itself, so a file that
        # arrives is opened at once even while this generator waits for the
        # pipeline to take a batch
        fd = tailer.watch_fileno()
        if fd is not None:
            asyncio.get_running_loop().add_reader(fd, self._on_watch)
            self._watched_fd = fd
        decoders: dict = {}
        while not self._stopped:
            got = tailer.read(self.batch_size)
            if got is None:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                except TimeoutError:
                    pass
                self._wake.clear()
                continue
            watched, lines = got
            decoder = self._decoder_for(decoders, watched)
            records, failed = decoder.decode(lines)
            damage = watched.take_damage()
            if damage is not None:
                failed.append(_damaged(*damage))
            self._mark(records, watched.path)
            # a CSV record still open is read again after a restart, whole
            offset = watched.reader.offset - decoder.pending_bytes
            ack = partial(tailer.acked, watched, watched.reader.restarts, offset)
            yield SourceBatch(failed, ack=ack, records=records)

    def lag_bytes(self) -> int | None:
        """Followed: what the open files hold past the read offset. Read
        once: the rest of the current file and the files after it."""
        import os

        if self.follow:
            if self.tailer is None:
                return None
            # a gzip file's lag is in compressed bytes, as its size is
            return sum(
                max(
                    0,
                    os.fstat(w.f.fileno()).st_size
                    - (w.gz.consumed if w.gz is not None else w.reader.offset),
                )
                for w in self.tailer.files.values()
                if not w.closed
            )
        if self._reading is None:
            return None
        at, f, gz = self._reading
        read = gz.consumed if gz is not None else f.tell()
        piece = self._plan[at]
        end = os.fstat(f.fileno()).st_size if piece.end is None else self._range_end
        behind = max(0, end - read)
        for later in self._plan[at + 1 :]:
            try:
                size = os.stat(self.paths[later.index]).st_size
            except OSError:
                continue  # gone since the glob was expanded: its open fails and says so
            behind += (size if later.end is None else later.end) - later.start
        return behind

    def _mark(self, records: list, path: str) -> None:
        """Add `path_field` and `host_field` where they were asked for."""
        if self.path_field is not None:
            name = self.path_field
            for rec in records:
                rec[name] = path
        if self.host is not None:
            name, host = self.host
            for rec in records:
                rec[name] = host

    def _decoder_for(self, decoders: dict, watched):
        """One decoder per followed file (a CSV header belongs to its file);
        a file resumed past its start has its header read again."""
        known = decoders.get(watched.key)
        if known is not None and known[1] == watched.reader.restarts:
            return known[0]
        decoder = self._decoder()
        if self.format == "csv" and self.format_args.get("header", True):
            if watched.reader.last_start > 0:
                from ..runtime.lines import MAX_LINE

                decoder.read_header(watched.first_bytes(MAX_LINE))
        decoders[watched.key] = (decoder, watched.reader.restarts)
        return decoder

    def _on_watch(self) -> None:
        if self.tailer is None or self.tailer.watch_fileno() is None:
            return
        self.tailer.on_changes()
        self._wake.set()

    def _unwatch(self) -> None:
        import asyncio

        if self._watched_fd is not None:
            asyncio.get_running_loop().remove_reader(self._watched_fd)
            self._watched_fd = None

    async def close(self) -> None:
        self._unwatch()
        if self.tailer is not None:
            self.tailer.close()


def _damaged(message: str, cut: bytes):
    """The error item for a gzip stream that stopped early: its path and why
    in the message, the line the end of a truncated file cut short as raw."""
    from ..runtime.base import RecordError, SourceItem

    raw = cut.decode("utf-8", "replace") if cut else None
    return SourceItem(None, raw, RecordError("decode", message, raw))

"""`source syslog(port, protocol=udp|tcp, format=auto, host=…, max_line=…,
timezone=…, max_connections=…, idle=…)`: a UDP or TCP syslog listener."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, AsyncIterator

from ..runtime.base import RecordError, Source, SourceBatch, SourceItem, StageContext
from ..runtime.errors import FlowError
from ..runtime.lines import HEAD_BYTES as RAW_SHOWN  # of an over-long message, kept
from ..runtime.times import zone_problem
from ..types import INT, IP, STR, RecordT, Type
from ._netsink import WARN_EVERY  # between two warnings about refused connections
from ._rules import at_least_one, idle_param, port_problem
from ._syslog import SYSLOG
from .spec import Example, Param, ParamKind, RuleContext, StageSpec

# What every record carries about where its message came from (Vector's
# syslog source names the sender's address `source_ip` too).
SYSLOG_META = RecordT(
    (("source_ip", IP), ("source_port", INT), ("protocol", STR)),
    open=False,
)
OUTPUT = RecordT(SYSLOG + (("_syslog", SYSLOG_META),), open=False)
MAX_LINE = 102_400  # bytes; Vector's syslog source allows as much
MAX_CONNECTIONS = 1000  # under the usual `ulimit -n` of 1024, with room for the rest


def max_line_problem(max_line: int) -> str | None:
    return "max_line must be at least 1" if max_line < 1 else None


def _output(ctx: RuleContext) -> Type:
    return OUTPUT


SPEC = StageSpec(
    name="syslog",
    role="source",
    doc=(
        "Listens for syslog messages on `host`:`port`. `protocol=udp`: each "
        "datagram is one message (a line break ending it is dropped; an empty "
        "one is skipped). `protocol=tcp`: any number of concurrent "
        "connections, each framed as RFC 6587 says, told apart by the "
        "connection's first byte: a digit means octet counting (`LEN SP MSG`), "
        "anything else one message per line (LF, a CR before it is dropped; "
        "empty lines are skipped; the text left when the sender closes is a "
        "message too). Each message becomes one record with the fields of "
        "`parse(syslog)` (RFC 5424 and RFC 3164, read the same way, RFC 3164's "
        "year-less times in `timezone`), plus `_syslog: {source_ip, source_port, "
        "protocol}` naming the sender (Vector's syslog source calls the address "
        "`source_ip` too; its `hostname` and `appname` are `host` and `app` "
        "here). `format=rfc5424` or "
        "`rfc3164` accepts only that kind; `auto` either. A message longer than "
        "`max_line` bytes, one that does not parse (or is not valid UTF-8), and "
        "an octet count that is not a number go to the error stream with the "
        "sender in the message (`from 192.0.2.7:51012 (tcp): …`) and the text in "
        "`raw` (the first 4096 bytes of an over-long one, code `limit` as for an "
        "over-long line of a file); a bad octet count "
        "also closes that connection, whose framing is lost. The run goes on: "
        "records plus errors are the messages received. Syslog over UDP and TCP "
        "has no acknowledgement and cannot be read again: on stop the listeners "
        "close and what was received is drained; what is in flight at a kill is "
        "lost (at most once, as `stdin`). While the pipeline is behind, the "
        "connections (or the UDP socket) are not read: TCP senders wait, and UDP "
        "datagrams the kernel cannot buffer are dropped by it; what the source "
        "holds is at most 8 batches or 8 MiB of messages (and what one read "
        "brings over that), and per connection one unfinished message of at "
        "most `max_line` bytes. A TCP connection may "
        "stay open and silent for any time (senders keep theirs open for "
        "hours), so none is closed for being idle; at most `max_connections` "
        "are open at once (each is a file descriptor; keep it under `ulimit "
        "-n`): one beyond it is closed at once, counted (`refused`) and warned "
        "about, and the sender connects again later. `port=0` takes a "
        "free port; the address listened on is "
        "written to stderr. `idle=` ends the source once no message arrived for "
        "that long; by default it runs until stopped."
    ),
    params=(
        Param("port", ParamKind.VALUE, "the port to listen on", type=INT, check=port_problem),
        Param(
            "protocol",
            ParamKind.CHOICE,
            "the transport",
            default="udp",
            options={"udp": (), "tcp": ()},
        ),
        Param(
            "format",
            ParamKind.CHOICE,
            "which syslog format is accepted",
            default="auto",
            options={"auto": (), "rfc5424": (), "rfc3164": ()},
        ),
        Param(
            "host",
            ParamKind.VALUE,
            "the address to listen on (`0.0.0.0` or `::` for every interface)",
            type=STR,
            default="127.0.0.1",
        ),
        Param(
            "max_line",
            ParamKind.VALUE,
            "the longest message accepted, in bytes",
            type=INT,
            default=MAX_LINE,
            check=max_line_problem,
        ),
        Param(
            "timezone",
            ParamKind.VALUE,
            "the zone of RFC 3164's local times (an IANA name)",
            type=STR,
            default="UTC",
            check=zone_problem,
        ),
        Param(
            "max_connections",
            ParamKind.VALUE,
            "TCP connections open at once; more are closed at once",
            type=INT,
            default=MAX_CONNECTIONS,
            check=at_least_one("max_connections"),
        ),
        idle_param(),
    ),
    output=_output,
    runtime="SyslogSource",
    module=__name__,
    examples=(
        Example('source syslog(port=5514, protocol=tcp) | sink file("syslog.jsonl")'),
        Example(
            "pipeline devices =\n"
            '  source syslog(port=5514, format=rfc3164, timezone="Europe/Prague")\n'
            '  | where severity in ["emerg", "alert", "crit", "err"]\n'
            '  | sink file("alerts.jsonl")\n\n'
            "pipeline rejected =\n"
            "  from devices.errors\n"
            "  | keep message, raw\n"
            '  | sink file("syslog-rejected.jsonl")',
            doc=(
                "BSD syslog over UDP from devices that write local times; messages "
                "that are not syslog, with their sender, are kept apart."
            ),
        ),
    ),
)


# Run time.

PAUSE_AT = 8  # batches waiting before the sockets stop being read
PAUSE_BYTES = 8 << 20  # or bytes of messages waiting (long messages: fewer of them)
# connections the kernel completes before they are accepted: senders
# reconnecting together (after a restart) get in at once instead of having
# their SYNs dropped and resent a second later (capped by net.core.somaxconn)
BACKLOG = 1024


class TooLong:
    """A message over `max_line`: its length (None when not known: a line
    cut short by the end of the connection) and its first bytes."""

    __slots__ = ("size", "head")

    def __init__(self, size: int | None, head: bytes):
        self.size = size
        self.head = head


class BadFrame:
    """Octet counting that lost its way: what was read instead of `LEN SP`."""

    __slots__ = ("head",)

    def __init__(self, head: bytes):
        self.head = head


class Framing:
    """RFC 6587 framing of one TCP byte stream: `feed` takes bytes as they
    arrive (split anywhere) and returns the messages completed (bytes), and
    TooLong / BadFrame for what is not one; `finish` ends the stream. The
    first byte decides: a digit is octet counting, anything else lines."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.octets: bool | None = None  # undecided until the first byte
        self.buf = bytearray()
        self.skip = 0  # octet counting: bytes of an over-long message still to drop
        self.dropping: TooLong | None = None  # lines: an over-long line until its LF
        self.cr = False  # lines: the over-long line dropped so far ends in CR
        self.broken = False  # a bad octet count: the rest of the stream is ignored

    def feed(self, data: bytes) -> list:
        if self.broken or not data:
            return []
        if self.octets is None:
            self.octets = data[:1].isdigit()
        return self._octets(data) if self.octets else self._lines(data)

    def finish(self) -> list:
        """The end of the stream: an unterminated line is a message; an
        octet-counted message cut short is an error."""
        out: list = []
        if self.broken:
            return out
        buf, self.buf = bytes(self.buf), bytearray()
        if self.octets:
            if self.skip:
                out.append(self.dropping)
            elif buf.strip(b"\r\n"):
                out.append(BadFrame(buf[:RAW_SHOWN]))
        elif self.dropping is not None:
            out.append(self.dropping)
        elif buf.rstrip(b"\r"):
            out.append(buf.rstrip(b"\r"))
        self.skip, self.dropping = 0, None
        return out

    def _lines(self, data: bytes) -> list:
        out: list = []
        buf = self.buf
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self.dropping is not None:
                ends_cr = data[end - 1] == 13 if end > start else self.cr
                self.dropping.size += end - start - ends_cr  # the CR is not counted
                out.append(self.dropping)
                self.dropping = None
            else:
                if buf:
                    buf += data[start:end]
                    line = bytes(buf)
                    buf.clear()
                else:
                    line = data[start:end]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) > self.max_line:
                    out.append(TooLong(len(line), line[:RAW_SHOWN]))
                elif line:
                    out.append(line)
            start = end + 1
        rest = data[start:]
        if self.dropping is not None:
            self.dropping.size += len(rest)
            self.cr = rest.endswith(b"\r") if rest else self.cr
        else:
            buf += rest
            if len(buf) > self.max_line + 1:  # +1: a CR that may end it
                self.dropping = TooLong(len(buf), bytes(buf[:RAW_SHOWN]))
                self.cr = buf.endswith(b"\r")
                buf.clear()
        return out

    def _octets(self, data: bytes) -> list:
        out: list = []
        buf = self.buf
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
            if self.skip:
                return out
            out.append(self.dropping)
            self.dropping = None
        buf += data
        pos = 0
        n = len(buf)
        while pos < n:
            if buf[pos] in b"\r\n":  # tolerated between frames
                pos += 1
                continue
            space = buf.find(b" ", pos, pos + 11)
            if space < 0:
                if n - pos > 10 or not buf[pos:n].isdigit():
                    return self._broken(out, buf[pos:])
                break  # the count is not complete yet
            count = buf[pos:space]
            if not count.isdigit() or count.startswith(b"0"):
                return self._broken(out, buf[pos:])
            size = int(count)
            start = space + 1
            if size > self.max_line:
                have = min(n - start, size)
                head = bytes(buf[start : start + min(have, RAW_SHOWN)])
                if have < size:
                    # too long and not all here: drop the rest as it arrives
                    # (its head is what came with the count)
                    self.dropping = TooLong(size, head)
                    self.skip = size - have
                    buf.clear()
                    return out
                out.append(TooLong(size, head))
                pos = start + size
                continue
            if n - start < size:
                break
            out.append(bytes(buf[start : start + size]))
            pos = start + size
        del buf[:pos]
        return out

    def _broken(self, out: list, rest: bytearray) -> list:
        out.append(BadFrame(bytes(rest[:RAW_SHOWN])))
        self.broken = True
        self.buf = bytearray()
        return out


def _peer(address: Any) -> tuple[str, int]:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return str(address), 0


def _shown(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Connection(asyncio.Protocol):
    def __init__(self, source: SyslogSource):
        self.source = source
        self.transport: Any = None
        self.framing = Framing(source.max_line)
        self.meta: dict = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        ip, port = _peer(transport.get_extra_info("peername"))
        self.meta = {"source_ip": ip, "source_port": port, "protocol": "tcp"}
        if not self.source._opened(self):
            transport.abort()

    def data_received(self, data: bytes) -> None:
        got = self.framing.feed(data)
        if got:
            self.source._received(got, self.meta)
        if self.framing.broken:
            self.transport.close()

    def eof_received(self) -> bool:
        return False  # close the connection; connection_lost finishes it

    def connection_lost(self, exc: Exception | None) -> None:
        self.source._closed(self)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, source: SyslogSource):
        self.source = source

    def datagram_received(self, data: bytes, addr: Any) -> None:
        ip, port = _peer(addr)
        meta = {"source_ip": ip, "source_port": port, "protocol": "udp"}
        if data.endswith(b"\n"):
            data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
        if len(data) > self.source.max_line:
            self.source._received([TooLong(len(data), data[:RAW_SHOWN])], meta)
        elif data:
            self.source._received([data], meta)

    def error_received(self, exc: Exception) -> None:
        self.source.ctx.count("receive_errors")


class SyslogSource(Source):
    """A UDP or TCP syslog listener; a batch per wake-up, nothing to acknowledge."""

    drains = True

    def __init__(
        self,
        ctx: StageContext,
        port: int,
        protocol: str = "udp",
        protocol_args: dict | None = None,
        format: str = "auto",
        format_args: dict | None = None,
        host: str = "127.0.0.1",
        max_line: int = MAX_LINE,
        timezone: str = "UTC",
        max_connections: int = MAX_CONNECTIONS,
        idle: int | None = None,
    ) -> None:
        from ..runtime.context import DEFAULT_BATCH_SIZE
        from .parse import Parse

        if max_line < 1:
            raise FlowError(f"max_line must be at least 1, got {max_line}")
        if max_connections < 1:
            raise FlowError(f"max_connections must be at least 1, got {max_connections}")
        self.ctx = ctx
        self.port = port
        self.protocol = protocol
        self.format = format
        self.host = host
        self.max_line = max_line
        self.max_connections = max_connections
        self._warned = -WARN_EVERY
        self.idle = None if idle is None else idle / 1000
        self.batch_size = int(ctx.options.get("batch_size", DEFAULT_BATCH_SIZE))
        # the parser of `parse(syslog)`, whole: the same checks, fields and errors
        self._parse = Parse(ctx, "syslog", {"timezone": timezone})
        self._pending: list = []  # (frame, meta) in arrival order
        self._pending_bytes = 0  # of the messages in `_pending`
        self._wake: asyncio.Event | None = None
        self._server: Any = None
        self._transport: Any = None  # UDP
        self._connections: set[_Connection] = set()
        self._paused = False
        self._stopping = False
        self._last = time.monotonic()

    def stop(self) -> None:
        # nothing more is accepted; `batches` hands on what was received
        self._stopping = True
        if self._wake is not None:
            self._shut()
            self._wake.set()

    # ------------------------------------------------------------ callbacks

    def _received(self, frames: list, meta: dict) -> None:
        pending = self._pending
        size = 0
        for frame in frames:
            pending.append((frame, meta))
            size += len(frame) if frame.__class__ is bytes else RAW_SHOWN
        self._pending_bytes += size
        self._last = time.monotonic()
        self._wake.set()
        if not self._paused and (
            len(pending) >= PAUSE_AT * self.batch_size or self._pending_bytes >= PAUSE_BYTES
        ):
            self._paused = True
            for transport in self._readers():
                transport.pause_reading()
            self.ctx.count("paused")

    def _opened(self, conn: _Connection) -> bool:
        """Take a new connection; False: too many are open, close it."""
        if len(self._connections) >= self.max_connections:
            self.ctx.count("refused")
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY:
                self._warned = now
                sender = _shown(conn.meta["source_ip"], conn.meta["source_port"])
                sys.stderr.write(
                    f"flowc: pipeline {self.ctx.pipeline}, stage {self.ctx.stage}: "
                    f"{len(self._connections)} connections are open (max_connections); "
                    f"closing new ones (first {sender})\n"
                )
                sys.stderr.flush()
            return False
        self._connections.add(conn)
        self.ctx.count("connections")
        if self._paused:
            conn.transport.pause_reading()
        return True

    def _closed(self, conn: _Connection) -> None:
        if conn in self._connections:
            self._connections.discard(conn)
            rest = conn.framing.finish()
            if rest:
                self._received(rest, conn.meta)

    def _readers(self) -> list:
        """The transports read from: the UDP socket or every TCP connection."""
        readers = [conn.transport for conn in self._connections]
        if self._transport is not None:
            readers.append(self._transport)
        return [t for t in readers if not t.is_closing()]

    def _resume(self) -> None:
        if (
            self._paused
            and len(self._pending) < self.batch_size
            and self._pending_bytes < PAUSE_BYTES // PAUSE_AT
        ):
            self._paused = False
            # the time spent paused was the pipeline's, not the senders' silence:
            # `idle` counts from now, so what the kernel holds is read first
            self._last = time.monotonic()
            for transport in self._readers():
                transport.resume_reading()

    # ------------------------------------------------------------- the run

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            if self.protocol == "tcp":
                self._server = await loop.create_server(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    reuse_address=True,
                    backlog=BACKLOG,
                )
                sockets = self._server.sockets
            else:
                self._transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self), local_addr=(self.host, self.port)
                )
                sockets = [self._transport.get_extra_info("socket")]
        except OSError as exc:
            where = _shown(self.host, self.port)
            raise FlowError(
                f"cannot listen for syslog on {where} ({self.protocol}): {exc.strerror or exc}"
            ) from None
        ip, port = _peer(sockets[0].getsockname())
        self.bound = (ip, port)
        sys.stderr.write(
            f"flowc: pipeline {self.ctx.pipeline}, stage {self.ctx.stage}: "
            f"listening for syslog on {_shown(ip, port)} ({self.protocol})\n"
        )
        sys.stderr.flush()

    async def batches(self) -> AsyncIterator[SourceBatch]:
        """A batch whenever messages arrived, until stopped or idle; then
        the listeners close and everything received is handed on."""
        await self._open()
        self._last = time.monotonic()
        try:
            while not self._stopping:
                if self._pending:
                    yield self._batch(self.batch_size)
                    self._resume()
                    continue
                self._wake.clear()
                timeout = None
                if self.idle is not None:
                    timeout = self.idle - (time.monotonic() - self._last)
                    if timeout <= 0:
                        break
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
            self._shut()
            if self._pending:
                # one batch: a stopping run reads no batch after the first
                yield self._batch(len(self._pending))
        finally:
            self._shut()

    def _shut(self) -> None:
        """Close the listeners and connections; what the connections held
        (an unterminated last line) joins the pending messages."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for conn in list(self._connections):
            conn.transport.abort()
            self._closed(conn)

    def _batch(self, size: int) -> SourceBatch:
        taken, self._pending = self._pending[:size], self._pending[size:]
        self._pending_bytes -= sum(
            len(frame) if frame.__class__ is bytes else RAW_SHOWN for frame, _ in taken
        )
        records: list = []
        items: list[SourceItem] = []
        parse, error, fmt = self._parse, RecordError, self.format
        for frame, meta in taken:
            if frame.__class__ is bytes:
                text = frame.decode("utf-8", "replace")
                try:
                    rec = parse({"message": text})
                except error as exc:
                    items.append(self._failed(meta, exc.message, text))
                    continue
                if fmt != "auto" and (rec["version"] is None) == (fmt == "rfc5424"):
                    why = (
                        "not an RFC 5424 message"
                        if fmt == "rfc5424"
                        else "an RFC 5424 message, not RFC 3164"
                    )
                    items.append(self._failed(meta, f"{why} (format={fmt})", text))
                    continue
                # a record of its own: `set _syslog.x = …` must not reach the
                # other messages of the connection
                rec["_syslog"] = dict(meta)
                records.append(rec)
            elif frame.__class__ is TooLong:
                size_shown = "" if frame.size is None else f" of {frame.size} bytes"
                items.append(
                    self._failed(
                        meta,
                        f"message{size_shown} longer than max_line ({self.max_line} bytes)",
                        frame.head.decode("utf-8", "replace"),
                        code="limit",
                    )
                )
            else:
                items.append(
                    self._failed(
                        meta,
                        "invalid octet count (RFC 6587 `LEN SP MSG`); the connection was closed",
                        frame.head.decode("utf-8", "replace"),
                        code="framing",
                    )
                )
        ctx = self.ctx
        ctx.count("received", len(taken))
        if items:
            ctx.count("failed", len(items))
        return SourceBatch(items, records=records)

    @staticmethod
    def _failed(meta: dict, why: str, raw: str, code: str = "parse") -> SourceItem:
        sender = _shown(meta["source_ip"], meta["source_port"])
        message = f"from {sender} ({meta['protocol']}): {why}"
        return SourceItem(None, raw=raw, error=RecordError(code, message, raw=raw))

    async def close(self) -> None:
        self._shut()

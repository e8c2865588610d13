"""`source http(port, path="/", format=json|ndjson|lines, token=…, host=…, max_body=…,
timeout=…, max_connections=…)`."""

from __future__ import annotations

import asyncio
import hmac
import logging
import sys
import time
from collections import deque
from typing import Any, AsyncIterator

from ..runtime.base import Record, RecordError, Source, SourceBatch, SourceItem, StageContext
from ..runtime.errors import FlowError
from ..types import DURATION, INT, STR, RecordT, Type
from ._netsink import WARN_EVERY  # between two warnings about refused connections
from ._rules import SCHEMA_PARAM, at_least_one, decoded_record, idle_param, port_problem, with_field
from .spec import Example, Param, ParamKind, RuleContext, StageSpec

# What every record carries about the request it came in.
HTTP_META = RecordT((("remote", STR), ("path", STR)), open=False)
HEALTH_PATH = "/health"


def path_problem(path: str) -> str | None:
    """Why `path` cannot be where events are posted (None: it can)."""
    if not path.startswith("/"):
        return "the path must start with `/`"
    if any(c in path for c in "?#{} ") or any(ord(c) < 0x21 for c in path):
        return "the path cannot hold `?`, `#`, `{`, `}`, spaces or control characters"
    if path.rstrip("/") == HEALTH_PATH:
        return f"`{HEALTH_PATH}` answers health checks; post events to another path"
    return None


def max_body_problem(value: int) -> str | None:
    return "`max_body` must be at least 1" if value < 1 else None


def max_pending_problem(value: int) -> str | None:
    return "`max_pending` must be at least 1" if value < 1 else None


def max_requests_problem(value: int) -> str | None:
    return "`max_requests` must be at least 1" if value < 1 else None


def _output(ctx: RuleContext) -> Type:
    return with_field(decoded_record(ctx), "_http", HTTP_META)


SPEC = StageSpec(
    name="http",
    role="source",
    doc=(
        "Listens for events POSTed to `http://host:port/path` (or a path "
        "below it). `format=json`: the body is one JSON object or an array of "
        "objects; `ndjson`: one JSON object per line; `lines`: each line is "
        "`{message: text}`. The answer is **200 only once every sink accepted "
        "the request's records** (or they went to an error stream), with "
        '`{"accepted": n, "errors": m}`: a client that got 200 may forget the '
        "events, one that got anything else sends them again (at-least-once). "
        "Elements or lines that do not decode go to the error stream and the "
        "others go on, as lines of a file would (200, counted in `errors`); a "
        "body of which nothing decodes is answered 400 with the reason and "
        "goes nowhere. With `token=`, a request must carry `Authorization: "
        "Bearer <token>` (else 401). A body over `max_body` bytes is answered "
        "413. When `max_requests` requests or `max_pending` records are "
        "already waiting for their sinks, a request is answered 503 with "
        "`Retry-After: 1`, so a slow sink slows the clients and memory stays "
        "bounded. `GET /health` answers 200 while the source accepts events "
        "(503 once it is stopping). Every record gets `_http: {remote, path}` "
        "(the client's address as the socket sees it, not `X-Forwarded-For`, "
        "and the request path). On SIGTERM the source stops listening, "
        "answers new requests on open connections 503, and finishes the "
        "requests it took. `port=0` takes a free port, shown on stderr. "
        "`idle=` ends the source once no event was posted for that long. "
        "Slow or silent clients cannot hold the server: a connection that has "
        "not sent a whole request head (request line and headers) within "
        "`timeout` of opening or of its previous answer is closed (so are "
        "idle keep-alive connections, and a slow-loris client sending its "
        "head a byte at a time), and a body not received within `timeout` of "
        "its head is answered 408 and the connection closed (after up to 10 s, "
        "or `timeout` if shorter, of reading and dropping what still comes, so "
        "that the client reads the answer); bytes that are "
        "not HTTP are answered 400 and the connection closed. Behind a load "
        "balancer, make `timeout` longer than the balancer's idle timeout. "
        "At most `max_connections` connections are open at once (each is a "
        "file descriptor; keep it under `ulimit -n`): a connection beyond it "
        "is answered 503 with `Retry-After: 1` at once and closed."
    ),
    params=(
        Param("port", ParamKind.VALUE, "TCP port to listen on", type=INT, check=port_problem),
        Param(
            "path",
            ParamKind.VALUE,
            "where events are posted (paths below it too)",
            type=STR,
            default="/",
            check=path_problem,
        ),
        Param(
            "format",
            ParamKind.CHOICE,
            "how a request body is decoded",
            default="json",
            options={"json": (), "ndjson": (), "lines": ()},
        ),
        SCHEMA_PARAM,
        Param(
            "token",
            ParamKind.VALUE,
            "bearer token every request must carry; never logged",
            type=STR,
            default=None,
        ),
        Param(
            "host",
            ParamKind.VALUE,
            "address to listen on (`0.0.0.0`: every interface)",
            type=STR,
            default="127.0.0.1",
        ),
        Param(
            "max_body",
            ParamKind.VALUE,
            "largest body, in bytes",
            type=INT,
            default=1_048_576,
            check=max_body_problem,
        ),
        Param(
            "max_pending",
            ParamKind.VALUE,
            "records taken and not yet accepted by the sinks before requests get 503",
            type=INT,
            default=10_000,
            check=max_pending_problem,
        ),
        Param(
            "max_requests",
            ParamKind.VALUE,
            "requests being read or waiting for their sinks before others get 503",
            type=INT,
            default=64,
            check=max_requests_problem,
        ),
        Param(
            "timeout",
            ParamKind.VALUE,
            "longest wait for a request head, for a body, and between two requests "
            "on a keep-alive connection",
            type=DURATION,
            default=60_000,
            check=at_least_one("timeout"),
        ),
        Param(
            "max_connections",
            ParamKind.VALUE,
            "connections open at once before new ones are answered 503 and closed",
            type=INT,
            default=1000,
            check=at_least_one("max_connections"),
        ),
        idle_param("a request"),
    ),
    output=_output,
    runtime="HttpSource",
    module=__name__,
    examples=(
        Example('source http(port=8080, path="/events") | sink file("events.jsonl")'),
        Example(
            'source http(port=8080, path="/logs", format=ndjson, token=env("INGEST_TOKEN"))\n'
            '| where level != "debug"\n'
            '| sink elastic("logs")',
            doc="Clients send `Authorization: Bearer $INGEST_TOKEN`; 200 means indexed.",
        ),
    ),
)


# Run time.

BATCH_RECORDS = 5000  # records of several requests taken into one batch, at most
RETRY_AFTER = "1"  # seconds a client told 503 should wait
SHUTDOWN_WAIT = 5.0  # seconds the server waits for handlers at close
WAKE_EVERY = 0.5  # seconds between checks of `idle` and `stop`
ERROR_TEXT = 200  # characters of a failure reason quoted in a 400 answer
REFUSED_LINGER = 1.0  # seconds a refused connection is read (and dropped) before it is closed
REFUSED_HELD = 64  # refused connections read so at once, at most
# seconds aiohttp goes on reading (and dropping) a body it answered without
# reading (401, 408, 413), so that the client reads the answer, not a reset
LINGER = 10.0
BACKLOG = 1024  # connections completed before they are accepted (see syslog_source.BACKLOG)


def _refusal(max_connections: int) -> bytes:
    """The whole answer to a connection over `max_connections`, sent before
    its request is read."""
    body = ('{"error": "%d connections are open (max_connections)"}' % max_connections).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Retry-After: {RETRY_AFTER}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _NotClientFaults(logging.Filter):
    """aiohttp logs every malformed request with a traceback; those are the
    client's fault (answered 400 and counted by aiohttp), not the server's,
    and a client sending garbage must not fill stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


server_log = logging.getLogger(__name__ + ".server")
server_log.addFilter(_NotClientFaults())


class _Refused(asyncio.Protocol):
    """A connection over the limit: answered 503 at once; what the client
    sends is read and dropped until it hangs up (or for a second), since
    closing with its request unread would reset the connection and the
    answer with it. At most REFUSED_HELD are held so; others are closed at
    once, so that a flood of connections cannot take file descriptors."""

    held = 0  # refused connections being read, in the process

    def __init__(self, answer: bytes):
        self.answer = answer
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        transport.write(self.answer)
        if _Refused.held >= REFUSED_HELD or not transport.can_write_eof():
            transport.close()
            return
        _Refused.held += 1
        transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(REFUSED_LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # the client hung up: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            _Refused.held -= 1


def warn(ctx: StageContext, message: str) -> None:
    sys.stderr.write(f"flowc: pipeline {ctx.pipeline}, stage {ctx.stage}: {message}\n")
    sys.stderr.flush()


class _Request:
    """One accepted request's records, waiting to be taken into a batch and
    acknowledged; `done` gets True (accepted) or False (not taken: 503)."""

    __slots__ = ("records", "failed", "done")

    def __init__(self, records: list[Record], failed: list[SourceItem], done: asyncio.Future):
        self.records = records
        self.failed = failed
        self.done = done

    @property
    def size(self) -> int:
        return len(self.records) + len(self.failed)


def _raw(value: Any) -> str | None:
    from ..runtime.jsonl import dumps

    try:
        return dumps(value).decode("utf-8", "replace")[:4096]
    except Exception:  # noqa: BLE001 - too deep for the encoder: shown without it
        return None


class BodyDecoder:
    """A request body -> (records, failed items); raises RecordError when
    nothing of it decodes (the request is then answered 400)."""

    def __init__(self, format: str, schema: Any = None):
        from ..runtime.coerce import coercer
        from ..runtime.decode import Decoder

        self.format = format
        self.coerce = coercer(schema) if schema is not None else None
        self.lines = (
            Decoder("lines" if format == "lines" else "json", None, schema)
            if format != "json"
            else None
        )

    def __call__(self, body: bytes) -> tuple[list[Record], list[SourceItem]]:
        if self.lines is not None:
            lines = body.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            records, failed = self.lines.decode(lines)
        else:
            records, failed = self._json(body)
        if failed and not records:
            raise failed[0].error or RecordError("parse", "nothing in the body decodes")
        return records, failed

    def _json(self, body: bytes) -> tuple[list[Record], list[SourceItem]]:
        import orjson

        from ..runtime.jsonl import loads, too_deep

        if not body.strip():
            raise RecordError("parse", "the body is empty; send a JSON object or an array")
        try:
            doc = loads(body)
        except orjson.JSONDecodeError as exc:
            raise RecordError("parse", f"the body is not JSON: {exc}") from None
        if isinstance(doc, dict):
            elements, single = [doc], True
        elif isinstance(doc, list):
            elements, single = doc, False
        else:
            raise RecordError("parse", "the body is neither a JSON object nor an array of objects")
        records: list[Record] = []
        failed: list[SourceItem] = []
        coerce = self.coerce
        for i, element in enumerate(elements):
            where = "the body" if single else f"element {i} of the array"
            problem: RecordError | None = None
            if type(element) is not dict:
                from ._netsink import kind_of

                problem = RecordError("parse", f"{where} is {kind_of(element)}, not an object")
            elif too_deep(element):
                from ..runtime.jsonl import MAX_DEPTH

                problem = RecordError("limit", f"{where} is nested deeper than {MAX_DEPTH} levels")
            elif coerce is not None:
                try:
                    element = coerce(element)
                except RecordError as exc:
                    problem = exc
            if problem is None:
                records.append(element)
                continue
            raw = _raw(element)
            problem.raw = raw
            failed.append(SourceItem(None, raw, problem))
        return records, failed


class HttpSource(Source):
    """An aiohttp server; the records of the requests that came in since the
    last batch make the next one, and its acknowledgement answers them."""

    acknowledges = True

    def __init__(
        self,
        ctx: StageContext,
        port: int,
        path: str = "/",
        format: str = "json",
        format_args: dict | None = None,
        schema: Any = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        max_body: int = 1_048_576,
        max_pending: int = 10_000,
        max_requests: int = 64,
        timeout: int = 60_000,
        max_connections: int = 1000,
        idle: int | None = None,
    ) -> None:
        self.ctx = ctx
        problem = path_problem(path)
        if problem is not None:
            raise FlowError(f"http source: {problem}")
        if not 0 <= port <= 65535:
            raise FlowError(f"http source: port {port} is not between 0 and 65535")
        if min(max_body, max_pending, max_requests, max_connections, timeout) < 1:
            raise FlowError(
                "http source: max_body, max_pending, max_requests, max_connections "
                "and timeout must be positive"
            )
        self.port = port
        self.host = host
        self.path = path.rstrip("/") or "/"
        self.token = token or None
        self.max_body = max_body
        self.max_pending = max_pending
        self.max_requests = max_requests
        self.timeout = timeout / 1000
        self.max_connections = max_connections
        self._connections = 0  # open, counted as they are accepted
        self._warned = -WARN_EVERY
        self.idle = None if idle is None else idle / 1000
        self._decode = BodyDecoder(format, schema)
        self._queue: deque[_Request] = deque()
        self._waiting: set[_Request] = set()  # taken or queued, not yet answered
        self._wake = asyncio.Event()
        self._stopping = False
        self._accepting = False
        self._requests = 0  # being read or waiting for their sinks
        self._pending = 0  # records (and failed items) waiting for their sinks
        self._last_request = time.monotonic()
        self._runner: Any = None
        self._sites: list = []
        self.address: tuple[str, int] | None = None  # where it listens, once it does

    def stop(self) -> None:
        self._stopping = True
        self._accepting = False
        self._wake.set()

    # the server

    async def _open(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=self.max_body)
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_post(self.path, self._ingest)
        below = self.path if self.path.endswith("/") else self.path + "/"
        app.router.add_post(below + "{tail:.*}", self._ingest)
        # no access log: it would show every client and path, and nothing here needs it
        # aiohttp's keep-alive timer runs from a connection's opening and from
        # each answer until a whole request head arrived: it is the head timeout too
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=SHUTDOWN_WAIT,
            keepalive_timeout=self.timeout,
            lingering_time=min(LINGER, self.timeout),
            logger=server_log,
        )
        await runner.setup()
        try:
            server = await asyncio.get_running_loop().create_server(
                self._protocol(runner.server),
                self.host,
                self.port,
                reuse_address=True,
                backlog=BACKLOG,
            )
        except OSError as exc:
            await runner.cleanup()
            raise FlowError(
                f"http source cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._runner, self._sites = runner, [server]
        if server.sockets:
            self.address = server.sockets[0].getsockname()[:2]
        self._accepting = True
        self._last_request = time.monotonic()
        host, port = self.address or (self.host, self.port)
        warn(self.ctx, f"listening on http://{host}:{port}{self.path}")

    def _protocol(self, server: Any) -> Any:
        """aiohttp's connection handlers, counted; over `max_connections`, a
        connection is answered 503 without being read."""
        lost = server.connection_lost

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self._connections -= 1
            lost(handler, exc)

        server.connection_lost = connection_lost
        refusal = _refusal(self.max_connections)

        def make() -> asyncio.Protocol:
            if self._connections >= self.max_connections:
                self.ctx.count("refused_connections")
                now = time.monotonic()
                if now - self._warned >= WARN_EVERY:
                    self._warned = now
                    warn(
                        self.ctx,
                        f"{self._connections} connections are open (max_connections); "
                        "new ones are answered 503",
                    )
                return _Refused(refusal)
            self._connections += 1
            self.ctx.count("connections")
            return server()

        return make

    async def _stop_listening(self) -> None:
        servers, self._sites = self._sites, []
        for server in servers:
            server.close()

    def _answer(self, status: int, body: dict, **headers: str) -> Any:
        from aiohttp import web

        return web.json_response(body, status=status, headers=headers or None)

    async def _health(self, request: Any) -> Any:
        state = {
            "status": "ok" if self._accepting else "stopping",
            "requests": self._requests,
            "pending": self._pending,
            "connections": self._connections,
        }
        return self._answer(200 if self._accepting else 503, state)

    def _authorized(self, request: Any) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("Authorization", "")
        expected = "Bearer " + self.token
        return hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
        )

    def _busy(self, why: str) -> Any:
        self.ctx.count("busy")
        return self._answer(503, {"error": why}, **{"Retry-After": RETRY_AFTER})

    async def _ingest(self, request: Any) -> Any:
        from aiohttp import web

        if not self._accepting:
            self.ctx.count("refused_stopping")
            return self._answer(
                503,
                {"error": "the source is stopping"},
                **{"Retry-After": RETRY_AFTER, "Connection": "close"},
            )
        if not self._authorized(request):
            self.ctx.count("unauthorized")
            return self._answer(
                401, {"error": "a valid bearer token is required"}, **{"WWW-Authenticate": "Bearer"}
            )
        if self._requests >= self.max_requests:
            return self._busy(f"{self._requests} requests are already waiting")
        if self._pending >= self.max_pending:
            return self._busy(f"{self._pending} records are already waiting for the sinks")
        self._last_request = time.monotonic()
        self._requests += 1
        try:
            if (request.content_length or 0) > self.max_body:
                return self._too_large()
            try:
                body = await asyncio.wait_for(request.read(), self.timeout)
            except web.HTTPRequestEntityTooLarge:
                return self._too_large()
            except TimeoutError:
                self.ctx.count("timed_out")
                return self._answer(
                    408,
                    {"error": f"the body did not arrive within {self.timeout:g} s"},
                    Connection="close",
                )
            self.ctx.count("requests")
            try:
                records, failed = self._decode(body)
            except RecordError as exc:
                self.ctx.count("bad_requests")
                return self._answer(400, {"error": exc.message[:ERROR_TEXT]})
            if not records and not failed:
                return self._answer(200, {"accepted": 0, "errors": 0})
            meta = {"remote": request.remote or "", "path": request.path}
            for rec in records:
                rec["_http"] = dict(meta)
            entry = _Request(records, failed, asyncio.get_running_loop().create_future())
            self._pending += entry.size
            self._queue.append(entry)
            self._waiting.add(entry)
            self._wake.set()
            try:
                accepted = await entry.done
            finally:
                self._pending -= entry.size
                self._waiting.discard(entry)
            if not accepted:
                return self._busy("the source stopped before the records were taken")
            return self._answer(200, {"accepted": len(records), "errors": len(failed)})
        finally:
            self._requests -= 1

    def _too_large(self) -> Any:
        self.ctx.count("too_large")
        return self._answer(
            413, {"error": f"the body is larger than {self.max_body} bytes"}, Connection="close"
        )

    # the batches

    async def batches(self) -> AsyncIterator[SourceBatch]:
        await self._open()
        try:
            while True:
                if self._queue:
                    yield self._batch()
                    continue
                if self._stopping:
                    break
                if (
                    self.idle is not None
                    and self._requests == 0
                    and time.monotonic() - self._last_request >= self.idle
                ):
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), WAKE_EVERY)
                except TimeoutError:
                    pass
            self._accepting = False
            await self._stop_listening()
            while self._queue:  # taken while stopping the listener
                yield self._batch()
        finally:
            self._accepting = False
            self._refuse_queued()
            await self._stop_listening()

    def _batch(self) -> SourceBatch:
        taken: list[_Request] = []
        records: list[Record] = []
        failed: list[SourceItem] = []
        queue = self._queue
        while queue and (not taken or len(records) + queue[0].size <= BATCH_RECORDS):
            entry = queue.popleft()
            taken.append(entry)
            records.extend(entry.records)
            failed.extend(entry.failed)
        self.ctx.count("batches")
        return SourceBatch(failed, ack=lambda: self._acked(taken), records=records)

    @staticmethod
    def _acked(taken: list[_Request]) -> None:
        for entry in taken:
            if not entry.done.done():
                entry.done.set_result(True)

    def _refuse_queued(self) -> None:
        """Requests never handed to the engine are answered 503 (sent again later)."""
        while self._queue:
            entry = self._queue.popleft()
            if not entry.done.done():
                entry.done.set_result(False)

    async def close(self) -> None:
        """Answer what is still waiting (a failed run: 503), then shut the server down."""
        self._accepting = False
        self._refuse_queued()
        for entry in list(self._waiting):
            if not entry.done.done():
                entry.done.set_result(False)
        runner, self._runner = self._runner, None
        if runner is not None:
            await self._stop_listening()
            await runner.cleanup()

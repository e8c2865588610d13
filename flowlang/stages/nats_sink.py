"""`sink nats(subject, stream=…)`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from ..runtime.base import Record, Rejected, Sink, StageContext
from ..runtime.errors import FlowError
from ..runtime.urls import shown as shown_url
from ..types import STR
from ._netsink import Retrier
from ._rules import RETRY_PARAMS
from .nats_source import DEFAULT_URL, connect, server_urls
from .spec import EnvRef, Example, Param, ParamKind, StageSpec

SPEC = StageSpec(
    name="nats",
    role="sink",
    doc=(
        "Publishes each record as one JSON message to a JetStream subject and "
        "waits for the stream's acknowledgement before the batch counts as "
        "written. Every message carries a `Nats-Msg-Id` header, so the stream "
        "drops the duplicate of a retried publish: the value of the `msg_id=` "
        "field when given (and not null), else an id made for the record when "
        "it is first sent. With `msg_id=` built from the input (for example "
        "`_nats.msg_id` behind a nats source), a redelivered input is published "
        "once. Publishes in flight are bounded; timeouts and unavailable "
        "streams are retried with the retry policy of every sink (see "
        "docs/sinks.md); a record larger than the server "
        "accepts goes to the error stream. `stream=` names the stream the "
        "subject must belong to (checked at start)."
    ),
    params=(
        Param("subject", ParamKind.VALUE, "subject", type=STR),
        Param("stream", ParamKind.VALUE, "stream name", type=STR, default=None),
        Param("msg_id", ParamKind.FIELD, "de-duplication id", default=None),
        Param(
            "url",
            ParamKind.VALUE,
            "server URL(s), comma-separated; credentials allowed and never logged",
            type=STR,
            default=EnvRef("FLOW_NATS_URL", "nats://localhost:4222"),
        ),
        *RETRY_PARAMS,
    ),
    output=lambda ctx: None,
    runtime="NatsSink",
    module=__name__,
    examples=(
        Example('source file("app.log") | sink nats("logs.app", stream="LOGS")'),
        Example(
            'source nats("raw.>", stream="RAW", durable="clean")\n'
            '| where level != "debug"\n'
            '| sink nats("clean.logs", stream="CLEAN", msg_id=_nats.msg_id)',
            doc="Stream to stream; a redelivered input message is published once.",
        ),
    ),
)

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 2048  # publishes awaiting their PubAck
ACK_TIMEOUT = 5.0  # seconds to wait for PubAcks before publishing again
HEADER_ROOM = 256  # bytes kept for headers under the server's max_payload

# JetStream error codes that a retry cannot fix
_TOO_LARGE = 10054  # message size exceeds the stream's maximum
_WRONG_STREAM = 10060  # the subject belongs to another stream than `stream=`

Item = tuple[Record, bytes, str]  # a record, its JSON, its message id


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Retry(Exception):
    """A publish that may succeed when sent again."""


class _Refused(Exception):
    """A publish the stream refused for good."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PubAcks:
    """Publishes that wait for their PubAck, matched by reply subject on one
    wildcard subscription (nats-py's `publish_async` leaves a future pending
    forever when the stream answers with an error)."""

    def __init__(self, nc: Any, limit: int):
        self.nc = nc
        self.prefix = nc.new_inbox() + "."
        self.waiting: dict[str, asyncio.Future] = {}
        self.slots = asyncio.Semaphore(limit)
        self.next = 0
        self.sub: Any = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(self.prefix + "*", cb=self._reply)

    async def _reply(self, msg: Any) -> None:
        future = self.waiting.pop(msg.subject, None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def publish(self, subject: str, data: bytes, headers: dict[str, str]) -> asyncio.Future:
        """Send one message; the future gets the stream's reply. Waits while
        `limit` publishes are already in flight."""
        await self.slots.acquire()
        self.next += 1
        reply = self.prefix + str(self.next)
        future = asyncio.get_running_loop().create_future()
        self.waiting[reply] = future
        future.add_done_callback(lambda _: self._done(reply))
        try:
            await self.nc.publish(subject, data, reply=reply, headers=headers)
        except BaseException:
            future.cancel()
            raise
        return future

    def _done(self, reply: str) -> None:
        self.waiting.pop(reply, None)
        self.slots.release()


def pub_ack(msg: Any) -> dict:
    """The PubAck in a stream's reply; raises _Retry or _Refused for an error."""
    from ..runtime.jsonl import loads

    headers = msg.headers
    if headers and headers.get("Status") == "503":
        raise _Retry("no stream answered (503)")
    try:
        ack = loads(msg.data)
    except ValueError:
        ack = None
    if not isinstance(ack, dict):
        raise _Retry(f"unreadable acknowledgement {msg.data[:100]!r}")
    error = ack.get("error")
    if not isinstance(error, dict):
        return ack
    code, err_code, text = error.get("code"), error.get("err_code"), error.get("description", "")
    if err_code == _WRONG_STREAM:
        raise FlowError(f"the subject no longer belongs to the expected stream: {text}")
    if err_code == _TOO_LARGE or (
        isinstance(code, int) and 400 <= code < 500 and code not in (408, 429)
    ):
        raise _Refused(f"the stream refused the message: {text} (code {code}, {err_code})")
    raise _Retry(f"{text} (code {code}, {err_code})")


class NatsSink(Sink):
    """Publishes JSON records to JetStream and waits for every PubAck."""

    def __init__(
        self,
        ctx: StageContext,
        subject: str,
        stream: str | None = None,
        msg_id: tuple[str, ...] | None = None,
        url: str = DEFAULT_URL,
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
    ) -> None:
        self.ctx = ctx
        self.subject = subject
        self.stream = stream
        self.msg_id = msg_id
        self.url = url
        server_urls(url)
        self._nc: Any = None
        self._acks: PubAcks | None = None
        self.retrier = Retrier(
            ctx,
            f"nats at {shown_url(url)}",
            retry_initial,
            retry_max / 1000,
            shutdown_grace / 1000,
            log,
            url=url,
        )

    async def start(self) -> None:
        """Connect and check that a stream captures the subject."""
        import nats.js.errors

        self._nc = nc = await connect(self.ctx, self.url)
        try:
            found = await nc.jetstream().find_stream_name_by_subject(self.subject)
        except nats.js.errors.NotFoundError:
            found = None
        if found is None or (self.stream is not None and found != self.stream):
            await nc.close()
            actual = f"; it belongs to stream {found!r}" if found else ""
            wanted = f"stream {self.stream!r}" if self.stream else "no stream"
            raise FlowError(
                f"subject {self.subject!r} is not captured by {wanted} at "
                f"{shown_url(self.url)}{actual}"
            )
        self._acks = PubAcks(nc, MAX_IN_FLIGHT)
        await self._acks.start()

    def _id_of(self, rec: Record) -> str:
        """The record's message id: its `msg_id` field, else a new one.
        Raises _Refused for an id that cannot be a header value."""
        path = self.msg_id
        if path is not None:
            value: Any = rec
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None and value != "":
                text = value if isinstance(value, str) else str(value)
                if "\r" in text or "\n" in text:
                    raise _Refused(
                        "the msg_id field holds a line break, which a NATS header cannot carry"
                    )
                return text
        return uuid.uuid4().hex

    async def write(self, records: list[Record]) -> list[Rejected]:
        """Publish every record; return when each is stored or rejected for good."""
        from ..runtime.jsonl import Unencodable, encode

        limit = self._nc.max_payload - HEADER_ROOM
        rejected: list[Rejected] = []
        pending: list[Item] = []
        for rec in records:
            try:
                data = encode(rec)
            except Unencodable as exc:
                rejected.append(Rejected.unencodable(exc))
                continue
            if len(data) > limit:
                message = f"message of {len(data)} bytes exceeds the server's limit of {limit}"
                rejected.append(Rejected(rec, "rejected", message))
                continue
            try:
                pending.append((rec, data, self._id_of(rec)))
            except _Refused as exc:
                rejected.append(Rejected(rec, "rejected", exc.message))
        return rejected + await self.retrier.deliver(pending, self._publish_round)

    async def _publish_round(
        self, pending: list[Item]
    ) -> tuple[list[Item], list[Rejected], str, None]:
        """Publish once: what must be sent again, what is refused for good,
        why the last publish to retry failed (NATS has no Retry-After)."""
        import nats.errors

        acks = self._acks
        assert acks is not None
        subject, stream = self.subject, self.stream
        sent: list[tuple[Item, asyncio.Future]] = []
        retry: list[Item] = []
        rejected: list[Rejected] = []
        reason = ""
        try:
            for n, item in enumerate(pending):
                headers = {"Nats-Msg-Id": item[2]}
                if stream is not None:
                    headers["Nats-Expected-Stream"] = stream
                try:
                    future = await acks.publish(subject, item[1], headers)
                except (
                    nats.errors.OutboundBufferLimitError,
                    nats.errors.ConnectionReconnectingError,
                ) as exc:
                    # disconnected with a full buffer: the rest goes in the next round
                    reason = _reason(exc)
                    retry.extend(pending[n:])
                    break
                sent.append((item, future))
            if sent:
                await asyncio.wait([f for _, f in sent], timeout=ACK_TIMEOUT)
            duplicates = 0
            for item, future in sent:
                if not future.done():
                    reason = f"no acknowledgement within {ACK_TIMEOUT:g}s"
                    retry.append(item)
                    continue
                try:
                    ack = pub_ack(future.result())
                except _Retry as exc:
                    reason = _reason(exc)
                    retry.append(item)
                    continue
                except _Refused as exc:
                    rejected.append(Rejected(item[0], "rejected", exc.message))
                    continue
                if ack.get("duplicate"):
                    duplicates += 1
            if duplicates:
                self.ctx.count("duplicates", duplicates)
        finally:
            # after a timeout or a cancellation nothing is left waiting for a PubAck
            for _, future in sent:
                if not future.done():
                    future.cancel()
        return retry, rejected, f"publishing to {self.subject!r} failed: {reason}", None

    async def probe(self) -> str | None:
        if self._nc is not None and self._nc.is_connected:
            return None
        return f"not connected to NATS at {shown_url(self.url)}"

    async def close(self) -> None:
        self.retrier.close()
        nc, self._nc = self._nc, None
        if nc is None:
            return
        import nats.errors

        try:
            if nc.is_connected:
                await nc.flush(timeout=5)
        except (nats.errors.Error, asyncio.TimeoutError):
            pass
        finally:
            await nc.close()

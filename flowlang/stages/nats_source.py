"""`source nats(subject, stream=…, durable=…, format=auto, schema=S)`."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any, AsyncIterator

from ..runtime.base import Source, SourceBatch, SourceItem, StageContext
from ..runtime.errors import FlowError
from ..runtime.messages import message_decoder
from ..runtime.urls import redact
from ..runtime.urls import shown as shown_url
from ..types import DURATION, INT, STR, RecordT, Type, nullable
from ._rules import decode_params, decoded_record, idle_param, with_field
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

# What every record carries about the message it came from.
NATS_META = RecordT(
    (("subject", STR), ("stream_seq", INT), ("msg_id", nullable(STR)), ("delivered", INT)),
    open=False,
)


def _output(ctx: RuleContext) -> Type:
    return with_field(decoded_record(ctx), "_nats", NATS_META)


SPEC = StageSpec(
    name="nats",
    role="source",
    doc=(
        "Consumes a NATS JetStream stream with a durable pull consumer; processes "
        "sharing `durable` share the work. A message is acknowledged only after "
        "every sink accepted the records made from it (at-least-once): a worker "
        "that dies leaves its messages unacknowledged, and the stream redelivers "
        "them to another worker after `ack_wait`. Each message is one record "
        "(`format=auto`: a JSON object, else `{message: text}`; `csv`: each "
        "message is a small CSV document, with its own header line when "
        "`header=true`). Every record gets `_nats: {subject, stream_seq, msg_id, "
        "delivered}` (`msg_id` from the `Nats-Msg-Id` header, `delivered` counts "
        "deliveries, so more than 1 means a redelivery) for idempotent writes such "
        "as `elastic(…, id=_nats.msg_id)`. A message that does not decode goes to "
        "the error stream and is terminated, never redelivered. Without "
        "`durable`, the process reads the whole stream on its own (an ephemeral "
        "consumer). `ack_wait` and `max_ack_pending` apply when the consumer is "
        "created. `idle=` ends the source once no message arrived for that long "
        "(drain a stream and exit); by default it runs until stopped."
    ),
    params=(
        Param("subject", ParamKind.VALUE, "subject filter", type=STR),
        Param(
            "stream",
            ParamKind.VALUE,
            "stream name (default: the stream that captures `subject`)",
            type=STR,
            default=None,
        ),
        Param(
            "durable",
            ParamKind.VALUE,
            "durable consumer name, shared by the workers",
            type=STR,
            default=None,
        ),
        *decode_params("messages"),
        Param(
            "url",
            ParamKind.VALUE,
            "server URL(s), comma-separated; credentials allowed "
            "(`nats://user:pass@host:4222`) and never logged",
            type=STR,
            default=EnvRef("FLOW_NATS_URL", "nats://localhost:4222"),
        ),
        Param("batch_size", ParamKind.VALUE, "messages per fetch", type=INT, default=256),
        Param(
            "ack_wait",
            ParamKind.VALUE,
            "how long the server waits for an acknowledgement before it redelivers a message",
            type=DURATION,
            default=60_000,
        ),
        Param(
            "max_ack_pending",
            ParamKind.VALUE,
            "messages delivered and not yet acknowledged, across all workers of the consumer",
            type=INT,
            default=20_000,
        ),
        idle_param(),
    ),
    output=_output,
    runtime="NatsSource",
    module=__name__,
    examples=(
        Example('source nats("logs.>", stream="LOGS", durable="enrich") | sink stdout'),
        Example(
            'source nats("logs.>", stream="LOGS", durable="enrich")\n'
            '| sink elastic("logs", id=_nats.msg_id)',
            doc="A redelivered message overwrites its own document instead of adding one.",
        ),
    ),
)


# Run time. The connection helpers are shared with the nats sink.

DEFAULT_URL = "nats://localhost:4222"
CONNECT_WAIT = 5.0  # seconds a stage tries to connect before the run fails
FETCH_WAIT = 1.0  # seconds one fetch waits for messages; also how soon `stop` is noticed
REQUEST_WAIT = 5.0  # seconds without any answer after which a pull request counts as lost


def server_urls(url: str) -> list[str]:
    """The servers of a comma-separated URL list."""
    urls = [part.strip() for part in url.split(",") if part.strip()]
    if not urls:
        raise FlowError("no NATS server URL given")
    return urls


def warn(ctx: StageContext, message: str) -> None:
    """A warning on stderr naming the stage (never give it a credential)."""
    sys.stderr.write(f"flowc: pipeline {ctx.pipeline}, stage {ctx.stage}: {message}\n")
    sys.stderr.flush()


async def connect(ctx: StageContext, url: str) -> Any:
    """Connect to NATS (trying for up to CONNECT_WAIT seconds), then
    reconnect for as long as the run lasts; every message about the
    connection names the servers without credentials."""
    import nats
    import nats.errors

    shown = shown_url(url)
    client: list = []  # the connection, once made
    failures: list[BaseException] = []

    async def on_error(exc: Exception) -> None:
        if not client:
            failures.append(exc)  # reported once, if connecting fails for good
            return
        ctx.count("connection_errors")
        warn(ctx, redact(f"NATS error ({shown}): {type(exc).__name__}: {exc}", url))

    async def on_disconnect() -> None:
        if not client or client[0].is_closed:
            return  # not connected yet, or closed on purpose
        ctx.count("disconnects")
        warn(ctx, f"disconnected from NATS ({shown}); reconnecting")

    async def on_reconnect() -> None:
        warn(ctx, f"reconnected to NATS ({shown})")

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=server_urls(url),
                name=f"flowc {ctx.pipeline}",
                connect_timeout=2,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            ),
            CONNECT_WAIT,
        )
    except (OSError, asyncio.TimeoutError, nats.errors.Error, ValueError) as exc:
        last = failures[-1] if failures else exc
        detail = redact(f"{type(last).__name__}: {last}", url)
        raise FlowError(f"cannot connect to NATS at {shown}: {detail}") from None
    client.append(nc)
    return nc


def reply_pending(reply: str) -> int | None:
    """The messages the consumer still had for us when it sent this one:
    the last token of the short reply subject, the one before the random
    token in the long form."""
    tokens = reply.split(".")
    try:
        return int(tokens[8] if len(tokens) == 9 else tokens[10])
    except (IndexError, ValueError):
        return None


def reply_info(reply: str) -> tuple[int, int]:
    """(stream sequence, delivery count) from a JetStream message's reply
    subject `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.…` (the longer
    form with domain and account hash has two more tokens in front)."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[4])
    return int(tokens[7]), int(tokens[6])


class Puller:
    """Pulls messages from one JetStream consumer into a callback
    subscription, one request at a time: a `no_wait` request for up to a
    batch of what is there, and, when nothing is, a request that waits up to
    `wait` seconds for the next message. Cheaper than nats-py's `fetch`,
    which costs a task per message."""

    def __init__(self, nc: Any, stream: str, consumer: str, wait: float):
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.wait = wait
        self.inbox = nc.new_inbox()
        self.sub: Any = None
        self.buffer: list = []
        self.wanted = 0  # messages the open request may still deliver
        self.ended = asyncio.Event()
        self.status: tuple[str, str] | None = None  # the last status that ended a request

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(self.inbox, cb=self._arrived)

    async def _arrived(self, msg: Any) -> None:
        headers = msg.headers
        status = headers.get("Status") if headers and not msg.data else None
        if status is None:
            # a message for an expired request is kept for the next fetch
            self.buffer.append(msg)
            self.wanted -= 1
            if self.wanted <= 0:
                self.ended.set()
        elif status != "100":  # 100: an idle heartbeat
            self.status = (status, headers.get("Description", ""))
            self.ended.set()

    async def _request(self, batch: int, body: dict, timeout: float) -> None:
        self.ended.clear()
        self.status = None
        self.wanted = batch
        payload = json.dumps({"batch": batch, **body}).encode()
        await self.nc.publish(self.subject, payload, reply=self.inbox)
        try:
            await asyncio.wait_for(self.ended.wait(), timeout)
        except asyncio.TimeoutError:
            # nobody answered: a reconnection, or the consumer is gone
            self.status = ("timeout", "no answer to the pull request")

    def unusual(self) -> bool:
        """Did the last request end otherwise than with messages or `no messages`?"""
        return self.status is not None and self.status[0] not in ("404", "408")

    async def fetch(self, batch: int) -> list:
        """Up to `batch` messages; an empty list after `wait` seconds without
        any, or at once when the request ended unusually (see `status`)."""
        if len(self.buffer) < batch:
            await self._request(batch - len(self.buffer), {"no_wait": True}, REQUEST_WAIT)
            if not self.buffer and self.unusual():
                return []
        if not self.buffer:
            expires = int(self.wait * 1e9)
            await self._request(1, {"expires": expires}, self.wait + REQUEST_WAIT)
        got, self.buffer = self.buffer[:batch], self.buffer[batch:]
        return got

    async def stop(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
            self.sub = None


class _Held:
    """Messages handed to the engine and not yet acknowledged."""

    __slots__ = ("msgs", "bad", "touched")

    def __init__(self, msgs: list, bad: set[int], touched: float):
        self.msgs = msgs
        self.bad = bad  # indexes of messages that did not decode: terminated, not acked
        self.touched = touched  # when the server last heard about them


class NatsSource(Source):
    """A durable JetStream pull consumer; one SourceBatch per fetch, acked end to end."""

    acknowledges = True

    def __init__(
        self,
        ctx: StageContext,
        subject: str,
        stream: str | None = None,
        durable: str | None = None,
        format: str = "auto",
        format_args: dict | None = None,
        schema: Any = None,
        url: str = DEFAULT_URL,
        batch_size: int = 256,
        ack_wait: int = 60_000,
        max_ack_pending: int = 20_000,
        idle: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.subject = subject
        self.stream = stream
        self.durable = durable
        self.url = url
        server_urls(url)
        if batch_size < 1:
            raise FlowError(f"batch_size must be at least 1, got {batch_size}")
        if ack_wait < 1000:
            raise FlowError("ack_wait must be at least 1s")
        if max_ack_pending < batch_size:
            raise FlowError(
                f"max_ack_pending ({max_ack_pending}) must be at least batch_size ({batch_size})"
            )
        self.batch_size = batch_size
        self.ack_wait = ack_wait / 1000
        self.max_ack_pending = max_ack_pending
        self.idle = None if idle is None else idle / 1000
        self._decode = message_decoder(format, format_args, schema)
        self._nc: Any = None
        self._puller: Puller | None = None
        self._stream_name: str | None = None
        self._consumer: str | None = None
        self._stopping = False
        self._held: dict[int, _Held] = {}
        self._next_key = 0
        self._tasks: set[asyncio.Task] = set()
        self._keeper: asyncio.Task | None = None
        self._pending: int | None = None  # what the last message said was left

    def stop(self) -> None:
        self._stopping = True

    def shard(self, index: int, count: int) -> str | None:
        """Workers share the input as members of one `durable=`."""
        if not self.durable:
            return "without durable= every worker would read all of the stream; give it durable="
        return None

    def pending_messages(self) -> int | None:
        return self._pending

    def problem(self) -> str | None:
        if self._nc is not None and not self._nc.is_connected:
            return f"not connected to NATS at {shown_url(self.url)}"
        return None

    async def _open(self) -> None:
        import nats.js.errors

        self._nc = nc = await connect(self.ctx, self.url)
        js = nc.jetstream()
        try:
            stream = self.stream or await js.find_stream_name_by_subject(self.subject)
            await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            where = (
                f"stream {self.stream!r}"
                if self.stream
                else f"stream capturing subject {self.subject!r}"
            )
            raise FlowError(f"NATS JetStream has no {where} at {shown_url(self.url)}") from None
        self._stream_name = stream
        try:
            self._consumer = await self._ensure_consumer(nc.jsm(), stream)
        except nats.js.errors.APIError as exc:
            raise FlowError(
                f"cannot create the consumer on stream {stream!r}: {exc.description}"
            ) from None
        self._puller = Puller(nc, stream, self._consumer, FETCH_WAIT)
        await self._puller.start()
        self._keeper = asyncio.create_task(self._keep_alive())

    async def _ensure_consumer(self, jsm: Any, stream: str) -> str:
        """The consumer's name: the durable one (created unless it exists;
        an existing one keeps its settings), or a new ephemeral one."""
        import nats.js.errors
        from nats.js.api import AckPolicy, ConsumerConfig

        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_ack_pending=self.max_ack_pending,
            filter_subject=self.subject,
        )
        if self.durable:
            try:
                await jsm.consumer_info(stream, self.durable)
                return self.durable
            except nats.js.errors.NotFoundError:
                pass
            config.name = config.durable_name = self.durable
        else:
            config.name = "flowc_" + uuid.uuid4().hex
            # deleted at close; the server removes it too if the worker dies
            config.inactive_threshold = max(30.0, self.ack_wait)
        await jsm.add_consumer(stream, config=config)
        return config.name

    async def batches(self) -> AsyncIterator[SourceBatch]:
        """One batch per fetch until stopped (or idle for `idle` seconds)."""
        await self._open()
        puller = self._puller
        last_message = time.monotonic()
        while not self._stopping:
            msgs = await puller.fetch(self.batch_size)
            if msgs:
                last_message = time.monotonic()
                yield self._batch(msgs)
                continue
            if puller.unusual():
                await self._check_consumer(puller.status)
            if self.idle is not None and time.monotonic() - last_message >= self.idle:
                return

    async def _check_consumer(self, status: tuple[str, str]) -> None:
        """A pull ended unusually (`409 Consumer Deleted`, no answer at all
        during a reconnection, …): fail if the consumer is gone, else wait a
        moment before pulling again."""
        import nats.errors
        import nats.js.errors

        self.ctx.count("pull_errors")
        try:
            await self._nc.jsm().consumer_info(self._stream_name, self._consumer)
        except nats.js.errors.NotFoundError:
            raise FlowError(
                f"the consumer {self._consumer!r} of stream {self._stream_name!r} no longer exists "
                f"(the server said {status[0]} {status[1]})"
            ) from None
        except (nats.errors.Error, asyncio.TimeoutError):
            pass
        await asyncio.sleep(FETCH_WAIT)

    def _batch(self, msgs: list) -> SourceBatch:
        items: list[SourceItem] = []
        append = items.append
        bad: set[int] = set()
        redelivered = 0
        decode = self._decode
        for i, msg in enumerate(msgs):
            seq, delivered = reply_info(msg.reply)
            headers = msg.headers
            info = {
                "subject": msg.subject,
                "stream_seq": seq,
                "msg_id": headers.get("Nats-Msg-Id") if headers else None,
                "delivered": delivered,
            }
            if delivered > 1:
                redelivered += 1
            records, failed = decode(msg.data)
            for rec in records:
                rec["_nats"] = info if len(records) == 1 else dict(info)
                append(SourceItem(rec))
            if failed:
                bad.add(i)
                items.extend(failed)
        self.ctx.count("fetched", len(msgs))
        if msgs:
            self._pending = reply_pending(msgs[-1].reply)
        if redelivered:
            self.ctx.count("redelivered", redelivered)
        key = self._next_key
        self._next_key += 1
        self._held[key] = _Held(msgs, bad, time.monotonic())
        return SourceBatch(items, ack=lambda: self._acked(key))

    def _acked(self, key: int) -> None:
        held = self._held.pop(key)
        task = asyncio.get_running_loop().create_task(self._send_acks(held))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_acks(self, held: _Held) -> None:
        import nats.errors

        bad = held.bad
        try:
            for i, msg in enumerate(held.msgs):
                if i in bad:
                    await msg.term()
                else:
                    await msg.ack()
        except nats.errors.Error as exc:
            # the server redelivers what was not acknowledged: at-least-once holds
            self.ctx.count("ack_failures")
            warn(
                self.ctx,
                redact(f"acknowledging messages failed: {type(exc).__name__}: {exc}", self.url),
            )
            return
        self.ctx.count("acked", len(held.msgs) - len(bad))
        if bad:
            self.ctx.count("terminated", len(bad))

    async def _keep_alive(self) -> None:
        """Tell the server that messages held long (a slow sink, an open
        window) are still being worked on, so it does not redeliver them."""
        import nats.errors

        every = self.ack_wait / 3
        while True:
            await asyncio.sleep(every / 2)
            now = time.monotonic()
            for held in list(self._held.values()):
                if now - held.touched < every:
                    continue
                held.touched = now
                try:
                    for msg in held.msgs:
                        await msg.in_progress()
                except nats.errors.Error:
                    continue
                self.ctx.count("kept_alive", len(held.msgs))

    async def close(self) -> None:
        """Send the outstanding acknowledgements, hand back what was never
        accepted (so the stream redelivers it now, not after `ack_wait`),
        then disconnect."""
        import nats.errors
        import nats.js.errors

        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        nc, self._nc = self._nc, None
        if nc is None:
            return
        try:
            if self._puller is not None and nc.is_connected:
                await self._puller.stop()
                unread = [held.msgs for held in self._held.values()] + [self._puller.buffer]
                self._held.clear()
                released = 0
                for msgs in unread:
                    for msg in msgs:
                        await msg.nak()
                        released += 1
                if released:
                    self.ctx.count("released", released)
            if nc.is_connected:
                await nc.flush(timeout=5)
            if self.durable is None and self._consumer is not None and nc.is_connected:
                await nc.jsm().delete_consumer(self._stream_name, self._consumer)
        except (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError) as exc:
            warn(
                self.ctx,
                redact(f"closing the NATS connection: {type(exc).__name__}: {exc}", self.url),
            )
        finally:
            await nc.close()

"""`source kafka(topic, group=…, brokers=…, format=auto, schema=S, start=latest)`."""

from __future__ import annotations

import asyncio
import datetime as _dt
import sys
import time
from collections import deque
from typing import Any, AsyncIterator

from ..runtime.base import Source, SourceBatch, SourceItem, StageContext
from ..runtime.errors import FlowError
from ..runtime.messages import message_decoder
from ..types import INT, STR, TIME, RecordT, Type, nullable
from ._rules import decode_params, decoded_record, idle_param, with_field
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

# What every record carries about the message it came from.
KAFKA_META = RecordT(
    (
        ("topic", STR),
        ("partition", INT),
        ("offset", INT),
        ("key", nullable(STR)),
        ("timestamp", nullable(TIME)),
    ),
    open=False,
)

BROKERS_PARAM = Param(
    "brokers",
    ParamKind.VALUE,
    "bootstrap brokers, `host:port`, comma-separated",
    type=STR,
    default=EnvRef("FLOW_KAFKA_BROKERS", "localhost:9092"),
)


def _output(ctx: RuleContext) -> Type:
    return with_field(decoded_record(ctx), "_kafka", KAFKA_META)


SPEC = StageSpec(
    name="kafka",
    role="source",
    doc=(
        "Consumes a Kafka topic as a member of the consumer group `group`: "
        "processes with the same `group` share the topic's partitions, and when "
        "one joins, leaves or dies the group rebalances. An offset is committed "
        "only after every sink accepted the records of the messages before it "
        "(at-least-once): a worker killed at any moment loses nothing, and the "
        "messages it had read past its last commit are read again by the "
        "partition's next owner (duplicates, bounded by what was in flight; "
        "`sink elastic(…, id=…)` built from `_kafka` removes them). Each "
        "message is one record (`format=auto`: a JSON object, else `{message: "
        "text}`; `csv`: each message is a small CSV document). Every record "
        "gets `_kafka: {topic, partition, offset, key, timestamp}` (the key as "
        "text, invalid UTF-8 replaced by U+FFFD; the producer's or broker's "
        "timestamp). A message that does not decode goes to the error stream and "
        "its offset is committed like the others. `start` says where a group "
        "without a committed offset begins (Kafka's `auto.offset.reset`). "
        "Without `group` the process reads the topic on its own from `start` "
        "and commits nothing. `idle=` ends the source once no message arrived "
        "for that long (drain a topic and exit); by default it runs until "
        "stopped. `brokers` is a comma-separated `host:port` list."
    ),
    params=(
        Param("topic", ParamKind.VALUE, "the topic", type=STR),
        Param(
            "group",
            ParamKind.VALUE,
            "consumer group id, shared by the workers",
            type=STR,
            default=None,
        ),
        BROKERS_PARAM,
        *decode_params("messages"),
        Param(
            "start",
            ParamKind.CHOICE,
            "where a group without a committed offset begins: the oldest message or the next new one",
            default="latest",
            options={"earliest": (), "latest": ()},
        ),
        Param("batch_size", ParamKind.VALUE, "messages per fetch", type=INT, default=500),
        idle_param(),
    ),
    output=_output,
    runtime="KafkaSource",
    module=__name__,
    examples=(
        Example('source kafka("logs", group="enrich", start=earliest) | sink stdout'),
        Example(
            'source kafka("logs", group="index")\n'
            '| set id = to_str(_kafka.partition) + "-" + to_str(_kafka.offset)\n'
            '| sink elastic("logs", id=id)',
            doc="A message read again after a rebalance overwrites its own document.",
        ),
    ),
)


# Run time.

FETCH_WAIT_MS = 1000  # one fetch waits this long for messages; also how soon `stop` is noticed
CONNECT_WAIT = 10.0  # seconds to reach the brokers before the run fails
SESSION_TIMEOUT_MS = 10_000  # a worker silent this long leaves the group
HEARTBEAT_MS = 3_000
_UTC = _dt.timezone.utc


def broker_list(brokers: str) -> list[str]:
    """The `host:port` entries of a comma-separated list."""
    found = [part.strip() for part in brokers.split(",") if part.strip()]
    if not found:
        raise FlowError("no Kafka broker given")
    return found


def warn(ctx: StageContext, message: str) -> None:
    sys.stderr.write(f"flowc: pipeline {ctx.pipeline}, stage {ctx.stage}: {message}\n")
    sys.stderr.flush()


class Offsets:
    """What may be committed, per partition: batches are acknowledged in any
    order, and a partition's offset moves only past the batches that are all
    acknowledged, oldest first."""

    def __init__(self) -> None:
        # partition -> deque of [batch key, next offset, acknowledged]
        self.pending: dict[Any, deque] = {}
        self.ready: dict[Any, int] = {}  # partition -> offset to commit

    def add(self, key: int, tp: Any, next_offset: int) -> None:
        self.pending.setdefault(tp, deque()).append([key, next_offset, False])

    def acked(self, key: int, tps: list) -> None:
        for tp in tps:
            queue = self.pending.get(tp)
            if queue is None:
                continue  # revoked since: its next owner reads those messages again
            for entry in queue:
                if entry[0] == key:
                    entry[2] = True
                    break
            while queue and queue[0][2]:
                self.ready[tp] = queue.popleft()[1]

    def take(self, tps: Any = None) -> dict[Any, int]:
        """The offsets ready to commit (of `tps` only, when given), forgotten here."""
        if tps is None:
            ready, self.ready = self.ready, {}
            return ready
        return {tp: self.ready.pop(tp) for tp in list(self.ready) if tp in tps}

    def forget(self, tps: Any) -> None:
        for tp in tps:
            self.pending.pop(tp, None)
            self.ready.pop(tp, None)


def _rebalance_listener(source: KafkaSource) -> Any:
    from aiokafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            # commit what is done before the partitions move; what is still in
            # flight is read again by their next owner
            await source._commit(source._offsets.take(set(revoked)))
            source._offsets.forget(revoked)
            if revoked:
                source.ctx.count("revoked", len(revoked))

        async def on_partitions_assigned(self, assigned):
            if assigned:
                source.ctx.count("assigned", len(assigned))

    return Listener()


class KafkaSource(Source):
    """A consumer-group member; one SourceBatch per fetch, offsets committed end to end."""

    acknowledges = True

    def __init__(
        self,
        ctx: StageContext,
        topic: str,
        group: str | None = None,
        brokers: str = "localhost:9092",
        format: str = "auto",
        format_args: dict | None = None,
        schema: Any = None,
        start: str = "latest",
        batch_size: int = 500,
        idle: int | None = None,
    ) -> None:
        self.ctx = ctx
        self.topic = topic
        self.group = group or None
        self.brokers = broker_list(brokers)
        if batch_size < 1:
            raise FlowError(f"batch_size must be at least 1, got {batch_size}")
        self.start = start
        self.batch_size = batch_size
        self.idle = None if idle is None else idle / 1000
        self._decode = message_decoder(format, format_args, schema)
        self._consumer: Any = None
        self._stopping = False
        self._offsets = Offsets()
        self._next_key = 0
        self._commit_task: asyncio.Task | None = None
        self._commit_again = False
        self._fetched: dict[Any, int] = {}  # partition -> the next offset to fetch

    def stop(self) -> None:
        self._stopping = True

    def shard(self, index: int, count: int) -> str | None:
        """Workers share the input as members of one `group=`."""
        if not self.group:
            return "without group= every worker would read all of the topic; give it group="
        return None

    def pending_messages(self) -> int | None:
        """The high watermark the brokers last reported minus what was
        fetched, over the assigned partitions fetched from (no request)."""
        consumer = self._consumer
        if consumer is None:
            return None
        pending = None
        for tp in consumer.assignment():
            high, fetched = consumer.highwater(tp), self._fetched.get(tp)
            if high is not None and fetched is not None:
                pending = (pending or 0) + max(0, high - fetched)
        return pending

    async def _open(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import KafkaError

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.brokers,
            group_id=self.group,
            client_id=f"flowc-{self.ctx.pipeline}",
            enable_auto_commit=False,
            auto_offset_reset=self.start,
            max_poll_records=self.batch_size,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_MS,
        )
        shown = ",".join(self.brokers)
        try:
            await asyncio.wait_for(consumer.start(), CONNECT_WAIT)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            await consumer.stop()
            raise FlowError(
                f"cannot connect to Kafka at {shown}: {type(exc).__name__}: {exc}"
            ) from None
        topics = await consumer.topics()
        if self.topic not in topics:
            await consumer.stop()
            raise FlowError(f"Kafka at {shown} has no topic {self.topic!r}")
        if self.group is None:
            from aiokafka.structs import TopicPartition

            parts = consumer.partitions_for_topic(self.topic) or set()
            consumer.assign([TopicPartition(self.topic, p) for p in sorted(parts)])
        else:
            consumer.subscribe([self.topic], listener=_rebalance_listener(self))
        self._consumer = consumer

    async def batches(self) -> AsyncIterator[SourceBatch]:
        """One batch per fetch until stopped (or idle for `idle` seconds)."""
        await self._open()
        consumer = self._consumer
        last_message = time.monotonic()
        while not self._stopping:
            got = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=self.batch_size)
            if any(got.values()):
                last_message = time.monotonic()
                yield self._batch(got)
                continue
            if self.idle is not None and time.monotonic() - last_message >= self.idle:
                return

    def _batch(self, got: dict) -> SourceBatch:
        items: list[SourceItem] = []
        append = items.append
        decode = self._decode
        key = self._next_key
        self._next_key += 1
        count = 0
        for tp, msgs in got.items():
            if not msgs:
                continue
            for msg in msgs:
                raw_key = msg.key
                stamp = msg.timestamp
                info = {
                    "topic": msg.topic,
                    "partition": msg.partition,
                    "offset": msg.offset,
                    "key": None if raw_key is None else raw_key.decode("utf-8", "replace"),
                    "timestamp": None
                    if stamp is None or stamp < 0
                    else _dt.datetime.fromtimestamp(stamp / 1000, _UTC),
                }
                records, failed = decode(msg.value or b"")
                for rec in records:
                    rec["_kafka"] = info if len(records) == 1 else dict(info)
                    append(SourceItem(rec))
                items.extend(failed)
            count += len(msgs)
            self._fetched[tp] = msgs[-1].offset + 1
            if self.group is not None:
                self._offsets.add(key, tp, msgs[-1].offset + 1)
        self.ctx.count("fetched", count)
        tps = [tp for tp, msgs in got.items() if msgs]
        return SourceBatch(items, ack=lambda: self._acked(key, tps))

    def _acked(self, key: int, tps: list) -> None:
        if self.group is None:
            return
        self._offsets.acked(key, tps)
        if self._commit_task is not None and not self._commit_task.done():
            self._commit_again = True  # one commit at a time, the latest offsets next
            return
        self._commit_task = asyncio.get_running_loop().create_task(self._commit_ready())

    async def _commit_ready(self) -> None:
        while True:
            self._commit_again = False
            await self._commit(self._offsets.take())
            if not self._commit_again:
                return

    async def _commit(self, offsets: dict) -> None:
        from aiokafka.errors import KafkaError

        if not offsets or self._consumer is None:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # a rebalance moved the partitions: their next owner reads the
            # uncommitted messages again (at-least-once holds)
            self.ctx.count("commit_failures")
            warn(self.ctx, f"committing offsets failed: {type(exc).__name__}: {exc}")
            return
        self.ctx.count("committed", len(offsets))

    async def close(self) -> None:
        """Commit what every sink accepted, then leave the group (its
        partitions move to the other workers at once)."""
        consumer = self._consumer
        if consumer is None:
            return
        try:
            if self._commit_task is not None:
                await asyncio.gather(self._commit_task, return_exceptions=True)
            await self._commit(self._offsets.take())
        finally:
            self._consumer = None
            await consumer.stop()

"""`sink kafka(topic, key=field?, brokers=…)`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..runtime.base import Record, RecordError, Rejected, Sink, StageContext
from ..runtime.errors import FlowError
from ..runtime.jsonl import Unencodable, encode
from ..runtime.ops import get_path
from ..types import BOOL, STR
from ._netsink import Retrier
from ._rules import RETRY_PARAMS
from .kafka_source import BROKERS_PARAM, CONNECT_WAIT, broker_list
from .spec import Example, Param, ParamKind, StageSpec

SPEC = StageSpec(
    name="kafka",
    role="sink",
    doc=(
        "Produces each record as one JSON message to a Kafka topic and waits "
        "until the brokers acknowledged it (`acks=all`) before the batch counts "
        "as written. `key=` names the field whose value keys the message (text "
        "as is, other values as JSON), so the records of one key stay in one "
        "partition and in order; without it the producer spreads messages over "
        "the partitions. Errors the client calls retriable (a leader election, "
        "a broker not reachable) are retried with the retry policy of every "
        "sink (docs/sinks.md); a record larger than the producer may send, or "
        "one the broker refuses for good, goes to the error stream. "
        "`idempotent=true` asks for Kafka's idempotent producer (no duplicate "
        "from a retried send), for brokers that support it."
    ),
    params=(
        Param("topic", ParamKind.VALUE, "the topic", type=STR),
        Param("key", ParamKind.FIELD, "the field that keys each message", default=None),
        BROKERS_PARAM,
        Param(
            "idempotent",
            ParamKind.VALUE,
            "use the idempotent producer",
            type=BOOL,
            default=False,
        ),
        *RETRY_PARAMS,
    ),
    output=lambda ctx: None,
    runtime="KafkaSink",
    module=__name__,
    examples=(
        Example('source file("app.log") | sink kafka("logs", key=host)'),
        Example(
            'source kafka("raw", group="clean")\n'
            '| where level != "debug"\n'
            '| sink kafka("clean", key=host)',
            doc="Topic to topic; an input offset is committed once its record was produced.",
        ),
    ),
)

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1_048_576  # the producer's max_request_size (Kafka's default)


def _key_bytes(rec: Record, path: tuple[str, ...]) -> bytes | None:
    """The message key: text as is, another value as its JSON, null as none.
    Raises RecordError when the way to the field crosses a non-record."""
    value = get_path(rec, path)
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return encode(value)


class KafkaSink(Sink):
    """Produces JSON records and waits for every acknowledgement."""

    def __init__(
        self,
        ctx: StageContext,
        topic: str,
        key: tuple[str, ...] | None = None,
        brokers: str = "localhost:9092",
        idempotent: bool = False,
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
    ) -> None:
        self.ctx = ctx
        self.topic = topic
        self.key = key
        self.brokers = broker_list(brokers)
        self.idempotent = idempotent
        self._producer: Any = None
        self.retrier = Retrier(
            ctx,
            f"kafka at {','.join(self.brokers)}",
            retry_initial,
            retry_max / 1000,
            shutdown_grace / 1000,
            log,
        )

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer
        from aiokafka.errors import KafkaError

        producer = AIOKafkaProducer(
            bootstrap_servers=self.brokers,
            client_id=f"flowc-{self.ctx.pipeline}",
            acks="all",
            enable_idempotence=self.idempotent,
            linger_ms=5,
            max_request_size=MAX_REQUEST_BYTES,
        )
        shown = ",".join(self.brokers)
        try:
            await asyncio.wait_for(producer.start(), CONNECT_WAIT)
            parts = await asyncio.wait_for(producer.partitions_for(self.topic), CONNECT_WAIT)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            await producer.stop()
            raise FlowError(
                f"cannot produce to topic {self.topic!r} at {shown}: {type(exc).__name__}: {exc}"
            ) from None
        if not parts:
            await producer.stop()
            raise FlowError(f"Kafka at {shown} has no topic {self.topic!r}")
        self._producer = producer

    async def write(self, records: list[Record]) -> list[Rejected]:
        """Produce every record; return when each is stored or rejected for good."""
        rejected: list[Rejected] = []
        pending: list[tuple[Record, bytes, bytes | None]] = []
        for rec in records:
            try:
                data = encode(rec)
                key = _key_bytes(rec, self.key) if self.key is not None else None
            except Unencodable as exc:
                rejected.append(Rejected.unencodable(exc))
                continue
            except RecordError as exc:
                rejected.append(Rejected(rec, exc.code, exc.message))
                continue
            if len(data) + len(key or b"") + 256 > MAX_REQUEST_BYTES:
                message = (
                    f"message of {len(data)} bytes exceeds the producer's limit "
                    f"of {MAX_REQUEST_BYTES}"
                )
                rejected.append(Rejected(rec, "rejected", message))
                continue
            pending.append((rec, data, key))
        return rejected + await self.retrier.deliver(pending, self._send_round)

    async def _send_round(self, pending: list) -> tuple[list, list[Rejected], str, None]:
        """Send once: what must be sent again, what is refused for good, why
        the last send to retry failed (Kafka has no Retry-After)."""
        from aiokafka.errors import KafkaError

        producer = self._producer
        sent: list[tuple[Any, asyncio.Future]] = []
        retry: list = []
        rejected: list[Rejected] = []
        reason = ""
        for n, item in enumerate(pending):
            try:
                future = await producer.send(self.topic, item[1], key=item[2])
            except KafkaError as exc:
                if not exc.retriable:
                    rejected.append(Rejected(item[0], "rejected", _reason(exc)))
                    continue
                reason = _reason(exc)
                retry.extend(pending[n:])
                break
            sent.append((item, future))
        if sent:
            await asyncio.wait([f for _, f in sent])
        for item, future in sent:
            exc = future.exception()
            if exc is None:
                continue
            if isinstance(exc, KafkaError) and not exc.retriable:
                rejected.append(Rejected(item[0], "rejected", _reason(exc)))
            else:
                reason = _reason(exc)
                retry.append(item)
        return retry, rejected, f"producing to {self.topic!r} failed: {reason}", None

    async def probe(self) -> str | None:
        from ._netsink import host_port, tcp_probe

        addresses = [host_port(b, 9092) for b in self.brokers]
        return await tcp_probe(f"kafka at {','.join(self.brokers)}", addresses)

    async def close(self) -> None:
        self.retrier.close()
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"

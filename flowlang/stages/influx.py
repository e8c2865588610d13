"""`sink influx(bucket, measurement=…, tags=[…], fields=[…], time=…, url=…, token=…, org=…)`."""

from __future__ import annotations

from .. import codes
from ..types import ANY, BOOL, FLOAT, INT, IP, STR, TIME, Nullable, RecordT, strip_null
from ._rules import RETRY_PARAMS
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

TAG_TYPES = (STR, INT, FLOAT, BOOL, IP)
FIELD_TYPES = (INT, FLOAT, BOOL, STR)


def _check(ctx: RuleContext):
    tags = ctx.args["tags"]
    for path in tags:
        t = strip_null(ctx.field_type(path))
        if t != ANY and t not in TAG_TYPES:
            ctx.error(
                codes.TYPE_MISMATCH,
                f"tag `{'.'.join(path)}` is {t}; tags must be scalars (str, int, float, bool, ip)",
                param="tags",
            )
    fields = ctx.args["fields"]
    for path in fields:
        t = strip_null(ctx.field_type(path))
        if t != ANY and t not in FIELD_TYPES:
            ctx.error(
                codes.TYPE_MISMATCH,
                f"field `{'.'.join(path)}` is {t}; influx fields must be int, float, bool or str",
                param="fields",
            )
    if not fields and isinstance(ctx.input, RecordT) and not ctx.input.open:
        usable = [
            k
            for k, t in ctx.input.fields
            if (k,) not in tags and strip_null(t) in FIELD_TYPES + (ANY,)
        ]
        if not usable:
            ctx.error(
                codes.BAD_ARG_VALUE,
                "the records have no int, float, bool or str field to write",
                hint="name them with fields=[…]",
            )
    return None


SPEC = StageSpec(
    name="influx",
    role="sink",
    doc=(
        "Writes points to InfluxDB (v2 write API, line protocol) with "
        "`influxdb-client`. `tags` must be scalars; `fields` numbers, bool or str "
        "(default: every other such field of the record). `time=` gives the point's "
        "time (else the processing time). Batches and retries (429 honours "
        "Retry-After); a value the line protocol cannot carry goes to the error "
        "stream, never altered."
    ),
    params=(
        Param("bucket", ParamKind.VALUE, "bucket (database)", type=STR),
        Param("measurement", ParamKind.VALUE, "measurement name", type=STR),
        Param("tags", ParamKind.FIELDS, "tag fields", default=()),
        Param("fields", ParamKind.FIELDS, "value fields", default=()),
        Param(
            "time", ParamKind.FIELD, "point time", default=None, accepts=(TIME, Nullable(TIME), ANY)
        ),
        Param(
            "url",
            ParamKind.VALUE,
            "server URL",
            type=STR,
            default=EnvRef("FLOW_INFLUX_URL", "http://localhost:8086"),
        ),
        Param(
            "token",
            ParamKind.VALUE,
            "API token",
            type=STR,
            default=EnvRef("FLOW_INFLUX_TOKEN", ""),
        ),
        Param(
            "org",
            ParamKind.VALUE,
            "organisation",
            type=STR,
            default=EnvRef("FLOW_INFLUX_ORG", ""),
        ),
        Param("batch_size", ParamKind.VALUE, "points per write", type=INT, default=5000),
        *RETRY_PARAMS,
    ),
    output=_check,
    runtime="InfluxSink",
    module=__name__,
    examples=(
        Example(
            "schema Req { ts: time, host: str, latency_ms: float }\n"
            'source file("req.jsonl", format=json, schema=Req)\n'
            '  | sink influx("metrics", measurement="latency", tags=[host], time=ts)'
        ),
    ),
)


# the runtime (generated code instantiates it; checking never does)
import datetime as _dt  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import time as _time  # noqa: E402
from collections import deque  # noqa: E402
from typing import Any  # noqa: E402

from ..runtime.base import Record, RecordError, Rejected, Sink, StageContext  # noqa: E402
from ..runtime.errors import FlowError  # noqa: E402
from ..runtime.urls import problem as url_problem  # noqa: E402
from ..runtime.urls import redact  # noqa: E402
from ..runtime.urls import shown as shown_url  # noqa: E402
from ._netsink import Retrier, kind_of, parse_retry_after  # noqa: E402

log = logging.getLogger(__name__)
_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_MICRO = _dt.timedelta(microseconds=1)
INT64 = (-(2**63), 2**63 - 1)
MAX_STRING = 65_535  # bytes in a string field value (InfluxDB's limit)
MAX_BYTES = 5_000_000  # bytes per write request
RETRY_STATUS = (408, 429)  # besides 5xx and no answer at all
SPLIT_STATUS = (400, 413, 422)  # a bad point, or too many: halve the request
# characters no name, tag or field key may hold: line breaks end a point and
# other control characters are read differently by different servers
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ "})
_MEASUREMENT_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def escape_key(text: str) -> str:
    """A tag key, tag value or field key in line protocol."""
    return text.translate(_KEY_ESCAPES)


def escape_measurement(text: str) -> str:
    """A measurement name in line protocol."""
    return text.translate(_MEASUREMENT_ESCAPES)


def check_name(what: str, text: str) -> None:
    """RecordError when `text` cannot be a measurement, tag or field key or tag value."""
    if text == "":
        raise RecordError("rejected", f"{what} is empty; line protocol cannot carry it")
    bad = _CONTROL.search(text)
    if bad:
        raise RecordError(
            "rejected",
            f"{what} holds the control character {bad.group(0)!r}; line protocol cannot carry it",
        )


def tag_text(key: str, value: Any) -> str | None:
    """The text of a tag value (None: the tag is absent); RecordError when
    it cannot be carried."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int)):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError("rejected", f"tag `{key}` is {value}; line protocol cannot carry it")
        text = repr(value)
    else:
        raise RecordError("type", f"tag `{key}` is {kind_of(value)}, not a scalar")
    check_name(f"tag `{key}`", text)
    return escape_key(text)


def field_text(key: str, value: Any) -> str:
    """A field value in line protocol; RecordError when it cannot be carried."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise RecordError("rejected", f"field `{key}` = {value} does not fit in 64 bits")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(
                "rejected", f"field `{key}` is {value}; line protocol cannot carry it"
            )
        return repr(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise RecordError(
                "rejected", f"field `{key}` holds a line break; line protocol cannot carry it"
            )
        if len(value.encode("utf-8", "surrogatepass")) > MAX_STRING:
            raise RecordError("rejected", f"field `{key}` is longer than {MAX_STRING} bytes")
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    raise RecordError("type", f"field `{key}` is {kind_of(value)}, not a number, bool or string")


def time_ns(value: _dt.datetime) -> int:
    """Nanoseconds since the epoch (naive datetimes are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return (value - _EPOCH) // _MICRO * 1000


def encode_point(
    measurement: str, tags: list[tuple[str, Any]], fields: list[tuple[str, Any]], timestamp: int
) -> bytes:
    """One point in line protocol. `tags` and `fields` are (key, value) pairs
    with plain keys; null values are left out. Raises RecordError for what the
    line protocol cannot carry (it never alters a value to make it fit)."""
    check_name("the measurement", measurement)
    parts = [escape_measurement(measurement)]
    for key, value in sorted(tags):
        text = tag_text(key, value)
        if text is not None:
            check_name("a tag key", key)
            parts.append(f",{escape_key(key)}={text}")
    values = []
    for key, value in fields:
        if value is not None:
            check_name("a field key", key)
            values.append(f"{escape_key(key)}={field_text(key, value)}")
    if not values:
        raise RecordError("rejected", "the point has no field with a value")
    if not INT64[0] <= timestamp <= INT64[1]:
        raise RecordError("rejected", "the time is outside the range line protocol can carry")
    parts.append(" " + ",".join(values) + f" {timestamp}")
    return "".join(parts).encode("utf-8", "surrogatepass")


class InfluxSink(Sink):
    """Writes points through the InfluxDB v2 write API of `influxdb-client`,
    batching and retrying itself: 429 (honouring Retry-After), 5xx and
    connection failures are retried until the run stops (see Retrier); a batch
    the server refuses as bad is split until the bad points are found, and
    those go to the error stream with the server's reason."""

    def __init__(
        self,
        ctx: StageContext,
        bucket: str,
        measurement: str,
        tags: tuple[tuple[str, ...], ...] = (),
        fields: tuple[tuple[str, ...], ...] = (),
        time: tuple[str, ...] | None = None,
        url: str = "http://localhost:8086",
        token: str = "",
        org: str = "",
        batch_size: int = 5000,
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
        request_timeout: float = 30.0,
        batch_bytes: int = MAX_BYTES,
    ) -> None:
        self.ctx = ctx
        try:
            check_name("the measurement", measurement)
        except RecordError as exc:
            raise FlowError(f"influx: {exc.message}") from None
        if not bucket:
            raise FlowError("influx: the bucket name is empty")
        if batch_size < 1:
            raise FlowError("influx: batch_size must be positive")
        self.bucket = bucket
        self.measurement = measurement
        self.tags = [(".".join(p), p) for p in tags]
        self.fields = [(".".join(p), p) for p in fields]
        self.time_path = time
        self.url = url
        self.token = token
        # InfluxDB 2 needs an organisation; 1.8 and VictoriaMetrics ignore it
        # and the client insists on one, so `-` (1.8's placeholder) stands in
        self.org = org or "-"
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.request_timeout = request_timeout
        self._skip = {p[0] for p in tags if len(p) == 1} | (
            {time[0]} if time and len(time) == 1 else set()
        )
        self._last_ns = 0
        self.retrier = Retrier(
            ctx,
            f"influxdb at {shown_url(url)}",
            retry_initial,
            retry_max / 1000,
            shutdown_grace / 1000,
            log,
            url=url,
            secrets=(token,),
        )
        self.client: Any = None
        self.write_api: Any = None

    async def start(self) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        wrong = url_problem(self.url)
        if wrong is not None:
            raise FlowError(f"influx: url {shown_url(self.url)} {wrong}")

        self.client = InfluxDBClientAsync(
            url=self.url,
            token=self.token or None,
            org=self.org,
            timeout=int(self.request_timeout * 1000),
        )
        self.write_api = self.client.write_api()

    def _now_ns(self) -> int:
        """Processing time, strictly increasing: two points of one series
        written in the same instant must not overwrite each other."""
        now = max(_time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        return now

    def line(self, rec: Record) -> bytes:
        """The record as one point; RecordError when it cannot be one."""
        from ..runtime.ops import get_path

        tags = [(key, get_path(rec, path)) for key, path in self.tags]
        if self.fields:
            fields = [(key, get_path(rec, path)) for key, path in self.fields]
        else:
            fields = [
                (k, v)
                for k, v in rec.items()
                if k not in self._skip and (v is None or isinstance(v, (int, float, str)))
            ]
        if self.time_path is None:
            stamp = self._now_ns()
        else:
            when = get_path(rec, self.time_path)
            if not isinstance(when, _dt.datetime):
                raise RecordError(
                    "type",
                    f"the time field `{'.'.join(self.time_path)}` is {kind_of(when)}, not a time",
                )
            stamp = time_ns(when)
        return encode_point(self.measurement, tags, fields, stamp)

    async def write(self, records: list[Record]) -> list[Rejected]:
        rejected: list[Rejected] = []
        points: list[tuple[Record, bytes]] = []
        for rec in records:
            try:
                points.append((rec, self.line(rec)))
            except RecordError as exc:
                rejected.append(Rejected(rec, exc.code, exc.message))
                self.ctx.count("rejected")
        pending = deque(self._chunks(points))
        attempt = retries = 0
        while pending:
            chunk = pending[0]
            status, message, retry_after = await self._post(chunk)
            if 200 <= status < 300:
                pending.popleft()
                attempt = 0  # the server is answering again: the next failure starts afresh
            elif status == 0 or status in RETRY_STATUS or status >= 500:
                await self.retrier.wait(attempt, message, sum(len(c) for c in pending), retry_after)
                attempt += 1
                retries += 1
            elif status not in SPLIT_STATUS:
                # token, organisation, bucket or URL wrong: no point is to blame
                message = redact(message, self.url, self.token)
                raise FlowError(f"influxdb at {shown_url(self.url)} refused the write: {message}")
            elif len(chunk) > 1:
                # a bad point (or too large a request): halve until it is found
                pending.popleft()
                half = len(chunk) // 2
                pending.extendleft((chunk[half:], chunk[:half]))
                self.ctx.count("splits")
            else:
                pending.popleft()
                rejected.append(Rejected(chunk[0][0], "rejected", f"influxdb: {message}"))
                self.ctx.count("rejected")
        self.retrier.recovered(retries)
        return rejected

    def _chunks(self, points: list[tuple[Record, bytes]]) -> list[list[tuple[Record, bytes]]]:
        chunks: list[list[tuple[Record, bytes]]] = []
        chunk: list[tuple[Record, bytes]] = []
        size = 0
        for point in points:
            n = len(point[1]) + 1
            if chunk and (len(chunk) >= self.batch_size or size + n > self.batch_bytes):
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(point)
            size += n
        if chunk:
            chunks.append(chunk)
        return chunks

    async def _post(self, chunk: list[tuple[Record, bytes]]) -> tuple[int, str, float | None]:
        """One write request: (HTTP status or 0 for no answer, what went
        wrong in words, the server's Retry-After)."""
        import aiohttp
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        self.ctx.count("write_requests")
        began = _time.perf_counter()
        try:
            await self.write_api.write(
                bucket=self.bucket,
                org=self.org,
                record=b"\n".join(line for _, line in chunk),
                write_precision=WritePrecision.NS,
            )
            return 204, "", None
        except ApiException as exc:
            headers = exc.headers or {}
            after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
            return exc.status or 0, f"{exc.status} {_server_message(exc.body) or exc.reason}", after
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, f"{type(exc).__name__}: {exc}", None
        finally:
            self.ctx.count("request_ms", int((_time.perf_counter() - began) * 1000))

    async def probe(self) -> str | None:
        if self.client is not None and await self.client.ping():
            return None
        return f"influxdb at {shown_url(self.url)} does not answer its ping"

    async def close(self) -> None:
        self.retrier.close()
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()


def _server_message(body: Any) -> str:
    """The `message` of an InfluxDB error body, else its text (shortened)."""
    import json

    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return str(body)[:500]
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:500]
    return str(body)[:500]

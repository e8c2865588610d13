"""`sink elastic(index, url=env("FLOW_ELASTIC_URL", "http://localhost:9200"), id=…, time=…)`.

Also home of the retry policy the network sinks share (`Retrier`).
"""

from __future__ import annotations

import re

from .. import codes
from ..types import ANY, INT, STR, TIME, Nullable
from ._rules import RETRY_PARAMS
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

# strftime directives an index name may hold: they write digits only, so the
# name stays valid whatever the time
INDEX_DIRECTIVES = frozenset("YyGmdjHIMSUWVuw")
# what Elasticsearch refuses in an index name (besides upper case and a
# leading - _ +): https://www.elastic.co/guide/en/elasticsearch/reference/current/indices-create-index.html
INDEX_FORBIDDEN = '\\/*?"<>| ,#:'
INDEX_MAX_BYTES = 255
# Joda-Time (Logstash `%{+YYYY.MM.dd}`) to strftime, longest tokens first
_JODA = {
    "YYYY": "%Y",
    "yyyy": "%Y",
    "xxxx": "%G",
    "YY": "%y",
    "yy": "%y",
    "DDD": "%j",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
    "ww": "%V",
}
_JODA_TOKENS = re.compile("|".join(_JODA))
_LOGSTASH_REFERENCE = re.compile(r"%\{([^}]*)\}")
_DIRECTIVE = re.compile(r"%(.?)", re.S)


def _strftime_of_joda(pattern: str) -> str:
    """`YYYY.MM.dd` as `%Y.%m.%d`; letters that the table does not know are kept."""
    return _JODA_TOKENS.sub(lambda m: _JODA[m.group()], pattern)


def _logstash_problem(index: str, references: list[str]) -> tuple[str, str]:
    fields = [r for r in references if not r.startswith("+")]
    if fields:
        return (
            f"`%{{{fields[0]}}}` is a Logstash field reference; an index name here "
            "takes only strftime patterns of the record's time",
            "split the records with `where` into one sink per index",
        )
    dates = [_strftime_of_joda(r[1:]) for r in references]
    fixed = _LOGSTASH_REFERENCE.sub(lambda m: _strftime_of_joda(m.group(1)[1:]), index)
    hint = f'write it with strftime patterns: "{fixed}"'
    if any(re.search("[A-Za-z]", _DIRECTIVE.sub("", d)) for d in dates):
        hint += " (translate the letters left over by hand)"
    else:
        still = index_problem(fixed)
        if still is not None:
            hint += f", but then {still[0]}"
    return (
        f"`%{{{references[0]}}}` is Logstash's Joda-Time date syntax, which "
        "Elasticsearch would receive as it is",
        hint,
    )


def index_problem(index: str) -> tuple[str, str | None] | None:
    """What Elasticsearch would refuse about an index name (a literal with
    strftime patterns), as (message, hint), or None when it is fine."""
    references = _LOGSTASH_REFERENCE.findall(index)
    if references:
        return _logstash_problem(index, references)
    if not index:
        return "the index name is empty", None
    for m in _DIRECTIVE.finditer(index):
        directive = m.group(1)
        if directive not in INDEX_DIRECTIVES and directive != "%":
            allowed = " ".join(f"%{d}" for d in sorted(INDEX_DIRECTIVES))
            hint = f"index names take the strftime patterns that write digits: {allowed}"
            if not directive:
                return "a lone `%` cannot end an index name", hint + " (and %% for %)"
            return f"`%{directive}` cannot be in an index name", hint
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in index):
        # strftime stops at a NUL, and no index should hold a control character
        return "an index name cannot hold control characters", None
    if any("\ud800" <= c <= "\udfff" for c in index):
        # the parser refuses them in source text; a plan built another way
        # must still be told, not fail to encode
        return "an index name cannot hold lone surrogates: it is not UTF-8 text", None
    # the name as Elasticsearch sees it, each pattern standing for its digits
    literal = _DIRECTIVE.sub(lambda m: "%" if m.group(1) == "%" else "0", index)
    bad = sorted({c for c in literal if c in INDEX_FORBIDDEN}, key=literal.index)
    if bad:
        shown = ", ".join("a space" if c == " " else f"`{c}`" for c in bad)
        return (
            f"an index name cannot hold {shown}",
            'Elasticsearch refuses \\ / * ? " < > | , # : and spaces in index names',
        )
    if literal != literal.lower():
        pieces = re.split(r"(%.)", index, flags=re.S)
        lowered = "".join(p if p.startswith("%") else p.lower() for p in pieces)
        return "an index name must be lowercase", f'write "{lowered}"'
    if literal[0] in "-_+":
        return f"an index name cannot start with `{literal[0]}`", None
    if literal in (".", ".."):
        return f"`{literal}` cannot be an index name", None
    if len(literal.encode("utf-8")) > INDEX_MAX_BYTES:
        return f"an index name is at most {INDEX_MAX_BYTES} bytes long", None
    return None


def _check(ctx: RuleContext) -> None:
    return None  # the index name's rule is its parameter's (`index_problem`)


SPEC = StageSpec(
    name="elastic",
    role="sink",
    doc=(
        "Indexes records into Elasticsearch with the official async client's bulk "
        "helpers. Batches by count and bytes; retries 429 and 5xx with backoff; "
        "items rejected for good (a mapping error) go to the error stream. "
        '`index` may hold strftime patterns (`"web-%Y.%m.%d"`) filled from '
        "`time=` (else the processing time). `id=` makes writes idempotent."
    ),
    params=(
        Param(
            "index",
            ParamKind.VALUE,
            "index name, may hold strftime patterns",
            type=STR,
            check=index_problem,
            check_code=codes.BAD_INDEX_NAME,
        ),
        Param(
            "url",
            ParamKind.VALUE,
            "cluster URL",
            type=STR,
            default=EnvRef("FLOW_ELASTIC_URL", "http://localhost:9200"),
        ),
        Param("id", ParamKind.FIELD, "document id (idempotent writes)", default=None),
        Param(
            "time",
            ParamKind.FIELD,
            "event time for the index pattern",
            default=None,
            accepts=(TIME, Nullable(TIME), ANY),
        ),
        Param(
            "api_key",
            ParamKind.VALUE,
            "API key",
            type=STR,
            default=EnvRef("FLOW_ELASTIC_API_KEY", ""),
        ),
        Param(
            "username",
            ParamKind.VALUE,
            "basic auth user",
            type=STR,
            default=EnvRef("FLOW_ELASTIC_USERNAME", ""),
        ),
        Param(
            "password",
            ParamKind.VALUE,
            "basic auth password",
            type=STR,
            default=EnvRef("FLOW_ELASTIC_PASSWORD", ""),
        ),
        Param(
            "ca_certs",
            ParamKind.VALUE,
            "CA bundle file",
            type=STR,
            default=EnvRef("FLOW_ELASTIC_CA_CERTS", ""),
        ),
        Param("batch_size", ParamKind.VALUE, "documents per bulk request", type=INT, default=500),
        Param(
            "batch_bytes", ParamKind.VALUE, "bytes per bulk request", type=INT, default=5_000_000
        ),
        *RETRY_PARAMS,
    ),
    output=_check,
    runtime="ElasticSink",
    module=__name__,
    examples=(
        Example('source file("x.log") | geoip | anonymize(email) | sink elastic("idx")'),
        Example(
            'source file("app.jsonl", format=json)\n'
            '  | sink elastic("app-%Y.%m.%d", id=request_id, time=ts)'
        ),
    ),
)


# the runtime (generated code instantiates it; checking never does)
import datetime as _dt  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time as _time  # noqa: E402
from typing import Any  # noqa: E402

from ..runtime.base import Record, RecordError, Rejected, Sink, StageContext  # noqa: E402
from ..runtime.errors import FlowError  # noqa: E402
from ..runtime.urls import redact  # noqa: E402
from ..runtime.urls import shown as shown_url  # noqa: E402
from ._netsink import Retrier, kind_of, parse_retry_after  # noqa: E402

log = logging.getLogger(__name__)
_UTC = _dt.timezone.utc
RETRY_STATUS = (408, 429)  # besides 5xx: the server asks to try again later


class _Doc:
    """One record on its way: where it goes and its serialized body."""

    __slots__ = ("record", "header", "body", "size")

    def __init__(self, record: Record, header: dict, body: bytes, size: int):
        self.record = record
        self.header = header
        self.body = body
        self.size = size  # bytes in the bulk request: both lines and their newlines


def _item_reason(info: dict) -> str:
    """`type: reason` of a bulk item's error (with its cause), never the request."""
    error = info.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
        return text
    exc = info.get("exception")
    if exc is not None:
        return _api_error_text(exc)
    return str(error) if error else f"status {info.get('status')}"


def _api_error_text(exc: Any) -> str:
    """What an ApiError says, from its status and body (its repr carries the
    connection settings, headers included, and is never used)."""
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", "?")
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
        if error:
            return f"{status} {error}"
    return f"{status} {getattr(exc, 'message', '') or 'error'}"


def _retry_after_of(info: dict) -> float | None:
    meta = getattr(info.get("exception"), "meta", None)
    headers = getattr(meta, "headers", None)
    return parse_retry_after(headers.get("retry-after")) if headers is not None else None


class ElasticSink(Sink):
    """Indexes records with the bulk helpers of the official async client.

    `write` returns only when every record is indexed (created, or already
    there for `id=`) or rejected for good; 429 and 5xx items are resent alone,
    a refused connection is retried until the run stops (see Retrier)."""

    def __init__(
        self,
        ctx: StageContext,
        index: str,
        url: str = "http://localhost:9200",
        id: tuple[str, ...] | None = None,
        time: tuple[str, ...] | None = None,
        api_key: str = "",
        username: str = "",
        password: str = "",
        ca_certs: str = "",
        batch_size: int = 500,
        batch_bytes: int = 5_000_000,
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
        request_timeout: float = 30.0,
    ) -> None:
        self.ctx = ctx
        problem = index_problem(index)
        if problem is not None:
            raise FlowError(f"elastic: index {index!r}: {problem[0]}")
        if batch_size < 1 or batch_bytes < 1:
            raise FlowError("elastic: batch_size and batch_bytes must be positive")
        if ca_certs and not os.path.isfile(ca_certs):
            raise FlowError(f"elastic: CA file {ca_certs!r} does not exist")
        self.index = index
        self.pattern = "%" in index
        self.url = url
        self.id_path = id
        self.time_path = time
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.request_timeout = request_timeout
        self._auth: dict[str, Any] = {}
        if api_key:
            self._auth["api_key"] = api_key
        if username or password:
            self._auth["basic_auth"] = (username, password)
        if ca_certs:
            self._auth["ca_certs"] = ca_certs
        self._secrets = (api_key, password)
        self.retrier = Retrier(
            ctx,
            f"elasticsearch at {shown_url(url)}",
            retry_initial,
            retry_max / 1000,
            shutdown_grace / 1000,
            log,
            url=url,
            secrets=self._secrets,
        )
        self.client: Any = None

    async def start(self) -> None:
        from elasticsearch import AsyncElasticsearch

        try:
            self.client = AsyncElasticsearch(
                self.url,
                request_timeout=self.request_timeout,
                max_retries=0,
                retry_on_status=(),
                retry_on_timeout=False,
                **self._auth,
            )
        except ValueError as exc:
            detail = redact(str(exc), self.url, *self._secrets)
            raise FlowError(
                f"elastic: bad connection settings for {shown_url(self.url)}: {detail}"
            ) from None

    async def write(self, records: list[Record]) -> list[Rejected]:
        from ..runtime.jsonl import Unencodable, dumps, encode

        now = _dt.datetime.now(_UTC)
        rejected: list[Rejected] = []
        pending: list[_Doc] = []
        for rec in records:
            try:
                header = self._header(rec, now)
            except RecordError as exc:
                rejected.append(Rejected(rec, exc.code, exc.message))
                self.ctx.count("rejected")
                continue
            try:
                body = encode(rec)
            except Unencodable as exc:
                rejected.append(Rejected.unencodable(exc))
                self.ctx.count("rejected")
                continue
            pending.append(_Doc(rec, header, body, len(dumps(header)) + len(body) + 2))

        async def send_round(items: list) -> tuple:
            retry, reason, retry_after = await self._send(items, rejected)
            return retry, (), reason, retry_after

        await self.retrier.deliver(pending, send_round)
        return rejected

    def _header(self, rec: Record, now: _dt.datetime) -> dict:
        """The bulk action line of one record; RecordError when it cannot be indexed."""
        from ..runtime.ops import get_path

        index = self.index
        if self.pattern:
            when = now
            if self.time_path is not None:
                when = get_path(rec, self.time_path)
                if not isinstance(when, _dt.datetime):
                    raise RecordError(
                        "type",
                        f"the index name needs a time but field "
                        f"`{'.'.join(self.time_path)}` is {kind_of(when)}",
                    )
                when = when.astimezone(_UTC) if when.tzinfo else when.replace(tzinfo=_UTC)
            index = when.strftime(self.index)
        if self.id_path is None:
            return {"index": {"_index": index}}
        value = get_path(rec, self.id_path)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            raise RecordError(
                "type",
                f"the document id field `{'.'.join(self.id_path)}` "
                f"is {kind_of(value)}, not a string or an integer",
            )
        return {"create": {"_index": index, "_id": str(value)}}

    def _chunks(self, docs: list[_Doc]) -> list[list[_Doc]]:
        """`docs` cut into bulk requests of at most batch_size documents and
        batch_bytes bytes (a document larger than that goes alone)."""
        chunks: list[list[_Doc]] = []
        chunk: list[_Doc] = []
        size = 0
        for doc in docs:
            if chunk and (len(chunk) >= self.batch_size or size + doc.size > self.batch_bytes):
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append(doc)
            size += doc.size
        if chunk:
            chunks.append(chunk)
        return chunks

    async def _send(
        self, docs: list[_Doc], rejected: list[Rejected]
    ) -> tuple[list[_Doc], str, float | None]:
        """One pass of bulk requests over `docs`. Accepted ones are done,
        permanent failures go to `rejected`; returns the ones to resend, why,
        and the longest Retry-After the server asked for."""
        from elastic_transport import TransportError

        retry: list[_Doc] = []
        reason = ""
        retry_after: float | None = None
        chunks = self._chunks(docs)
        for k, chunk in enumerate(chunks):
            try:
                results = await self._bulk(chunk)
            except TransportError as exc:
                # no answer: this request and the ones not sent yet are resent
                for rest in chunks[k:]:
                    retry.extend(rest)
                reason = f"{type(exc).__name__}: {_transport_text(exc)}"
                break
            first = results[0][2] if results else {}
            if first.get("status") == 413 and "exception" in first and len(chunk) > 1:
                # the request was too large for the server: smaller ones from now on
                self.batch_bytes = max(1, min(self.batch_bytes, sum(d.size for d in chunk)) // 2)
                retry.extend(chunk)
                reason = "status 413: request too large"
                continue
            for doc, (ok, op, info) in zip(chunk, results):
                status = info.get("status") or 0
                if ok or (status == 409 and op == "create"):
                    if status == 409:
                        self.ctx.count("already_present")
                elif status in RETRY_STATUS or status >= 500 or not status:
                    retry.append(doc)
                    reason = f"status {status}: {_item_reason(info)}"
                    after = _retry_after_of(info)
                    if after is not None:
                        retry_after = max(retry_after or 0.0, after)
                elif "exception" in info and status != 413:
                    # the whole request refused (credentials, URL, not Elasticsearch):
                    # no record is to blame and every one would fail the same way
                    reason = redact(_item_reason(info), self.url, *self._secrets)
                    raise FlowError(
                        f"elasticsearch at {shown_url(self.url)} refused the bulk request: {reason}"
                    )
                else:
                    rejected.append(
                        Rejected(doc.record, "rejected", f"elasticsearch: {_item_reason(info)}")
                    )
                    self.ctx.count("rejected")
        if retry:
            self.ctx.count("retried_items", len(retry))
        return retry, reason, retry_after

    async def _bulk(self, chunk: list[_Doc]) -> list[tuple[bool, str, dict]]:
        """One bulk request through the client's helper: (ok, op, info) per document."""
        from contextlib import aclosing

        from elasticsearch.helpers import async_streaming_bulk

        out: list[tuple[bool, str, dict]] = []
        self.ctx.count("bulk_requests")
        began = _time.perf_counter()
        try:
            stream = async_streaming_bulk(
                self.client,
                [(d.header, d.body) for d in chunk],
                chunk_size=len(chunk),
                max_chunk_bytes=1 << 62,
                expand_action_callback=_as_is,
                raise_on_error=False,
                raise_on_exception=False,
                max_retries=0,
            )
            async with aclosing(stream) as results:
                async for ok, item in results:
                    op, info = next(iter(item.items()))
                    out.append((ok, op, info))
        finally:
            self.ctx.count("request_ms", int((_time.perf_counter() - began) * 1000))
        return out

    async def probe(self) -> str | None:
        from ._netsink import PROBE_TIMEOUT

        # `ping` is HEAD /: True on a 2xx answer, False on any error or refusal
        alive = await self.client.options(request_timeout=PROBE_TIMEOUT).ping()
        return None if alive else f"elasticsearch at {shown_url(self.url)} does not answer"

    async def close(self) -> None:
        self.retrier.close()
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()


def _as_is(action: tuple[dict, bytes]) -> tuple[dict, bytes]:
    return action


def _transport_text(exc: Any) -> str:
    """A connection failure in words, without the node's settings."""
    errors = getattr(exc, "errors", ()) or ()
    inner = errors[0] if errors else None
    return str(inner or getattr(exc, "message", "") or type(exc).__name__)

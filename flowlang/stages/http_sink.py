"""`sink http(url, method="POST", format=json|ndjson, headers=[…], token=…, batch=…, timeout=…)`."""

from __future__ import annotations

import logging
import re
import time as _time
from typing import Any

from .. import codes
from ..runtime.base import Record, Rejected, Sink, StageContext
from ..runtime.errors import FlowError
from ..runtime.urls import problem as url_problem
from ..runtime.urls import redact
from ..runtime.urls import shown as shown_url
from ..types import DURATION, INT, STR, ListT
from ._netsink import Retrier, parse_retry_after
from ._rules import RETRY_PARAMS, at_least_one
from .spec import Example, Param, ParamKind, RuleContext, StageSpec

METHODS = ("POST", "PUT", "PATCH")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
# headers the sink sets itself
OWN_HEADERS = {"content-type", "content-length", "host", "transfer-encoding"}


def header_problem(text: str) -> str | None:
    """Why `Name: value` cannot be sent as a header (None: it can)."""
    name, sep, value = text.partition(":")
    if not sep:
        return f"header {text!r} is not written `Name: value`"
    name = name.strip()
    if not _TOKEN.match(name):
        return f"header name {name!r} is not a valid HTTP header name"
    if name.lower() in OWN_HEADERS:
        return f"the sink sets `{name}` itself"
    if any(c in value for c in "\r\n\0"):
        return f"header `{name}` holds a line break or NUL"
    return None


def parse_headers(items: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(n.strip(), v.strip()) for n, _, v in (h.partition(":") for h in items)]


def method_problem(method: str) -> tuple[str, str] | None:
    if method in METHODS:
        return None
    return "the method cannot send records", "use " + ", ".join(f'"{m}"' for m in METHODS)


def batch_problem(batch: int) -> str | None:
    return "`batch` must be at least 1" if batch < 1 else None


def url_rule(url: str) -> str | None:
    wrong = url_problem(url)
    return wrong and f"the url {wrong}"


def _check(ctx: RuleContext) -> None:
    for header in ctx.args.get("headers") or ():
        if isinstance(header, str):
            problem = header_problem(header)
            if problem is not None:
                ctx.error(codes.BAD_ARG_VALUE, problem, param="headers")
    return None


SPEC = StageSpec(
    name="http",
    role="sink",
    doc=(
        "Sends records to an HTTP endpoint, `batch` records per request "
        "(`format=json`: a JSON array; `ndjson`: one object per line). A "
        "request answered 2xx counts as written. Connection failures, 408, "
        "429 and 5xx are retried with the retry policy of every sink "
        "(docs/sinks.md), at least as long as the server's `Retry-After`; so "
        "are answers that are not HTTP, a connection closed in the middle of "
        "the answer, and a request not answered within `timeout` (a hung "
        "endpoint), each of which may have been applied: the retry can "
        "deliver the records twice; "
        "any other answer rejects the request's records for good: they go "
        "to the error stream (code `rejected`) with the status and the start "
        "of the server's answer. `headers` are sent with every request "
        '(`["X-Source: flowc"]`); `token=` is sent as `Authorization: Bearer '
        "…`. Credentials in the URL (`https://user:pass@host/…`) are sent as "
        "basic auth; neither they nor the token are ever shown."
    ),
    params=(
        Param("url", ParamKind.VALUE, "where the records are sent", type=STR, check=url_rule),
        Param(
            "method",
            ParamKind.VALUE,
            "POST, PUT or PATCH",
            type=STR,
            default="POST",
            check=method_problem,
        ),
        Param(
            "format",
            ParamKind.CHOICE,
            "how a request body is written",
            default="json",
            options={"json": (), "ndjson": ()},
        ),
        Param(
            "headers",
            ParamKind.VALUE,
            "extra headers, each `Name: value`",
            type=ListT(STR),
            default=(),
        ),
        Param(
            "token",
            ParamKind.VALUE,
            "bearer token; never shown",
            type=STR,
            default=None,
        ),
        Param(
            "batch",
            ParamKind.VALUE,
            "records per request, at most",
            type=INT,
            default=500,
            check=batch_problem,
        ),
        Param(
            "timeout",
            ParamKind.VALUE,
            "longest a request may take, from connecting to the end of the answer",
            type=DURATION,
            default=30_000,
            check=at_least_one("timeout"),
        ),
        *RETRY_PARAMS,
    ),
    output=_check,
    runtime="HttpSink",
    module=__name__,
    examples=(
        Example('source file("app.log") | sink http("http://collector:8080/ingest")'),
        Example(
            'source file("app.jsonl", format=json)\n'
            '| sink http(env("HOOK_URL"), format=ndjson, token=env("HOOK_TOKEN"),\n'
            '            headers=["X-Source: flowc"], batch=100)',
            doc="A 429 storm is waited out; a 400 puts that request's records in the error stream.",
        ),
    ),
)


log = logging.getLogger(__name__)

RETRY_STATUS = (408, 429)  # besides 5xx and no answer at all
EXCERPT = 200  # characters of a refusing answer quoted in the error record


class HttpSink(Sink):
    """One request per chunk of `batch` records, retried until answered 2xx
    or refused for good."""

    def __init__(
        self,
        ctx: StageContext,
        url: str,
        method: str = "POST",
        format: str = "json",
        format_args: dict | None = None,
        headers: tuple[str, ...] = (),
        token: str | None = None,
        batch: int = 500,
        timeout: int = 30_000,
        retry_max: int = 30_000,
        shutdown_grace: int = 10_000,
        *,
        retry_initial: float = 0.1,
    ) -> None:
        self.ctx = ctx
        wrong = url_problem(url)
        if wrong is not None:
            raise FlowError(f"http sink: the url {shown_url(url)} {wrong}")
        if method not in METHODS:
            raise FlowError(f"http sink: method {method!r} cannot send records")
        for header in headers:
            problem = header_problem(header)
            if problem is not None:
                raise FlowError(f"http sink: {problem}")
        if batch < 1:
            raise FlowError("http sink: batch must be at least 1")
        if timeout < 1:
            raise FlowError("http sink: timeout must be at least 1 ms")
        from ..runtime.urls import credentials

        given_auth = any(n.lower() == "authorization" for n, _ in parse_headers(headers))
        if sum((bool(token), bool(credentials(url)), given_auth)) > 1:
            raise FlowError(
                "http sink: give one of credentials in the url, token= and an "
                "Authorization header, not several"
            )
        self.url = url
        self.method = method
        self.format = format
        self.token = token or None
        self.batch = batch
        self.request_timeout = timeout / 1000
        self.headers = parse_headers(headers)
        self.headers.append(
            ("Content-Type", "application/json" if format == "json" else "application/x-ndjson")
        )
        if self.token:
            self.headers.append(("Authorization", f"Bearer {self.token}"))
        self.shown = shown_url(url)
        self.retrier = Retrier(
            ctx,
            f"http endpoint {self.shown}",
            retry_initial,
            retry_max / 1000,
            shutdown_grace / 1000,
            log,
            url=url,
            secrets=(self.token,),
        )
        self.session: Any = None

    async def start(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.request_timeout)
        )

    def _body(self, lines: list[bytes]) -> bytes:
        if self.format == "ndjson":
            return b"".join(line + b"\n" for line in lines)
        return b"[" + b",".join(lines) + b"]"

    async def write(self, records: list[Record]) -> list[Rejected]:
        from ..runtime.jsonl import Unencodable, encode

        rejected: list[Rejected] = []
        encoded: list[tuple[Record, bytes]] = []
        for rec in records:
            try:
                encoded.append((rec, encode(rec)))
            except Unencodable as exc:
                rejected.append(Rejected.unencodable(exc))
        if rejected:
            self.ctx.count("rejected", len(rejected))
        retries = 0
        for start in range(0, len(encoded), self.batch):
            chunk = encoded[start : start + self.batch]
            body = self._body([data for _, data in chunk])
            attempt = 0
            while True:
                status, message, retry_after = await self._send(body)
                if 200 <= status < 300:
                    break
                if status == 0 or status in RETRY_STATUS or status >= 500:
                    waiting = len(encoded) - start
                    await self.retrier.wait(attempt, message, waiting, retry_after)
                    attempt += 1
                    retries += 1
                    continue
                message = redact(message, self.url, self.token)
                rejected.extend(Rejected(rec, "rejected", message) for rec, _ in chunk)
                self.ctx.count("rejected", len(chunk))
                break
        self.retrier.recovered(retries)
        return rejected

    async def _send(self, body: bytes) -> tuple[int, str, float | None]:
        """One request: (status, or 0 for no answer; what went wrong; Retry-After)."""
        import asyncio

        import aiohttp

        self.ctx.count("requests")
        began = _time.perf_counter()
        try:
            async with self.session.request(
                self.method, self.url, data=body, headers=self.headers
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    await response.read()
                    return status, "", None
                text = (await response.content.read(4 * EXCERPT)).decode("utf-8", "replace")
                excerpt = " ".join(text.split())[:EXCERPT]
                after = parse_retry_after(response.headers.get("Retry-After"))
                message = f"{self.shown} answered {status} {response.reason or ''}".rstrip()
                return status, message + (f": {excerpt}" if excerpt else ""), after
        except asyncio.TimeoutError:
            why = f"no whole answer within {self.request_timeout:g} s (timeout)"
            return 0, f"{self.method} {self.shown} failed: {why}", None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return 0, f"{self.method} {self.shown} failed: {type(exc).__name__}: {exc}", None
        finally:
            self.ctx.count("request_ms", int((_time.perf_counter() - began) * 1000))

    async def probe(self) -> str | None:
        from ._netsink import host_port, tcp_probe

        default = 443 if self.url.lower().startswith("https:") else 80
        return await tcp_probe(self.shown, [host_port(self.url, default)])

    async def close(self) -> None:
        self.retrier.close()
        session, self.session = self.session, None
        if session is not None:
            await session.close()

"""`flowc tap ADDR PIPELINE[:LINE]`: print the samples a run's `/tap`
endpoint streams (`runtime/monitor.py`, `runtime/tap.py`), one JSON object
a line on stdout, until the tapped pipeline or the run ends, `--limit` is
reached, or Ctrl-C.

stdout carries the server's `record`, `error` and `dropped` lines as they
come; what the tap is and why it ended are said on stderr. Exit status: 0
the stream ended (or `--limit` was reached), 1 the connection was lost
before the end, 2 no run answers at ADDR or the point is unknown (the
valid points are listed).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, BinaryIO, TextIO

OK, FAILED, USAGE = 0, 1, 2
CONNECT_TIMEOUT = 10.0


def base_url(address: str) -> str:
    """`PORT`, `HOST:PORT`, `[V6]:PORT` (as `--http` takes them) or an
    `http://` URL, as the URL of the server."""
    if address.startswith(("http://", "https://")):
        return address.rstrip("/")
    from .runtime.errors import FlowError
    from .runtime.monitor import parse_address

    try:
        host, port = parse_address(address)
    except FlowError:
        raise ValueError(
            f"ADDR {address!r}: expected PORT, HOST:PORT, [V6]:PORT or an http:// URL"
        ) from None
    if host == "0.0.0.0":
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def split_point(text: str) -> tuple[str, int | None]:
    """`web` → (web, None); `web:3` → (web, 3); ValueError otherwise."""
    name, sep, line = text.rpartition(":")
    if not sep:
        return text, None
    if not name or not line.isdigit():
        raise ValueError(f"expected PIPELINE or PIPELINE:LINE, not {text!r}")
    return name, int(line)


def parse_rate(text: str) -> float:
    """`N` or `N/s`: records a second, more than 0."""
    number = text[:-2] if text.endswith("/s") else text
    try:
        rate = float(number)
    except ValueError:
        raise ValueError(f"expected a rate such as 10 or 10/s, not {text!r}") from None
    if not rate > 0 or rate == float("inf"):
        raise ValueError("the rate must be more than 0 records a second")
    return rate


def run(
    address: str,
    point: str,
    rate: float | None,
    errors: bool,
    limit: int | None,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The `flowc tap` command; its exit status."""
    err = err or sys.stderr
    out = out or sys.stdout.buffer
    try:
        url = base_url(address)
        pipeline, line = split_point(point)
    except ValueError as exc:
        print(f"flowc: {exc}", file=err)
        return USAGE
    params = {"pipeline": pipeline}
    if line is not None:
        params["line"] = str(line)
    if rate is not None:
        params["rate"] = repr(rate)
    if errors:
        params["errors"] = "1"
    return asyncio.run(_stream(url, params, limit, out, err))


async def _stream(
    url: str, params: dict[str, str], limit: int | None, out: BinaryIO, err: TextIO
) -> int:
    import aiohttp
    import orjson

    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
    taken = 0
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url + "/tap", params=params) as resp:
                if resp.status != 200:
                    return _refused(resp.status, await resp.read(), url, err)
                pending = b""
                async for chunk in resp.content.iter_any():
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for raw in lines:
                        if not raw:
                            continue
                        item = orjson.loads(raw)
                        if "tap" in item:
                            _announce(item["tap"], err)
                            continue
                        if "end" in item:
                            print(f"flowc: tap ended: {item['end']}", file=err)
                            return OK
                        out.write(raw + b"\n")
                        if "record" in item or "error" in item:
                            taken += 1
                            if limit is not None and taken >= limit:
                                out.flush()
                                return OK
                    out.flush()
    except aiohttp.ClientConnectorError as exc:
        print(f"flowc: cannot connect to {url}: {exc.os_error.strerror or exc}", file=err)
        return USAGE
    except (aiohttp.ClientError, ConnectionError, orjson.JSONDecodeError) as exc:
        print(f"flowc: the tap at {url} failed: {type(exc).__name__}: {exc}", file=err)
        return FAILED
    print(f"flowc: {url} closed the tap before the run ended", file=err)
    return FAILED


def _announce(head: dict[str, Any], err: TextIO) -> None:
    what = "the output of " if head.get("line") is None else ""
    errors = ", with its error records" if head.get("errors") else ""
    print(
        f"flowc: tapping {what}{head['point']}: {head['stage']}{errors}; "
        f"at most {head['rate']:g} records a second",
        file=err,
    )


def _refused(status: int, body: bytes, url: str, err: TextIO) -> int:
    import orjson

    try:
        answer = orjson.loads(body)
        message, listing = answer["error"], answer.get("points")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        print(f"flowc: {url}/tap answered {status}; is it a flowc run with --http?", file=err)
        return USAGE
    print(f"flowc: {message}", file=err)
    if listing:
        print("flowc: the points of this run:", file=err)
        width = max(len(p["point"]) for p in listing)
        for p in listing:
            what = "output" if p["line"] is None else "line"
            print(f"  {p['point']:<{width}}  {what}: {p['stage']}", file=err)
    return USAGE

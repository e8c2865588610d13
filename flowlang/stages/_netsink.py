"""What the sinks share: the retry policy (exponential backoff with jitter,
`Retry-After`, a grace period at shutdown), with failure reasons shown
without credentials (`runtime.urls`), and how they name values in messages."""

from __future__ import annotations

import datetime as _dt
import logging
import random
import time as _time
from typing import Any, Awaitable, Callable

from ..runtime.base import StageContext
from ..runtime.errors import FlowError
from ..runtime.urls import redact

# asyncio and email.utils are imported where they are used: checking a
# program loads this module (the sinks' declarations import it) and needs neither

_UTC = _dt.timezone.utc
WARN_EVERY = 30.0  # seconds between repeated "still failing" warnings


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from an HTTP `Retry-After` value (delay-seconds or an
    HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC)
    return max(0.0, (when - _dt.datetime.now(_UTC)).total_seconds())


class Retrier:
    """The retry policy of the network sinks: exponential backoff with jitter
    between `initial` and `maximum` seconds, at least as long as a server's
    `Retry-After`, forever, until the run is asked to stop; then for at most
    `grace` more seconds, after which the write fails with a FlowError (its
    records were never acknowledged, so the source has not checkpointed past
    them). Warnings about a failure streak are logged, rate-limited."""

    def __init__(
        self,
        ctx: StageContext,
        what: str,
        initial: float,
        maximum: float,
        grace: float,
        logger: logging.Logger,
        *,
        url: str = "",
        secrets: tuple[str | None, ...] = (),
    ):
        self.ctx = ctx
        # failure reasons quote client errors, which may quote the URL
        self._hidden = (url, *secrets)
        self.log = logger  # the sink's own logger, so warnings name it
        self.what = what
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.grace = grace
        self.stop_requested: float | None = None
        import asyncio

        self._stopping = asyncio.Event()
        self._unsubscribe = ctx.bus.subscribe("signal", self._on_signal) if ctx.bus else None
        self._warned = -WARN_EVERY  # the first failure is always told

    def _on_signal(self, topic: str, **data: Any) -> None:
        if self.stop_requested is None:
            self.stop_requested = _time.monotonic()
            self._stopping.set()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """How long to wait before retry number `attempt` (0-based)."""
        cap = min(self.maximum, self.initial * 2 ** min(attempt, 32))
        wait = random.uniform(cap / 2, cap)  # jitter: writers that failed together spread out
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    async def wait(
        self, attempt: int, reason: str, waiting: int, retry_after: float | None = None
    ) -> None:
        """Sleep before the next attempt. Once the run is stopping, sleeps end
        by the grace deadline, and a retry due after it raises FlowError."""
        self.ctx.count("retries")
        reason = redact(reason, *self._hidden)
        now = _time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            self.log.warning(
                "%s: %s; retrying (%d records waiting)", self.ctx.stage, reason, waiting
            )
        until = now + self.delay(attempt, retry_after)
        import asyncio

        if self.stop_requested is None:
            try:
                await asyncio.wait_for(self._stopping.wait(), until - now)
            except TimeoutError:
                return
        assert self.stop_requested is not None
        deadline = self.stop_requested + self.grace
        if _time.monotonic() >= deadline:
            raise FlowError(
                f"{self.what} still failing at shutdown ({reason}); {waiting} records "
                "were not written and not acknowledged"
            )
        await asyncio.sleep(max(0.0, min(until, deadline) - _time.monotonic()))

    async def deliver(self, pending: list, send_round: Callable[[list], Awaitable[tuple]]) -> list:
        """Send `pending` in rounds until nothing is left to retry, waiting
        between rounds by the policy; `send_round(items)` gives (the items to
        send again, what was refused for good, why the round failed, the
        server's Retry-After or None). Returns everything refused."""
        refused_all: list = []
        attempt = 0
        while pending:
            pending, refused, reason, retry_after = await send_round(pending)
            refused_all.extend(refused)
            if pending:
                await self.wait(attempt, reason, len(pending), retry_after)
                attempt += 1
        self.recovered(attempt)
        return refused_all

    def recovered(self, attempts: int) -> None:
        if attempts:
            self.log.info("%s: recovered after %d retries", self.ctx.stage, attempts)

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


PROBE_TIMEOUT = 2.0  # seconds a readiness probe may take


async def tcp_probe(what: str, addresses: list[tuple[str, int]]) -> str | None:
    """None when one of `addresses` accepts a TCP connection within
    PROBE_TIMEOUT, else why none did (for sinks whose client has no cheaper
    check)."""
    import asyncio

    reason = "no address"
    for host, port in addresses:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        writer.close()
        return None
    return f"{what} cannot be reached ({reason})"


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a URL's authority as (host, port)."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "//" in address else "//" + address)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "localhost", port or default_port


def kind_of(value: Any) -> str:
    """`null`, `a string`, `a record`, … for messages about a value."""
    if value is None:
        return "null"
    return {
        dict: "a record",
        list: "a list",
        str: "a string",
        bool: "a bool",
        int: "an int",
        float: "a float",
    }.get(type(value), type(value).__name__)

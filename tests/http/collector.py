"""A loopback HTTP endpoint that keeps what it is sent: the receiving end
of `sink http` in the tests, and the slow or failing sink behind a `source
http` under backpressure. `reply` scripts answers (a `Reply`, RESET to drop
the connection, or None for 200); `gate` cleared holds every request until it is set again;
`delay` seconds pass before each answer (a slow sink)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Callable

from tests.fixtures.faults import RESET, LoopbackServer, Reply


class Collector(LoopbackServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.requests: list[dict] = []  # method, path, headers, body of every request
        self.records: list[dict] = []  # records of the requests answered 2xx
        self.reply: Callable[[int, bytes], Reply | None] = lambda n, body: None
        self.gate = threading.Event()
        self.gate.set()
        self.delay = 0.0

    def routes(self, app) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request):
        from aiohttp import web

        body = await request.read()
        while not self.gate.is_set():
            await asyncio.sleep(0.02)
        if self.delay:
            await asyncio.sleep(self.delay)
        n = self._note_call()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": body,
            }
        )
        reply = self.reply(n, body)
        if reply == RESET:
            return self._reset(request)
        if reply is not None:
            return self._reply(reply, {})
        if request.content_type == "application/x-ndjson":
            self.records.extend(json.loads(line) for line in body.splitlines() if line)
        else:
            self.records.extend(json.loads(body))
        return web.Response(status=200, text="ok")

"""`sink http` against an endpoint that speaks HTTP wrongly on purpose (a
raw asyncio server: faults a real server cannot be made to produce):
bytes that are not HTTP, a connection closed in the middle of the answer,
and no answer at all. Each is retried with the shared retry policy until the
records are delivered; an endpoint that never recovers makes a stopped run
exit 1 after `shutdown_grace`, its records unacknowledged (docs/guarantees.md)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tests.flowrun import FLOWC, run_flow, write_jsonl

GARBAGE = "garbage"  # bytes that are not an HTTP answer
CUT = "cut"  # a 200 head promising a body that never comes whole
HANG = "hang"  # the request is read and never answered
OK = "ok"


class WrongServer:
    """Answers the n-th request as `script[n]` says (OK once it runs out),
    keeping the records of the requests answered OK."""

    def __init__(self, script: list[str], then: str = OK):
        self.script = list(script)
        self.then = then
        self.requests = 0
        self.records: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "WrongServer":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/in"
        self.ready.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)  # the hung answers
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self.requests += 1
                mode = self.script.pop(0) if self.script else self.then
                if mode == GARBAGE:
                    writer.write(b"\x00\x17\xfe this is not HTTP \r\n\r\n")
                    break
                if mode == CUT:
                    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"partial')
                    break
                if mode == HANG:
                    await asyncio.sleep(3600)
                self.records.extend(json.loads(line) for line in body.splitlines() if line)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


PROGRAM = """
source file("input.jsonl", format=json)
  | sink http(env("OUT"), format=ndjson, batch=5, timeout=1s, retry_max=200ms, ARGS)
"""


def test_garbage_a_cut_answer_and_a_hang_are_retried_until_delivered(tmp_path):
    records = [{"n": i} for i in range(10)]
    with WrongServer([GARBAGE, CUT, HANG]) as server:
        result = run_flow(
            PROGRAM.replace(", ARGS", ""), tmp_path, records=records, env={"OUT": server.url}
        )
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in server.records) == list(range(10))  # each once
    assert server.requests == 2 + 3  # two chunks of 5, three of them retried
    (pipeline,) = [m for name, m in result.metrics.items() if not name.startswith("collect_")]
    counters = pipeline["stages"][-1]["counters"]
    assert counters["retries"] == 3
    assert result.errors == []


@pytest.mark.parametrize("fault", [GARBAGE, HANG])
def test_an_endpoint_that_never_recovers_exits_1_at_shutdown_unacknowledged(tmp_path, fault):
    write_jsonl(tmp_path / "input.jsonl", [{"n": i} for i in range(3)])
    (tmp_path / "out.flow").write_text(PROGRAM.replace("ARGS", "shutdown_grace=1s"))
    with WrongServer([], then=fault) as server:
        proc = subprocess.Popen(
            [FLOWC, "run", "out.flow"],
            cwd=tmp_path,
            env=dict(os.environ, OUT=server.url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while server.requests < 2:  # failed once and retried
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "the sink never retried"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, err.decode()
    message = err.decode()
    assert "still failing at shutdown" in message
    assert "3 records were not written and not acknowledged" in message
    if fault == HANG:
        assert "no whole answer within 1 s (timeout)" in message
    assert server.records == []

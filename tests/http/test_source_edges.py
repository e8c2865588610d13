"""`source http` against clients that misbehave, over real sockets to a
`flowc run` subprocess: slow-loris heads and bodies, silent connections,
hundreds of idle connections, more connections than `max_connections`, and
random bytes. Each gets a 4xx answer or a closed connection; the server
goes on serving a normal POST meanwhile and never dies."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.processes import free_port
from tests.flowrun import FLOWC, read_jsonl

TIMEOUT = 2  # seconds: the flows' `timeout=`
WAIT = 20  # seconds a test waits for the server to close a connection, at most


class Flow:
    """`source http(…) | sink file("output.jsonl")` run by `flowc run`."""

    def __init__(self, tmp_path: Path, args: str = "", timeout: int = TIMEOUT):
        self.port = free_port()
        self.tmp_path = tmp_path
        text = (
            f'source http(port={self.port}, path="/events", timeout={timeout}s{args})\n'
            '  | sink file("output.jsonl")\n'
        )
        (tmp_path / "edge.flow").write_text(text)
        self.proc = subprocess.Popen(
            [FLOWC, "run", "edge.flow"],
            cwd=tmp_path,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert self.proc.poll() is None, self.proc.communicate()[1].decode()
            assert time.monotonic() < deadline, "the flow did not start"
            time.sleep(0.1)

    def post(self, records: list[dict]) -> tuple[int, dict]:
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
        request = urllib.request.Request(self.url + "/events", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/health", timeout=WAIT) as response:
            return json.loads(response.read())

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        return s

    def stop(self) -> str:
        """SIGTERM; the run must end by itself with status 0."""
        assert self.proc.poll() is None, "the server died"
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err.decode()
        return err.decode()

    def output(self) -> list[dict]:
        return read_jsonl(self.tmp_path / "output.jsonl")


def until_closed(s: socket.socket) -> bytes:
    """What the server sends until it closes the connection (a reset counts
    as closed); fails if it is still open after WAIT seconds."""
    got = b""
    s.settimeout(WAIT)
    try:
        while chunk := s.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open; it sent {got!r}") from None
    return got


def trickle(s: socket.socket, data: bytes, sent: list[int]) -> None:
    """Send `data` a byte every 0.1 s until done or the server hangs up."""
    try:
        for i in range(len(data)):
            s.sendall(data[i : i + 1])
            sent[0] = i + 1
            time.sleep(0.1)
    except OSError:
        pass


def test_slow_loris_and_silent_connections_are_closed_while_others_are_served(tmp_path):
    flow = Flow(tmp_path)
    head = b"POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 2000 + b"\r\n\r\n"
    body_head = b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n"
    silent, slow_head, slow_body = flow.connect(), flow.connect(), flow.connect()
    slow_body.sendall(body_head)
    head_sent, body_sent = [0], [0]
    senders = [
        threading.Thread(target=trickle, args=(slow_head, head, head_sent)),
        threading.Thread(target=trickle, args=(slow_body, b"{" * 2000, body_sent)),
    ]
    for t in senders:
        t.start()
    time.sleep(0.5)
    assert flow.post([{"n": 1}]) == (200, {"accepted": 1, "errors": 0})  # served meanwhile
    assert until_closed(silent) == b""
    assert until_closed(slow_head) == b""  # a head never finished: no answer
    answer = until_closed(slow_body)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"did not arrive within 2 s" in answer
    for t in senders:
        t.join()
    assert head_sent[0] < len(head) and body_sent[0] < 2000  # cut off, not finished
    assert flow.post([{"n": 2}]) == (200, {"accepted": 1, "errors": 0})
    flow.stop()
    assert [r["n"] for r in flow.output()] == [1, 2]


def test_hundreds_of_idle_connections_are_held_then_closed(tmp_path):
    flow = Flow(tmp_path, timeout=6)  # long enough to open them all first
    idle = [flow.connect() for _ in range(500)]
    assert flow.health()["connections"] == 501  # the 500 and the health check's
    assert flow.post([{"n": 1}])[0] == 200
    for s in idle:
        assert until_closed(s) == b""
        s.close()
    assert flow.health()["connections"] == 1  # its own
    assert flow.post([{"n": 2}])[0] == 200
    flow.stop()
    assert len(flow.output()) == 2


def test_connections_over_max_connections_get_503_until_others_close(tmp_path):
    flow = Flow(tmp_path, ", max_connections=20")
    held = [flow.connect() for _ in range(20)]
    refused = None
    for _ in range(40):  # until the server has accepted the 20 (and any probe)
        probe = flow.connect()
        probe.settimeout(0.5)
        try:
            answer = probe.recv(4096)
        except TimeoutError:
            held.append(probe)  # taken: one more connection held open
            continue
        probe.close()
        if answer:
            refused = answer
            break
    assert refused is not None, "no connection was refused"
    assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), refused
    assert b"Retry-After: 1\r\n" in refused and b"max_connections" in refused
    for _ in range(3):  # a client whose request is unread still reads the answer
        request = urllib.request.Request(flow.url + "/events", data=b'{"n": 0}', method="POST")
        try:
            urllib.request.urlopen(request, timeout=WAIT)
            raise AssertionError("a request got through")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and exc.headers["Retry-After"] == "1"
    for s in held:  # the timeout frees the places
        reply = until_closed(s)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 503 "), reply  # a slow refusal
        s.close()
    assert flow.post([{"n": 1}]) == (200, {"accepted": 1, "errors": 0})
    err = flow.stop()
    assert "connections are open (max_connections)" in err
    assert len(flow.output()) == 1


REQUEST_LINE = b"POST /events HTTP/1.1\r\n"
END = b"\r\n\r\n"  # a head ends here: the server answers it at once
garbage = st.one_of(
    st.binary(min_size=1, max_size=400),  # then the client half-closes
    st.binary(min_size=1, max_size=400).map(lambda b: b + END),
    st.binary(max_size=400).map(lambda b: REQUEST_LINE + b + END),
    st.binary(max_size=400).map(lambda b: REQUEST_LINE + b"Content-Length: 40" + END + b),
    st.binary(max_size=400).map(lambda b: REQUEST_LINE + b"Transfer-Encoding: chunked" + END + b),
)


def test_random_bytes_get_a_4xx_or_a_closed_connection_and_the_server_goes_on(tmp_path):
    flow = Flow(tmp_path)
    answers: dict[int, int] = {}

    @settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(garbage)
    def send(data: bytes) -> None:
        with flow.connect() as s:
            try:
                s.sendall(data)
                if not data.endswith(END):
                    s.shutdown(socket.SHUT_WR)  # and nothing more
            except OSError:
                pass  # the server hung up first
            reply = until_closed(s)
        status = int(reply[9:12]) if re.match(rb"HTTP/1\.[01] \d{3} ", reply) else 0
        answers[status] = answers.get(status, 0) + 1
        assert status == 0 or 400 <= status < 500, reply[:300]

    send()
    assert flow.proc.poll() is None
    assert flow.post([{"n": 1}]) == (200, {"accepted": 1, "errors": 0})
    err = flow.stop()
    assert "Traceback" not in err  # a client's garbage is not the server's error
    assert [r["n"] for r in flow.output()] == [1]
    assert answers.get(400, 0) > 0  # some were answered, not only dropped

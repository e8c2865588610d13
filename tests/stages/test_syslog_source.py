"""`source syslog`: the RFC 6587 framing decoder on its own (with a
Hypothesis property), and real pipelines listening on UDP and TCP while the
test sends to them with sockets."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import StageContext
from flowlang.stages.syslog_source import BadFrame, Framing, SyslogSource, TooLong
from tests.flowrun import FLOWC, read_jsonl, run_flow

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)

RFC5424 = (
    b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
    b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
    b'[examplePriority@32473 class="high"] An application event'
)
RFC3164 = b"<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8"


# ----------------------------------------------------------------- framing


def octet_framed(messages) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in messages)


def test_octet_counting_reads_frames_split_anywhere():
    framing = Framing()
    data = octet_framed([b"hello", b"a b c", RFC5424])
    got = []
    for i in range(len(data)):
        got += framing.feed(data[i : i + 1])
    assert got == [b"hello", b"a b c", RFC5424]
    assert framing.finish() == []


def test_octet_counting_tolerates_line_breaks_between_frames():
    assert Framing().feed(b"3 abc\n4 defg\r\n") == [b"abc", b"defg"]


def test_lines_strip_cr_skip_empty_and_keep_the_unterminated_last():
    framing = Framing()
    assert framing.feed(b"<13>one\r\n\n<13>tw") == [b"<13>one"]
    assert framing.feed(b"o\n<13>three") == [b"<13>two"]
    assert framing.finish() == [b"<13>three"]


def test_first_byte_decides_the_framing():
    assert Framing().feed(b"5 hello") == [b"hello"]
    assert Framing().feed(b"<5>hello 5 x\n") == [b"<5>hello 5 x"]


def test_an_over_long_line_is_reported_once_with_its_size():
    framing = Framing(max_line=10)
    got = framing.feed(b"<1>" + b"x" * 20) + framing.feed(b"y" * 5 + b"\n<1>ok\n")
    assert len(got) == 2
    assert isinstance(got[0], TooLong) and got[0].size == 28
    assert got[0].head.startswith(b"<1>xxx")
    assert got[1] == b"<1>ok"


def test_a_line_of_exactly_max_line_is_accepted_also_with_cr():
    framing = Framing(max_line=5)
    assert framing.feed(b"abcde\r") == []
    first, second = framing.feed(b"\nabcdef\n")
    assert first == b"abcde"
    assert isinstance(second, TooLong) and second.size == 6


def test_an_over_long_octet_counted_frame_is_skipped_and_the_next_one_read():
    framing = Framing(max_line=10)
    got = framing.feed(b"25 " + b"z" * 5) + framing.feed(b"z" * 20 + b"2 ok")
    assert isinstance(got[0], TooLong) and got[0].size == 25 and got[0].head == b"zzzzz"
    assert got[1:] == [b"ok"]
    whole = Framing(max_line=3).feed(b"4 abcd3 abc")
    assert isinstance(whole[0], TooLong) and whole[0].head == b"abcd" and whole[1] == b"abc"


@pytest.mark.parametrize("data", [b"12x hello", b"1 a05 hello", b"12345678901 a", b"3 abc\n\nx"])
def test_a_bad_octet_count_breaks_the_stream(data):
    framing = Framing()
    got = framing.feed(data)
    assert isinstance(got[-1], BadFrame)
    assert framing.broken
    assert framing.feed(b"3 abc") == [] and framing.finish() == []


def test_an_octet_counted_frame_cut_short_is_an_error():
    framing = Framing()
    assert framing.feed(b"10 abc") == []
    (got,) = framing.finish()
    assert isinstance(got, BadFrame) and got.head == b"10 abc"


# RFC 6587: MSG-LEN is NONZERO-DIGIT *DIGIT, so a frame is never empty
messages = st.lists(st.binary(min_size=1, max_size=300), max_size=20)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@settings(max_examples=300, deadline=None)
@given(messages, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_octet_framed_messages_split_anywhere_read_back_identically(msgs, cuts):
    framing = Framing(max_line=300)
    got = []
    for chunk in split(octet_framed(msgs), cuts):
        got += framing.feed(chunk)
    got += framing.finish()
    assert got == msgs


def shown(frames) -> list:
    return [("too long", f.size) if isinstance(f, TooLong) else f for f in frames]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=120), max_size=12),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_over_long_octet_framed_messages_are_reported_in_place(msgs, cuts):
    framing = Framing(max_line=60)
    got = []
    for chunk in split(octet_framed(msgs), cuts):
        got += framing.feed(chunk)
    got += framing.finish()
    assert shown(got) == [("too long", len(m)) if len(m) > 60 else m for m in msgs]


line = st.binary(min_size=1, max_size=200).filter(
    lambda b: b"\n" not in b and not b.endswith(b"\r")
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(line, min_size=1, max_size=20).filter(lambda ms: not ms[0][:1].isdigit()),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    st.booleans(),
)
def test_lines_split_anywhere_read_back_identically(msgs, cuts, crlf):
    framing = Framing(max_line=200)
    data = (b"\r\n" if crlf else b"\n").join(msgs)
    got = []
    for chunk in split(data, cuts):
        got += framing.feed(chunk)
    got += framing.finish()
    assert got == msgs


@settings(max_examples=200, deadline=None)
@given(
    st.lists(line.filter(lambda b: len(b) <= 120), min_size=1, max_size=12).filter(
        lambda ms: not ms[0][:1].isdigit()
    ),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    st.booleans(),
)
def test_over_long_lines_are_reported_in_place_with_their_size(msgs, cuts, crlf):
    framing = Framing(max_line=60)
    data = b"".join(m + (b"\r\n" if crlf else b"\n") for m in msgs)
    got = []
    for chunk in split(data, cuts):
        got += framing.feed(chunk)
    got += framing.finish()
    assert shown(got) == [("too long", len(m)) if len(m) > 60 else m for m in msgs]


# --------------------------------------------------------------- pipelines


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_bound(port: int, kind: int, deadline: float = 90.0, outcome: dict | None = None) -> None:
    """Until a socket of `kind` is bound to `port` (binding another fails);
    compiling and starting the run may take long on a loaded machine. When
    the run ended before it listened, says how it ended."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if outcome is not None and "result" in outcome:
            result = outcome["result"]
            raise AssertionError(f"the run ended before listening: {result.stderr}")
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return
                raise
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on port {port}")


@contextlib.contextmanager
def serving(tmp_path, args: str, kind=socket.SOCK_STREAM):
    """Run `source syslog(port=P, ARGS) | sink file("output.jsonl")` in a
    thread; yields (port, outcome) where outcome["result"] is set on exit."""
    port = free_port(kind)
    program = f'source syslog(port={port}, {args}) | sink file("output.jsonl")\n'
    outcome: dict = {}

    def run():
        outcome["result"] = run_flow(program, tmp_path, clock=lambda: NOW)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_bound(port, kind, outcome=outcome)
    yield port, outcome
    thread.join(60)
    assert not thread.is_alive(), "the run did not end"


def test_udp_datagrams_rfc5424_rfc3164_bad_and_over_long(tmp_path):
    over = b"<13>Oct 11 22:14:15 host app: " + b"x" * 300
    sent = [RFC5424, RFC3164 + b"\n", b"not syslog at all", over, b"<13>1 - - - - - - no time"]
    with serving(tmp_path, "protocol=udp, max_line=256, idle=1s", socket.SOCK_DGRAM) as (
        port,
        outcome,
    ):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            mine = s.getsockname()[1]
            for datagram in sent:
                s.sendto(datagram, ("127.0.0.1", port))
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    first, second = result.output
    assert first == {
        "message": "An application event",
        "facility": "local4",
        "severity": "notice",
        "time": "2003-10-11T22:14:15.003000Z",
        "version": 1,
        "host": "mymachine.example.com",
        "app": "evntslog",
        "procid": None,
        "msgid": "ID47",
        "structured": {
            "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
            "examplePriority@32473": {"class": "high"},
        },
        "_syslog": {"source_ip": "127.0.0.1", "source_port": mine, "protocol": "udp"},
    }
    assert second["time"] == "2023-10-11T22:14:15Z"  # the latest year not after now
    assert (second["host"], second["app"], second["procid"]) == ("mymachine", "su", "230")
    assert second["facility"] == "auth" and second["severity"] == "crit"
    assert second["version"] is None and second["structured"] is None
    errors = result.errors
    assert len(result.output) + len(errors) == len(sent)
    assert [e["code"] for e in errors] == ["parse", "limit", "parse"]
    for e in errors:
        assert e["message"].startswith(f"from 127.0.0.1:{mine} (udp): "), e
    assert errors[0]["raw"] == "not syslog at all"
    assert "message of 330 bytes longer than max_line (256 bytes)" in errors[1]["message"]
    assert errors[1]["raw"] == over.decode()
    assert "no time" in errors[2]["message"]
    stage = result.metrics["test"]["stages"][0]
    assert stage["counters"]["received"] == len(sent)
    assert stage["out"] == 2 and stage["errors"] == 3


def test_tcp_both_framings_over_concurrent_connections(tmp_path):
    connections = 8
    per_connection = 40

    def message(c: int, i: int) -> bytes:
        if i % 2:
            return b"<14>1 2024-05-01T10:00:00+02:00 h%d app - - - c%d m%d" % (c, c, i)
        return b"<14>May  1 10:00:00 h%d app: c%d m%d" % (c, c, i)

    ports: dict[int, int] = {}

    def send(c: int, port: int) -> None:
        msgs = [message(c, i) for i in range(per_connection)]
        if c % 2:
            data = octet_framed(msgs)
        else:
            data = b"".join(m + (b"\r\n" if i % 3 else b"\n") for i, m in enumerate(msgs))
        with socket.create_connection(("127.0.0.1", port)) as s:
            ports[c] = s.getsockname()[1]
            for i in range(0, len(data), 97):  # arbitrary pieces, interleaved with the others
                s.sendall(data[i : i + 97])
                time.sleep(0.001)

    with serving(tmp_path, "protocol=tcp, idle=1500ms") as (port, outcome):
        senders = [threading.Thread(target=send, args=(c, port)) for c in range(connections)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    assert len(result.output) == connections * per_connection
    for c in range(connections):
        mine = [r for r in result.output if r["host"] == f"h{c}"]
        assert [r["message"] for r in mine] == [f"c{c} m{i}" for i in range(per_connection)]
        assert {(r["_syslog"]["source_port"], r["_syslog"]["protocol"]) for r in mine} == {
            (ports[c], "tcp")
        }
        assert {r["time"] for r in mine} == {"2024-05-01T08:00:00Z", "2024-05-01T10:00:00Z"}
    stage = result.metrics["test"]["stages"][0]
    assert stage["counters"]["connections"] == connections


def test_tcp_bad_and_over_long_messages_go_to_the_error_stream_and_the_run_goes_on(tmp_path):
    with serving(tmp_path, "protocol=tcp, max_line=100, idle=1s") as (port, outcome):
        with socket.create_connection(("127.0.0.1", port)) as lines:
            lines_port = lines.getsockname()[1]
            lines.sendall(b"<13>Jan  2 03:04:05 h a: one\n" + b"y" * 150 + b"\ngarbage\n")
            lines.sendall(b"<13>Jan  2 03:04:05 h a: two")  # closed without a line break
        with socket.create_connection(("127.0.0.1", port)) as octets:
            octets_port = octets.getsockname()[1]
            long = b"<13>Jan  2 03:04:05 h a: " + b"z" * 200
            octets.sendall(octet_framed([long, b"<13>Jan  2 03:04:05 h a: three"]))
            octets.sendall(b"12x oops")  # a broken count: the server closes the connection
            octets.settimeout(10)
            assert octets.recv(100) == b""
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    # "two" is handed on when its connection closes, maybe after "three"
    assert sorted(r["message"] for r in result.output) == ["one", "three", "two"]
    by_code = {}
    for e in result.errors:
        by_code.setdefault(e["code"], []).append(e)
    assert sorted(by_code) == ["framing", "limit", "parse"]
    (framing,) = by_code["framing"]
    assert framing["message"].startswith(f"from 127.0.0.1:{octets_port} (tcp): invalid octet")
    assert framing["raw"] == "12x oops"
    (bad,) = by_code["parse"]
    assert bad["message"].startswith(f"from 127.0.0.1:{lines_port} (tcp): not syslog")
    assert bad["raw"] == "garbage"
    too_long = sorted(by_code["limit"], key=lambda e: e["message"])
    assert [e["message"] for e in too_long] == [
        f"from 127.0.0.1:{lines_port} (tcp): message of 150 bytes longer than max_line (100 bytes)",
        f"from 127.0.0.1:{octets_port} (tcp): message of 225 bytes longer than "
        "max_line (100 bytes)",
    ]
    assert len(result.output) + len(result.errors) == 7
    assert result.metrics["test"]["stages"][0]["counters"]["received"] == 7


@pytest.mark.parametrize(
    ("fmt", "kept", "why"),
    [
        ("rfc5424", "An application event", "not an RFC 5424 message (format=rfc5424)"),
        ("rfc3164", "'su root' failed", "an RFC 5424 message, not RFC 3164 (format=rfc3164)"),
    ],
)
def test_format_accepts_one_kind_only(tmp_path, fmt, kept, why):
    with serving(tmp_path, f"protocol=tcp, format={fmt}, idle=1s") as (port, outcome):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(octet_framed([RFC5424, RFC3164]))
    result = outcome["result"]
    (record,) = result.output
    assert record["message"].startswith(kept)
    (error,) = result.errors
    assert error["message"].endswith(why)


def test_invalid_utf8_is_an_error_with_the_sender(tmp_path):
    with serving(tmp_path, "protocol=udp, idle=1s", socket.SOCK_DGRAM) as (port, outcome):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"<13>Jan  2 03:04:05 h a: caf\xe9", ("127.0.0.1", port))
    (error,) = outcome["result"].errors
    assert "(udp): the text contains U+FFFD" in error["message"]


def test_a_port_in_use_fails_the_run_with_the_address(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        program = f'source syslog(port={port}, protocol=tcp, idle=1s) | sink file("output.jsonl")'
        result = run_flow(program, tmp_path)
    assert result.exit_code == 1, result.stderr
    assert f"cannot listen for syslog on 127.0.0.1:{port} (tcp)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("port=70000", "the port must be between 0 and 65535"),
        ("port=514, max_line=0", "max_line must be at least 1"),
        ("port=514, protocol=tcp, max_connections=0", "`max_connections` must be at least 1"),
        ('port=514, timezone="Europe/Prag"', "Europe/Prague"),
    ],
)
def test_bad_arguments_are_compile_time_errors(tmp_path, args, message):
    from tests.flowrun import CompileFailed

    with pytest.raises(CompileFailed, match=message):
        run_flow(f"source syslog({args}) | sink null", tmp_path)


def test_the_first_doc_example_runs(tmp_path):
    from flowlang.stages.syslog_source import SPEC

    port = free_port()
    code = SPEC.examples[0].code.replace("port=5514", f"port={port}, idle=1s")
    assert f"port={port}" in code
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(result=run_flow(code, tmp_path)), daemon=True
    )
    thread.start()
    wait_bound(port, socket.SOCK_STREAM)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(octet_framed([RFC5424]))
    thread.join(60)
    assert outcome["result"].exit_code == 0, outcome["result"].stderr
    (record,) = read_jsonl(tmp_path / "syslog.jsonl")
    assert record["msgid"] == "ID47" and record["_syslog"]["protocol"] == "tcp"


# ----------------------------------------------------------------- stopping


def test_stop_hands_on_what_was_received_also_an_unterminated_line():
    async def main():
        ctx = StageContext("p", "syslog", "t.flow:1")
        source = SyslogSource(ctx, port=0, protocol="tcp")
        got: list = []
        batches = source.batches()

        async def read():
            async for batch in batches:
                got.extend(batch.records)

        reader = asyncio.create_task(read())
        while not hasattr(source, "bound"):
            await asyncio.sleep(0.01)
        _, writer = await asyncio.open_connection("127.0.0.1", source.bound[1])
        writer.write(b"<13>Jan  2 03:04:05 h a: whole\n<13>Jan  2 03:04:05 h a: half")
        await writer.drain()
        while ctx.counters.get("received", 0) < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        source.stop()
        await asyncio.wait_for(reader, 10)
        writer.close()
        await source.close()
        return got, ctx.counters

    got, counters = asyncio.run(main())
    assert [r["message"] for r in got] == ["whole", "half"]
    assert counters["received"] == 2
    # each record has its own metadata: a stage changing one `_syslog`
    # (set writes nested fields in place) must not change the others'
    assert got[0]["_syslog"] == got[1]["_syslog"] and got[0]["_syslog"] is not got[1]["_syslog"]


def test_a_pipeline_behind_stops_reading_and_then_takes_everything():
    total = 3000
    body = b"x" * 900

    async def main():
        ctx = StageContext("p", "syslog", "t.flow:1", options={"batch_size": 10})
        source = SyslogSource(ctx, port=0, protocol="tcp")
        batches = source.batches()
        first = asyncio.ensure_future(batches.__anext__())
        while not hasattr(source, "bound"):
            await asyncio.sleep(0.01)

        def send():
            with socket.create_connection(("127.0.0.1", source.bound[1])) as s:
                s.sendall(
                    b"".join(b"<13>Jan  2 03:04:05 h a: %d %s\n" % (i, body) for i in range(total))
                )

        sender = asyncio.get_running_loop().run_in_executor(None, send)
        got = list((await first).records)
        await asyncio.sleep(0.5)  # nobody takes batches: the source must stop reading
        held = len(source._pending)
        async for batch in batches:
            got.extend(batch.records)
            if len(got) == total:
                source.stop()
        await sender
        await source.close()
        return got, held, ctx.counters

    got, held, counters = asyncio.run(main())
    assert counters["paused"] >= 1
    assert held < 80 + 200  # PAUSE_AT batches, and what one read brought over it
    assert [int(r["message"].split()[0]) for r in got] == list(range(total))


def test_long_messages_stop_the_reading_by_their_bytes():
    from flowlang.stages.syslog_source import PAUSE_BYTES

    total = 400
    body = b"x" * 50_000  # 400 of them: 20 MB, far fewer than PAUSE_AT batches

    async def main():
        ctx = StageContext("p", "syslog", "t.flow:1")
        source = SyslogSource(ctx, port=0, protocol="tcp")
        batches = source.batches()
        first = asyncio.ensure_future(batches.__anext__())
        while not hasattr(source, "bound"):
            await asyncio.sleep(0.01)

        def send():
            with socket.create_connection(("127.0.0.1", source.bound[1])) as s:
                s.sendall(
                    b"".join(b"<13>Jan  2 03:04:05 h a: %d %s\n" % (i, body) for i in range(total))
                )

        sender = asyncio.get_running_loop().run_in_executor(None, send)
        got = list((await first).records)
        await asyncio.sleep(0.5)  # nobody takes batches: the source must stop reading
        held = source._pending_bytes
        async for batch in batches:
            got.extend(batch.records)
            if len(got) == total:
                source.stop()
        await sender
        await source.close()
        return got, held, ctx.counters

    got, held, counters = asyncio.run(main())
    assert counters["paused"] >= 1
    assert held < PAUSE_BYTES + (1 << 20)  # and what one read brought over it
    assert [int(r["message"].split()[0]) for r in got] == list(range(total))


def test_ipv6_senders_are_named_in_brackets():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")

    async def main():
        ctx = StageContext("p", "syslog", "t.flow:1")
        source = SyslogSource(ctx, port=0, protocol="udp", host="::1")
        batches = source.batches()
        first = asyncio.ensure_future(batches.__anext__())
        while not hasattr(source, "bound"):
            await asyncio.sleep(0.01)
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
            s.sendto(RFC3164, ("::1", source.bound[1]))
            s.sendto(b"nonsense", ("::1", source.bound[1]))
            mine = s.getsockname()[1]
            batch = await first
            while len(batch.records) + len(batch.items) < 2:
                more = await batches.__anext__()
                batch.records.extend(more.records)
                batch.items.extend(more.items)
        source.stop()
        await batches.aclose()
        await source.close()
        return batch, mine

    batch, mine = asyncio.run(main())
    (record,) = batch.records
    assert record["_syslog"] == {"source_ip": "::1", "source_port": mine, "protocol": "udp"}
    (item,) = batch.items
    assert item.error.message.startswith(f"from [::1]:{mine} (udp): not syslog")


def test_flowc_run_stopped_by_sigterm_writes_what_it_received(tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    flow = tmp_path / "listen.flow"
    flow.write_text(f'source syslog(port={port}) | sink file("output.jsonl")\n')
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [FLOWC, "run", str(flow)], cwd=tmp_path, env=env, stderr=subprocess.PIPE
    )
    try:
        wait_bound(port, socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(50):
                s.sendto(b"<13>Jan  2 03:04:05 h a: m%d" % i, ("127.0.0.1", port))
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert [r["message"] for r in read_jsonl(tmp_path / "output.jsonl")] == [
        f"m{i}" for i in range(50)
    ]
    assert b"listening for syslog on 127.0.0.1:%d (udp)" % port in stderr
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(("127.0.0.1", port))  # the port is free again


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


# ------------------------------------------------------- load and bad peers

LOAD_PAD = 1000  # bytes of text in every message
# What the source holds while the pipeline is behind: 8 MiB of messages
# before it stops reading (PAUSE_BYTES; fewer than PAUSE_AT batches of these),
# and the batches in the queue, the segment and the sink (queue_size 2 + 2,
# × 1,024 records of the text, a dict and the encoded line, about 3 KB each:
# 12 MB). With some slack for the allocator: 24 MB. A source that buffered
# what the senders sent (they send at once) would grow by the difference of
# the two loads, 40,000 × 1 KB, from the first load to the second.
LOAD_BOUND_MIB = 24
LOAD_FIRST = 20_000  # messages of the first load; the second sends three times as many


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/status")
def test_tcp_memory_stays_bounded_while_the_sink_is_slow(tmp_path):
    from tests.fixtures.memory import RssSampler
    from tests.http.collector import Collector

    port = free_port()
    flow = tmp_path / "load.flow"
    flow.write_text(
        f"source syslog(port={port}, protocol=tcp)\n"
        '  | sink http(env("OUT"), format=ndjson, batch=1024)\n'
    )
    pad = b"x" * LOAD_PAD

    def send(keys: range, connections: int = 4) -> None:
        def one(c: int) -> None:
            data = b"".join(
                b"<13>Jan  2 03:04:05 h a: %d %s\n" % (k, pad) for k in keys[c::connections]
            )
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(data)  # blocks while the source does not read

        senders = [threading.Thread(target=one, args=(c,)) for c in range(connections)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()

    with Collector() as sink:
        sink.delay = 0.05  # per request of up to 1,024 records: 20,000 a second at most
        proc = subprocess.Popen(
            [FLOWC, "run", str(flow), "--metrics", "metrics.json"],
            cwd=tmp_path,
            env=dict(os.environ, OUT=sink.url + "/in"),
            stderr=subprocess.PIPE,
        )
        try:
            wait_bound(port, socket.SOCK_STREAM)
            with RssSampler(proc.pid) as rss:

                def written(n: int) -> None:
                    deadline = time.monotonic() + 60
                    while len(sink.records) < n:
                        assert time.monotonic() < deadline, f"{n} messages were never written"
                        time.sleep(0.05)

                began = time.monotonic()
                send(range(LOAD_FIRST))
                written(LOAD_FIRST)
                middle = time.monotonic()
                send(range(LOAD_FIRST, 4 * LOAD_FIRST))
                written(4 * LOAD_FIRST)
                ended = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        records = sink.records
    assert proc.returncode == 0, stderr.decode()
    keys = [int(r["message"].split()[0]) for r in records]
    assert sorted(keys) == list(range(4 * LOAD_FIRST))  # each once: TCP loses nothing
    (pipeline,) = json.loads((tmp_path / "metrics.json").read_text())["pipelines"].values()
    assert pipeline["stages"][0]["counters"]["paused"] >= 1  # the source stopped reading
    first, second = rss.peak_mib(began, middle), rss.peak_mib(middle, ended)
    halfway = middle + (ended - middle) / 2
    assert second - first < LOAD_BOUND_MIB, (first, second)
    assert rss.peak_mib(halfway, ended) - rss.peak_mib(middle, halfway) < LOAD_BOUND_MIB


def test_a_half_line_and_idle_connections_do_not_hold_up_the_others(tmp_path):
    with serving(tmp_path, "protocol=tcp, idle=3s") as (port, outcome):
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"<13>Jan  2 03:04:05 h a: half a")  # and nothing more
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
        with socket.create_connection(("127.0.0.1", port)) as whole:
            whole.sendall(b"".join(b"<13>Jan  2 03:04:05 h a: m%d\n" % i for i in range(100)))
        # the run ends by `idle` with every connection still open
        deadline = time.monotonic() + 60
        while "result" not in outcome:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for s in idle + [half]:
            assert until_closed(s) == b""  # closed by the stopping source
            s.close()
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    messages = [r["message"] for r in result.output]
    assert sorted(messages) == sorted([f"m{i}" for i in range(100)] + ["half a"])
    assert result.metrics["test"]["stages"][0]["counters"]["connections"] == 502


def until_closed(s: socket.socket, wait: float = 20) -> bytes:
    got = b""
    s.settimeout(wait)
    try:
        while chunk := s.recv(4096):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def test_connections_over_max_connections_are_closed_at_once(tmp_path):
    def written() -> list[str]:
        return [r["message"] for r in read_jsonl(tmp_path / "output.jsonl")]

    def until(condition, wait: float = 20) -> bool:
        deadline = time.monotonic() + wait
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    with serving(tmp_path, "protocol=tcp, max_connections=5, idle=3s") as (port, outcome):
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        for i, s in enumerate(held):
            s.sendall(b"<13>Jan  2 03:04:05 h a: held%d\n" % i)
        assert until(lambda: len(written()) == 5)  # all five taken
        with socket.create_connection(("127.0.0.1", port)) as extra:
            extra.sendall(b"<13>Jan  2 03:04:05 h a: refused\n")
            assert until_closed(extra) == b""
        held.pop().close()
        for _ in range(20):  # once the server has seen the close, a place is free
            with socket.create_connection(("127.0.0.1", port)) as again:
                again.sendall(b"<13>Jan  2 03:04:05 h a: again\n")
                if until(lambda: "again" in written(), 1):
                    break
        assert until(lambda: "result" in outcome, 60)
        for s in held:
            s.close()
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    assert sorted(r["message"] for r in result.output) == sorted(
        [f"held{i}" for i in range(5)] + ["again"]
    )
    counters = result.metrics["test"]["stages"][0]["counters"]
    assert counters["connections"] == 6 and counters["refused"] >= 1
    assert "5 connections are open (max_connections)" in result.stderr


def frames_of(data: bytes, max_line: int) -> int:
    """How many messages (or framing errors) the source makes of one TCP stream."""
    framing = Framing(max_line)
    return len(framing.feed(data) + framing.finish())


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM], ids=["tcp", "udp"])
def test_random_bytes_become_records_or_error_records_naming_the_sender(tmp_path, kind):
    protocol = "tcp" if kind == socket.SOCK_STREAM else "udp"
    sent = {"messages": 0, "senders": set()}
    with serving(tmp_path, f"protocol={protocol}, max_line=300, idle=2s", kind) as (port, outcome):

        @settings(max_examples=50, deadline=None, database=None)
        @given(
            st.one_of(
                st.binary(min_size=1, max_size=600),
                st.binary(max_size=300).map(lambda b: b"<13>Jan  2 03:04:05 h a: " + b),
                st.lists(st.binary(max_size=40), max_size=5).map(b"\n".join),
            )
        )
        def send(data: bytes) -> None:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", 0))
                sent["senders"].add(s.getsockname()[1])
                if kind == socket.SOCK_STREAM:
                    s.connect(("127.0.0.1", port))
                    s.sendall(data)
                    sent["messages"] += frames_of(data, 300)
                else:
                    s.sendto(data, ("127.0.0.1", port))
                    body = data[:-2] if data.endswith(b"\r\n") else data.removesuffix(b"\n")
                    sent["messages"] += bool(body)
                    time.sleep(0.002)  # the kernel's buffer is not what is tested

        send()
        with (
            socket.create_connection(("127.0.0.1", port))
            if kind == socket.SOCK_STREAM
            else (socket.socket(socket.AF_INET, kind)) as last
        ):  # the run goes on: a good message after all that
            if kind == socket.SOCK_STREAM:
                last.sendall(b"<13>Jan  2 03:04:05 h a: still here\n")
            else:
                last.sendto(b"<13>Jan  2 03:04:05 h a: still here", ("127.0.0.1", port))
        sent["messages"] += 1
    result = outcome["result"]
    assert result.exit_code == 0, result.stderr
    assert len(result.output) + len(result.errors) == sent["messages"]
    assert result.output[-1]["message"] == "still here"
    for error in result.errors:
        sender, _, rest = error["message"].partition(f" ({protocol}): ")
        assert sender.startswith("from 127.0.0.1:") and rest, error
        assert int(sender.rsplit(":", 1)[1]) in sent["senders"]

"""Compiled `file(lines) | parse(combined) | sink file` and
`parse(grok("%{COMBINEDAPACHELOG}"))` against hand-written loops that read
the same access-log lines with Python's `re` and write the same records, in
the same process."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import orjson

from ._harness import race

RECORDS = 200_000
ROUNDS = 3

COMBINED_PROGRAM = """
pipeline bench =
  source file("{input}", format=lines)
  | parse(combined)
  | sink file("{output}")
"""

GROK_PROGRAM = """
pipeline bench =
  source file("{input}", format=lines)
  | parse(grok("%{{COMBINEDAPACHELOG}}"))
  | sink file("{output}")
"""

_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "curl/8.5.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15",
    "-",
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def make_input(path: Path, n: int, seed: int = 1) -> None:
    """Access-log lines as nginx writes them: IPv4 clients, a user now and
    then, a few sizes written `-`, referrers and agents without escapes."""
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            ip = f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            user = rnd.choice(("-", "-", "-", "jane"))
            when = f"{rnd.randrange(1, 29):02d}/{rnd.choice(_MONTHS)}/2024:{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d} +0100"
            method = rnd.choice(("GET", "GET", "GET", "POST"))
            path_ = f"/api/items/{rnd.randrange(1000)}?page={i % 7}"
            status = rnd.choice((200, 200, 200, 304, 404, 500))
            size = "-" if status == 304 else str(rnd.randrange(20_000))
            referrer = rnd.choice(("-", "https://shop.example/cart"))
            agent = rnd.choice(_AGENTS)
            f.write(
                f'{ip} - {user} [{when}] "{method} {path_} HTTP/1.1" {status} {size} '
                f'"{referrer}" "{agent}"\n'
            )


_COMBINED = re.compile(
    r"(\S+) (\S+) (\S+) \[(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\] "
    r'"((\S+) (\S+) (\S+))" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"'
)


def combined_by_hand(src: Path, dst: Path) -> int:
    """The baseline for parse(combined): one `re` match per line, the time
    read with datetime, `-` as null."""
    months = {m: i for i, m in enumerate(_MONTHS, 1)}
    zones: dict[str, dt.timezone] = {}
    utc = dt.timezone.utc
    dumps, match = orjson.dumps, _COMBINED.match
    n = 0
    with open(src, encoding="utf-8") as inp, open(dst, "ab") as out:
        batch = []
        for line in inp:
            line = line.rstrip("\n")
            g = match(line).groups()
            offset = g[9]
            zone = zones.get(offset)
            if zone is None:
                minutes = int(offset[1:3]) * 60 + int(offset[3:5])
                zone = zones[offset] = dt.timezone(
                    dt.timedelta(minutes=-minutes if offset[0] == "-" else minutes)
                )
            when = dt.datetime(
                int(g[5]), months[g[4]], int(g[3]), int(g[6]), int(g[7]), int(g[8]), tzinfo=zone
            ).astimezone(utc)
            rec = {
                "message": line,
                "client": g[0],
                "ip": g[0],
                "user": None if g[2] == "-" else g[2],
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "request": g[10],
                "method": g[11],
                "path": g[12],
                "protocol": g[13],
                "status": int(g[14]),
                "bytes": None if g[15] == "-" else int(g[15]),
                "referrer": None if g[16] == "-" else g[16],
                "agent": None if g[17] == "-" else g[17],
            }
            batch.append(dumps(rec))
            n += 1
            if len(batch) >= 1024:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return n


_GROK_FIELDS = (
    "clientip",
    "ident",
    "auth",
    "timestamp",
    "verb",
    "request",
    "httpversion",
    "rawrequest",
    "response",
    "bytes",
    "referrer",
    "agent",
)
# what %{COMBINEDAPACHELOG} captures, written by hand for these lines
_GROK = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] "
    r'"(?:(\w+) (\S+)(?: HTTP/([0-9.]+))?|(.*?))" (?:-|(\d+)) (?:-|(\d+)) ("[^"]*") ("[^"]*")'
)


def grok_by_hand(src: Path, dst: Path) -> int:
    """The baseline for parse(grok("%{COMBINEDAPACHELOG}")): one `re` search
    per line, the groups as text."""
    dumps, search, names = orjson.dumps, _GROK.search, _GROK_FIELDS
    n = 0
    with open(src, encoding="utf-8") as inp, open(dst, "ab") as out:
        batch = []
        for line in inp:
            line = line.rstrip("\n")
            rec = {"message": line}
            rec.update(zip(names, search(line).groups()))
            batch.append(dumps(rec))
            n += 1
            if len(batch) >= 1024:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return n


def _row(label: str, program: str, hand, name: str, note: str) -> dict:
    best_compiled, best_hand = race(program, make_input, hand, RECORDS, ROUNDS, name)
    rps, base = RECORDS / best_compiled, RECORDS / best_hand
    return {
        "benchmark": label,
        "records_per_s": rps,
        "baseline_records_per_s": base,
        "ratio": rps / base,
        "note": f"{RECORDS:,} access-log lines, best of {ROUNDS}; {note}; target ratio >= 1.0",
    }


def run() -> list[dict]:
    return [
        _row(
            "file(lines) | parse(combined) | sink file",
            COMBINED_PROGRAM,
            combined_by_hand,
            "bench_combined",
            "the loop: one `re` match, datetime, orjson",
        ),
        _row(
            'file(lines) | parse(grok("%{COMBINEDAPACHELOG}")) | sink file',
            GROK_PROGRAM,
            grok_by_hand,
            "bench_grok",
            "the loop: one `re` search with the same captures, orjson",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

"""The error logs of Apache httpd and nginx, for `parse(apache_error)` and
`parse(nginx_error)`: their layouts, the types of the fields they give, and
the readers (the parse stage wires them in).

Both logs write local times without an offset; the stage's `timezone`
option says which zone they are in (UTC unless given). Fields a line does
not carry are null.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Callable

from ..types import FLOAT, INT, IP, STR, TIME, Nullable

APACHE_ERROR = (
    ("time", TIME),
    ("module", Nullable(STR)),
    ("severity", STR),
    ("pid", Nullable(INT)),
    ("thread", Nullable(INT)),
    ("client", Nullable(STR)),
    ("ip", Nullable(IP)),
    ("port", Nullable(INT)),
    ("message", STR),
    ("referrer", Nullable(STR)),
)

NGINX_ERROR = (
    ("time", TIME),
    ("severity", STR),
    ("pid", INT),
    ("tid", INT),
    ("cid", Nullable(INT)),
    ("message", STR),
    ("excess", Nullable(FLOAT)),
    ("zone", Nullable(STR)),
    ("client", Nullable(STR)),
    ("ip", Nullable(IP)),
    ("server", Nullable(STR)),
    ("request", Nullable(STR)),
    ("upstream", Nullable(STR)),
    ("host", Nullable(STR)),
    ("referrer", Nullable(STR)),
)

# month abbreviations as Apache, nginx and syslog write them (the access log
# reader of stages/parse.py uses this table too)
MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# Apache 2.4 (`[%{u}t] [%-m:%l] [pid %P:tid %T] … [client %a] %M, referer: …`)
# and 2.2 (`[%t] [%l] [client %a] %M`); the time with or without
# microseconds, or as the access log writes it (`[01/Mar/2021:12:00:19 +0000]`,
# with its offset, as VRL's parse_apache_log reads error lines by default)
_APACHE = re.compile(
    r"\[(?:(?:[A-Za-z]{3} )?([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\d{4})"
    r"|(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}))\]"
    r" \[(?:([^\]:]*):)?([A-Za-z0-9]+)\]"
    r"(?: \[pid (\d+)(?::tid (\d+))?\])?"
    r" ?(.*)\Z",
    re.S | re.A,
)
_APACHE_CLIENT = re.compile(r"\[client ([^\][]*)\] ?")  # no bracket inside: linear
_REFERER = re.compile(r", referer:? (.*)\Z", re.S)
_PORT = re.compile(r"(.*):(\d{1,5})\Z", re.S | re.A)

# nginx: `2024/03/02 10:00:00 [error] 1234#5678: *9 message, client: …, …`
_NGINX = re.compile(
    r"(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[([a-z]+)\] (\d+)#(\d+):(?: \*(\d+))? (.*)\Z",
    re.S | re.A,
)
# the `, name: value` parts nginx appends, in the order it writes them; a
# limit_req message (`limiting requests, excess: 50.416 by zone "name"`)
# also gives the excess and the zone, as VRL's parse_nginx_log reads it
_NGINX_TAIL = re.compile(
    r"(.*?)"
    r'(?:, excess: (\d+(?:\.\d+)?),? by zone "([^"]*)")?'
    r"(?:, client: ([^,]*))?"
    r"(?:, server: ([^,]*))?"
    r'(?:, request: "((?:[^"\\]|\\.)*)")?'
    r'(?:, upstream: "((?:[^"\\]|\\.)*)")?'
    r'(?:, host: "((?:[^"\\]|\\.)*)")?'
    r'(?:, referrer: "((?:[^"\\]|\\.)*)")?'
    r"\Z",
    re.S,
)


Fail = Callable[[str], None]


def _time(zone: _dt.tzinfo, fail: Fail, year, month, day, hour, minute, second, micro="0"):
    try:
        fields = (int(year), month, int(day), int(hour), int(minute), int(second))
        local = _dt.datetime(*fields, int(micro.ljust(6, "0")), tzinfo=zone)
    except ValueError as exc:
        fail(f"invalid time: {exc}")
    return local.astimezone(_dt.timezone.utc)


def _client(text: str | None, address: Callable[[str], str | None]):
    """(client, ip, port) from `host:port`, `host` or nothing."""
    if text is None or text in ("", "-"):
        return None, None, None
    found = _PORT.match(text)
    host, port = (found.group(1), int(found.group(2))) if found else (text, None)
    ip = address(host.strip("[]"))
    if ip is None and port is not None and address(text) is not None:
        host, port, ip = text, None, address(text)  # an IPv6 address without a port
    return host, ip, port


def apache_error(text: str, zone: _dt.tzinfo, fail: Fail, address) -> dict:
    found = _APACHE.match(text)
    if found is None:
        fail("not in Apache error log format: expected `[time] [module:severity] …`")
    groups = found.groups()
    module, severity, pid, tid, rest = groups[16:]
    if groups[0] is not None:
        mon, day, hour, minute, second, micro, year = groups[:7]
    else:
        day, mon, year, hour, minute, second, sign, tzh, tzm = groups[7:16]
        micro, offset = "0", _dt.timedelta(hours=int(tzh), minutes=int(tzm))
        if offset >= _dt.timedelta(days=1):
            fail(f"invalid time zone offset {sign}{tzh}{tzm}")
        zone = _dt.timezone(-offset if sign == "-" else offset)
    month = MONTHS.get(mon.capitalize())
    if month is None:
        fail(f"unknown month {mon!r}")
    when = _time(zone, fail, year, month, day, hour, minute, second, micro or "0")
    client = _APACHE_CLIENT.search(rest)
    if client is not None:
        rest = rest[: client.start()] + rest[client.end() :]
    referrer = _REFERER.search(rest)
    if referrer is not None:
        rest = rest[: referrer.start()]
    host, ip, port = _client(client.group(1) if client else None, address)
    return {
        "time": when,
        "module": module or None,
        "severity": severity,
        "pid": None if pid is None else int(pid),
        "thread": None if tid is None else int(tid),
        "client": host,
        "ip": ip,
        "port": port,
        "message": rest.strip(),
        "referrer": referrer.group(1) if referrer else None,
    }


def nginx_error(text: str, zone: _dt.tzinfo, fail: Fail, address) -> dict:
    found = _NGINX.match(text)
    if found is None:
        fail("not in nginx error log format: expected `YYYY/MM/DD HH:MM:SS [level] pid#tid: …`")
    year, month, day, hour, minute, second, severity, pid, tid, cid, rest = found.groups()
    when = _time(zone, fail, year, int(month), day, hour, minute, second)
    found = _NGINX_TAIL.match(rest)
    message, excess, limit_zone, client, server, request, upstream, host, referrer = found.groups()
    host_name, ip, _ = _client(client, address)
    return {
        "time": when,
        "severity": severity,
        "pid": int(pid),
        "tid": int(tid),
        "cid": None if cid is None else int(cid),
        "message": message,
        "excess": None if excess is None else float(excess),
        "zone": limit_zone,
        "client": host_name,
        "ip": ip,
        "server": server,
        "request": request,
        "upstream": upstream,
        "host": host,
        "referrer": referrer,
    }

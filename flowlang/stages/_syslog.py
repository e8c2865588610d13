"""Syslog messages for `parse(syslog)`: RFC 5424 and RFC 3164 (also the
PRI-less lines syslog daemons write to files), read as VRL's parse_syslog
reads them: facility and severity by name, RFC 3164's year-less time in the
year the run's clock puts it (see runtime.times), structured data as records.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Callable

from ..types import INT, OPEN_RECORD, STR, TIME, Nullable

SYSLOG = (
    ("time", TIME),
    ("facility", Nullable(STR)),
    ("severity", Nullable(STR)),
    ("version", Nullable(INT)),
    ("host", Nullable(STR)),
    ("app", Nullable(STR)),
    ("procid", Nullable(STR)),
    ("msgid", Nullable(STR)),
    ("structured", Nullable(OPEN_RECORD)),
    ("message", STR),
)

FACILITIES = tuple(
    "kern user mail daemon auth syslog lpr news uucp cron authpriv ftp ntp security "
    "console solaris-cron local0 local1 local2 local3 local4 local5 local6 local7".split()
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_PRI = re.compile(r"<(\d{1,3})>")
_NIL = "-"
# RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID (then SD and MSG)
_HEADER_5424 = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?", re.A)
# a param's value may follow its `=` after blanks (`eventSource= "App"`),
# which RFC 5424 does not allow but devices write and VRL reads
_SD_ELEMENT = re.compile(r'\[([^ \]="]+)((?: [^ \]="]+= *"(?:[^"\\]|\\.)*")*) ?\]', re.S)
_SD_PARAM = re.compile(r' ([^ \]="]+)= *"((?:[^"\\]|\\.)*)"', re.S)
_SD_ESCAPE = re.compile(r'\\([\\"\]])')
# RFC 3164: `Mmm dd hh:mm:ss HOST TAG[PID]: MSG` (HOST and TAG optional)
_TIME_3164 = re.compile(r"([A-Z][a-z]{2}) ([ \d]\d) (\d{2}:\d{2}:\d{2}) ", re.A)
_TAG = r"(?P<app>[^\s\[\]:]{1,48})(?:\[(?P<pid>[^\]\s]{1,128})\])?: ?(?P<msg>.*)"
_HOST_TAG = re.compile(r"(?P<host>\S{1,255}) " + _TAG + r"\Z", re.S)
_TAG_ONLY = re.compile(_TAG + r"\Z", re.S)
_HOST_ONLY = re.compile(r"(\S{1,255}) (.*)\Z", re.S)

Fail = Callable[[str], None]


def syslog(text: str, zone: _dt.tzinfo, fail: Fail, read_time) -> dict:
    pos, facility, severity = 0, None, None
    pri = _PRI.match(text)
    if pri is not None:
        value = int(pri.group(1))
        if value > 191:
            fail(f"invalid priority <{value}>: at most <191>")
        facility, severity = FACILITIES[value >> 3], SEVERITIES[value & 7]
        pos = pri.end()
    header = _HEADER_5424.match(text, pos) if pri is not None else None
    if header is not None and header.group(1) != "0":
        fields = _rfc5424(text, header, fail)
    else:
        fields = _rfc3164(text, pos, zone, fail, read_time)
    return {"facility": facility, "severity": severity, **fields}


def _nil(value: str) -> str | None:
    return None if value == _NIL else value


def _rfc5424(text: str, header, fail: Fail) -> dict:
    version, stamp, host, app, procid, msgid = header.groups()
    if stamp == _NIL:
        fail("the message has no time (`-`)")
    try:
        iso = stamp[:-1] + "+00:00" if stamp.endswith(("Z", "z")) else stamp
        when = _dt.datetime.fromisoformat(iso)
    except ValueError:
        fail(f"invalid RFC 5424 time {stamp[:40]!r}")
    if when.tzinfo is None:
        fail(f"the RFC 5424 time {stamp[:40]!r} has no offset")
    pos = header.end()
    structured = None
    if text.startswith(_NIL, pos):
        pos += 1
    else:
        structured = {}
        while True:
            element = _SD_ELEMENT.match(text, pos)
            if element is None:
                break
            params = {
                name: _SD_ESCAPE.sub(r"\1", value)
                for name, value in _SD_PARAM.findall(element.group(2))
            }
            structured[element.group(1)] = params
            pos = element.end()
        if not structured:
            fail(f"expected structured data or `-` at column {pos + 1}")
    message = text[pos:]
    if message.startswith(" "):
        message = message[1:]
    if message.startswith("\ufeff"):  # RFC 5424's BOM before a UTF-8 MSG
        message = message[1:]
    return {
        "time": when.astimezone(_dt.timezone.utc),
        "version": int(version),
        "host": _nil(host),
        "app": _nil(app),
        "procid": _nil(procid),
        "msgid": _nil(msgid),
        "structured": structured,
        "message": message,
    }


def _rfc3164(text: str, pos: int, zone: _dt.tzinfo, fail: Fail, read_time) -> dict:
    stamp = _TIME_3164.match(text, pos)
    if stamp is None:
        fail(
            f"not syslog: expected `<PRI>1 TIME …` (RFC 5424) or `Mmm dd hh:mm:ss` "
            f"(RFC 3164) at column {pos + 1}"
        )
    month, day, clock = stamp.groups()
    try:
        when = read_time(f"{month} {day.strip()} {clock}", zone)
    except ValueError as exc:
        fail(f"invalid time: {exc}")
    rest = text[stamp.end() :]
    host = app = procid = None
    found = _HOST_TAG.match(rest) or _TAG_ONLY.match(rest)
    if found is not None:
        parts = found.groupdict()
        host, app, procid, rest = parts.get("host"), parts["app"], parts["pid"], parts["msg"]
    else:
        found = _HOST_ONLY.match(rest)
        if found is not None:
            host, rest = found.group(1), found.group(2)
    return {
        "time": when,
        "version": None,
        "host": host,
        "app": app,
        "procid": procid,
        "msgid": None,
        "structured": None,
        "message": rest,
    }

"""A reference interpreter of the relational stages of a checked pipeline.

Deliberately simple and written straight from the run-time semantics of the
language (docs/language.md): one recursive evaluator over the typed plan's
expressions, one function per stage, no shortcuts taken from static types.
It shares no code with the compiler or `flowlang.runtime`, so that comparing
the two (tests/test_differential.py) finds mistakes in either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
import os
import re
import socket
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import re2

from flowlang import ir
from flowlang.types import IP, Nullable

UTC = dt.timezone.utc


class Failure(Exception):
    """A run-time failure for one record: it goes to the error stream."""


@dataclass
class Outcome:
    """Everything one run of the reference produced."""

    output: list[dict]
    errors: list[tuple[int, dict]]  # (stage index, record as it was when it failed)
    dropped: dict[int, int] = field(default_factory=dict)  # stage index -> count
    # with `route { … }`: the route (its position) each output record took
    routes: list[int] = field(default_factory=list)


def run_reference(
    pipeline: ir.PipelinePlan, records: list[dict]
) -> tuple[list[dict], list[tuple[int, dict]]]:
    """Run the pipeline's relational stages over `records`: (output, errors)."""
    outcome = run_reference_detailed(pipeline, records)
    return outcome.output, outcome.errors


def run_reference_detailed(
    pipeline: ir.PipelinePlan, records: list[dict], env: dict[str, str] | None = None
) -> Outcome:
    """As `run_reference`, also counting the records each `where` dropped.

    `env` stands for the environment `env("NAME")` reads (default: os.environ);
    it is read once, before the first record, as a compiled program does.
    """
    steps = [s for s in pipeline.steps if not _is_sink(s)]
    for step in steps:
        if not isinstance(
            step, (ir.WhereStep, ir.SetStep, ir.DropStep, ir.KeepStep, ir.RenameStep, ir.RouteStep)
        ):
            raise NotImplementedError(f"the reference runs relational stages only, not {step!r}")
    environment = dict(os.environ if env is None else env)
    outcome = Outcome([], [])
    for original in records:
        rec = fresh(original)
        route = None
        for step in steps:
            index = step.info.index
            try:
                if isinstance(step, ir.RouteStep):
                    route = _route(step, rec, environment)
                    if route is None:
                        rec = None
                else:
                    rec = _run_step(step, rec, environment)
            except Failure:
                outcome.errors.append((index, rec))
                break
            except (ArithmeticError, ValueError, TypeError):
                # a failing Python operation on a well-kinded value (an int too
                # large for a float, a time out of range) is a failure too
                outcome.errors.append((index, rec))
                break
            if rec is None:
                outcome.dropped[index] = outcome.dropped.get(index, 0) + 1
                break
        else:
            outcome.output.append(rec)
            if route is not None:
                outcome.routes.append(route)
    return outcome


def _route(step: ir.RouteStep, rec: dict, env: dict[str, str]) -> int | None:
    """The first route whose condition holds (`else` always does), or None."""
    for k, (_, cond) in enumerate(step.routes):
        if cond is None or _condition(evaluate(cond, rec, env)):
            return k
    return None


def fresh(value: Any) -> Any:
    """A deep copy that shares nothing, not even between equal parts
    (`copy.deepcopy` would keep two references to one dict as one)."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    return value


def _is_sink(step: Any) -> bool:
    return isinstance(step, ir.CallStep) and step.role == "sink"


# ---------------------------------------------------------------- stages


def _run_step(step: Any, rec: dict, env: dict[str, str]) -> dict | None:
    """One stage on one record: the record to go on with, or None (dropped).

    Stages that can fail half-way (`set`) change `rec` in place, so a failure
    reports the record as it was at that moment; `keep` builds a new record
    and reports the one it was reading from.
    """
    if isinstance(step, ir.WhereStep):
        return rec if _condition(evaluate(step.cond, rec, env)) else None
    if isinstance(step, ir.SetStep):
        for path, expr in step.assignments:
            value = evaluate(expr, rec, env)
            write_path(rec, path, fresh(value))
        return rec
    if isinstance(step, ir.DropStep):
        for path in step.paths:
            remove_path(rec, path)
        return rec
    if isinstance(step, ir.KeepStep):
        kept: dict = {}
        for path in step.paths:
            write_path(kept, path, fresh(read_path(rec, path)))
        return kept
    if isinstance(step, ir.RenameStep):
        for old, new in step.pairs:
            if is_present(rec, old):
                value = read_path(rec, old)
                remove_path(rec, old)
                write_path(rec, new, value)
        return rec
    raise NotImplementedError(step)


def _condition(value: Any) -> bool:
    """A `where` or `if` condition: true passes; false or null does not."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise Failure(f"condition is {kind(value)}, not bool")


# ---------------------------------------------------------------- paths


def read_path(rec: dict, path: tuple[str, ...]) -> Any:
    """The value at `path`; null through an absent or null record."""
    value: Any = rec
    for name in path:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise Failure(f"{kind(value)} is not a record")
        value = value.get(name)
    return value


def is_present(rec: dict, path: tuple[str, ...]) -> bool:
    """Is `path` a key in the record (a nested one inside records all the way)?"""
    value: Any = rec
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    return True


def write_path(rec: dict, path: tuple[str, ...], value: Any) -> None:
    """Set `path`, making absent or null intermediate records; a present
    intermediate that is not a record is a failure."""
    target = rec
    for name in path[:-1]:
        inner = target.get(name)
        if inner is None:
            inner = {}
            target[name] = inner
        elif not isinstance(inner, dict):
            raise Failure(f"field `{name}` is {kind(inner)}, not a record")
        target = inner
    target[path[-1]] = value


def remove_path(rec: dict, path: tuple[str, ...]) -> None:
    """Remove `path` when it is present; anything else leaves the record alone."""
    target: Any = rec
    for name in path[:-1]:
        if not isinstance(target, dict):
            return
        target = target.get(name)
    if isinstance(target, dict):
        target.pop(path[-1], None)


# ---------------------------------------------------------------- values


def kind(value: Any) -> str:
    """The run-time kind of a value, by the language's names."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dt.datetime):
        return "time"
    if isinstance(value, dt.timedelta):
        return "duration"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "record"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return kind(value) in ("int", "float")


def equal(a: Any, b: Any) -> bool:
    """`==`: null is a value, bool is never a number, 1 == 1.0, other kinds differ."""
    ka, kb = kind(a), kind(b)
    if is_number(a) and is_number(b):
        return a == b
    if ka != kb:
        return False
    if ka == "list":
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if ka == "record":
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def _is_ip_type(t) -> bool:
    return t in (IP, Nullable(IP))


def _address(value: Any) -> Any:
    """Addresses order by (version, number): IPv4 before IPv6."""
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise Failure(f"{value!r} is not an ip address") from None
    return address.version * 2**128 + int(address)


def _ordered(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    comparable = (is_number(a) and is_number(b)) or (
        kind(a) == kind(b) and kind(a) in ("str", "time", "duration")
    )
    if not comparable:
        raise Failure(f"cannot compare {kind(a)} with {kind(b)}")
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _member(x: Any, container: Any) -> bool:
    """`x in container`."""
    if x is None or container is None:
        return False
    if isinstance(container, list):
        return any(equal(x, item) for item in container)
    if isinstance(container, str):
        if not isinstance(x, str):
            raise Failure(f"`in` a string needs a string, not {kind(x)}")
        return x in container
    raise Failure(f"`in` needs a list or a string, not {kind(container)}")


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    ka, kb = kind(a), kind(b)
    numbers = is_number(a) and is_number(b)
    if op == "+":
        if (
            numbers
            or (ka == kb == "str")
            or (ka, kb)
            in (
                ("time", "duration"),
                ("duration", "time"),
                ("duration", "duration"),
            )
        ):
            return a + b
    elif op == "-":
        if numbers or (ka, kb) in (
            ("time", "time"),
            ("time", "duration"),
            ("duration", "duration"),
        ):
            return a - b
    elif op == "*":
        if numbers or (ka == "duration" and is_number(b)) or (is_number(a) and kb == "duration"):
            return a * b
    elif op == "/":
        if numbers:
            if b == 0:
                raise Failure("division by zero")
            return a / b
    elif op == "%":
        if numbers:
            if b == 0:
                raise Failure("division by zero")
            return a % b
    raise Failure(f"`{op}` does not apply to {ka} and {kb}")


# ---------------------------------------------------------------- expressions


def evaluate(expr: Any, rec: dict, env: dict[str, str]) -> Any:
    """The value of a typed expression for one record."""
    if isinstance(expr, ir.Literal):
        return expr.value
    if isinstance(expr, ir.Duration):
        return dt.timedelta(milliseconds=expr.millis)
    if isinstance(expr, ir.FieldRef):
        return read_path(rec, expr.path)
    if isinstance(expr, ir.ListExpr):
        return [evaluate(item, rec, env) for item in expr.items]
    if isinstance(expr, ir.EnvCall):
        return env.get(expr.name, expr.default)
    if isinstance(expr, ir.Unary):
        value = evaluate(expr.operand, rec, env)
        if expr.op == "not":
            return not _logical(value)
        if value is None:
            return None
        if is_number(value) or kind(value) == "duration":
            return -value
        raise Failure(f"cannot negate {kind(value)}")
    if isinstance(expr, ir.IfExpr):
        if _condition(evaluate(expr.cond, rec, env)):
            return evaluate(expr.then, rec, env)
        return evaluate(expr.else_, rec, env)
    if isinstance(expr, ir.Call):
        return _call(expr.name, [evaluate(arg, rec, env) for arg in expr.args])
    if isinstance(expr, ir.Binary):
        return _binary(expr, rec, env)
    raise NotImplementedError(expr)


def _logical(value: Any) -> bool:
    """An operand of `and`, `or`, `not`: bool, or null counting as false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise Failure(f"logical operand is {kind(value)}, not bool")


def _binary(expr: ir.Binary, rec: dict, env: dict[str, str]) -> Any:
    op = expr.op
    if op == "and":
        return _logical(evaluate(expr.left, rec, env)) and _logical(evaluate(expr.right, rec, env))
    if op == "or":
        return _logical(evaluate(expr.left, rec, env)) or _logical(evaluate(expr.right, rec, env))
    if op == "??":
        left = evaluate(expr.left, rec, env)
        return left if left is not None else evaluate(expr.right, rec, env)
    left = evaluate(expr.left, rec, env)
    if op == "=~":
        pattern = evaluate(expr.right, rec, env)
        if left is None:
            return False
        if not isinstance(left, str):
            raise Failure(f"`=~` needs a string, not {kind(left)}")
        return re2.search(pattern, left) is not None
    right = evaluate(expr.right, rec, env)
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op in ("<", "<=", ">", ">="):
        if _is_ip_type(expr.left.type) and _is_ip_type(expr.right.type):
            left, right = _address(left), _address(right)
        return _ordered(op, left, right)
    if op == "in":
        return _member(left, right)
    return _arith(op, left, right)


# ---------------------------------------------------------------- builtins


def _want(value: Any, *kinds: str) -> Any:
    if kind(value) not in kinds:
        raise Failure(f"expected {' or '.join(kinds)}, got {kind(value)}")
    return value


def _call(name: str, args: list[Any]) -> Any:
    if name == "now":
        return dt.datetime.now(UTC)
    if name == "parse_time" and args[0] is not None:
        return _parse_time(*args)  # a null format or time zone means the default
    if name == "format_time" and None not in args[:2]:
        return _format_time(*args)  # a null time zone means UTC
    if name == "slice" and None not in args[:2]:
        return _slice(*args)  # a null end means the end
    if name == "split" and None not in args[:2]:
        return _split(*args)  # a null limit means no limit
    if name == "split_regex" and None not in args[:2]:
        return _split_matches(*args)  # a null limit means no limit
    if name == "get_hostname":
        return socket.gethostname()
    if any(arg is None for arg in args):
        return None
    if name == "lower":
        return _want(args[0], "str").lower()
    if name == "upper":
        return _want(args[0], "str").upper()
    if name == "trim":
        return _want(args[0], "str").strip()
    if name == "len":
        return len(_want(args[0], "str", "list", "record"))
    if name in ("starts_with", "ends_with", "contains"):
        exact = _want(args[2], "bool") if len(args) > 2 else True

        def fold(text: str) -> str:
            return text if exact else text.lower()

        if name == "starts_with":
            return fold(_want(args[0], "str")).startswith(fold(_want(args[1], "str")))
        if name == "ends_with":
            return fold(_want(args[0], "str")).endswith(fold(_want(args[1], "str")))
        haystack = _want(args[0], "str", "list")
        if isinstance(haystack, str):
            return fold(_want(args[1], "str")) in fold(haystack)
        if not exact and isinstance(args[1], str):
            return any(
                fold(item) == fold(args[1]) if isinstance(item, str) else equal(args[1], item)
                for item in haystack
            )
        return any(equal(args[1], item) for item in haystack)
    if name == "to_int":
        return _to_int(args[0])
    if name == "to_float":
        return _to_float(args[0])
    if name == "to_str":
        return _to_str(args[0])
    if name == "join":
        items = _want(args[0], "list")
        if any(kind(item) != "str" for item in items):
            raise Failure("join() of a list that is not all text")
        return _want(args[1], "str").join(items) if len(args) > 1 else "".join(items)
    if name in ("replace", "replace_regex"):
        text, pattern, template = (_want(a, "str") for a in args[:3])
        count = _want(args[3], "int") if len(args) > 3 else -1
        if name == "replace":
            return _replace_text(text, pattern, template, count)
        return _replace_matches(text, pattern, template, count)
    if name in ("pad_start", "pad_end"):
        text, width = _want(args[0], "str"), _want(args[1], "int")
        fill = _want(args[2], "str") if len(args) > 2 else " "
        if not fill or width > 2**20:
            raise Failure(f"{name}() cannot pad with {fill!r} to {width}")
        padding = ""
        while len(text) + len(padding) < width:
            padding += fill[len(padding) % len(fill)]
        return padding + text if name == "pad_start" else text + padding
    if name == "sha256":
        return hashlib.sha256(_bytes(_want(args[0], "str"))).hexdigest()
    if name == "hmac":
        text, key = _want(args[0], "str"), _want(args[1], "str")
        algorithm = (_want(args[2], "str") if len(args) > 2 else "SHA-256").upper()
        names = {"SHA1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256"}
        names.update({"SHA-384": "sha384", "SHA-512": "sha512"})
        if algorithm not in names:
            raise Failure(f"not an algorithm: {algorithm!r}")
        return hmac.new(_bytes(key), _bytes(text), names[algorithm]).hexdigest()
    if name == "parse_url":
        known = _want(args[1], "bool") if len(args) > 1 else False
        return _parse_url(_want(args[0], "str"), known)
    if name == "parse_query_string":
        text = _want(args[0], "str")
        return _query(text[1:] if text.startswith("?") else text, repeated="list")
    if name == "ip_cidr_contains":
        blocks = args[0] if kind(args[0]) == "list" else [_want(args[0], "str")]
        address = _version_and_number(_want(args[1], "str"))
        return any(_in_block(address, _want(block, "str")) for block in blocks)
    if name in ("round", "floor", "ceil"):
        return _rounded(name, args[0], _want(args[1], "int") if len(args) > 1 else 0)
    if name == "to_unix_timestamp":
        micros = _micros(_want(args[0], "time"))
        unit = _unit(args[1] if len(args) > 1 else "seconds")
        return micros * 1000 if unit is None else micros // unit
    if name == "from_unix_timestamp":
        number = _want(args[0], "int")
        unit = _unit(args[1] if len(args) > 1 else "seconds")
        micros = number // 1000 if unit is None else number * unit
        return EPOCH + dt.timedelta(microseconds=micros)
    if name == "floor_time":
        micros, step = _micros(_want(args[0], "time")), _want(args[1], "duration")
        step_micros = step // dt.timedelta(microseconds=1)
        if step_micros <= 0:
            raise Failure("floor_time() needs a positive step")
        return EPOCH + dt.timedelta(microseconds=micros - micros % step_micros)
    raise NotImplementedError(f"builtin {name}")


def _slice(value: Any, start: int, end: Any = None) -> Any:
    length = len(_want(value, "str", "list"))
    first = _want(start, "int")
    last = length if end is None else _want(end, "int")
    if first < 0:
        first += length
    if last < 0:
        last += length
    if first < 0 or first > length or last < first:
        raise Failure(f"slice({start}, {end}) of {length}")
    return value[first : min(last, length)]


def _split(text: Any, separator: Any, limit: Any = None) -> list[str]:
    """Pieces between occurrences, found left to right; an empty separator
    occurs at every boundary between characters and at both ends."""
    text, separator = _want(text, "str"), _want(separator, "str")
    most = math.inf if limit is None else max(_want(limit, "int"), 0)
    if most == 0:
        return []
    if separator == "":
        bounds = [(c, c) for c in range(len(text) + 1)]
    else:
        bounds, at = [], text.find(separator)
        while at >= 0:
            bounds.append((at, at + len(separator)))
            at = text.find(separator, at + len(separator))
    return _cut(text, bounds, most)


def _cut(text: str, bounds: list[tuple[int, int]], most: float) -> list[str]:
    """`text` cut at the separators spanning `bounds`, into at most `most` pieces."""
    pieces: list[str] = []
    start = 0
    for begin, end in bounds:
        if len(pieces) + 1 >= most:
            break
        pieces.append(text[start:begin])
        start = end
    pieces.append(text[start:])
    return pieces


def _split_matches(text: Any, pattern: Any, limit: Any = None) -> list[str]:
    """Pieces between the matches of `pattern`, found left to right."""
    text, pattern = _want(text, "str"), _want(pattern, "str")
    most = math.inf if limit is None else max(_want(limit, "int"), 0)
    if most == 0:
        return []
    try:
        compiled = re2.compile(pattern)
    except re2.error:
        raise Failure(f"not a pattern: {pattern!r}") from None
    bounds = [(found.start(), found.end()) for found in compiled.finditer(text)]
    return _cut(text, bounds, most)


def _replace_text(text: str, pattern: str, template: str, count: int) -> str:
    if count == 0:
        return text
    if pattern == "":
        slots = list(range(len(text) + 1))
    else:
        slots, at = [], text.find(pattern)
        while at >= 0:
            slots.append(at)
            at = text.find(pattern, at + len(pattern))
    if count > 0:
        slots = slots[:count]
    out, last = [], 0
    for at in slots:
        out += [text[last:at], template]
        last = at + len(pattern)
    return "".join(out) + text[last:]


def _expand(template: str, match) -> str:
    """Rust regex's `$1`, `$name`, `${name}`, `$$`; an unknown group is empty."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 == len(template):
            out.append(c)
            i += 1
            continue
        rest = template[i + 1 :]
        if rest[0] == "$":
            out.append("$")
            i += 2
            continue
        if rest[0] == "{" and "}" in rest:
            name = rest[1 : rest.index("}")]
            i += 2 + len(name) + 1
        else:
            name = ""
            while len(name) < len(rest) and (
                rest[len(name)].isascii() and (rest[len(name)].isalnum() or rest[len(name)] == "_")
            ):
                name += rest[len(name)]
            if not name:
                out.append("$")
                i += 1
                continue
            i += 1 + len(name)
        try:
            out.append(match.group(int(name) if name.isdigit() else name) or "")
        except IndexError:
            pass
    return "".join(out)


def _replace_matches(text: str, pattern: str, template: str, count: int) -> str:
    try:
        compiled = re2.compile(pattern)
    except re2.error:
        raise Failure(f"not a pattern: {pattern!r}") from None
    if count == 0:
        return text
    out, last = [], 0
    for n, found in enumerate(compiled.finditer(text)):
        if 0 < count <= n:
            break
        out += [text[last : found.start()], _expand(template, found)]
        last = found.end()
    return "".join(out) + text[last:]


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _query(text: str, repeated: str) -> dict:
    """`a=1&b` pairs, `+` a space, %XX decoded; a repeated key: a list of its
    values, or its last value."""
    out: dict = {}
    for piece in text.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        key = urllib.parse.unquote(key.replace("+", " "), errors="replace")
        value = urllib.parse.unquote(value.replace("+", " "), errors="replace")
        if key in out and repeated == "list":
            held = out[key]
            out[key] = held + [value] if isinstance(held, list) else [held, value]
        else:
            out[key] = value
    return out


_URL = re.compile(
    r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S
)
_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def _parse_url(text: str, known_ports: bool) -> dict:
    """RFC 3986's regular expression (appendix B), then the authority by hand."""
    found = _URL.match(
        text.strip("".join(map(chr, range(33))))
        .replace("\t", "")
        .replace("\n", "")
        .replace("\r", "")
    )
    if found is None or found.group(1) is None:
        raise Failure("not an absolute url")
    scheme, authority, path, query, fragment = found.groups()
    scheme = scheme.lower()
    special = scheme in _PORTS or scheme == "file"
    user = password = ""
    host, port = None, None
    if authority is not None:
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            user, _, password = userinfo.partition(":")
        if hostport.startswith("["):
            host, _, after = hostport.partition("]")
            host = (host + "]").lower()
            port_text = after[1:] if after.startswith(":") else ""
        else:
            host, _, port_text = hostport.partition(":")
            host = host.lower()
            if any(c in " #%/:<>?@[\\]^|" for c in host):
                raise Failure("bad host")
            if special and any(ord(c) > 127 for c in host):
                try:  # IDNA, label by label (RFC 3490's ToASCII)
                    host = ".".join(
                        label if label.isascii() else "xn--" + label.encode("punycode").decode()
                        for label in host.split(".")
                    )
                except UnicodeError:
                    raise Failure("bad host") from None
        if port_text:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise Failure("bad port")
            port = int(port_text)
        host = host or None
    if host is None and special and scheme != "file":
        raise Failure("no host")
    if port is not None and _PORTS.get(scheme) == port:
        port = None
    if port is None and known_ports:
        port = _PORTS.get(scheme)
    return {
        "scheme": scheme,
        "username": user,
        "password": password,
        "host": host,
        "port": port,
        "path": path or ("/" if special else ""),
        "query": _query(query or "", repeated="last"),
        "fragment": fragment,
    }


def _version_and_number(text: str) -> tuple[int, int]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise Failure(f"{text!r} is not an ip address") from None
    return address.version, int(address)


def _in_block(address: tuple[int, int], block: str) -> bool:
    """Does the (version, number) address lie in the CIDR block?"""
    network, slash, prefix = block.partition("/")
    version, start = _version_and_number(network)
    bits = 32 if version == 4 else 128
    length = int(prefix) if slash and prefix.isascii() and prefix.isdigit() else bits
    if slash and not (prefix.isascii() and prefix.isdigit()) or length > bits:
        raise Failure(f"not a block: {block!r}")
    mask = ((1 << length) - 1) << (bits - length)
    if start & ~mask & ((1 << bits) - 1):
        raise Failure(f"host bits set in {block!r}")
    return address[0] == version and address[1] & mask == start


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
# microseconds per unit; None: nanoseconds, a thousandth of a microsecond
_UNITS = {"seconds": 10**6, "milliseconds": 10**3, "microseconds": 1, "nanoseconds": None}


def _unit(name: Any) -> int | None:
    if _want(name, "str") not in _UNITS:
        raise Failure(f"not a unit: {name!r}")
    return _UNITS[name]


def _micros(value: dt.datetime) -> int:
    """Microseconds since the epoch."""
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def _format_time(value: Any, fmt: Any, timezone: Any = None) -> str:
    _want(value, "time")
    _want(fmt, "str")
    try:
        zone = UTC if timezone is None else zoneinfo.ZoneInfo(_want(timezone, "str"))
    except (KeyError, ValueError, OSError):
        raise Failure(f"not a time zone: {timezone!r}") from None
    local = value.astimezone(zone)
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(fmt[i])
            i += 1
            continue
        if i + 1 == len(fmt):
            raise Failure("a lone % ends the format")
        directive = fmt[i : i + 2]
        if directive == "%s":
            out.append(str(_micros(value) // 10**6))
        elif directive == "%Y":
            out.append(str(local.year).zfill(4))
        else:
            out.append(local.strftime(directive))
        i += 2
    return "".join(out)


_ROUNDING = {"round": ROUND_HALF_UP, "floor": ROUND_FLOOR, "ceil": ROUND_CEILING}


def _rounded(name: str, value: Any, precision: int) -> Any:
    """VRL: an int is itself; a float x is whole(x * 10**precision) / 10**precision,
    `round` taking halves away from zero."""
    if kind(_want(value, "int", "float")) == "int":
        return value
    if precision > 308:
        return value
    scale = 10.0**precision
    if scale == 0.0:
        return math.copysign(0.0, value)
    scaled = value * scale
    if math.isinf(scaled):
        return value
    whole = float(Decimal(scaled).to_integral_value(rounding=_ROUNDING[name]))
    result = whole / scale
    if math.isinf(result):
        raise Failure(f"{name}() out of range")
    return math.copysign(result, value) if result == 0 else result


_WHITE = " \t\n\r\f\v"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _to_int(value: Any) -> int:
    k = kind(value)
    if k in ("int", "bool"):
        return int(value)
    if k == "time":
        return (value - _EPOCH) // dt.timedelta(seconds=1)
    if k == "float":
        if not math.isfinite(value):
            raise Failure("cannot convert a non-finite float to int")
        return int(value)
    if k == "str":
        text = value.strip(_WHITE)
        digits = text[1:] if text[:1] in ("+", "-") else text
        if not digits or any(c not in "0123456789" for c in digits):
            raise Failure(f"not an integer: {value!r}")
        return int(text)
    raise Failure(f"cannot convert {k} to int")


def _to_float(value: Any) -> float:
    k = kind(value)
    if k == "float":
        return value
    if k in ("int", "bool"):
        return float(value)
    if k == "time":
        return (value - _EPOCH) // dt.timedelta(microseconds=1) / 1_000_000
    if k == "str":
        text = value.strip(_WHITE)
        mantissa, _, exponent = text.lower().partition("e")
        if mantissa[:1] in ("+", "-"):
            mantissa = mantissa[1:]
        if exponent[:1] in ("+", "-"):
            exponent = exponent[1:]
        whole, _, fraction = mantissa.partition(".")
        ascii_digits = set("0123456789")
        if (
            not (whole or fraction)
            or not set(whole + fraction) <= ascii_digits
            or ("e" in text.lower() and (not exponent or not set(exponent) <= ascii_digits))
        ):
            raise Failure(f"not a number: {value!r}")
        result = float(text)
        if not math.isfinite(result):
            raise Failure(f"not a finite number: {value!r}")
        return result
    raise Failure(f"cannot convert {k} to float")


def _to_str(value: Any) -> str:
    k = kind(value)
    if k == "str":
        return value
    if k in ("int", "float"):
        return str(value)
    if k == "bool":
        return "true" if value else "false"
    if k == "time":
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if k == "duration":
        return str(value.total_seconds())
    raise Failure(f"cannot convert {k} to str")


def _parse_time(text: Any, fmt: Any = None, timezone: Any = None) -> dt.datetime:
    _want(text, "str")
    try:
        zone = UTC if timezone is None else zoneinfo.ZoneInfo(_want(timezone, "str"))
    except (KeyError, ValueError, OSError):
        raise Failure(f"not a time zone: {timezone!r}") from None
    try:
        if fmt is None:
            if text.endswith("Z"):
                text = text[:-1] + "+00:00"
            parsed = dt.datetime.fromisoformat(text)
        elif re.search(r"(?<!%)(?:%%)*%s", _want(fmt, "str")):
            return _epoch_time(text, fmt)
        elif re.search(r"(?<!%)(?:%%)*%[YyGcx]", _want(fmt, "str")):
            parsed = dt.datetime.strptime(text, fmt)
        else:
            return _in_latest_year(text, fmt, zone)
    except ValueError:
        raise Failure(f"not a time: {text!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone).astimezone(UTC)
    return parsed.astimezone(UTC)


def _epoch_time(text: str, fmt: str) -> dt.datetime:
    """A format of %s, %f, %% and literal text: seconds since the epoch, the
    fraction added to them."""
    regex = ""
    for piece in re.findall(r"%.|[^%]+|%", fmt):
        if piece == "%s":
            regex += r"([+-]?[0-9]+)"
        elif piece == "%f":
            regex += r"([0-9]{1,6})"
        elif piece == "%%":
            regex += "%"
        elif piece.startswith("%"):
            raise Failure(f"{piece} with %s")
        else:
            regex += re.escape(piece)
    found = re.fullmatch(regex, text)
    if found is None:
        raise Failure(f"not a time: {text!r}")
    seconds, *fraction = found.groups()
    micros = int(seconds) * 10**6 + sum(int(f.ljust(6, "0")) for f in fraction)
    return EPOCH + dt.timedelta(microseconds=micros)


def _in_latest_year(text: str, fmt: str, zone) -> dt.datetime:
    """The latest of the years around now that puts `text` in (now - 366 days,
    now + 1 day]; every candidate year is parsed from scratch."""
    now = dt.datetime.now(UTC)
    for year in range(now.year + 2, now.year - 3, -1):
        try:
            parsed = dt.datetime.strptime(f"{year} {text}", f"%Y {fmt}")
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        if now - dt.timedelta(days=366) < parsed <= now + dt.timedelta(days=1):
            return parsed.astimezone(UTC)
    raise ValueError(text)

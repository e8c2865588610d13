"""Run-time helpers for compiled expressions.

The code generator emits plain Python operators where the checker proved the
operand types (the fast path), and calls these helpers where a value may be
null or is `any`: they implement the null rules and raise RecordError for a
run-time type error, so the record goes to the error stream.
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import math
import re
from typing import Any

from . import digest, times, weburl
from .base import RecordError

UTC = _dt.timezone.utc
_NUMBER = (int, float)
# the exact types Python's own operators already order and compare the way
# the language does: each comparison tries them first, then the full rule
_NUMBERS = frozenset((int, float))
_PLAIN = frozenset((int, float, str))


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, _dt.datetime):
        return "time"
    if isinstance(v, _dt.timedelta):
        return "duration"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "record"
    return type(v).__name__


def _type_error(message: str) -> RecordError:
    return RecordError("type", message)


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBER) and not isinstance(v, bool)


# ---------------------------------------------------------------- fields


def get_path(rec: dict, path: tuple[str, ...]) -> Any:
    """The value at `path`; null when a record on the way is null or absent."""
    value: Any = rec
    for i, name in enumerate(path):
        if value is None:
            return None
        if not isinstance(value, dict):
            where = ".".join(path[:i])
            raise _type_error(f"field `{where}` is {_kind(value)}, not a record")
        value = value.get(name)
    return value


def has_path(rec: dict, path: tuple[str, ...]) -> bool:
    """Is there a field at `path` (its value may be null)?"""
    value: Any = rec
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    return True


def set_path(rec: dict, path: tuple[str, ...], value: Any) -> None:
    """Set `path`, creating missing or null intermediate records."""
    target = rec
    for i, name in enumerate(path[:-1]):
        nxt = target.get(name)
        if nxt is None:
            nxt = target[name] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(path[: i + 1])
            raise _type_error(f"field `{where}` is {_kind(nxt)}, not a record")
        target = nxt
    target[path[-1]] = value


def fresh(value: Any) -> Any:
    """A copy of `value` sharing no dict or list with it (scalars are
    immutable): `set v = a` must not alias `a`, and each reader of a pipeline
    gets records of its own."""
    kind = type(value)
    if kind is dict:
        return {k: fresh(v) for k, v in value.items()}
    if kind is list:
        return [fresh(v) for v in value]
    return value


def drop_path(rec: dict, path: tuple[str, ...]) -> None:
    target: Any = rec
    for name in path[:-1]:
        target = target.get(name) if isinstance(target, dict) else None
        if target is None:
            return
    if isinstance(target, dict):
        target.pop(path[-1], None)


def keep_paths(rec: dict, paths: tuple[tuple[str, ...], ...]) -> dict:
    """A new record with exactly `paths` (missing ones null)."""
    out: dict = {}
    for path in paths:
        set_path(out, path, get_path(rec, path))
    return out


def rename_path(rec: dict, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    parent: Any = rec
    for name in old[:-1]:
        parent = parent.get(name) if isinstance(parent, dict) else None
        if parent is None:
            return
    if not isinstance(parent, dict) or old[-1] not in parent:
        return
    set_path(rec, new, parent.pop(old[-1]))


# ---------------------------------------------------------------- logic


def truth(v: Any) -> bool:
    """A condition's value: true passes; false and null do not."""
    if v is True:
        return True
    if v is False or v is None:
        return False
    raise _type_error(f"condition is {_kind(v)}, not bool")


def eq(a: Any, b: Any) -> bool:
    """`==` with null as a value; bool never equals a number."""
    kind = type(a)
    if kind is type(b) and kind in _PLAIN or kind in _NUMBERS and type(b) in _NUMBERS:
        return a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)
    return a == b


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _ordered(a: Any, b: Any, op: str) -> bool:
    if _is_number(a) and _is_number(b):
        return True
    ka, kb = _kind(a), _kind(b)
    if ka == kb and ka in ("str", "time", "duration"):
        return True
    raise _type_error(f"cannot compare {ka} {op} {kb}")


def lt(a: Any, b: Any) -> bool:
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return a < b
    return a is not None and b is not None and _ordered(a, b, "<") and a < b


def le(a: Any, b: Any) -> bool:
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return a <= b
    return a is not None and b is not None and _ordered(a, b, "<=") and a <= b


def gt(a: Any, b: Any) -> bool:
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return a > b
    return a is not None and b is not None and _ordered(a, b, ">") and a > b


def ge(a: Any, b: Any) -> bool:
    if type(a) in _NUMBERS and type(b) in _NUMBERS:
        return a >= b
    return a is not None and b is not None and _ordered(a, b, ">=") and a >= b


def ip_key(v: Any) -> Any:
    """An ip's place in address order (every IPv4 before every IPv6), so that
    `< <= > >=` order addresses numerically rather than as text."""
    if v is None:
        return None
    try:
        address = ipaddress.ip_address(v)
    except ValueError:
        raise _type_error(f"{v!r} is not an ip address") from None
    return (address.version << 128) | int(address)


def in_(x: Any, container: Any) -> bool:
    if x is None or container is None:
        return False
    if isinstance(container, str):
        if not isinstance(x, str):
            raise _type_error(f"`in` a str needs a str on the left, not {_kind(x)}")
        return x in container
    if isinstance(container, list):
        return any(eq(x, item) for item in container)
    raise _type_error(f"`in` needs a list or str on the right, not {_kind(container)}")


def regex(pattern: str):
    """Compile a pattern with RE2 (linear-time matching: no pattern can hang a run)."""
    return compile_regex(pattern)


def match(compiled: Any, x: Any) -> bool:
    if x is None:
        return False
    if not isinstance(x, str):
        raise _type_error(f"`=~` needs a str on the left, not {_kind(x)}")
    return compiled.search(x) is not None


# ---------------------------------------------------------------- arithmetic


def duration(millis: int) -> _dt.timedelta:
    return _dt.timedelta(milliseconds=millis)


def _arith_error(op: str, a: Any, b: Any) -> RecordError:
    return _type_error(f"cannot apply `{op}` to {_kind(a)} and {_kind(b)}")


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        return a + b
    ka, kb = _kind(a), _kind(b)
    if (ka, kb) in (
        ("str", "str"),
        ("time", "duration"),
        ("duration", "time"),
        ("duration", "duration"),
    ):
        return a + b
    raise _arith_error("+", a, b)


def sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        return a - b
    ka, kb = _kind(a), _kind(b)
    if (ka, kb) in (("time", "time"), ("time", "duration"), ("duration", "duration")):
        return a - b
    raise _arith_error("-", a, b)


def mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        return a * b
    ka, kb = _kind(a), _kind(b)
    if (ka, kb) in (
        ("duration", "int"),
        ("duration", "float"),
        ("int", "duration"),
        ("float", "duration"),
    ):
        return a * b
    raise _arith_error("*", a, b)


def div(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        if b == 0:
            raise RecordError("arithmetic", "division by zero")
        return a / b
    raise _arith_error("/", a, b)


def mod(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _is_number(a) and _is_number(b):
        if b == 0:
            raise RecordError("arithmetic", "modulo by zero")
        return a % b
    raise _arith_error("%", a, b)


def neg(a: Any) -> Any:
    if a is None:
        return None
    if _is_number(a) or isinstance(a, _dt.timedelta):
        return -a
    raise _type_error(f"cannot negate {_kind(a)}")


# ---------------------------------------------------------------- builtins
# Names match flowlang.builtins; a null argument gives null.


def _str_arg(fn: str, v: Any) -> str:
    if not isinstance(v, str):
        raise _type_error(f"{fn}() needs a str, not {_kind(v)}")
    return v


def fn_lower(s: Any) -> Any:
    return None if s is None else _str_arg("lower", s).lower()


def fn_upper(s: Any) -> Any:
    return None if s is None else _str_arg("upper", s).upper()


def fn_trim(s: Any) -> Any:
    return None if s is None else _str_arg("trim", s).strip()


def fn_len(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (str, list, dict)):  # a record: its fields (top level), as VRL's length
        return len(v)
    raise _type_error(f"len() needs a str, list or record, not {_kind(v)}")


def _case(name: str, text: Any, case_sensitive: Any) -> str:
    """`text` as compared: lower-cased when the comparison ignores case."""
    text = _str_arg(name, text)
    if case_sensitive is True:
        return text
    if case_sensitive is False:
        return text.lower()
    raise _type_error(f"{name}() needs a bool case_sensitive, not {_kind(case_sensitive)}")


def fn_starts_with(s: Any, prefix: Any, case_sensitive: Any = True) -> Any:
    if s is None or prefix is None or case_sensitive is None:
        return None
    name = "starts_with"
    return _case(name, s, case_sensitive).startswith(_case(name, prefix, case_sensitive))


def fn_ends_with(s: Any, suffix: Any, case_sensitive: Any = True) -> Any:
    if s is None or suffix is None or case_sensitive is None:
        return None
    name = "ends_with"
    return _case(name, s, case_sensitive).endswith(_case(name, suffix, case_sensitive))


def fn_contains(container: Any, x: Any, case_sensitive: Any = True) -> Any:
    if container is None or x is None or case_sensitive is None:
        return None
    if isinstance(container, str):
        return _case("contains", x, case_sensitive) in _case("contains", container, case_sensitive)
    if isinstance(container, list):
        if case_sensitive is False and isinstance(x, str):
            wanted = x.lower()
            return any(
                item.lower() == wanted if isinstance(item, str) else eq(x, item)
                for item in container
            )
        _case("contains", "", case_sensitive)  # the flag must be a bool
        return any(eq(x, item) for item in container)
    raise _type_error(f"contains() needs a str or list, not {_kind(container)}")


def fn_now() -> _dt.datetime:
    return times.now()


# Numbers in text as VRL reads them (Rust's i64 and f64 syntax): ASCII digits
# only, no `_` separators (Python's int() and float() take both), around them
# only white space, which is trimmed
_ASCII_SPACE = " \t\n\r\f\v"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def fn_to_int(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):  # as VRL: true is 1, false 0
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, _dt.datetime):  # as VRL: whole seconds since the epoch
        return times.to_unix(v, "seconds")
    if isinstance(v, float):
        if not math.isfinite(v):
            raise RecordError("conversion", f"to_int() of {v!r}")
        return int(v)
    if isinstance(v, str):
        text = v.strip(_ASCII_SPACE)
        if not _INTEGER.fullmatch(text):
            raise RecordError("conversion", f"to_int() of {v!r}: not an integer")
        return int(text)
    raise _type_error(f"to_int() of {_kind(v)}")


def fn_to_float(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):  # as VRL: true is 1.0, false 0.0
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, _dt.datetime):  # as VRL: seconds since the epoch, with the fraction
        return times.to_unix(v, "microseconds") / 1_000_000
    if isinstance(v, str):
        text = v.strip(_ASCII_SPACE)
        if _NON_FINITE.fullmatch(text):
            raise RecordError("conversion", f"to_float() of {v!r}: not a finite number")
        if not _DECIMAL.fullmatch(text):
            raise RecordError("conversion", f"to_float() of {v!r}: not a number")
        result = float(text)
        if not math.isfinite(result):
            raise RecordError("conversion", f"to_float() of {v!r}: not a finite number")
        return result
    raise _type_error(f"to_float() of {_kind(v)}")


def fn_to_str(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, _dt.datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, _dt.timedelta):
        return str(v.total_seconds())
    raise _type_error(f"to_str() of {_kind(v)}")


def fn_parse_time(s: Any, fmt: Any = None, timezone: Any = None) -> Any:
    """Text to a time; null format: ISO 8601; null timezone: UTC (see `times`)."""
    if s is None:
        return None
    text = _str_arg("parse_time", s)
    try:
        tz = UTC if timezone is None else times.zone(_str_arg("parse_time", timezone))
        fmt = None if fmt is None else _str_arg("parse_time", fmt)
        return times.parse(text, fmt, tz)
    except (ValueError, OverflowError) as exc:
        raise RecordError("conversion", f"parse_time() of {text!r}: {exc}") from None


def _time_arg(fn: str, v: Any) -> _dt.datetime:
    if not isinstance(v, _dt.datetime):
        raise _type_error(f"{fn}() needs a time, not {_kind(v)}")
    return v


def _int_arg(fn: str, v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _type_error(f"{fn}() needs an int, not {_kind(v)}")
    return v


def _unit_arg(fn: str, unit: Any) -> str:
    problem = times.unit_problem(_str_arg(fn, unit))
    if problem:
        raise RecordError("argument", f"{fn}(): {problem}")
    return unit


def fn_format_time(t: Any, fmt: Any, timezone: Any = None) -> Any:
    if t is None or fmt is None:
        return None
    value = _time_arg("format_time", t)
    fmt = _str_arg("format_time", fmt)
    try:
        tz = UTC if timezone is None else times.zone(_str_arg("format_time", timezone))
        return times.format_time(value, fmt, tz)
    except (ValueError, OverflowError) as exc:
        raise RecordError("conversion", f"format_time() with {fmt!r}: {exc}") from None


def fn_to_unix_timestamp(t: Any, unit: Any = "seconds") -> Any:
    if t is None or unit is None:
        return None
    value = _time_arg("to_unix_timestamp", t)
    return times.to_unix(value, _unit_arg("to_unix_timestamp", unit))


def fn_from_unix_timestamp(n: Any, unit: Any = "seconds") -> Any:
    if n is None or unit is None:
        return None
    number = _int_arg("from_unix_timestamp", n)
    unit = _unit_arg("from_unix_timestamp", unit)
    try:
        return times.from_unix(number, unit)
    except OverflowError as exc:
        raise RecordError("conversion", f"from_unix_timestamp() of {number}: {exc}") from None


def fn_floor_time(t: Any, step: Any) -> Any:
    if t is None or step is None:
        return None
    value = _time_arg("floor_time", t)
    if not isinstance(step, _dt.timedelta):
        raise _type_error(f"floor_time() needs a duration step, not {_kind(step)}")
    try:
        return times.floor_time(value, step)
    except (ValueError, OverflowError) as exc:
        raise RecordError("argument", f"floor_time(): {exc}") from None


def _up_from_half(y: float) -> float:
    """`y` rounded to a whole number, halves away from zero (Rust's f64::round)."""
    whole = math.floor(y)
    rest = y - whole  # exact: below 2**52 a float's fraction is representable
    return float(whole + 1 if rest > 0.5 or (rest == 0.5 and y > 0) else whole)


def _to_precision(name: str, x: Any, precision: Any, whole) -> Any:
    """VRL's rounding: an int is itself; a float is rounded at `precision`
    decimal places by `whole` applied to x * 10**precision."""
    if x is None or precision is None:
        return None
    if not _is_number(x):
        raise _type_error(f"{name}() needs a number, not {_kind(x)}")
    precision = _int_arg(name, precision)
    if isinstance(x, int):
        return x
    try:
        scale = 10.0**precision
    except OverflowError:
        return x  # more digits than a float holds: nothing to round
    if scale == 0.0:
        return math.copysign(0.0, x)
    scaled = x * scale
    if not math.isfinite(scaled):
        return x  # a float this large has no digits at that place
    result = whole(scaled) / scale
    if not math.isfinite(result):
        raise RecordError("conversion", f"{name}() of {x!r}: out of range")
    return math.copysign(result, x) if result == 0 else result


def fn_round(x: Any, precision: Any = 0) -> Any:
    return _to_precision("round", x, precision, _up_from_half)


def fn_floor(x: Any, precision: Any = 0) -> Any:
    return _to_precision("floor", x, precision, lambda y: float(math.floor(y)))


def fn_ceil(x: Any, precision: Any = 0) -> Any:
    return _to_precision("ceil", x, precision, lambda y: float(math.ceil(y)))


# ---------------------------------------------------------------- text and lists


def _list_arg(fn: str, v: Any) -> list:
    if not isinstance(v, list):
        raise _type_error(f"{fn}() needs a list, not {_kind(v)}")
    return v


def fn_slice(value: Any, start: Any, end: Any = None) -> Any:
    """VRL's slice, counting characters: negative positions count from the
    end; an end past the end is the end."""
    if value is None or start is None:
        return None
    if not isinstance(value, (str, list)):
        raise _type_error(f"slice() needs a str or list, not {_kind(value)}")
    length = len(value)
    first = _int_arg("slice", start)
    first = first + length if first < 0 else first
    last = length if end is None else _int_arg("slice", end)
    last = last + length if last < 0 else last
    if not 0 <= first <= length:
        raise RecordError("argument", f"slice(): start must be between {-length} and {length}")
    if last < first:
        raise RecordError("argument", "slice(): end must not be before start")
    return value[first:last]


def fn_split(s: Any, separator: Any, limit: Any = None) -> Any:
    """VRL's split with a literal separator: at most `limit` pieces, the last
    holding the rest; an empty separator splits between characters."""
    if s is None or separator is None:
        return None
    text = _str_arg("split", s)
    sep = _str_arg("split", separator)
    most = None if limit is None else max(_int_arg("split", limit), 0)
    if most == 0:
        return []
    if sep:
        return text.split(sep) if most is None else text.split(sep, most - 1)
    pieces = ["", *text, ""]  # Rust's split("") matches at every character boundary
    if most is None or most >= len(pieces):
        return pieces
    return pieces[: most - 1] + [text[max(most - 2, 0) :]]


def fn_split_regex(s: Any, pattern: Any, limit: Any = None) -> Any:
    """VRL's split with a regex: the pieces between matches of the RE2
    `pattern`, found left to right; at most `limit` pieces, the last holding
    the rest. A pattern that matches the empty text matches at every boundary
    between characters and at both ends, as a literal empty separator does."""
    if s is None or pattern is None:
        return None
    text = _str_arg("split_regex", s)
    source = _str_arg("split_regex", pattern)
    most = None if limit is None else max(_int_arg("split_regex", limit), 0)
    if most == 0:
        return []
    try:
        compiled = compile_regex(source)
    except ValueError as exc:
        raise RecordError("argument", f"split_regex(): invalid regular expression: {exc}") from None
    pieces, start = [], 0
    for found in compiled.finditer(text):
        if most is not None and len(pieces) + 1 >= most:
            break
        pieces.append(text[start : found.start()])
        start = found.end()
    pieces.append(text[start:])
    return pieces


def fn_join(items: Any, separator: Any = "") -> Any:
    if items is None or separator is None:
        return None
    sep = _str_arg("join", separator)
    for item in _list_arg("join", items):
        if not isinstance(item, str):
            raise _type_error(f"join() needs a list of str; it holds {_kind(item)}")
    return sep.join(items)


def _count_arg(fn: str, count: Any) -> int:
    """VRL's count: negative (default -1) all, 0 none, n the first n."""
    return _int_arg(fn, count)


def fn_replace(s: Any, pattern: Any, with_: Any, count: Any = -1) -> Any:
    if s is None or pattern is None or with_ is None or count is None:
        return None
    text = _str_arg("replace", s)
    old, new = _str_arg("replace", pattern), _str_arg("replace", with_)
    n = _count_arg("replace", count)
    return text if n == 0 else text.replace(old, new, n if n > 0 else -1)


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str):
    """The RE2 program for `pattern`, compiled once per process; raises
    ValueError with RE2's reason.

    RE2 matches in time linear in the input whatever the pattern, so a user
    pattern such as `^(a|a)*$` cannot stall a pipeline; in exchange it has no
    backreferences and no lookaround."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would also print the error to stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    except UnicodeError:
        raise ValueError("the pattern is not valid Unicode text") from None


def regex_problem(pattern: str) -> str | None:
    """RE2's complaint about `pattern`, or None when it compiles."""
    try:
        compile_regex(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def regex_rule(pattern: str) -> str | None:
    """What is wrong with `pattern` as an RE2 regex, in words that do not
    quote it (RE2's reason without the piece of pattern it names), or None:
    the rule of a pattern argument, which an env() value may give."""
    problem = regex_problem(pattern)
    return problem and f"invalid regular expression: {problem.split(': ', 1)[0]} (RE2 syntax)"


# `$1`, `$name`, `${name}`, `$$` in a replacement, as Rust's regex crate
# expands them (VRL): a name is the longest run of word characters
_GROUP_REF = re.compile(r"\$(?:\$|\{([^}]*)\}|([0-9A-Za-z_]+))")


@functools.lru_cache(maxsize=256)
def _expander(template: str):
    """A function of a match giving `template` with its group references filled."""
    if "$" not in template:
        return lambda m: template
    pieces: list[Any] = []
    at = 0
    for ref in _GROUP_REF.finditer(template):
        pieces.append(template[at : ref.start()])
        at = ref.end()
        name = ref.group(1) if ref.group(1) is not None else ref.group(2)
        if name is None:
            pieces.append("$")
        else:
            pieces.append((int(name),) if name.isdigit() else (name,))
    pieces.append(template[at:])

    def expand(m) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            try:
                out.append(m.group(piece[0]) or "")
            except IndexError:
                pass  # a group the pattern does not have is empty
        return "".join(out)

    return expand


def fn_replace_regex(s: Any, pattern: Any, with_: Any, count: Any = -1) -> Any:
    if s is None or pattern is None or with_ is None or count is None:
        return None
    text = _str_arg("replace_regex", s)
    source = _str_arg("replace_regex", pattern)
    template = _str_arg("replace_regex", with_)
    n = _count_arg("replace_regex", count)
    try:
        compiled = compile_regex(source)
    except ValueError as exc:
        raise RecordError(
            "argument", f"replace_regex(): invalid regular expression: {exc}"
        ) from None
    if n == 0:
        return text
    return compiled.sub(_expander(template), text, count=max(n, 0))


_PAD_LIMIT = 1 << 20  # characters: a record's text, not a way to fill memory


def _pad(fn: str, s: Any, length: Any, with_: Any) -> tuple[str, str] | None:
    if s is None or length is None or with_ is None:
        return None
    text, fill = _str_arg(fn, s), _str_arg(fn, with_)
    width = _int_arg(fn, length)
    if not fill:
        raise RecordError("argument", f"{fn}(): the fill text is empty")
    if width > _PAD_LIMIT:
        raise RecordError("argument", f"{fn}(): length {width} is above {_PAD_LIMIT}")
    missing = width - len(text)
    if missing <= 0:
        return text, ""
    return text, (fill * (missing // len(fill) + 1))[:missing]


def fn_pad_start(s: Any, length: Any, with_: Any = " ") -> Any:
    parts = _pad("pad_start", s, length, with_)
    return None if parts is None else parts[1] + parts[0]


def fn_pad_end(s: Any, length: Any, with_: Any = " ") -> Any:
    parts = _pad("pad_end", s, length, with_)
    return None if parts is None else parts[0] + parts[1]


def fn_sha256(s: Any) -> Any:
    return None if s is None else digest.sha256(_str_arg("sha256", s))


@functools.lru_cache(maxsize=16)
def _hmac_of(key: str, algorithm: str) -> digest.Hmac:
    return digest.Hmac(digest.utf8(key), digest.ALGORITHMS[algorithm])


def fn_hmac(s: Any, key: Any, algorithm: Any = "SHA-256") -> Any:
    """Hex HMAC of the text; messages never show the key."""
    if s is None or key is None or algorithm is None:
        return None
    text = _str_arg("hmac", s)
    if not isinstance(key, str):
        raise _type_error(f"hmac() needs a str key, not {_kind(key)}")
    name = _str_arg("hmac", algorithm)
    problem = digest.algorithm_problem(name)
    if problem:
        raise RecordError("argument", f"hmac(): {problem}")
    return _hmac_of(key, name.upper()).hexdigest(digest.utf8(text))


def fn_parse_url(s: Any, default_known_ports: Any = False) -> Any:
    if s is None or default_known_ports is None:
        return None
    text = _str_arg("parse_url", s)
    if not isinstance(default_known_ports, bool):
        raise _type_error("parse_url() needs a bool default_known_ports")
    try:
        return weburl.parse_url(text, default_known_ports)
    except ValueError as exc:
        raise RecordError("conversion", f"parse_url() of {text!r}: {exc}") from None


def fn_parse_query_string(s: Any) -> Any:
    return None if s is None else weburl.parse_query_string(_str_arg("parse_query_string", s))


@functools.lru_cache(maxsize=256)
def _network(cidr: str):
    """VRL's CIDR text: an address, or an address and a prefix length, with
    no bits set after the prefix. ValueError otherwise."""
    address, slash, prefix = cidr.partition("/")
    if slash and not (prefix.isascii() and prefix.isdigit()):
        raise ValueError(f"{cidr!r} is not a CIDR block (address/prefix length)")
    return ipaddress.ip_network(cidr, strict=True)  # its ValueError names the text


def cidr_problem(cidr: Any) -> str | None:
    """What is wrong with a CIDR block or a list of them, or None."""
    for block in cidr if isinstance(cidr, list) else [cidr]:
        if not isinstance(block, str):
            return f"a CIDR block is text, not {_kind(block)}"
        try:
            _network(block)
        except ValueError as exc:
            return str(exc)
    return None


def fn_ip_cidr_contains(cidr: Any, ip: Any) -> Any:
    if cidr is None or ip is None:
        return None
    text = _str_arg("ip_cidr_contains", ip)
    blocks = cidr if isinstance(cidr, list) else [_str_arg("ip_cidr_contains", cidr)]
    problem = cidr_problem(blocks)
    if problem:
        raise RecordError("argument", f"ip_cidr_contains(): {problem}")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise RecordError(
            "conversion", f"ip_cidr_contains(): {text!r} is not an ip address"
        ) from None
    return any(address in _network(block) for block in blocks)


@functools.cache
def fn_get_hostname() -> str:
    """The machine's host name, read once."""
    import socket

    return socket.gethostname()

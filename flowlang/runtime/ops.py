"""Run-time helpers for compiled expressions.

The code generator emits plain Python operators where the checker proved the
operand types (the fast path), and calls these helpers where a value may be
null or is `any`: they implement the null rules and raise RecordError for a
run-time type error, so the record goes to the error stream.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import re
from typing import Any

from . import times
from .base import RecordError

UTC = _dt.timezone.utc
_NUMBER = (int, float)


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
    return a is not None and b is not None and _ordered(a, b, "<") and a < b


def le(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _ordered(a, b, "<=") and a <= b


def gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and _ordered(a, b, ">") and a > b


def ge(a: Any, b: Any) -> bool:
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
    import re2

    return re2.compile(pattern)


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
    if isinstance(v, (str, list)):
        return len(v)
    raise _type_error(f"len() needs a str or list, not {_kind(v)}")


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
    if isinstance(v, bool):
        raise _type_error("to_int() of a bool")
    if isinstance(v, int):
        return v
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
    if isinstance(v, bool):
        raise _type_error("to_float() of a bool")
    if isinstance(v, (int, float)):
        return float(v)
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

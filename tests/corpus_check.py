"""The held-out corpus: third-party test vectors (tests/corpus/README.md says
where each file comes from) run through flowlang's real parsers and builtins.

Each vector keeps its expected result as its reference gives it; the mapping
from a reference's output shape to flowlang's is written once per function
below (`_MAPPINGS`), never per vector. The pass rate is measured per source and
overall: it must be at least 95%, and every vector that fails must be listed in
`KNOWN_DIFFERENCES` with its reason, so a vector that newly fails, or a listed
one that now passes, fails the test.

The corpus is held out: its files are transcriptions of other projects'
tests and are not part of this repository, so this is a measurement run by
hand (`make corpus`, or `python -m tests.corpus_check`), not a test the
suite collects; it exits 1 when a check fails and 2 when there are no
vector files."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlang import builtins
from flowlang.runtime import jsonl, times
from flowlang.runtime.base import RecordError
from flowlang.syntax import quote

HERE = Path(__file__).parent
TARGET = 0.95


def corpus_dir() -> Path | None:
    """Where the vector files are: $FLOWLANG_CORPUS, tests/corpus/, or the
    shared folder beside the checkout (shared/corpus/)."""
    candidates = [Path(os.environ["FLOWLANG_CORPUS"])] if "FLOWLANG_CORPUS" in os.environ else []
    candidates += [HERE / "corpus", HERE.parent.parent / "shared" / "corpus"]
    for path in candidates:
        if any(path.glob("*.jsonl")):
            return path
    return None


@functools.cache
def vectors() -> list[dict]:
    found = corpus_dir()
    if found is None:
        return []
    out = []
    for path in sorted(found.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                vec = json.loads(line)
                vec["_file"] = path.stem
                out.append(vec)
    return out


# Vectors where flowlang deliberately differs from the reference; each reason
# names the difference as docs/stages.md or docs/language.md documents it.
_NO_CLIENT_OR_TIME = (
    "a line without a client or time is not an access log line: `client` and `time` "
    "are never null (docs/stages.md, parse combined); VRL gives an empty object"
)
_NULL = "a null argument gives null, as for every function (docs/language.md); VRL gives 0"
KNOWN_DIFFERENCES: dict[str, str] = {
    "vrl/parse_apache_log/log_line_valid_empty": _NO_CLIENT_OR_TIME,
    "vrl/parse_apache_log/log_line_valid_empty_variant": _NO_CLIENT_OR_TIME,
    "vrl/parse_common_log/log_line_valid_empty": _NO_CLIENT_OR_TIME,
    "vrl/parse_common_log/log_line_valid_empty_variant": _NO_CLIENT_OR_TIME,
    "vrl/parse_apache_log/error_line_threaded_mpms_valid": (
        "apache_error keeps the message whole; VRL splits it into message1 and message2 "
        "(docs/stages.md, parse apache_error)"
    ),
    "vrl/parse_key_value/invalid_quotes_in_quoted_value": (
        "a quote that does not close before a delimiter is bare text, so the line parses; "
        "VRL rejects it (docs/stages.md, parse kv)"
    ),
    "vrl/parse_csv/multiple_lines": (
        "parse(csv) reads one record: a line break outside quotes is an error, where VRL "
        "reads the first line and drops the rest (docs/stages.md, parse csv)"
    ),
    "vrl/parse_json/max_depth": (
        "values deeper than max_depth are re-encoded compact; VRL keeps their text as "
        "written (docs/stages.md, parse json)"
    ),
    "vrl/parse_timestamp/parse_timestamp": (
        "parse_time takes text; a time is a type error (docs/language.md, parse_time); "
        "VRL returns the time"
    ),
    "vrl/parse_timestamp/err_value_null": (
        "a null argument gives null, as for every function (docs/language.md); VRL fails"
    ),
    "vrl/from_unix_timestamp/null_type_invalid": (
        "a null argument gives null, as for every function (docs/language.md); VRL fails"
    ),
    "vrl-examples/to_string/5": (
        "a null argument gives null, as for every function (docs/language.md); VRL gives "
        "the empty text"
    ),
    "vrl-examples/parse_timestamp/0": (
        "a blank in a parse_time format stands for one or more blanks, as strptime reads "
        "it (docs/language.md, parse_time); chrono's for none too"
    ),
    "vrl-examples/to_int/6": _NULL,
    "vrl-examples/to_float/6": _NULL,
    "vrl/format_timestamp/tz_local": (
        "time zones are IANA names; VRL's `local` (the machine's zone) is not one "
        "(docs/language.md, format_time)"
    ),
}


# ------------------------------------------------------------------ values


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _arg_value(value: Any) -> Any:
    """A reference argument as a flowlang run-time value."""
    if isinstance(value, dict) and set(value) == {"$time"}:
        return _time(value["$time"])
    return value


def same(got: Any, want: Any) -> bool:
    """Equal, with times compared as instants and ints equal to floats of the
    same value."""
    if isinstance(want, dict) and set(want) == {"$time"}:
        if isinstance(got, dt.datetime):
            return got == _time(want["$time"])
        return isinstance(got, str) and _time(got) == _time(want["$time"])
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(same(got[k], want[k]) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(same(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    return got == want


@dataclass
class Outcome:
    passed: bool
    detail: str = ""


# ------------------------------------------------------------ parse stages


@functools.cache
def _stage(code: str):
    from tests.stages.stagebind import make_stage

    return make_stage(code)


def _run_stage(code: str, text: Any) -> tuple[str, Any]:
    """('ok', the record as JSON writes it) or ('error', message)."""
    try:
        stage = _stage(code)
    except AssertionError as exc:  # the program does not compile
        return "error", f"compile: {exc}"
    try:
        out = stage({"message": text})
    except RecordError as exc:
        return "error", exc.message
    return "ok", jsonl.loads(jsonl.dumps(out))


def _compare_fields(got: dict, want: dict, exact: bool) -> Outcome:
    """The fields `want` names must be as wanted; with `exact`, flowlang must
    give no other field either (but the record's own `message`, and fields it
    gives as null where the reference leaves them out)."""
    wrong = {k: (got.get(k), w) for k, w in want.items() if not same(got.get(k), w)}
    if exact:
        extra = set(got) - set(want) - {"message"}
        wrong |= {k: (got[k], "(absent)") for k in extra if got[k] is not None}
    if wrong:
        return Outcome(
            False, "; ".join(f"{k}: got {g!r}, want {w!r}" for k, (g, w) in wrong.items())
        )
    return Outcome(True)


def _stage_vector(
    code: str,
    text: Any,
    expected: dict,
    fields: Callable[[Any], dict | None],
    exact: bool = False,
) -> Outcome:
    """Runs the stage: an expected error must be an error, an expected value
    must give the fields `fields(value)` maps it to (None: flowlang has no
    counterpart for that value, so it must be an error); `exact`: and no
    other field."""
    kind, got = _run_stage(code, text)
    if "error" in expected:
        return Outcome(kind == "error", "" if kind == "error" else f"parsed: {got}")
    want = fields(expected["ok"])
    if want is None:
        return Outcome(kind == "error", f"expected an error, got {got}")
    if kind == "error":
        return Outcome(False, f"error: {got}")
    return _compare_fields(got, want, exact)


def _rename(value: dict, names: dict[str, str], every: tuple[str, ...]) -> dict:
    """The reference's fields under flowlang's names; a field the reference
    leaves out is null, as flowlang writes it."""
    renamed = {names.get(k, k): v for k, v in value.items() if names.get(k, k) is not None}
    return {name: renamed.get(name) for name in every} | {
        k: v for k, v in renamed.items() if k not in every
    }


_ACCESS = ("client", "user", "time", "request", "method", "path", "protocol", "status", "bytes")
_AGENT = ("referrer", "agent")
# VRL's apache and common parsers: `host` is the client, `message` the
# request, `size` the bytes; `identity` (the ident field) has no counterpart.
_VRL_APACHE = {
    "host": "client",
    "timestamp": "time",
    "message": "request",
    "size": "bytes",
    "identity": None,
}


def _apache_fields(every: tuple[str, ...]):
    return lambda value: _rename(value, _VRL_APACHE, every)


def _nginx_fields(value: dict) -> dict:
    """VRL's nginx combined parser: `size` is bytes, `referer` the referrer,
    and it keeps `-` in referer and agent as text where flowlang writes null
    (as its `user` does); method, path and protocol it does not give."""
    names = {"timestamp": "time", "size": "bytes", "referer": "referrer", "compression": None}
    renamed = _rename(value, names, ("client", "user", "time", "request", "status", "bytes"))
    for name in _AGENT:
        renamed[name] = (
            None
            if value.get("referer" if name == "referrer" else name) in (None, "-")
            else renamed.get(name)
        )
    return renamed


_APACHE_ERROR = ("time", "module", "severity", "pid", "thread", "client", "port", "message")
_NGINX_ERROR = (
    "time",
    "severity",
    "pid",
    "tid",
    "cid",
    "message",
    "excess",
    "zone",
    "client",
    "server",
    "request",
    "upstream",
    "host",
    "referrer",
)


def _error_log_fields(every: tuple[str, ...]):
    """VRL's error log parsers: `timestamp` is the time, nginx's `referer` the
    referrer, and Apache's thread id is text where flowlang types it `int`."""
    names = {"timestamp": "time", "referer": "referrer"}

    def fields(value: dict) -> dict:
        out = _rename(value, names, every)
        if isinstance(out.get("thread"), str) and out["thread"].isdigit():
            out["thread"] = int(out["thread"])
        return out

    return fields


def _vrl_apache(vec: dict) -> Outcome:
    args = vec["args"]
    fmt = args.get("format", "common")
    zone = args.get("timezone") or vec.get("tz") or "UTC"
    if fmt == "error":
        code = f"parse(apache_error(timezone={quote(zone)}))"
        return _stage_vector(code, args["value"], vec["expected"], _error_log_fields(_APACHE_ERROR))
    every = _ACCESS + (_AGENT if fmt == "combined" else ())
    return _stage_vector("parse(combined)", args["value"], vec["expected"], _apache_fields(every))


def _vrl_common(vec: dict) -> Outcome:
    return _stage_vector(
        "parse(combined)", vec["args"]["value"], vec["expected"], _apache_fields(_ACCESS)
    )


def _vrl_nginx(vec: dict) -> Outcome:
    args = vec["args"]
    if args.get("format") == "error":
        zone = args.get("timezone") or vec.get("tz") or "UTC"
        code = f"parse(nginx_error(timezone={quote(zone)}))"
        return _stage_vector(code, args["value"], vec["expected"], _error_log_fields(_NGINX_ERROR))
    return _stage_vector("parse(combined)", args["value"], vec["expected"], _nginx_fields)


def _vrl_kv(vec: dict) -> Outcome:
    args = vec["args"]
    options = []
    if "field_delimiter" in args:
        options.append(f"field_delimiter={quote(args['field_delimiter'])}")
    if "key_value_delimiter" in args:
        options.append(f"value_delimiter={quote(args['key_value_delimiter'])}")
    if "whitespace" in args:
        options.append(f"whitespace={quote(args['whitespace'])}")
    if "accept_standalone_key" in args:
        options.append(f"standalone_keys={'true' if args['accept_standalone_key'] else 'false'}")
    code = f"parse(kv({', '.join(options)}))" if options else "parse(kv)"
    return _stage_vector(code, args["value"], vec["expected"], lambda value: value, exact=True)


def _vrl_csv(vec: dict) -> Outcome:
    """VRL gives the fields as a list; flowlang names them with `columns`, one
    per expected field (one column for an empty result, which is then null)."""
    args = vec["args"]
    expected = vec["expected"]
    count = max(len(expected.get("ok") or []), 1)
    columns = [f"c{i}" for i in range(count)]
    options = [f"columns=[{', '.join(quote(c) for c in columns)}]"]
    if "delimiter" in args:
        options.append(f"delimiter={quote(args['delimiter'])}")
    code = f"parse(csv({', '.join(options)}))"

    def fields(value):
        return {c: (value[i] if i < len(value) else None) for i, c in enumerate(columns)}

    return _stage_vector(code, args["value"], expected, fields, exact=True)


def _vrl_json(vec: dict) -> Outcome:
    """flowlang's json parse merges one object into the record: a value that
    is not an object must be an error."""
    args = vec["args"]
    code = f"parse(json(max_depth={args['max_depth']}))" if "max_depth" in args else "parse(json)"
    return _stage_vector(
        code,
        args["value"],
        vec["expected"],
        lambda v: v if isinstance(v, dict) else None,
        exact=True,
    )


_SYSLOG = ("severity", "facility", "time", "host", "app", "procid", "msgid", "message", "version")
_SYSLOG_NAMES = {"timestamp": "time", "hostname": "host", "appname": "app"}


def _syslog_fields(value: dict) -> dict:
    """VRL's parse_syslog: SD elements are top-level fields (flowlang gathers
    them in `structured`), and a numeric procid is a number (flowlang keeps
    the text)."""
    plain = {k: v for k, v in value.items() if k in _SYSLOG_NAMES or k in _SYSLOG}
    elements = {k: v for k, v in value.items() if k not in plain}
    out = _rename(plain, _SYSLOG_NAMES, _SYSLOG)
    if out["procid"] is not None:
        out["procid"] = str(out["procid"])
    out["structured"] = elements or None
    return out


def _vrl_syslog(vec: dict) -> Outcome:
    zone = vec["args"].get("timezone") or vec.get("tz") or "UTC"
    code = f"parse(syslog(timezone={quote(zone)}))"
    return _stage_vector(code, vec["args"]["value"], vec["expected"], _syslog_fields)


def _vrl_grok(vec: dict) -> Outcome:
    args = vec["args"]
    code = f"parse(grok({quote(args['pattern'])}))"
    return _stage_vector(code, args["value"], vec["expected"], lambda v: v, exact=True)


def _vrl_regex(vec: dict) -> Outcome:
    args = vec["args"]
    pattern = args["pattern"]["$regex"]
    numbered = "true" if args.get("numeric_groups") else "false"
    code = f"parse(regex({quote(pattern)}, numeric_groups={numbered}))"
    return _stage_vector(code, args["value"], vec["expected"], lambda v: v, exact=True)


# ---------------------------------------------------------------- builtins


def _call(name: str, args: list[Any]) -> tuple[str, Any]:
    """Calls builtin `name` as a program would: an argument a check rejects
    (at compile time, for a constant) is an error, as is a RecordError."""
    function = builtins.FUNCTIONS[name]
    for param, arg in zip(function.params, args, strict=False):
        check = getattr(param, "check", None)
        if check is not None and isinstance(arg, str | list) and (problem := check(arg)):
            return "error", problem
    try:
        return "ok", function.impl(*[_arg_value(a) for a in args])
    except RecordError as exc:
        return "error", exc.message


def _positional(args: dict, names: list[str]) -> list[Any]:
    """`args` (by the reference's names) in parameter order, up to the last given."""
    given = [i for i, n in enumerate(names) if n in args]
    return [args.get(n) for n in names[: given[-1] + 1]] if given else []


def _builtin(name: str, names: list[str], result: Callable[[Any], Any] = lambda v: v):
    def run(vec: dict) -> Outcome:
        args = dict(vec["args"])
        if vec.get("tz") and "timezone" in names and "timezone" not in args:
            args["timezone"] = vec["tz"]
        kind, got = _call(name, _positional(args, names))
        if "error" in vec["expected"]:
            return Outcome(kind == "error", "" if kind == "error" else f"gave {got!r}")
        if kind == "error":
            return Outcome(False, f"error: {got}")
        want = result(vec["expected"]["ok"])
        return Outcome(same(got, want), f"got {got!r}, want {want!r}")

    return run


def _vrl_split(vec: dict) -> Outcome:
    """VRL's split takes a string or a regex; a regex is flowlang's split_regex."""
    pattern = vec["args"]["pattern"]
    if isinstance(pattern, dict):
        args = dict(vec["args"], pattern=pattern["$regex"])
        return _builtin("split_regex", ["value", "pattern", "limit"])(dict(vec, args=args))
    return _builtin("split", ["value", "pattern", "limit"])(vec)


def _vrl_replace(vec: dict) -> Outcome:
    """VRL's replace takes a string or a regex; a regex is flowlang's replace_regex."""
    pattern = vec["args"]["pattern"]
    names = ["value", "pattern", "with", "count"]
    if isinstance(pattern, dict):
        args = dict(vec["args"], pattern=pattern["$regex"])
        return _builtin("replace_regex", names)(dict(vec, args=args))
    return _builtin("replace", names)(vec)


def _hmac(vec: dict) -> Outcome:
    """VRL's hmac gives bytes: in its tests one character per byte, in its
    examples encoded with encode_base16 or encode_base64; flowlang gives the hex."""
    encoding = vec["expected"].get("encoding")

    def hexed(value: str) -> str:
        if encoding == "base16":
            return value
        if encoding == "base64":
            return base64.b64decode(value).hex()
        return value.encode("latin-1").hex()

    return _builtin("hmac", ["value", "key", "algorithm"], hexed)(vec)


def _csv_file(vec: dict) -> Outcome:
    """A whole CSV file read by the file source (`format=csv`)."""
    from tests.flowrun import run_flow

    header = "true" if vec["args"].get("header", True) else "false"
    program = (
        f'source file("input.csv", format=csv(header={header}))\n  | sink file("output.jsonl")\n'
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "input.csv").write_bytes(vec["input"].encode("utf-8"))
        result = run_flow(program, tmp)
    if result.errors:
        return Outcome(False, f"errors: {result.errors}")
    return Outcome(same(result.output, vec["expected"]["ok"]), f"got {result.output!r}")


def _grok_match(vec: dict) -> Outcome:
    """logstash-patterns-core's grok_match(NAME, message, exact): does
    `%{NAME}` (`^%{NAME}$` when exact) match the message? A match is a parse
    without an error. flowlang's grok must capture something, so the pattern
    is written `%{NAME:m}`."""
    args = vec["args"]
    capture = f"%{{{args['pattern']}:m}}"
    pattern = f"^{capture}$" if args.get("exact") else capture
    kind, got = _run_stage(f"parse(grok({quote(pattern)}))", args["value"])
    matched = kind == "ok"
    return Outcome(matched == vec["expected"]["ok"], f"matched: {matched} ({got})")


_MAPPINGS: dict[str, Callable[[dict], Outcome]] = {
    "grok_match": _grok_match,
    "parse_apache_log": _vrl_apache,
    "parse_common_log": _vrl_common,
    "parse_nginx_log": _vrl_nginx,
    "parse_key_value": _vrl_kv,
    "parse_csv": _vrl_csv,
    "parse_json": _vrl_json,
    "parse_syslog": _vrl_syslog,
    "parse_grok": _vrl_grok,
    "parse_regex": _vrl_regex,
    "parse_url": _builtin("parse_url", ["value", "default_known_ports"]),
    "parse_query_string": _builtin("parse_query_string", ["value"]),
    "parse_timestamp": _builtin("parse_time", ["value", "format", "timezone"]),
    "format_timestamp": _builtin("format_time", ["value", "format", "timezone"]),
    "to_int": _builtin("to_int", ["value"]),
    "to_float": _builtin("to_float", ["value"]),
    "split": _vrl_split,
    "hmac": _hmac,
    "ip_cidr_contains": _builtin("ip_cidr_contains", ["cidr", "value"]),
    "csv_file": _csv_file,
    "slice": _builtin("slice", ["value", "start", "end"]),
    "join": _builtin("join", ["value", "separator"]),
    "replace": _vrl_replace,
    "starts_with": _builtin("starts_with", ["value", "substring", "case_sensitive"]),
    "ends_with": _builtin("ends_with", ["value", "substring", "case_sensitive"]),
    "contains": _builtin("contains", ["value", "substring", "case_sensitive"]),
    "round": _builtin("round", ["value", "precision"]),
    "floor": _builtin("floor", ["value", "precision"]),
    "ceil": _builtin("ceil", ["value", "precision"]),
    "to_unix_timestamp": _builtin("to_unix_timestamp", ["value", "unit"]),
    "from_unix_timestamp": _builtin("from_unix_timestamp", ["value", "unit"]),
    "downcase": _builtin("lower", ["value"]),
    "upcase": _builtin("upper", ["value"]),
    "strip_whitespace": _builtin("trim", ["value"]),
    "length": _builtin("len", ["value"]),
    "to_string": _builtin("to_str", ["value"]),
    "sha2": _builtin("sha256", ["value"]),
}


def _example_times(vec: dict) -> dict:
    """VRL's examples write their results as JSON, a time as its RFC 3339
    text: a `timestamp` field's text is read as the time it is."""
    expected = vec["expected"]
    value = expected.get("ok")
    if isinstance(value, dict) and isinstance(value.get("timestamp"), str):
        value = dict(value, timestamp={"$time": value["timestamp"]})
        return dict(vec, expected=dict(expected, ok=value))
    return vec


def run_vector(vec: dict) -> Outcome:
    times.use_clock(None)
    if vec["_file"] == "vrl_examples":
        vec = _example_times(vec)
    try:
        return _MAPPINGS[vec["function"]](vec)
    except Exception as exc:  # a crash is a failure of that vector, reported as such
        return Outcome(False, f"crashed: {type(exc).__name__}: {exc}")


@functools.cache
def results() -> dict[str, Outcome]:
    return {vec["id"]: run_vector(vec) for vec in vectors()}


def table() -> str:
    per: dict[str, list[bool]] = {}
    for vec in vectors():
        per.setdefault(vec["_file"], []).append(results()[vec["id"]].passed)
    lines = [f"{'source':<16} {'passed':>6} {'total':>6} {'rate':>7}"]
    for name, marks in sorted(per.items()):
        lines.append(f"{name:<16} {sum(marks):>6} {len(marks):>6} {sum(marks) / len(marks):>7.1%}")
    every = [m for marks in per.values() for m in marks]
    if every:
        lines.append(
            f"{'overall':<16} {sum(every):>6} {len(every):>6} {sum(every) / len(every):>7.1%}"
        )
    return "\n".join(lines)


def check_vectors() -> None:
    """Every vector names its source and a function that has a mapping."""
    for vec in vectors():
        assert vec["function"] in _MAPPINGS, vec["id"]
        assert {"repo", "path", "commit"} <= set(vec["source"]), vec["id"]
        assert len(vec["source"]["commit"]) == 40, vec["id"]
    ids = [vec["id"] for vec in vectors()]
    assert len(ids) == len(set(ids))


def check_results() -> None:
    """At least TARGET passes, and the failures are exactly KNOWN_DIFFERENCES."""
    outcome = results()
    failing = {vid for vid, o in outcome.items() if not o.passed}
    new = sorted(failing - set(KNOWN_DIFFERENCES))
    fixed = sorted(set(KNOWN_DIFFERENCES) - failing)
    assert not new, "vectors that fail and are not known differences:\n" + "\n".join(
        f"{vid}: {outcome[vid].detail}" for vid in new
    )
    assert not fixed, f"known differences that now pass (or are gone): {fixed}"
    rate = 1 - len(failing) / len(outcome)
    assert rate >= TARGET, f"{rate:.1%} of the corpus passes; the target is {TARGET:.0%}"


def main() -> int:
    if not vectors():
        print("no corpus files found (tests/corpus/README.md says where they go)")
        return 2
    print(table())
    for vid, outcome in results().items():
        if not outcome.passed:
            mark = "known" if vid in KNOWN_DIFFERENCES else "NEW"
            print(f"  {mark:5} {vid}: {outcome.detail[:300]}")
    try:
        check_vectors()
        check_results()
    except AssertionError as exc:
        print(f"corpus check failed: {exc}")
        return 1
    print("corpus check passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

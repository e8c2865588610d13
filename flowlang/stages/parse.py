"""`parse(format, field=message, schema=S)`: structure out of text."""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace

from .. import codes
from ..runtime.ops import compile_regex, regex_rule
from ..runtime.times import parse_format_problem, zone_problem
from ..types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    IP,
    OPEN_RECORD,
    STR,
    TIME,
    ListT,
    Nullable,
    RecordT,
    Type,
)
from ._errorlogs import APACHE_ERROR, MONTHS, NGINX_ERROR
from ._rules import with_field
from ._syslog import SYSLOG
from .spec import EnvRef, Example, Param, ParamKind, RuleContext, StageSpec

COMBINED = (
    ("client", STR),
    ("ip", Nullable(IP)),
    ("user", Nullable(STR)),
    ("time", TIME),
    ("request", Nullable(STR)),
    ("method", Nullable(STR)),
    ("path", Nullable(STR)),
    ("protocol", Nullable(STR)),
    ("status", Nullable(INT)),
    ("bytes", Nullable(INT)),
    ("referrer", Nullable(STR)),
    ("agent", Nullable(STR)),
)


def group_spans(program):
    """A function from UTF-8 bytes to the (start, end) byte offsets of every
    group of `program` (the whole match first; (-1, -1) for a group that did
    not take part), or None when the text does not match. It calls
    google-re2's own search, whose result is those spans: the public Match
    object maps offsets back to characters and builds each group in Python,
    which costs more than the search itself. Where that entry point is
    missing, the public interface gives the same spans."""
    regexp = getattr(program, "_regexp", None)
    anchor = getattr(getattr(type(regexp), "Anchor", None), "UNANCHORED", None)
    if anchor is not None and hasattr(regexp, "Match"):
        match = regexp.Match

        def search(data: bytes):
            spans = match(anchor, data, 0, len(data))
            return None if spans[0][0] < 0 else spans

        return search
    groups = range(program.groups + 1)

    def public_search(data: bytes):
        found = program.search(data)
        return None if found is None else [found.span(i) for i in groups]

    return public_search


def delimiter_problem(delimiter: str) -> str | None:
    return "the csv delimiter must be one character" if len(delimiter) != 1 else None


def depth_problem(depth: int) -> str | None:
    if not 1 <= depth <= _MAX_DEPTH_OPTION:
        return f"max_depth must be between 1 and {_MAX_DEPTH_OPTION}"
    return None


def whitespace_problem(whitespace: str) -> str | None:
    if whitespace not in ("lenient", "strict"):
        return 'whitespace must be "lenient" or "strict"'
    return None


def pattern_problem(
    pattern: str, names: tuple[str, ...] | None = None, groups: int | None = None
) -> str | None:
    """The rule of a `regex(pattern)` that env() gives: RE2 compiles it, and it
    has the named groups `names` and `groups` groups in all, as the default
    the fields were typed from has (None: any); words that do not quote it."""
    problem = regex_rule(pattern)
    if problem:
        return problem
    program = compile_regex(pattern)
    if names is not None and sorted(program.groupindex) != sorted(names):
        return "its named groups are not the default's: " + (", ".join(names) or "none")
    if groups is not None and program.groups != groups:
        return f"it does not have the default's {groups} groups"
    return None


_DELIMITER = Param(
    "delimiter",
    ParamKind.VALUE,
    "column separator",
    type=STR,
    default=",",
    check=delimiter_problem,
)
_TIMEZONE = Param(
    "timezone",
    ParamKind.VALUE,
    "the zone of the log's local times (an IANA name)",
    type=STR,
    default="UTC",
    check=zone_problem,
)
_KV_OPTIONS = (
    # held to a rule together, when the program is checked
    Param("field_delimiter", ParamKind.VALUE, "between pairs", type=STR, default=" ", env=False),
    Param(
        "value_delimiter",
        ParamKind.VALUE,
        "between a key and its value",
        type=STR,
        default="=",
        env=False,
    ),
    Param(
        "whitespace",
        ParamKind.VALUE,
        '`"lenient"`: blanks around the value delimiter are allowed; `"strict"`: not',
        type=STR,
        default="lenient",
        check=whitespace_problem,
    ),
    Param(
        "standalone_keys",
        ParamKind.VALUE,
        "a key without a value is `true`",
        type=BOOL,
        default=True,
    ),
)


# json's max_depth goes up to 128 levels, as VRL's (the reader itself reads
# up to jsonl.MAX_DEPTH levels)
_MAX_DEPTH_OPTION = 128


def _merge(record: Type, fields) -> Type:
    for name, typ in fields:
        record = with_field(record, name, typ)
    return record


def _output(ctx: RuleContext) -> Type:
    parsed = _parsed(ctx)
    keep = ctx.args.get("on_error") == "pass"
    if not keep:
        if ctx.given("error_field"):
            ctx.error(
                codes.BAD_ARG_VALUE,
                "`error_field` is only written with on_error=pass",
                param="error_field",
                hint="add on_error=pass, or remove error_field",
            )
        return parsed
    return _kept(ctx, parsed, ctx.args["error_field"])


def _kept(ctx: RuleContext, parsed: Type, error_field: str) -> Type:
    """With on_error=pass a record that does not parse passes with the fields
    parse sets made null (the parsed field itself left as it was) and the
    reason in `error_field`: every field parse sets may be null."""
    from ..types import join, nullable

    if isinstance(parsed, RecordT):
        produced = _parsed(_Quiet(ctx))  # what parse sets, on a record without fields
        names = set(produced.names) if isinstance(produced, RecordT) else set()
        path = tuple(ctx.args["field"])
        fields = []
        for name, typ in parsed.fields:
            if name in names:
                typ = nullable(typ)
                if (name,) == path:  # left as it was
                    typ = join(typ, ctx.field_type(path))
            fields.append((name, typ))
        parsed = RecordT(tuple(fields), parsed.open)
    return with_field(parsed, error_field, Nullable(STR))


class _Quiet(RuleContext):
    """`ctx` seen with an empty closed input record, its problems already reported."""

    def __init__(self, ctx: RuleContext):
        self.input = RecordT((), open=False)
        self.args = ctx.args
        self.given = ctx.given

    def error(self, code, message, param=None, hint=None) -> None:
        pass


def _parsed(ctx: RuleContext) -> Type:
    fmt = ctx.args["format"]
    schema = ctx.args.get("schema")
    if schema is not None:
        merged = _merge(ctx.input, schema.fields)
        if schema.open and isinstance(merged, RecordT):
            merged = RecordT(merged.fields, open=True)
        return merged
    if fmt == "combined":
        produced = COMBINED
    elif fmt in ("apache_error", "nginx_error", "syslog"):
        produced = {"apache_error": APACHE_ERROR, "nginx_error": NGINX_ERROR, "syslog": SYSLOG}[fmt]
    elif fmt == "regex":
        args = ctx.args["format_args"]
        numbered = args["numeric_groups"]
        pattern = args["pattern"]
        if isinstance(pattern, EnvRef):
            if pattern.default is None:  # the groups are known when the run starts
                args["pattern"] = replace(pattern, check=pattern_problem)
                return _opened(ctx.input)
            pattern = pattern.default
        try:
            program = compile_regex(pattern)
            groups = program.groupindex
        except ValueError as exc:
            ctx.error(
                codes.BAD_REGEX,
                f"invalid regular expression: {exc}",
                param="format",
                hint="patterns use RE2 syntax: no backreferences, no lookaround",
            )
            return ctx.input
        if not groups and not numbered:
            ctx.error(
                codes.BAD_REGEX,
                "the regular expression has no named groups",
                param="format",
                hint="name what to keep: (?P<name>…), or give numeric_groups=true",
            )
        produced = tuple((name, Nullable(STR)) for name in sorted(groups, key=groups.get))
        if isinstance(args["pattern"], EnvRef):  # typed from the default: held to its groups
            names = tuple(name for name, _ in produced)
            rule_args = (names, program.groups if numbered else None)
            args["pattern"] = replace(args["pattern"], check=pattern_problem, args=rule_args)
        if numbered:
            by_number = tuple((str(i), Nullable(STR)) for i in range(1, program.groups + 1))
            produced = (("0", STR), *by_number, *produced)
    elif fmt == "grok":
        found = _grok_fields(ctx, ctx.args["format_args"])
        if found is None:
            return ctx.input
        produced = found
    elif fmt == "json":
        produced = ()
    elif fmt == "kv":
        _check_kv(ctx, ctx.args["format_args"])
        produced = ()
    elif fmt == "csv":
        produced = tuple((name, Nullable(STR)) for name in ctx.args["format_args"]["columns"])
    if fmt in ("json", "kv"):  # fields unknown until run time
        return _opened(ctx.input)
    return _merge(ctx.input, produced)


def _opened(record: Type | None) -> Type:
    """The input record, open: parse adds fields the program cannot know."""
    if isinstance(record, RecordT):
        return RecordT(record.fields, open=True)
    return OPEN_RECORD


_GROK_TYPES = {"str": Nullable(STR), "int": Nullable(INT), "float": Nullable(FLOAT)}


def _grok_fields(ctx: RuleContext, args: dict):
    """The fields `grok(pattern, patterns=file)` captures, expanded now so a
    bad pattern is a compile-time error; the file's definitions replace its
    path in the arguments, so the generated code carries them and the run
    does not read the file again. None after reporting a problem."""
    from . import _grok

    extra = args["patterns"]
    if isinstance(extra, str):
        extra = _read_patterns(ctx, extra)
        if extra is None:
            return None
        args["patterns"] = extra
    try:
        grok = _grok.expand(args["pattern"], extra or ())
    except _grok.GrokError as exc:
        ctx.error(codes.BAD_GROK, exc.message, param="format", hint=exc.hint)
        return None
    if not grok.fields:
        ctx.error(
            codes.BAD_GROK,
            "the grok pattern captures nothing",
            param="format",
            hint="name what to keep: %{WORD:method} (%{WORD} matches without keeping)",
        )
    return tuple((name, _GROK_TYPES[kind]) for name, kind in grok.fields)


def _read_patterns(ctx: RuleContext, path: str):
    """A patterns file's definitions as (name, regex, `path:line`); a relative
    path is taken from the directory of the .flow file."""
    from . import _grok

    try:
        found = _grok.read_definitions(ctx.read_text(path), path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        ctx.error(
            codes.BAD_GROK_FILE,
            f"cannot read grok patterns file {path!r}: {reason}",
            param="format",
            hint="a relative path is taken from the directory of the .flow file",
        )
        return None
    except UnicodeDecodeError as exc:
        ctx.error(
            codes.BAD_GROK_FILE,
            f"grok patterns file {path!r} is not UTF-8: {exc.reason}",
            param="format",
        )
        return None
    except _grok.GrokError as exc:
        ctx.error(
            codes.BAD_GROK_FILE, f"grok patterns file {exc.message}", param="format", hint=exc.hint
        )
        return None
    return tuple((name, d.regex, d.origin) for name, d in found.items())


def _check_kv(ctx: RuleContext, args: dict) -> None:
    field, value = args["field_delimiter"], args["value_delimiter"]
    problem = None
    if not (isinstance(field, str) and isinstance(value, str)):
        return  # the delimiters' rule holds the two together: both are literals
    if not field or not value:
        problem = "the kv delimiters cannot be empty"
    elif field == value or field in value or value in field:
        problem = "the kv field and value delimiters must differ (neither inside the other)"
    elif any(q in field + value for q in "\"'\\"):
        problem = "the kv delimiters cannot hold quotes or backslashes"
    if problem:
        ctx.error(codes.BAD_ARG_VALUE, problem, param="format")


SPEC = StageSpec(
    name="parse",
    role="processor",
    doc=(
        "Parses the text in `field` and merges the fields it finds into the record "
        "(they replace fields of the same name). Formats: `json(max_depth=N)` (one "
        "object; a byte-order mark before it is dropped; with `max_depth`, as VRL's, "
        "objects and lists deeper than N levels (1 to 128) stay JSON text, written "
        "compact (VRL keeps the text as it was written)), "
        '`kv(field_delimiter=" ", value_delimiter="=", whitespace="lenient", '
        'standalone_keys=true)` (`a=1 b="x y"`, read as VRL\'s `parse_key_value` '
        'reads it: a key or value is bare, double- or single-quoted, with `\\"`, '
        "`\\'`, `\\\\` and `\\n` decoded and any other backslash kept; a quote "
        "that does not close before a delimiter or the end is bare text (VRL rejects "
        "such a line, flowlang keeps it); blanks "
        'around the value delimiter are allowed unless `whitespace="strict"`, so '
        "`user= msg=hi` needs strict to give an empty user; a key without a value "
        "is `true` (skipped with `standalone_keys=false`); a repeated key gives a "
        "list of its values (a key repeated without a value adds nothing, and a value "
        "replaces the `true` of a key first written without one, as in VRL); other text "
        "that is not a pair (`=x`) is, as in VRL, a key without a value, or skipped "
        "with `standalone_keys=false`; text without any pair or key is an error), "
        '`csv(columns=[…], delimiter=",")` (missing trailing columns are null, so an empty text gives every column '
        "null; extra ones are an "
        "error; the text is one record, so a line break outside quotes is an error, "
        'where VRL reads the first line and drops the rest), `regex(r"…", numeric_groups=false)` (named groups become fields; a group '
        "that did not take part is null; with `numeric_groups=true`, as VRL's, each "
        "group is also a field named by its number, `0` the whole match), "
        '`grok("%{IP:client} %{WORD:method} …", patterns="app.grok")` (Logstash\'s '
        "named patterns, its legacy set (`IP`, `HOSTNAME`, `NUMBER`, `WORD`, `DATA`, "
        "`GREEDYDATA`, `QS`, `HTTPDATE`, `TIMESTAMP_ISO8601`, `SYSLOGBASE`, "
        "`COMBINEDAPACHELOG`, …, from `logstash-patterns-core` under the Apache "
        "licence 2.0; the fields are named as Logstash's legacy patterns name "
        "them: `clientip`, `verb`, `response`, …), expanded into one RE2 regex when the program is "
        "compiled: `%{NAME:field}` captures a field, `%{NAME}` matches without "
        "capturing, `%{NAME:field:int}` and `:float` type it (`int?`, `float?`; "
        "text that is not a number of that type is an error), other captures are "
        "`str?` and a capture that did not take part is null; as VRL's "
        "`parse_grok` and Logstash, the pattern is searched for anywhere in the "
        "text (anchor it with `^…$`); an unknown pattern name, a capture name that "
        "is not an identifier and lookaround are compile-time errors; `patterns` "
        "names a file of more definitions in Logstash's format, `NAME regex` per "
        "line and `#` comments, read when the program is compiled, relative to the "
        ".flow file), and `combined` (the Apache/nginx combined log format "
        '`client ident user [time] "request" status bytes "referrer" "agent"`, '
        "typed: client (the text), ip (null when the client is a host name; an "
        "IPv4-mapped address is written `::ffff:192.0.2.44`), user (may hold "
        "spaces), time (UTC), request (as written), method, path, protocol (null "
        'when the request is not `METHOD PATH [PROTOCOL]`: `"-"`, `""`, a TLS '
        "handshake sent to a plain port), status, bytes, referrer, agent; `-` is "
        "null (a referrer or agent may also be a bare `-`, unquoted); "
        '`\\xHH` (bytes, read as UTF-8), `\\"`, `\\\\`, `\\t`, `\\n` '
        "and `\\r` are decoded in path, referrer and agent, as Apache and nginx "
        "write them; lines in the common log format, without "
        "referrer and agent, are accepted with those null, and text after the agent "
        'is ignored; a line without a client or time (`- - - [-] "-" - -`) is not '
        "an access log line, as `client` and `time` are never null, where VRL gives "
        'an empty object; `combined(time_format="%Y-%m-%d %H:%M:%S", '
        'timezone="UTC")` reads the time in brackets with a strptime format, '
        "as `parse_time` does, for servers configured to write another layout "
        "(VRL's `timestamp_format`), a time without an offset being in `timezone`), "
        '`apache_error(timezone="UTC")` (the Apache httpd error log, '
        "2.4 `[time] [module:severity] [pid P:tid T] … [client ip:port] message, "
        "referer: …` and 2.2 `[time] [severity] [client ip] message`, the time also "
        "as the access log writes it, with its offset (`[01/Mar/2021:12:00:19 +0000]`): "
        "time, module, "
        "severity, pid, thread, client, ip, port, message (whole: VRL splits some "
        "messages into `message1` and `message2`), referrer) and "
        '`nginx_error(timezone="UTC")` (the nginx error log, `YYYY/MM/DD HH:MM:SS '
        '[severity] pid#tid: *cid message, client: …, server: …, request: "…", '
        'upstream: "…", host: "…", referrer: "…"`: time, severity, pid, tid, cid, '
        "message, excess and zone (of a limit_req message, `limiting requests, excess: "
        '50.416 by zone "api"`, whose message is then `limiting requests`), client, '
        "ip, server (empty when nginx writes `server: ,`), request, upstream, host, referrer); both write "
        "local times without an offset, read in `timezone` (an IANA name), and their "
        '`message` replaces the line\'s; `syslog(timezone="UTC")` (RFC 5424 and RFC 3164, '
        "with or without `<PRI>`, as daemons write files: time, facility and severity "
        "by name, version, host, app, procid, msgid, structured (each SD element a "
        "record of its params; blanks after a param's `=` are allowed, as VRL "
        "allows them), message; RFC 3164's time has no year, so it is the "
        "latest year that puts it at most a day after now, as `parse_time` does, in "
        "`timezone`). Without a schema, `kv`, `csv` and `regex` fields are strings "
        "(kv values may also be `true` or lists of strings); "
        "with `schema=S` the parsed fields are coerced to `S` (numbers, booleans and "
        "times read from their text; a closed `S` keeps only its fields). A trailing "
        "line break is ignored. Text that does not parse, contains NUL, the "
        "replacement character U+FFFD or lone surrogates (traces of bytes that were "
        "not UTF-8), or is null goes to the error stream with the raw text. Patterns are RE2 (the `google-re2` "
        "engine): matching takes time linear in the input whatever the pattern, so "
        "`^(a|a)*$` cannot stall a pipeline; RE2 has no backreferences or "
        "lookaround, and a pattern it cannot compile is a compile-time error. The "
        "`=~` operator uses the same engine.\n\n"
        "**Keeping what does not parse.** With `on_error=pass` (`keep` is a "
        "keyword, so the option is named for what the record does), a record whose "
        "text does not parse, for any of the reasons above, is not an error: it "
        "passes on with the text left as it was, every field parse would have set "
        "null, and the reason in `error_field` (`parse_error` unless named), which is "
        "null for a record that parsed; as Logstash's `_grokparsefailure` tag or "
        "Vector's `drop_on_error=false`, the program tests it (`where parse_error == "
        "null`, or routes on it). The output type says so: the parsed fields are "
        "nullable (`client: str?` after `parse(combined, on_error=pass)`) and "
        "`error_field: str?` is added. Such records count as `out`, not as errors; "
        "the stage counts them as `unparsed`."
    ),
    params=(
        Param(
            "format",
            ParamKind.CHOICE,
            "the text format",
            options={
                "json": (
                    Param(
                        "max_depth",
                        ParamKind.VALUE,
                        "levels parsed; deeper objects and lists stay JSON text",
                        type=INT,
                        default=None,
                        check=depth_problem,
                    ),
                ),
                "kv": _KV_OPTIONS,
                "csv": (
                    Param("columns", ParamKind.VALUE, "column names", type=ListT(STR)),
                    _DELIMITER,
                ),
                "regex": (
                    Param("pattern", ParamKind.VALUE, "a regex with named groups", type=STR),
                    Param(
                        "numeric_groups",
                        ParamKind.VALUE,
                        "also a field per group by number (`0` is the whole match)",
                        type=BOOL,
                        default=False,
                    ),
                ),
                "grok": (
                    Param(
                        "pattern",
                        ParamKind.VALUE,
                        "a grok pattern: `%{NAME:field:type}` …",
                        type=STR,
                        env=False,  # expanded, and its fields typed, when the program is checked
                    ),
                    Param(
                        "patterns",
                        ParamKind.VALUE,
                        "a file of more definitions (`NAME regex` per line), read when the "
                        "program is compiled, relative to the .flow file",
                        type=STR,
                        default=None,
                        env=False,
                    ),
                ),
                "combined": (
                    Param(
                        "time_format",
                        ParamKind.VALUE,
                        "how the time in brackets is written (strptime, as parse_time); "
                        "default the Apache/nginx `%d/%b/%Y:%H:%M:%S %z`",
                        type=STR,
                        default=None,
                        check=parse_format_problem,
                    ),
                    _TIMEZONE,
                ),
                "apache_error": (_TIMEZONE,),
                "nginx_error": (_TIMEZONE,),
                "syslog": (_TIMEZONE,),
            },
        ),
        Param(
            "field",
            ParamKind.FIELD,
            "the text",
            default=("message",),
            accepts=(STR, Nullable(STR), ANY),
        ),
        Param("schema", ParamKind.SCHEMA, "types of the parsed fields", default=None),
        Param(
            "on_error",
            ParamKind.CHOICE,
            "what becomes of a record whose text does not parse: `error` sends it to the "
            "error stream, `pass` passes it on with the reason in `error_field`",
            default="error",
            options={"error": (), "pass": ()},
        ),
        Param(
            "error_field",
            ParamKind.NEW_FIELD,
            "with on_error=pass: why the text did not parse, null when it did",
            default="parse_error",
        ),
    ),
    output=_output,
    runtime="Parse",
    module=__name__,
    examples=(
        Example(
            "parse(combined)",
            input=(
                {
                    "message": "203.0.113.9 - jane [02/Mar/2024:10:00:00 +0100] "
                    '"GET /cart?id=7 HTTP/1.1" 200 512 "-" "curl/8.5.0"'
                },
            ),
            output=(
                {
                    "message": "203.0.113.9 - jane [02/Mar/2024:10:00:00 +0100] "
                    '"GET /cart?id=7 HTTP/1.1" 200 512 "-" "curl/8.5.0"',
                    "client": "203.0.113.9",
                    "ip": "203.0.113.9",
                    "user": "jane",
                    "time": _dt.datetime(2024, 3, 2, 9, 0, tzinfo=_dt.timezone.utc),
                    "request": "GET /cart?id=7 HTTP/1.1",
                    "method": "GET",
                    "path": "/cart?id=7",
                    "protocol": "HTTP/1.1",
                    "status": 200,
                    "bytes": 512,
                    "referrer": None,
                    "agent": "curl/8.5.0",
                },
            ),
        ),
        Example(
            'parse(combined(time_format="%Y-%m-%d %H:%M:%S", timezone="Europe/Prague"))',
            input=({"message": '192.0.2.7 - - [2024-03-02 10:00:00] "GET / HTTP/1.1" 304 -'},),
            output=(
                {
                    "message": '192.0.2.7 - - [2024-03-02 10:00:00] "GET / HTTP/1.1" 304 -',
                    "client": "192.0.2.7",
                    "ip": "192.0.2.7",
                    "user": None,
                    "time": _dt.datetime(2024, 3, 2, 9, 0, tzinfo=_dt.timezone.utc),
                    "request": "GET / HTTP/1.1",
                    "method": "GET",
                    "path": "/",
                    "protocol": "HTTP/1.1",
                    "status": 304,
                    "bytes": None,
                    "referrer": None,
                    "agent": None,
                },
            ),
        ),
        Example(
            'parse(regex(r"^(?P<level>[A-Z]+) (?P<msg>.*)$"))',
            input=({"message": "WARN disk almost full"},),
            output=(
                {"message": "WARN disk almost full", "level": "WARN", "msg": "disk almost full"},
            ),
        ),
        Example(
            'parse(regex(r"^(\\S+) (\\d+)$", numeric_groups=true))',
            input=({"message": "GET 200"},),
            output=({"message": "GET 200", "0": "GET 200", "1": "GET", "2": "200"},),
        ),
        Example(
            'parse(nginx_error(timezone="Europe/Prague"))',
            input=(
                {
                    "message": '2024/03/02 10:00:00 [error] 12#12: *5 open() "/srv/x" failed '
                    "(2: No such file or directory), client: 192.0.2.9, server: shop, "
                    'request: "GET /x HTTP/1.1", host: "shop.example"'
                },
            ),
            output=(
                {
                    "message": 'open() "/srv/x" failed (2: No such file or directory)',
                    "time": _dt.datetime(2024, 3, 2, 9, 0, tzinfo=_dt.timezone.utc),
                    "severity": "error",
                    "pid": 12,
                    "tid": 12,
                    "cid": 5,
                    "excess": None,
                    "zone": None,
                    "client": "192.0.2.9",
                    "ip": "192.0.2.9",
                    "server": "shop",
                    "request": "GET /x HTTP/1.1",
                    "upstream": None,
                    "host": "shop.example",
                    "referrer": None,
                },
            ),
        ),
        Example(
            'parse(grok("%{IP:client} %{WORD:method} %{URIPATHPARAM:path} %{NUMBER:bytes:int}"))',
            input=({"message": "203.0.113.9 GET /cart?id=7 512"},),
            output=(
                {
                    "message": "203.0.113.9 GET /cart?id=7 512",
                    "client": "203.0.113.9",
                    "method": "GET",
                    "path": "/cart?id=7",
                    "bytes": 512,
                },
            ),
        ),
        Example(
            'parse(grok("^%{SYSLOGTIMESTAMP:time} %{SYSLOGHOST:host} %{SYSLOGPROG}: %{GREEDYDATA:msg}$"))',
            doc="`SYSLOGPROG` captures `program` and `pid` itself, as in Logstash",
            input=({"message": "Mar  2 10:00:00 web-1 sshd[812]: Accepted publickey"},),
            output=(
                {
                    "message": "Mar  2 10:00:00 web-1 sshd[812]: Accepted publickey",
                    "time": "Mar  2 10:00:00",
                    "host": "web-1",
                    "program": "sshd",
                    "pid": "812",
                    "msg": "Accepted publickey",
                },
            ),
        ),
        Example(
            "parse(kv)",
            input=({"message": 'user=jane action="log in"'},),
            output=({"message": 'user=jane action="log in"', "user": "jane", "action": "log in"},),
        ),
        Example(
            'parse(kv(field_delimiter=",", value_delimiter=":"))',
            input=({"message": "env:prod, tag:dev, tag:eu, beta"},),
            output=(
                {
                    "message": "env:prod, tag:dev, tag:eu, beta",
                    "env": "prod",
                    "tag": ["dev", "eu"],
                    "beta": True,
                },
            ),
        ),
        Example(
            'parse(kv(whitespace="strict"))',
            input=({"message": "app=web user= msg=hi"},),
            output=({"message": "app=web user= msg=hi", "app": "web", "user": "", "msg": "hi"},),
        ),
        Example(
            'parse(csv(columns=["host", "status", "note"], delimiter=";"), field=line)',
            input=({"line": "web-1;503"},),
            output=({"line": "web-1;503", "host": "web-1", "status": "503", "note": None},),
        ),
        Example(
            'parse(regex(r"^(?P<level>[A-Z]+) (?P<msg>.*)$"), on_error=pass)',
            doc="The second line does not match: it passes with the reason, its fields null.",
            input=({"message": "WARN disk almost full"}, {"message": "disk almost full"}),
            output=(
                {
                    "message": "WARN disk almost full",
                    "level": "WARN",
                    "msg": "disk almost full",
                    "parse_error": None,
                },
                {
                    "message": "disk almost full",
                    "level": None,
                    "msg": None,
                    "parse_error": "the text does not match the pattern",
                },
            ),
        ),
    ),
)


# ---------------------------------------------------------------- runtime

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled: linear, no nested backtracking
# a referrer or agent some servers write as a bare `-` (the group is then None)
_QUOTED_OR_DASH = r'(?:"([^"\\]*(?:\\.[^"\\]*)*)"|-)'
_COMBINED_PATTERN = (
    r"(\S+) (\S+) ([^\[\r\n]+?) "
    r"\[(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)"
    + r"(?:[ \t]*\Z| "
    + _QUOTED_OR_DASH
    + " "
    + _QUOTED_OR_DASH
    + r"(?:[ \t][^\n]*)?\Z)"
)
# With `time_format`: the time is whatever the brackets hold, read with it.
_COMBINED_TIME = r"\[(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "
assert _COMBINED_TIME in _COMBINED_PATTERN
_COMBINED_ANY_TIME_PATTERN = _COMBINED_PATTERN.replace(_COMBINED_TIME, r"\[([^\]\r\n]*)\] ")
_COMBINED_ANY_TIME_PART = (r"\[[^\]\r\n]*\] ", "the time in brackets after the user")
# Prefixes of the format, to say where a line stops matching.
_COMBINED_PARTS = (
    (r"\S+ \S+ [^\[\r\n]+? (?=\[)", "`client ident user` separated by single spaces"),
    (
        r"\[\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] ",
        "the time as `[10/Oct/2000:13:55:36 -0700]` after the user",
    ),
    (_QUOTED + " ", "the request in double quotes after the time"),
    (r"(?:\d{3}|-) ", "a three-digit status (or `-`) after the request"),
    (r"(?:\d+|-)(?:[ \t]|\Z)", "the byte count (or `-`) after the status"),
    (_QUOTED_OR_DASH + " ", "the referrer in double quotes after the byte count"),
    (_QUOTED_OR_DASH + r"(?:[ \t]|\Z)", "the user agent in double quotes after the referrer"),
)
# how Apache and nginx escape text in access logs: `\xHH` for a byte (runs
# of them are UTF-8), `\"`, `\\`, `\t`, `\n`, `\r`
_LOG_ESCAPE = r"\\(x[0-9A-Fa-f]{2}(?:\\x[0-9A-Fa-f]{2})*|.)"
_LOG_CONTROLS = {"t": "\t", "n": "\n", "r": "\r"}
_METHOD = r"[A-Za-z][A-Za-z0-9._-]*\Z"
_PROTOCOL = r"[A-Za-z][A-Za-z0-9.+-]*/[0-9][0-9.]*\Z"
# the common request, `METHOD PATH PROTOCOL` with one space between: what the
# general reading (split on spaces, test the first and last part) finds in it
_REQUEST = r"([A-Za-z][A-Za-z0-9._-]*) ([^ ]*) ([A-Za-z][A-Za-z0-9.+-]*/[0-9][0-9.]*)\Z"


def _log_escape(found) -> str:
    escape = found.group(1)
    if len(escape) >= 3 and escape[0] == "x":
        data = bytes(int(h, 16) for h in escape[1:].split("\\x"))
        return data.decode("utf-8", "backslashreplace")  # bytes that are not UTF-8 stay \xHH
    return _LOG_CONTROLS.get(escape, escape)


# in quoted kv text, as VRL's parse_key_value reads it: these escapes are
# decoded, any other backslash stays as written (`\t` is two characters)
_KV_ESCAPES = {"\\n": "\n", "\\\\": "\\", '\\"': '"', "\\'": "'"}


def _kv_unescape(found) -> str:
    return _KV_ESCAPES[found.group()]


def _kv_pattern(field: str, value: str, strict: bool) -> str:
    """One pair at a position: a key (double- or single-quoted, or bare), then
    optionally the value delimiter and a value (quoted, or bare up to the next
    field delimiter). A quoted key or value counts only when a delimiter or
    the end follows it; otherwise it is read as bare text, as VRL does."""
    import re

    blank = "[ \t]*"
    if field == " ":
        sep, bare_value, bare_key = "[ \t]", "[^ \t]*", "[^ \t" + re.escape(value) + "]+"
    else:
        sep = blank + re.escape(field)
        bare_value = "(?:(?!" + re.escape(field) + ").)*"
        bare_key = "(?:(?!" + re.escape(field) + "|" + re.escape(value) + ").)+"
    dq, sq = r'"([^"\\]*(?:\\.[^"\\]*)*)"', r"'([^'\\]*(?:\\.[^'\\]*)*)'"
    delimiter = re.escape(value) if strict else blank + re.escape(value) + blank
    after_key = "(?=" + blank + re.escape(value) + "|" + sep + "|" + blank + r"\Z)"
    after_value = "(?=" + sep + "|" + blank + r"\Z)"
    return (
        ("(?:" + sep + ")*" if field != " " else "")  # the delimiter before this pair
        + blank
        + f"(?:{dq}{after_key}|{sq}{after_key}|({bare_key}))"
        + f"(?:({delimiter})(?:{dq}{after_value}|{sq}{after_value}|({bare_value})))?"
    )


def _cut_depth(value, levels: int):
    """`value` with the objects and lists below `levels` levels written back
    as JSON text (VRL's `max_depth`; the text is re-encoded, compact)."""
    from ..runtime.jsonl import dumps

    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return value
    if levels <= 1:
        out = {k: dumps(v).decode() if isinstance(v, (dict, list)) else v for k, v in items}
    else:
        out = {k: _cut_depth(v, levels - 1) for k, v in items}
    return out if isinstance(value, dict) else list(out.values())


def _next_blank(text: str, start: int) -> int:
    """The position of the first space or tab at or after `start` (-1: none)."""
    cuts = [i for i in (text.find(" ", start), text.find("\t", start)) if i >= 0]
    return min(cuts) if cuts else -1


class Parse:
    """Parses the text in `field` (see the stage doc) and merges the result."""

    def __init__(
        self,
        ctx,
        format,
        format_args=None,
        field=("message",),
        schema=None,
        on_error="error",
        error_field="parse_error",
    ):
        import re

        from ..runtime.base import RecordError
        from ..runtime.ops import get_path

        self.ctx = ctx
        self.path = tuple(field)
        self.format = format
        self._error = RecordError
        args = format_args or {}
        self._get_path = get_path
        if format == "json":
            from ..runtime.jsonl import MAX_DEPTH, loads, too_deep

            self._loads = loads
            self._too_deep = too_deep
            self._max_depth = MAX_DEPTH
            self._keep_depth = args.get("max_depth")
            self._parse = self._json
        elif format == "kv":
            options = {p.name: p.default for p in _KV_OPTIONS} | args
            field_delimiter = options["field_delimiter"]
            self._pair = re.compile(
                _kv_pattern(
                    field_delimiter, options["value_delimiter"], options["whitespace"] == "strict"
                ),
                re.S,
            )
            self._kv_escape = re.compile(r"\\[n\\\"']")
            self._kv_field = field_delimiter
            self._standalone = options["standalone_keys"]
            self._parse = self._kv
        elif format == "csv":
            self.columns = tuple(args["columns"])
            self.delimiter = args.get("delimiter", _DELIMITER.default)
            self._parse = self._csv
        elif format == "regex":
            self._regex = compile_regex(args["pattern"])
            self._numbered = range(self._regex.groups + 1) if args.get("numeric_groups") else ()
            self._parse = self._regex_fields
        elif format == "grok":
            from ..runtime.coerce import coercer
            from ._grok import expand

            grok = expand(args["pattern"], tuple(args.get("patterns") or ()))
            self._grok = group_spans(compile_regex(grok.regex))
            self._grok_names = grok.groups
            self._grok_unique = len(set(grok.groups)) == len(grok.groups)
            self._grok_pattern = args["pattern"]
            typed = tuple((name, ("?", kind)) for name, kind in grok.fields if kind != "str")
            self._grok_typed = tuple(name for name, _ in typed)
            self._grok_types = coercer(("{}", False, typed), from_text=True) if typed else None
            self._parse = self._grok_fields
        elif format == "combined":
            import datetime
            import socket

            from ..runtime import times

            # ASCII: a status or a date is written in ASCII digits, never in other scripts
            self._time_format = args.get("time_format")
            self._zone = times.zone(args.get("timezone", _TIMEZONE.default))
            self._read_any_time = times.parse
            pattern = _COMBINED_PATTERN if self._time_format is None else _COMBINED_ANY_TIME_PATTERN
            self._combined = re.compile(pattern, re.S | re.A)
            self._log_escape = re.compile(_LOG_ESCAPE, re.S)
            self._method = re.compile(_METHOD, re.A)
            self._protocol = re.compile(_PROTOCOL, re.A)
            self._request = re.compile(_REQUEST, re.A).match
            parts = list(_COMBINED_PARTS)
            if self._time_format is not None:
                parts[1] = _COMBINED_ANY_TIME_PART
            self._parts = tuple((re.compile(p, re.S | re.A), why) for p, why in parts)
            self._dt = datetime
            self._utc = datetime.timezone.utc
            self._zones: dict[str, object] = {}  # offset text -> timedelta
            self._pton, self._af4 = socket.inet_pton, socket.AF_INET
            self._parse = self._combined_fields
        elif format in ("apache_error", "nginx_error"):
            import socket

            from ..runtime.times import zone
            from . import _errorlogs

            self._pton, self._af4 = socket.inet_pton, socket.AF_INET
            self._zone = zone(args.get("timezone", _TIMEZONE.default))
            self._read_log = getattr(_errorlogs, format)
            self._parse = self._error_log
        elif format == "syslog":
            from ..runtime import times
            from ._syslog import syslog

            self._zone = times.zone(args.get("timezone", _TIMEZONE.default))
            self._read_time = lambda text, tz: times.parse(text, "%b %d %H:%M:%S", tz)
            self._syslog = syslog
            self._parse = self._syslog_fields
        else:
            raise ValueError(f"unknown parse format {format!r}")
        self._coerce = None
        self._keep = None
        if schema is not None:
            from ..runtime.coerce import coercer

            _, is_open, typed_fields = schema
            # applied as an open record; a closed schema then keeps its own fields only
            self._coerce = coercer(("{}", True, typed_fields), from_text=format != "json")
            if not is_open:
                self._keep = tuple(name for name, _ in typed_fields)
        if on_error == "pass":
            self._error_field = error_field
            self._unset = self._produced(format, args, schema)
        else:
            self._error_field = None

    def _produced(self, format, args, schema) -> tuple[str, ...]:
        """The fields parse sets (as the output type says), made null in a
        record kept by on_error=pass; not the parsed field itself."""
        if schema is not None:
            names = tuple(name for name, _ in schema[2])
        elif format == "csv":
            names = self.columns
        elif format == "regex":
            groups = self._regex.groupindex
            names = tuple(sorted(groups, key=groups.get))
            names += tuple(str(i) for i in self._numbered)
        elif format == "grok":
            names = tuple(dict.fromkeys(self._grok_names))
        else:
            table = {"combined": COMBINED, "syslog": SYSLOG}
            table |= {"apache_error": APACHE_ERROR, "nginx_error": NGINX_ERROR}
            names = tuple(name for name, _ in table.get(format, ()))
        return tuple(name for name in names if (name,) != self.path)

    def __call__(self, rec):
        if self._error_field is None:
            return self._parsed(rec)
        try:  # on_error=pass: a record whose text does not parse passes on
            rec = self._parsed(rec)
        except self._error as exc:
            for name in self._unset:
                rec[name] = None
            rec[self._error_field] = exc.message
            self.ctx.count("unparsed")
            return rec
        rec[self._error_field] = None
        return rec

    def _parsed(self, rec):
        path = self.path
        text = rec.get(path[0]) if len(path) == 1 else self._get_path(rec, path)
        if text.__class__ is not str:
            text = self._text(text)
        if text.endswith(("\n", "\r")):
            try:
                fields = self._fields(text.rstrip("\r\n"))
            except self._error as exc:  # the raw text is reported whole
                raise self._error(exc.code, exc.message, raw=text) from None
        else:
            fields = self._fields(text)
        rec.update(fields)
        return rec

    def _fields(self, text: str) -> dict:
        if "\0" in text:
            self._fail("the text contains a NUL character", text)
        if not text.isascii():
            self._check_unicode(text)
        fields = self._parse(text)
        if self._coerce is not None:
            fields = self._typed(fields, text)
        return fields

    def _check_unicode(self, text: str) -> None:
        if "\ufffd" in text:
            self._fail("the text contains U+FFFD: its bytes were not valid UTF-8", text)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            self._fail("the text contains lone surrogates: its bytes were not valid UTF-8", text)

    def _text(self, value) -> str:
        where = ".".join(self.path)
        if value is None:
            raise self._error("parse", f"nothing to parse: `{where}` is null or missing")
        if isinstance(value, str):
            return value
        raise self._error("type", f"parse: `{where}` is {type(value).__name__}, not text")

    def _fail(self, message: str, text: str):
        raise self._error("parse", message, raw=text)

    def _typed(self, fields: dict, text: str) -> dict:
        try:
            typed = self._coerce(fields)
        except self._error as exc:
            raise self._error(exc.code, exc.message, raw=text) from None
        if self._keep is not None:
            return {name: typed[name] for name in self._keep}
        return typed

    # ---------------------------------------------------------------- formats

    def _json(self, text: str) -> dict:
        if text.startswith("\ufeff"):  # a byte-order mark is not part of the value
            text = text[1:]
        try:
            value = self._loads(text)
        except ValueError as exc:
            self._fail(f"invalid JSON: {exc}", text)
        if not isinstance(value, dict):
            got = "null" if value is None else type(value).__name__
            self._fail(f"expected a JSON object, got {got}", text)
        deepest = self._max_depth
        if text.count("[") + text.count("{") > deepest and self._too_deep(value):
            self._fail(f"the value is nested deeper than {deepest} levels", text)
        if self._keep_depth is not None:
            value = _cut_depth(value, self._keep_depth)
        return value

    def _kv(self, text: str) -> dict:
        fields: dict = {}
        pos, end = 0, len(text.rstrip())
        match, field = self._pair.match, self._kv_field
        while pos < end:
            found = match(text, pos)
            if found is None or found.end() == pos:
                # not a pair: up to the next field delimiter, a key without a
                # value (`=x` gives `"=x": true`, as VRL's), or skipped
                cut = text.find(field, pos + 1) if field != " " else _next_blank(text, pos + 1)
                stop = end if cut < 0 else cut
                key = text[pos:stop].strip(" \t")
                if field != " " and key.startswith(field):
                    key = key[len(field) :].strip(" \t")
                pos = end if cut < 0 else cut + len(field)
                delimiter = None
            else:
                dkey, skey, bare_key, delimiter, dvalue, svalue, bare_value = found.groups()
                pos = found.end()
                key = bare_key.strip() if bare_key is not None else self._kv_text(dkey, skey)
            if delimiter is None:
                if not self._standalone:
                    continue
                value = True
            elif bare_value is not None:
                value = bare_value.strip()
            else:
                value = self._kv_text(dvalue, svalue)
            if not key:
                continue
            if key in fields:
                # as VRL's: a key again without a value adds nothing, and a
                # value replaces the `true` of a key first seen without one
                held = fields[key]
                if value is True:
                    continue
                if held is True:
                    fields[key] = value
                elif isinstance(held, list):
                    held.append(value)
                else:
                    fields[key] = [held, value]
            else:
                fields[key] = value
        if not fields:
            self._fail("no key=value pairs", text)
        return fields

    def _kv_text(self, double: str | None, single: str | None) -> str:
        text = double if double is not None else single
        if "\\" in text:
            return self._kv_escape.sub(_kv_unescape, text)
        return text

    def _csv(self, text: str) -> dict:
        import csv

        if not text:  # as VRL's parse_csv: nothing to read, so every column is missing
            return dict.fromkeys(self.columns)
        try:
            rows = list(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            self._fail(f"invalid CSV: {exc}", text)
        values = rows[0] if len(rows) == 1 else []
        columns = self.columns
        if len(values) > len(columns):
            self._fail(f"expected at most {len(columns)} columns, got {len(values)}", text)
        fields = dict(zip(columns, values))
        for name in columns[len(values) :]:
            fields[name] = None
        return fields

    def _regex_fields(self, text: str) -> dict:
        found = self._regex.search(text)
        if found is None:
            self._fail("the text does not match the pattern", text)
        if self._numbered:
            return {str(i): found.group(i) for i in self._numbered} | found.groupdict()
        return found.groupdict()

    def _grok_fields(self, text: str) -> dict:
        data = text.encode()
        spans = self._grok(data)
        if spans is None:
            pattern = self._grok_pattern
            shown = pattern if len(pattern) <= 80 else pattern[:79] + "…"
            self._fail(f"the text does not match the grok pattern {shown}", text)
        if len(data) == len(text):  # ASCII: byte offsets are character offsets
            values = [None if a < 0 else text[a:b] for a, b in spans[1:]]
        else:
            values = [None if a < 0 else data[a:b].decode() for a, b in spans[1:]]
        if self._grok_unique:
            fields = dict(zip(self._grok_names, values))
        else:  # a name captured in several places: the first group that took part
            fields = {}
            for name, value in zip(self._grok_names, values):
                if fields.get(name) is None:
                    fields[name] = value
        if self._grok_types is not None:
            try:
                fields.update(self._grok_types({name: fields[name] for name in self._grok_typed}))
            except self._error as exc:
                raise self._error(exc.code, exc.message, raw=text) from None
        return fields

    def _combined_fields(self, text: str) -> dict:
        found = self._combined.match(text)
        if found is None:
            self._fail(self._combined_reason(text), text)
        if self._time_format is not None:
            ip, _ident, user, when, request, status, size, referrer, agent = found.groups()
            try:
                time = self._read_any_time(when, self._time_format, self._zone)
            except ValueError:
                self._fail(f"the time {when!r} does not fit {self._time_format!r}", text)
            return self._combined_record(ip, user, time, request, status, size, referrer, agent)
        (
            ip,
            _ident,
            user,
            day,
            mon,
            year,
            hour,
            minute,
            second,
            sign,
            tzh,
            tzm,
            request,
            status,
            size,
            referrer,
            agent,
        ) = found.groups()
        # the local time less its offset, read as UTC: what astimezone gives
        offset = sign + tzh + tzm
        month = MONTHS.get(mon)
        delta = self._zones.get(offset)
        if month is None or delta is None:
            month, delta = self._month_and_offset(mon, offset, text)
        try:
            time = (
                self._dt.datetime(
                    int(year),
                    month,
                    int(day),
                    int(hour),
                    int(minute),
                    int(second),
                    tzinfo=self._utc,
                )
                - delta
            )
        except ValueError as exc:
            self._fail(f"invalid time: {exc}", text)
        except OverflowError:  # year 1 or 9999 moved out of range by the offset
            self._fail(f"invalid time: {day}/{mon}/{year} {offset} is out of range", text)
        return self._combined_record(ip, user, time, request, status, size, referrer, agent)

    def _combined_record(self, ip, user, time, request, status, size, referrer, agent) -> dict:
        method = path = protocol = None
        if request != "-":
            decoded = self._decode(request)
            common = self._request(decoded)
            if common is not None:
                method, path, protocol = common.groups()
            else:
                parts = decoded.split(" ")
                if len(parts) >= 2 and self._method.match(parts[0]):
                    method = parts[0]
                    if len(parts) >= 3 and self._protocol.match(parts[-1]):
                        path, protocol = " ".join(parts[1:-1]), parts[-1]
                    else:
                        path = " ".join(parts[1:])
        return {
            "client": ip,
            "ip": self._ip(ip),
            "user": None if user == "-" else user,
            "time": time,
            "request": None if request == "-" else request,
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": None if status == "-" else int(status),
            "bytes": None if size == "-" else int(size),
            "referrer": None if referrer is None or referrer == "-" else self._decode(referrer),
            "agent": None if agent is None or agent == "-" else self._decode(agent),
        }

    def _decode(self, text: str) -> str:
        return self._log_escape.sub(_log_escape, text) if "\\" in text else text

    def _syslog_fields(self, text: str) -> dict:
        return self._syslog(text, self._zone, lambda why: self._fail(why, text), self._read_time)

    def _error_log(self, text: str) -> dict:
        return self._read_log(text, self._zone, lambda why: self._fail(why, text), self._ip)

    def _ip(self, text: str) -> str | None:
        """The client as an address, canonical; None for a host name."""
        try:
            self._pton(self._af4, text)  # dotted quads without leading zeros: canonical as is
            return text
        except (OSError, ValueError):
            pass
        import ipaddress

        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        mapped = getattr(address, "ipv4_mapped", None)
        return f"::ffff:{mapped}" if mapped is not None else str(address)

    def _month_and_offset(self, mon: str, offset: str, line: str) -> tuple:
        """The month's number and the offset as a timedelta, checked; an
        offset seen once is kept in `_zones`."""
        month = MONTHS.get(mon.capitalize())
        if month is None:
            self._fail(f"unknown month {mon!r}", line)
        delta = self._zones.get(offset)
        if delta is None:
            minutes = int(offset[1:3]) * 60 + int(offset[3:5])
            if minutes >= 24 * 60:
                self._fail(f"invalid time zone offset {offset}", line)
            delta = self._dt.timedelta(minutes=-minutes if offset[0] == "-" else minutes)
            self._zones[offset] = delta
        return month, delta

    def _combined_reason(self, text: str) -> str:
        """Why `text` is not a combined log line: the first part that does not fit."""
        if "\n" in text or "\r" in text:
            return "not in combined log format: the line contains a line break"
        pos = 0
        for part, expected in self._parts:
            found = part.match(text, pos)
            if found is None:
                return f"not in combined log format: expected {expected} (column {pos + 1})"
            pos = found.end()
            if pos >= len(text):
                break
        return "not in combined log format"

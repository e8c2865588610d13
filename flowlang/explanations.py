"""What every diagnostic code of `codes.py` means, a minimal program that
gives it, how to fix it and the fixed program: the data behind
`flowc explain CODE` and `docs/errors.md` (`explain.py` renders both).

Each entry's `example` gives exactly its code (`flowc check` on it reports
that code and no other) and its `fixed` program checks clean; the test suite
holds every entry to that, and fails when a code of the registry has no entry.
`when` says how a code is reached: `check` (by checking the program), `run`
(when a run starts: the checker cannot see it) or `never` (no program gives
it: the checker's own failure). `files` are files the example reads at
compile time (a lookup table, a grok patterns file); the examples are checked
in an empty directory holding only them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

from . import codes

When = Literal["check", "run", "never"]


@dataclass(frozen=True)
class Entry:
    code: str
    explanation: str  # what the code means and when it is given (Markdown)
    fix: str  # how to fix it, in words (Markdown)
    example: str = ""  # a program that gives the code ("" for `never`)
    fixed: str = ""  # the example, fixed
    when: When = "check"
    files: Mapping[str, str] = field(default_factory=dict)


ENTRIES: dict[str, Entry] = {}


def _e(code: str, explanation: str, fix: str, example: str = "", fixed: str = "", **more) -> None:
    assert code not in ENTRIES, f"{code} explained twice"
    ENTRIES[code] = Entry(code, _text(explanation), _text(fix), example, fixed, **more)


def _text(text: str) -> str:
    """Paragraphs written as indented triple-quoted strings, unwrapped: one
    line per paragraph, paragraphs separated by a blank line."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


_DEEP = 101  # one level more than the parser accepts


# ---------------------------------------------------------------- syntax

_e(
    codes.SYNTAX,
    """
    The text does not follow the grammar of flowlang: a bracket left open, a
    stage missing after `|`, a keyword where a value should be, a positional
    argument after a keyword argument, chained comparisons (`a < b < c`). The
    message names what was expected and where; a bracket left open is shown
    where it was opened, with a note where the parser noticed.

    Syntax errors stop the check: the program is not type-checked until it
    parses.
    """,
    "Close the bracket, or write what the message says was expected.",
    example="source stdin | where (status >= 500 | sink stdout\n",
    fixed="source stdin | where status >= 500 | sink stdout\n",
)

_e(
    codes.UNCLOSED_STRING,
    """
    A string literal has no closing `"` on its line. Strings cannot span lines;
    a line break inside one is written `\\n`.
    """,
    'Close the string with `"` on the same line.',
    example='source file("access.log) | sink stdout\n',
    fixed='source file("access.log") | sink stdout\n',
)

_e(
    codes.BAD_ESCAPE,
    """
    A backslash in a string starts an escape, and only `\\"`, `\\\\`, `\\n`, `\\t`
    and `\\uHHHH` are escapes. A Windows path or a regular expression written in
    an ordinary string usually holds others (`\\l`, `\\d`).
    """,
    """
    Double the backslash (`\\\\`), write the path with `/`, or use a raw string
    (`r"…"`), in which a backslash is just a backslash (the way to write a
    regular expression).
    """,
    example='source file("logs\\access.log") | sink stdout\n',
    fixed='source file("logs/access.log") | sink stdout\n',
)

_e(
    codes.TOO_DEEP,
    """
    An expression is nested more than 100 levels deep (parentheses, or a long
    chain of operators such as `or`). flowlang refuses it rather than risk
    running out of stack in the checker or the generated code.
    """,
    """
    Split the expression over several `set` or `where` stages, or write a
    long chain of `a == 1 or a == 2 or …` as `a in [1, 2, …]`.
    """,
    example=f"source stdin | where {'(' * _DEEP}status >= 500{')' * _DEEP} | sink stdout\n",
    fixed="source stdin | where status >= 500 | sink stdout\n",
)

_e(
    codes.BAD_CHARACTER,
    """
    A character that no token of flowlang starts with, such as `$`, `@` or a
    stray `;`. Shell-style `$NAME` is the usual cause: the environment is read
    with `env("NAME")`.
    """,
    'Remove the character; read an environment variable with `env("NAME")`.',
    example="source stdin | where $status >= 500 | sink stdout\n",
    fixed="source stdin | where status >= 500 | sink stdout\n",
)

_e(
    codes.BAD_NUMBER,
    """
    A number or duration that cannot be read: an unknown unit (`5sec`), an
    integer outside the 64-bit range, a float too large, a duration too long.
    Durations are a whole number and one of the units `ms`, `s`, `m`, `h`,
    `d`.
    """,
    "Write the number as `42`, `3.5` or `1e-3`, and the duration as `250ms`, "
    "`5s`, `1m`, `2h` or `1d`.",
    example="source stdin | dedup(id, within=5sec) | sink stdout\n",
    fixed="source stdin | dedup(id, within=5s) | sink stdout\n",
)

_e(
    codes.UNCLOSED_BACKTICK,
    """
    A field name in backticks (`` `user-agent` ``, for names that are not
    identifiers) has no closing backtick on its line.
    """,
    "Close the name with a backtick.",
    example="source stdin | drop `user-agent | sink stdout\n",
    fixed="source stdin | drop `user-agent` | sink stdout\n",
)

# ---------------------------------------------------------------- names and structure

_e(
    codes.UNKNOWN_STAGE,
    """
    The name of a source, processor or sink is not in the stage catalogue. The
    hint suggests the closest name, or, for a name from another tool (`filter`,
    `mutate`), how flowlang writes it. docs/stages.md lists every stage.
    """,
    "Use a stage of the catalogue.",
    example="source stdin | geoipp | sink stdout\n",
    fixed="source stdin | geoip | sink stdout\n",
)

_e(
    codes.UNKNOWN_PIPELINE,
    """
    `from NAME` (or `from NAME.errors`, or a test's `given NAME`) names no
    pipeline of the file.
    """,
    "Name a pipeline defined in the file (`pipeline NAME = …`).",
    example=(
        'pipeline access = source file("access.log") | sink null\n'
        "pipeline failures = from acces.errors | sink stdout\n"
    ),
    fixed=(
        'pipeline access = source file("access.log") | sink null\n'
        "pipeline failures = from access.errors | sink stdout\n"
    ),
)

_e(
    codes.DUPLICATE_NAME,
    """
    A name is defined twice: two pipelines, two schemas or two tests with one
    name, a schema named like a built-in type (`str`), input given twice to one
    pipeline in a test, or a second unnamed chain (a file may have one chain
    without `pipeline NAME =`, named after the file).
    """,
    "Give each pipeline, schema and test a name of its own.",
    example=(
        "pipeline events = source stdin | sink stdout\n"
        'pipeline events = source file("old.log") | sink stdout\n'
    ),
    fixed=(
        "pipeline events = source stdin | sink stdout\n"
        'pipeline old_events = source file("old.log") | sink stdout\n'
    ),
)

_e(
    codes.CYCLE,
    """
    Pipelines read each other's output in a circle (`a` reads `b`, `b` reads
    `a`), or a pipeline reads its own error stream. Records would go round for
    ever, so a cycle is refused; the message lists the pipelines in it.
    """,
    "Start the chain at a source, and read in one direction only.",
    example="pipeline a = from b | sink stdout\npipeline b = from a\n",
    fixed="pipeline a = source stdin | sink stdout\npipeline b = from a | sink null\n",
)

_e(
    codes.NO_SINK,
    """
    A pipeline ends without `| sink …` and no other pipeline reads it with
    `from NAME`: its records would go nowhere.
    """,
    "End the chain with a sink, or read the pipeline from another one.",
    example='pipeline errors_only = source stdin | where level == "ERROR"\n',
    fixed='pipeline errors_only = source stdin | where level == "ERROR" | sink stdout\n',
)

_e(
    codes.SINK_NOT_LAST,
    """
    A stage follows a sink. A sink is where records leave the chain, so the
    stages after it would never see one. To write records and go on processing
    them, read the pipeline from another one (`from NAME`).
    """,
    "Move the sink to the end of the chain.",
    example="source stdin | sink stdout | geoip\n",
    fixed="source stdin | geoip | sink stdout\n",
)

_e(
    codes.UNKNOWN_SCHEMA,
    """
    `schema=NAME` names no `schema` declared in the file.
    """,
    "Declare the schema, or correct its name.",
    example=(
        "schema Access { ip: ip, email: str }\n"
        "source stdin(format=json, schema=Acess) | sink stdout\n"
    ),
    fixed=(
        "schema Access { ip: ip, email: str }\n"
        "source stdin(format=json, schema=Access) | sink stdout\n"
    ),
)

_e(
    codes.UNKNOWN_FUNCTION,
    """
    A call in an expression names no builtin function, or names an aggregate
    (`count`, `sum`, `p95`, …), which only `summarize` computes. docs/stages.md
    lists the builtin functions.
    """,
    "Call a builtin function; compute aggregates in `summarize`.",
    example="source stdin | set name = lowercase(name) | sink stdout\n",
    fixed="source stdin | set name = lower(name) | sink stdout\n",
)

_e(
    codes.WRONG_STAGE_KIND,
    """
    A stage is used in a role it does not have: a processor after `source`, a
    sink as a processor, a source after `sink`. Some names are both a source
    and a sink (`file`, `nats`, `kafka`), never a processor.
    """,
    "Use the stage where its role allows: `source …` first, processors after `|`, `sink …` last.",
    example="source geoip | sink stdout\n",
    fixed="source stdin | geoip | sink stdout\n",
)

_e(
    codes.UNKNOWN_TYPE,
    """
    A type in a schema is neither a built-in type (`str int float bool time ip
    duration any`) nor a schema of the file.
    """,
    "Write a built-in type or the name of a schema.",
    example=(
        "schema Event { status: integer }\nsource stdin(format=json, schema=Event) | sink stdout\n"
    ),
    fixed="schema Event { status: int }\nsource stdin(format=json, schema=Event) | sink stdout\n",
)

_e(
    codes.RECURSIVE_SCHEMA,
    """
    A schema contains itself, directly or through other schemas (`A` holds a
    `B`, `B` holds an `A`). Record types are finite, so a tree of any depth
    cannot be a schema.
    """,
    "Type the nested part `any` (checked at run time as it is used).",
    example=(
        "schema Node { value: int, children: [Node] }\n"
        "source stdin(format=json, schema=Node) | sink stdout\n"
    ),
    fixed=(
        "schema Node { value: int, children: [any] }\n"
        "source stdin(format=json, schema=Node) | sink stdout\n"
    ),
)

_e(
    codes.ROUTE_NOT_LAST,
    """
    A stage follows `route { … }`. A route hands each record on to the
    pipeline its route names, so the routing pipeline has no records left
    for a later stage or a sink.
    """,
    "Move the stages after `route` into the pipelines the routes go to.",
    example=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "  | sink stdout\n"
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    ),
    fixed=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    ),
)

_e(
    codes.NOT_ROUTE_READER,
    """
    A route names a pipeline that does not start with `from` the routing
    pipeline (it has a source of its own, or reads another pipeline or an
    error stream). A route's records go to the pipeline that reads them.
    """,
    "Start the route's pipeline with `from` the routing pipeline.",
    example=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app.errors | sink null\n"
    ),
    fixed=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    ),
)

_e(
    codes.READS_ROUTED,
    """
    A pipeline reads `from P`, where P ends with `route { … }`, but none of
    P's routes names it. A routing pipeline sends each record to one route's
    pipeline, so a reader that is no route would receive nothing.
    """,
    "Add a route for it (`audit: condition`, or `audit: else`), or read what P reads.",
    example=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
        "pipeline audit = from app | sink null\n"
    ),
    fixed=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", audit: user != null, rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
        "pipeline audit = from app | sink null\n"
    ),
)

_SHARED = "schema Event {\n  ts: time,\n  host: str,\n}\n"

_e(
    codes.BAD_IMPORT,
    """
    `import "FILE"` names a file that cannot be read: it does not exist, is
    a directory, or is not UTF-8 text. The path is taken from the directory
    of the file that holds the import, not from where flowc runs.
    """,
    "Correct the path, relative to the importing file.",
    example='import "schema/events.flow"\nsource stdin(format=json) | sink stdout\n',
    fixed='import "schemas/events.flow"\nsource stdin(format=json, schema=Event) | sink stdout\n',
    files={"schemas/events.flow": _SHARED},
)

_e(
    codes.IMPORT_CYCLE,
    """
    Files import each other, directly or through others: the message shows
    the chain of imports that comes back to a file. Imports bring schemas,
    so a cycle adds nothing that importing once would not, and is refused
    rather than read for ever.
    """,
    "Move the schemas both files need into a file that imports neither, and "
    "import that one from each.",
    example='import "hosts.flow"\nsource stdin(format=json, schema=Host) | sink stdout\n',
    fixed='import "events.flow"\nsource stdin(format=json, schema=Event) | sink stdout\n',
    files={
        "hosts.flow": 'import "example.flow"\nschema Host { name: str }\n',
        "events.flow": _SHARED,
    },
)

# ---------------------------------------------------------------- fields and records

_e(
    codes.UNKNOWN_FIELD,
    """
    A stage reads a field the record does not have. Records are typed: a
    closed schema lists every field, `drop`, `keep` and `rename` change the
    record, and a stage that reads a field by default (`geoip` reads `ip`)
    needs it to exist. The hint names the closest field, or the fields the
    record has. In an open record (`{…, ..}`, and what `format=auto` reads)
    any field may exist and is checked at run time instead.
    """,
    "Name a field the record has at that point (or open the schema with `..`).",
    example=(
        "schema Access { ip: ip, email: str }\n"
        "source stdin(format=json, schema=Access) | anonymize(emial) | sink stdout\n"
    ),
    fixed=(
        "schema Access { ip: ip, email: str }\n"
        "source stdin(format=json, schema=Access) | anonymize(email) | sink stdout\n"
    ),
)

_e(
    codes.FIELD_EXISTS,
    """
    `rename a as b` where the record already has a field `b`: the rename would
    overwrite it silently.
    """,
    "Drop the field first if it is to be replaced, or rename to a new name.",
    example=(
        "schema Event { host: str, server: str }\n"
        "source stdin(format=json, schema=Event) | rename host as server | sink stdout\n"
    ),
    fixed=(
        "schema Event { host: str, server: str }\n"
        "source stdin(format=json, schema=Event) | rename host as origin | sink stdout\n"
    ),
)

_e(
    codes.DUPLICATE_FIELD,
    """
    One field is named twice where each name must be one field: in a schema, in
    one `set`, `drop`, `keep` or `rename`, among the outputs of `summarize`
    (aggregates, keys, `window_start` and `window_end`), or in a test's record.
    """,
    "Name each field once.",
    example='source stdin | set level = "info", level = "warn" | sink stdout\n',
    fixed='source stdin | set level = "warn" | sink stdout\n',
)

_e(
    codes.NOT_A_RECORD,
    """
    A field path goes through a value that is not a record (`status.code`
    where `status` is an `int`), to read it or to `set` it.
    """,
    "Stop the path at the value, or make the field a record.",
    example=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | where status.code == 500 | sink stdout\n"
    ),
    fixed=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | where status == 500 | sink stdout\n"
    ),
)

# ---------------------------------------------------------------- types

_e(
    codes.TYPE_MISMATCH,
    """
    A value has a type the place it is used does not take: a builtin
    function's argument, the field a stage reads (`geoip` reads an `ip` or a
    `str`), the operands of `and`, `or` and `not`, `summarize … on` (a `time`),
    an InfluxDB tag, a value in a test's record. The message names what was
    expected and what was found.
    """,
    "Convert the value (`to_str`, `to_int`, `parse_time`, …) or use another field.",
    example=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | set code = lower(status) | sink stdout\n"
    ),
    fixed=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | set code = to_str(status) | sink stdout\n"
    ),
)

_e(
    codes.NOT_BOOL,
    """
    The condition of a `where`, an `if` or a test's expectation is not a
    `bool`. flowlang has no truthiness: `where status` does not mean
    `status != 0`.
    """,
    "Write the comparison that is meant.",
    example=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | where status | sink stdout\n"
    ),
    fixed=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | where status >= 500 | sink stdout\n"
    ),
)

_e(
    codes.NOT_NUMERIC,
    """
    Arithmetic (`* / %`, unary `-`) or a numeric aggregate (`sum`, `avg`,
    `min`, `max`, `p50` … `p99`) is applied to a value that is not a number.
    """,
    "Aggregate or compute with a numeric field (or convert with `to_int`/`to_float`).",
    example=(
        "schema Event { host: str, bytes: int }\n"
        "source stdin(format=json, schema=Event)\n"
        "  | summarize total = sum(host) every 1m\n"
        "  | sink stdout\n"
    ),
    fixed=(
        "schema Event { host: str, bytes: int }\n"
        "source stdin(format=json, schema=Event)\n"
        "  | summarize total = sum(bytes) by host every 1m\n"
        "  | sink stdout\n"
    ),
)

_e(
    codes.NULLABLE_OPERAND,
    """
    An operand of arithmetic may be `null` (its type is `T?`, such as
    `geo.lat`, which is null for a private address), or is the literal `null`.
    Where the checker can see a null it asks for a decision rather than
    quietly producing `null`.
    """,
    "Give a default with `??` (`geo.lat ?? 0.0`), or filter the nulls out first.",
    example="source stdin | geoip | set lat2 = geo.lat * 2 | sink stdout\n",
    fixed="source stdin | geoip | set lat2 = (geo.lat ?? 0.0) * 2 | sink stdout\n",
)

_e(
    codes.BAD_OPERANDS,
    """
    An operator does not apply to its operand types: `+` on a `str` and an
    `int`, `==` between types that are never equal (an `int` and a `str`),
    ordering incomparable values, `in` a list of another type, `=~` on
    something that is not text or with a pattern that is not a literal.
    """,
    'Compare and combine values of matching types (write `500`, not `"500"`, for an `int`).',
    example=(
        "schema Event { status: int }\n"
        'source stdin(format=json, schema=Event) | where status == "500" | sink stdout\n'
    ),
    fixed=(
        "schema Event { status: int }\n"
        "source stdin(format=json, schema=Event) | where status == 500 | sink stdout\n"
    ),
)

_e(
    codes.BAD_REGEX,
    """
    The regular expression of `=~` or `parse(regex(…))` is not valid RE2, the
    engine flowlang uses so that matching takes linear time. RE2 has no
    lookaround (`(?=`, `(?!`) and no backreferences (`\\1`); the message gives
    RE2's reason. `parse(regex(…))` also needs at least one named group
    (`(?P<name>…)`), since the groups are the fields it produces. (The pattern
    of a builtin function such as `replace_regex` is an argument, E407; a grok
    pattern's, E411.)
    """,
    "Rewrite the pattern without lookaround or backreferences (or match in two "
    "steps with two conditions).",
    example='source stdin | where message =~ r"timeout(?= after)" | sink stdout\n',
    fixed='source stdin | where message =~ r"timeout after" | sink stdout\n',
)

# ---------------------------------------------------------------- arguments

_e(
    codes.UNKNOWN_PARAM,
    """
    A keyword argument names no parameter of the stage, option, builtin
    function, aggregate or `env()` it is given to. docs/stages.md lists every
    parameter.
    """,
    "Use a parameter the stage has.",
    example="source stdin | anonymize(email, methd=mask) | sink stdout\n",
    fixed="source stdin | anonymize(email, method=mask) | sink stdout\n",
)

_e(
    codes.MISSING_ARG,
    """
    A required argument of a stage, an option (`csv(columns=…)`), a builtin
    function or `env()` is not given. The message says what the argument is.
    """,
    "Give the argument.",
    example="source stdin | anonymize | sink stdout\n",
    fixed="source stdin | anonymize(email) | sink stdout\n",
)

_e(
    codes.TOO_MANY_ARGS,
    """
    More positional arguments than the stage, function or aggregate has
    parameters (`count()` takes none, the other aggregates one field).
    """,
    "Remove the extra arguments, or give them by name.",
    example="source stdin | set host = lower(host, server) | sink stdout\n",
    fixed="source stdin | set host = lower(host) | sink stdout\n",
)

_e(
    codes.DUPLICATE_ARG,
    """
    One parameter is given twice: by position and by name, or by name twice.
    """,
    "Give each argument once.",
    example="source stdin | anonymize(email, field=user) | sink stdout\n",
    fixed="source stdin | anonymize(user) | sink stdout\n",
)

_e(
    codes.UNKNOWN_OPTION,
    """
    An enumerated parameter (`format=`, `method=`, `parse(…)`) is given a name
    that is not one of its options. Options are bare names, and the message
    lists the valid ones.
    """,
    "Use one of the options the message lists.",
    example='source file("events.log", format=jsonl) | sink stdout\n',
    fixed='source file("events.log", format=json) | sink stdout\n',
)

_e(
    codes.NOT_CONSTANT,
    """
    An argument that the program must know before it runs (an index name, a
    threshold, a literal of a test) is an expression over record fields, or an
    `env()` where the parameter needs its value when the program is compiled
    (a list, a grok pattern and its patterns file, the kv delimiters, which
    are held to a rule together), or `env()` is given something other than
    literal strings.
    """,
    'Write a constant, or `env("NAME", "default")` where the parameter is not a literal.',
    example="source stdin | anomaly(latency, threshold=limit * 2) | sink stdout\n",
    fixed="source stdin | anomaly(latency, threshold=3.0) | sink stdout\n",
)

_e(
    codes.BAD_ARG_VALUE,
    """
    An argument has the wrong kind or value for its parameter: a `str` where a
    duration, a field name or an option is expected, a number out of range, an
    `every` of zero, a time zone that does not exist, `schema=` with a format
    that has no fields, a secret key written in the program instead of the
    environment.
    """,
    "Give a value of the kind the message asks for (`30s` for a duration, a "
    "bare field name, a bare option name).",
    example="source stdin | dedup(id, within=30) | sink stdout\n",
    fixed="source stdin | dedup(id, within=30s) | sink stdout\n",
)

_e(
    codes.BAD_AGGREGATE,
    """
    A `summarize` aggregate is not one flowlang has (`median`: use `p50`), is a
    function rather than an aggregate, or aggregates an expression rather than
    a field.
    """,
    "Compute the value with `set` before `summarize`, then aggregate that field.",
    example="source stdin | summarize total = sum(sent + received) every 1m | sink stdout\n",
    fixed=(
        "source stdin\n"
        "  | set bytes = sent + received\n"
        "  | summarize total = sum(bytes) every 1m\n"
        "  | sink stdout\n"
    ),
)

_e(
    codes.BAD_INDEX_NAME,
    """
    An Elasticsearch index name that Elasticsearch would refuse or misread:
    upper case, a character it forbids, a leading `-`, `_` or `+`, or
    Logstash's `%{+YYYY.MM.dd}` date syntax, which flowlang does not expand
    (dates in index names are strftime patterns, `%Y.%m.%d`).
    """,
    "Write the name in lower case, with strftime patterns for dates.",
    example='source stdin | sink elastic("Web-%Y.%m.%d")\n',
    fixed='source stdin | sink elastic("web-%Y.%m.%d")\n',
)

_e(
    codes.BAD_TABLE,
    """
    A `lookup` table that exists when the program is checked cannot serve the
    lookup: it is not one of the table shapes (a CSV file with a header, a JSON
    object of objects or of plain values, a JSON list of objects, a JSON-lines
    file of objects), it mixes objects and plain values, or `column=` names a
    column it has not. A table that is not there at check time is checked when
    the run starts.
    """,
    "Correct the table's shape, or the `column=` argument (a table of plain values "
    "is keyed by its object's keys: leave `column=` out).",
    example=(
        'source stdin | lookup("countries.json", key=country_iso, column="iso", into=country)'
        " | sink stdout\n"
    ),
    fixed='source stdin | lookup("countries.json", key=country_iso, into=country) | sink stdout\n',
    files={"countries.json": '{"CZ": "Czechia", "DE": "Germany"}\n'},
)

_e(
    codes.BAD_GROK,
    """
    A grok pattern cannot be expanded: an unknown `%{NAME}`, a capture name that
    is not a field name, an unknown capture type (`int` and `float` are the
    types), a capture typed two ways, a pattern that captures nothing, or an
    expansion that is not valid RE2.
    """,
    "Use the pattern names of the Logstash library (or a patterns file), and "
    "name what to keep: `%{IPV4:client}`.",
    example='source stdin(format=lines) | parse(grok("%{IPV5:client}")) | sink stdout\n',
    fixed='source stdin(format=lines) | parse(grok("%{IPV4:client}")) | sink stdout\n',
)

_e(
    codes.BAD_GROK_FILE,
    """
    The grok patterns file of `grok(…, patterns="FILE")` cannot be read when
    the program is checked, is not UTF-8, or has a line that is not `NAME
    regex`. A relative path is taken from the directory of the `.flow` file,
    not the working directory. The file's definitions are compiled into the
    program, and a cached compile is redone when the file changes.
    """,
    "Give the path from the `.flow` file's directory, and write one `NAME regex` per line.",
    example=(
        'source stdin(format=lines)\n  | parse(grok("%{APPLEVEL:level}", patterns="app.grok"))\n'
        "  | sink stdout\n"
    ),
    fixed=(
        "source stdin(format=lines)\n"
        '  | parse(grok("%{APPLEVEL:level}", patterns="patterns/app.grok"))\n'
        "  | sink stdout\n"
    ),
    files={"patterns/app.grok": "APPLEVEL (?:DEBUG|INFO|WARN|ERROR)\n"},
)

# ---------------------------------------------------------------- warnings

_e(
    codes.NO_ANON_KEY,
    """
    `anonymize(…, method=hash)` runs without a key: `FLOW_ANON_KEY` (or the
    variable named by `key=env("NAME", "")`) is not set or empty when the run
    starts. The run goes on with a random key that is never written anywhere,
    so the tokens differ from one run to the next and cannot be joined across
    runs. `flowc check` cannot see this: the key is read from the environment
    of the run, never from the program.
    """,
    """
    Set `FLOW_ANON_KEY` in the environment of the run; or name the variable
    with `key=env("NAME")` and no default, so that a run without it refuses to
    start (exit 2) instead of using a random key.
    """,
    example="source stdin | anonymize(email) | sink stdout\n",
    fixed='source stdin | anonymize(email, key=env("PSEUDONYM_KEY")) | sink stdout\n',
    when="run",
)

_e(
    codes.UNREACHABLE,
    """
    A `where` whose condition is always false (`null` counts as false), so no
    record gets past it: often a condition left from debugging, or an `and`
    with a constant. The program still runs; everything is counted as dropped.
    """,
    "Write the condition that is meant, or remove the stage.",
    example='source stdin | where level == "ERROR" and false | sink stdout\n',
    fixed='source stdin | where level == "ERROR" | sink stdout\n',
)

_e(
    codes.ROUTE_UNREACHABLE,
    """
    A route of `route { … }` that no record can take: it comes after `else`
    or after a condition that is always true, its own condition is always
    false (`null` counts as false), or an earlier route has the same
    condition. Each record takes the first route that holds, so such a route
    and its pipeline receive nothing.
    """,
    "Put the route before the one that takes its records, or remove it.",
    example=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { rest: else, loud: level == "error" }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    ),
    fixed=(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    ),
)

# ---------------------------------------------------------------- tests

_e(
    codes.RECORD_OUTSIDE_TEST,
    """
    A record literal (`{host: "a"}`) in a pipeline. Record literals are the
    given and expected records of tests; a pipeline builds a record field by
    field.
    """,
    "Set the nested fields one by one with `set`.",
    example='source stdin | set origin = {host: "a"} | sink stdout\n',
    fixed='source stdin | set origin.host = "a" | sink stdout\n',
)

_e(
    codes.GIVEN_NO_SOURCE,
    """
    A test gives records to a pipeline that has no source (it reads another
    pipeline with `from`). Tests replace sources: records are given to the
    pipeline that has the source, and flow on to the readers.
    """,
    "Give the records to the pipeline with the source.",
    example=(
        'pipeline events = source file("events.jsonl") | sink null\n'
        "pipeline slow = from events | where status >= 500 | sink stdout\n"
        "\n"
        'test "slow" {\n'
        "  given slow = [{status: 500}]\n"
        "  expect count(slow) == 1\n"
        "}\n"
    ),
    fixed=(
        'pipeline events = source file("events.jsonl") | sink null\n'
        "pipeline slow = from events | where status >= 500 | sink stdout\n"
        "\n"
        'test "slow" {\n'
        "  given events = [{status: 500}]\n"
        "  expect count(slow) == 1\n"
        "}\n"
    ),
)

_e(
    codes.BAD_TEST_SETTING,
    """
    A setting of a test block is wrong for it: generated input (`given P where
    …`) or `examples N` in an example `test` (they belong in a `property`), a
    `now` that is not a time, an `env` value that is not a string, `examples`
    out of range.
    """,
    "Write `property` for generated input, or give the records of an example test.",
    example=(
        'pipeline events = source file("events.jsonl") | sink stdout\n'
        "\n"
        'test "server errors" {\n'
        "  given events where status >= 500\n"
        "  expect count(events) >= 0\n"
        "}\n"
    ),
    fixed=(
        'pipeline events = source file("events.jsonl") | sink stdout\n'
        "\n"
        'property "server errors" {\n'
        "  given events where status >= 500\n"
        "  expect count(events) >= 0\n"
        "}\n"
    ),
)

_e(
    codes.BAD_EXPECTATION,
    """
    A test's `expect` cannot be checked: it names something that is not a
    pipeline's records or counts, compares a record with something other than
    a pipeline's records, or the test expects nothing at all.
    """,
    "Expect something of a pipeline's records or counts: `expect count(P) == 1`, "
    "`expect {…} in P`, `expect every P: condition`.",
    example=(
        'pipeline events = source file("events.jsonl") | sink stdout\n'
        "\n"
        'test "nothing" {\n'
        "  given events = []\n"
        "}\n"
    ),
    fixed=(
        'pipeline events = source file("events.jsonl") | sink stdout\n'
        "\n"
        'test "nothing" {\n'
        "  given events = []\n"
        "  expect count(events) == 0\n"
        "}\n"
    ),
)

_e(
    codes.NOT_DOWNSTREAM,
    """
    A property `expect every given P reaches Q by KEY` names a pipeline `Q`
    that does not read (directly or through others) the pipeline `P` the
    records were given to: they could never reach it.
    """,
    "Name `P` itself or a pipeline that reads from it.",
    example=(
        'pipeline web = source file("web.jsonl") | sink stdout\n'
        'pipeline api = source file("api.jsonl") | sink stdout\n'
        "\n"
        'property "kept" {\n'
        "  given web\n"
        "  expect every given web reaches api by path\n"
        "}\n"
    ),
    fixed=(
        'pipeline web = source file("web.jsonl") | sink stdout\n'
        'pipeline api = source file("api.jsonl") | sink stdout\n'
        "\n"
        'property "kept" {\n'
        "  given web\n"
        "  expect every given web reaches web by path\n"
        "}\n"
    ),
)

# ---------------------------------------------------------------- internal

_e(
    codes.INTERNAL,
    """
    The checker itself failed: a bug in flowc, not in the program. It is
    reported as what it is, next to the diagnostics found before it, instead
    of a crash or a disguised error of the program.
    """,
    "Report it with the `.flow` file that gives it. Until it is fixed, the "
    "diagnostics before it are still true; rewriting the construct the message "
    "points at may avoid it.",
    when="never",
)

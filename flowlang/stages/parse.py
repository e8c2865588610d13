"""`parse(format, field=message, schema=S)`: structure out of text."""

from __future__ import annotations

import re

from .. import codes
from ..types import ANY, INT, IP, OPEN_RECORD, STR, TIME, ListT, Nullable, RecordT, Type
from ._rules import with_field
from ._spec import Example, Kind, Param, RuleContext, StageSpec

COMBINED = (
    ("ip", IP),
    ("user", Nullable(STR)),
    ("time", TIME),
    ("method", STR),
    ("path", STR),
    ("protocol", STR),
    ("status", INT),
    ("bytes", Nullable(INT)),
    ("referrer", Nullable(STR)),
    ("agent", Nullable(STR)),
)


def _merge(record: Type, fields) -> Type:
    for name, typ in fields:
        record = with_field(record, name, typ)
    return record


def _output(ctx: RuleContext) -> Type:
    fmt = ctx.args["format"]
    schema = ctx.args.get("schema")
    if schema is not None:
        produced = schema.fields
    elif fmt == "combined":
        produced = COMBINED
    elif fmt == "regex":
        pattern = ctx.args["format_args"]["pattern"]
        try:
            groups = re.compile(pattern).groupindex
        except re.error as exc:
            ctx.error(codes.BAD_REGEX, f"invalid regular expression: {exc}", param="format")
            return ctx.input
        if not groups:
            ctx.error(codes.BAD_REGEX, "the regular expression has no named groups",
                      param="format", hint="name what to keep: (?P<name>…)")  # fmt: skip
        produced = tuple((name, Nullable(STR)) for name in groups)
    elif fmt == "csv":
        produced = tuple((name, Nullable(STR)) for name in ctx.args["format_args"]["columns"])
    else:  # json, kv: fields unknown until run time
        if isinstance(ctx.input, RecordT):
            return RecordT(ctx.input.fields, open=True)
        return OPEN_RECORD
    return _merge(ctx.input, produced)


SPEC = StageSpec(
    name="parse",
    kind="processor",
    doc=(
        "Parses the text in `field` and merges what it finds into the record. "
        "Formats: `json` (an object), `kv` (`a=1 b=\"x y\"`), `csv(columns=[…])`, "
        "`regex(r\"…\")` (named groups become fields), and `combined` (the "
        "Apache/nginx combined log format, typed: ip, user, time, method, path, "
        "protocol, status, bytes, referrer, agent). With `schema=S` the fields "
        "are coerced to `S`. A line that does not parse goes to the error stream "
        "with the raw text."
    ),
    params=(
        Param("format", Kind.CHOICE, "the text format", options={
            "json": (),
            "kv": (),
            "csv": (
                Param("columns", Kind.VALUE, "column names", type=ListT(STR)),
                Param("delimiter", Kind.VALUE, "column separator", type=STR, default=","),
            ),
            "regex": (Param("pattern", Kind.VALUE, "a regex with named groups", type=STR),),
            "combined": (),
        }),
        Param("field", Kind.FIELD, "the text", default=("message",),
              accepts=(STR, Nullable(STR), ANY)),
        Param("schema", Kind.SCHEMA, "types of the parsed fields", default=None),
    ),  # fmt: skip
    output=_output,
    runtime="Parse",
    module=__name__,
    examples=(
        Example("parse(combined)"),
        Example(
            'parse(regex(r"^(?P<level>[A-Z]+) (?P<msg>.*)$"))',
            input=({"message": "WARN disk almost full"},),
            output=({"message": "WARN disk almost full", "level": "WARN", "msg": "disk almost full"},),
        ),
        Example(
            "parse(kv)",
            input=({"message": 'user=jane action="log in"'},),
            output=({"message": 'user=jane action="log in"', "user": "jane", "action": "log in"},),
        ),
    ),
)

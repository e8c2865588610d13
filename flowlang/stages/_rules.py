"""Output-type rules shared by several stages."""

from __future__ import annotations

from .. import codes
from ..types import BOOL, DURATION, OPEN_RECORD, STR, ListT, RecordT, Type
from .spec import Param, ParamKind, RuleContext


def csv_delimiter_problem(delimiter: str) -> str | None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        return "the csv delimiter must be one character, not a quote or a line break"
    return None


def at_least_one(name: str):
    """The rule of a count or duration parameter that must not be 0 (a
    duration is in milliseconds: at least 1ms)."""

    def rule(value: int) -> str | None:
        return f"`{name}` must be at least 1" if value < 1 else None

    return rule


def port_problem(port: int) -> str | None:
    return "the port must be between 0 and 65535" if not 0 <= port <= 65535 else None


FORMAT_OPTIONS: dict[str, tuple[Param, ...]] = {
    "auto": (),
    "json": (),
    "lines": (),
    "csv": (
        Param(
            "header", ParamKind.VALUE, "the first line names the columns", type=BOOL, default=True
        ),
        Param(
            "delimiter",
            ParamKind.VALUE,
            "the column separator",
            type=STR,
            default=",",
            check=csv_delimiter_problem,
        ),
        Param(
            "columns",
            ParamKind.VALUE,
            "the column names (with header=true they replace the header's)",
            type=ListT(STR),
            default=None,
        ),
    ),
}


def decode_params(what: str) -> tuple[Param, Param]:
    """`format=` and `schema=` of a source that decodes `what` ("lines",
    "messages") as the file source does."""
    return (
        Param(
            "format",
            ParamKind.CHOICE,
            f"how {what} are decoded",
            default="auto",
            options=FORMAT_OPTIONS,
        ),
        SCHEMA_PARAM,
    )


SCHEMA_PARAM = Param("schema", ParamKind.SCHEMA, "validate and coerce each record", default=None)


def idle_param(what: str = "a message") -> Param:
    """`idle=`: a source that would wait for ever ends after this long without `what`."""
    return Param(
        "idle",
        ParamKind.VALUE,
        f"stop after this long without {what}",
        type=DURATION,
        default=None,
    )


# the network sinks' retry policy (see _netsink.Retrier)
RETRY_PARAMS = (
    Param(
        "retry_max",
        ParamKind.VALUE,
        "longest wait between two retries",
        type=DURATION,
        default=30_000,
    ),
    Param(
        "shutdown_grace",
        ParamKind.VALUE,
        "how long a stopping run keeps retrying before "
        "it gives up (unwritten records stay unacknowledged)",
        type=DURATION,
        default=10_000,
    ),
)


def decoded_record(ctx: RuleContext) -> Type:
    """The record type a source produces from its `format` and `schema`."""
    fmt = ctx.args["format"]
    schema = ctx.args.get("schema")
    if fmt == "lines":
        if schema is not None:
            ctx.error(
                codes.BAD_ARG_VALUE,
                "`schema=` does not apply to format=lines",
                param="schema",
                hint="use format=json, csv or auto to read structured records",
            )
        return RecordT((("message", STR),), open=False)
    if fmt == "csv":
        _check_csv(ctx, ctx.args["format_args"])
        columns = ctx.args["format_args"].get("columns")
        if columns is not None and schema is None:
            return RecordT(tuple((name, STR) for name in columns), open=False)
    if schema is not None:
        return schema
    return OPEN_RECORD


def _check_csv(ctx: RuleContext, args: dict) -> None:
    columns = args.get("columns")
    problem = None
    if columns is not None and not columns:
        problem = "name at least one column"
    elif columns is not None and len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        problem = f"columns named twice: {', '.join(twice)}"
    if problem:
        ctx.error(codes.BAD_ARG_VALUE, problem, param="format")


def with_field(record: Type, name: str, typ: Type) -> Type:
    """`record` with field `name` set to `typ` (records of unknown shape stay open)."""
    if isinstance(record, RecordT):
        return record.with_field(name, typ)
    return RecordT(((name, typ),), open=True)

"""Output-type rules shared by several stages."""

from __future__ import annotations

from .. import codes
from ..types import BOOL, DURATION, OPEN_RECORD, STR, RecordT, Type
from .spec import Param, ParamKind, RuleContext

FORMAT_OPTIONS: dict[str, tuple[Param, ...]] = {
    "auto": (),
    "json": (),
    "lines": (),
    "csv": (
        Param(
            "header", ParamKind.VALUE, "the first line names the columns", type=BOOL, default=True
        ),
        Param("delimiter", ParamKind.VALUE, "the column separator", type=STR, default=","),
    ),
}


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
    if schema is not None:
        return schema
    return OPEN_RECORD


def with_field(record: Type, name: str, typ: Type) -> Type:
    """`record` with field `name` set to `typ` (records of unknown shape stay open)."""
    if isinstance(record, RecordT):
        return record.with_field(name, typ)
    return RecordT(((name, typ),), open=True)

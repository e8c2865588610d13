"""`sink influx(bucket, measurement=…, tags=[…], fields=[…], time=…, url=…, token=…, org=…)`."""

from __future__ import annotations

from .. import codes
from ..types import ANY, BOOL, FLOAT, INT, IP, STR, TIME, Nullable, RecordT, strip_null
from ._spec import EnvRef, Example, Kind, Param, RuleContext, StageSpec

TAG_TYPES = (STR, INT, FLOAT, BOOL, IP)
FIELD_TYPES = (INT, FLOAT, BOOL, STR)


def _check(ctx: RuleContext):
    tags = ctx.args["tags"]
    for path in tags:
        t = strip_null(ctx.field_type(path))
        if t != ANY and t not in TAG_TYPES:
            ctx.error(codes.TYPE_MISMATCH,
                      f"tag `{'.'.join(path)}` is {t}; tags must be scalars (str, int, float, bool, ip)",
                      param="tags")  # fmt: skip
    fields = ctx.args["fields"]
    for path in fields:
        t = strip_null(ctx.field_type(path))
        if t != ANY and t not in FIELD_TYPES:
            ctx.error(codes.TYPE_MISMATCH,
                      f"field `{'.'.join(path)}` is {t}; influx fields must be int, float, bool or str",
                      param="fields")  # fmt: skip
    if not fields and isinstance(ctx.input, RecordT) and not ctx.input.open:
        usable = [k for k, t in ctx.input.fields
                  if (k,) not in tags and strip_null(t) in FIELD_TYPES + (ANY,)]  # fmt: skip
        if not usable:
            ctx.error(codes.BAD_ARG_VALUE, "the records have no int, float, bool or str "
                      "field to write", hint="name them with fields=[…]")  # fmt: skip
    return None


SPEC = StageSpec(
    name="influx",
    kind="sink",
    doc=(
        "Writes points to InfluxDB (v2 write API, line protocol) with "
        "`influxdb-client`. `tags` must be scalars; `fields` numbers, bool or str "
        "(default: every other such field of the record). `time=` gives the point's "
        "time (else the processing time). Batches and retries (429 honours "
        "Retry-After); a value the line protocol cannot carry goes to the error "
        "stream, never altered."
    ),
    params=(
        Param("bucket", Kind.VALUE, "bucket (database)", type=STR, allow_env=True),
        Param("measurement", Kind.VALUE, "measurement name", type=STR),
        Param("tags", Kind.FIELDS, "tag fields", default=()),
        Param("fields", Kind.FIELDS, "value fields", default=()),
        Param("time", Kind.FIELD, "point time", default=None,
              accepts=(TIME, Nullable(TIME), ANY)),
        Param("url", Kind.VALUE, "server URL", type=STR, allow_env=True,
              default=EnvRef("FLOW_INFLUX_URL", "http://localhost:8086")),
        Param("token", Kind.VALUE, "API token", type=STR, allow_env=True,
              default=EnvRef("FLOW_INFLUX_TOKEN", "")),
        Param("org", Kind.VALUE, "organisation", type=STR, allow_env=True,
              default=EnvRef("FLOW_INFLUX_ORG", "")),
        Param("batch_size", Kind.VALUE, "points per write", type=INT, default=5000),
    ),  # fmt: skip
    output=_check,
    runtime="InfluxSink",
    module=__name__,
    examples=(
        Example(
            'schema Req { ts: time, host: str, latency_ms: float }\n'
            'source file("req.jsonl", format=json, schema=Req)\n'
            '  | sink influx("metrics", measurement="latency", tags=[host], time=ts)'
        ),
    ),
)

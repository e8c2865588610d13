"""`source file(path, format=auto, schema=S, follow=false, start=beginning)`."""

from __future__ import annotations

from ..types import BOOL, STR
from ._rules import FORMAT_OPTIONS, decoded_record
from ._spec import Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="file",
    kind="source",
    doc=(
        "Reads records from files. `path` may be a glob (files are read in sorted "
        "order). `format=auto` reads a line as a JSON object when it is one, else "
        "as `{message: line}`; `json` expects one JSON object per line; `lines` "
        "gives `{message: str}`; `csv(header=true, delimiter=\",\")` reads columns. "
        "With `schema=S` every record is validated and coerced to `S`; one that "
        "does not conform goes to the error stream. `follow=true` tails the files "
        "(rotation and truncation handled) and checkpoints the offset once the "
        "sinks have accepted the records, so a restart resumes without loss."
    ),
    params=(
        Param("path", Kind.VALUE, "file path or glob", type=STR, allow_env=True),
        Param("format", Kind.CHOICE, "how lines are decoded", default="auto",
              options=FORMAT_OPTIONS),
        Param("schema", Kind.SCHEMA, "validate and coerce each record", default=None),
        Param("follow", Kind.VALUE, "keep reading as the files grow", type=BOOL,
              default=False),
        Param("start", Kind.CHOICE, "where a followed file without checkpoint starts",
              default="beginning", options={"beginning": (), "end": ()}),
    ),  # fmt: skip
    output=decoded_record,
    runtime="FileSource",
    module=__name__,
    examples=(
        Example('source file("access.log") | sink stdout'),
        Example(
            'schema Event { ts: time, level: str, latency_ms: float? }\n'
            'source file("events-*.jsonl", format=json, schema=Event) | sink stdout',
            doc="Typed records: a line that does not fit `Event` goes to the error stream.",
        ),
        Example('source file("app.log", format=lines, follow=true) | sink file("out.jsonl")'),
    ),
)

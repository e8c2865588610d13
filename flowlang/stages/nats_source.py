"""`source nats(subject, stream=…, durable=…, format=auto, schema=S)`."""

from __future__ import annotations

from ..types import INT, STR
from ._rules import FORMAT_OPTIONS, decoded_record
from ._spec import EnvRef, Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="nats",
    kind="source",
    doc=(
        "Consumes a NATS JetStream stream with a durable pull consumer; processes "
        "sharing `durable` share the work. A message is acknowledged only after "
        "every sink accepted the records made from it (at-least-once)."
    ),
    params=(
        Param("subject", Kind.VALUE, "subject filter", type=STR, allow_env=True),
        Param("stream", Kind.VALUE, "stream name", type=STR, default=None, allow_env=True),
        Param("durable", Kind.VALUE, "durable consumer name", type=STR, default=None,
              allow_env=True),
        Param("format", Kind.CHOICE, "how messages are decoded", default="auto",
              options=FORMAT_OPTIONS),
        Param("schema", Kind.SCHEMA, "validate and coerce each record", default=None),
        Param("url", Kind.VALUE, "server URL(s)", type=STR, allow_env=True,
              default=EnvRef("FLOW_NATS_URL", "nats://localhost:4222")),
        Param("batch_size", Kind.VALUE, "messages per fetch", type=INT, default=256),
    ),  # fmt: skip
    output=decoded_record,
    runtime="NatsSource",
    module=__name__,
    examples=(
        Example('source nats("logs.>", stream="LOGS", durable="enrich") | sink stdout'),
    ),
)

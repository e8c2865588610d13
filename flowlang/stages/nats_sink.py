"""`sink nats(subject, stream=…)`."""

from __future__ import annotations

from ..types import STR
from ._spec import EnvRef, Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="nats",
    kind="sink",
    doc=(
        "Publishes records as JSON to a JetStream subject, waiting for the "
        "stream's acknowledgement; `msg_id=` sets `Nats-Msg-Id` so the stream "
        "drops duplicates of a retried publish."
    ),
    params=(
        Param("subject", Kind.VALUE, "subject", type=STR, allow_env=True),
        Param("stream", Kind.VALUE, "stream name", type=STR, default=None, allow_env=True),
        Param("msg_id", Kind.FIELD, "de-duplication id", default=None),
        Param("url", Kind.VALUE, "server URL(s)", type=STR, allow_env=True,
              default=EnvRef("FLOW_NATS_URL", "nats://localhost:4222")),
    ),  # fmt: skip
    output=lambda ctx: None,
    runtime="NatsSink",
    module=__name__,
    examples=(Example('source file("app.log") | sink nats("logs.app", stream="LOGS")'),),
)

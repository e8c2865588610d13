"""`sink elastic(index, url=env("FLOW_ELASTIC_URL", "http://localhost:9200"), id=…, time=…)`."""

from __future__ import annotations

from ..types import ANY, INT, STR, TIME, Nullable
from ._spec import EnvRef, Example, Kind, Param, StageSpec

SPEC = StageSpec(
    name="elastic",
    kind="sink",
    doc=(
        "Indexes records into Elasticsearch with the official async client's bulk "
        "helpers. Batches by count and bytes; retries 429 and 5xx with backoff; "
        "items rejected for good (a mapping error) go to the error stream. "
        "`index` may hold strftime patterns (`\"web-%Y.%m.%d\"`) filled from "
        "`time=` (else the processing time). `id=` makes writes idempotent."
    ),
    params=(
        Param("index", Kind.VALUE, "index name, may hold strftime patterns", type=STR),
        Param("url", Kind.VALUE, "cluster URL", type=STR, allow_env=True,
              default=EnvRef("FLOW_ELASTIC_URL", "http://localhost:9200")),
        Param("id", Kind.FIELD, "document id (idempotent writes)", default=None),
        Param("time", Kind.FIELD, "event time for the index pattern", default=None,
              accepts=(TIME, Nullable(TIME), ANY)),
        Param("api_key", Kind.VALUE, "API key", type=STR, allow_env=True,
              default=EnvRef("FLOW_ELASTIC_API_KEY", "")),
        Param("username", Kind.VALUE, "basic auth user", type=STR, allow_env=True,
              default=EnvRef("FLOW_ELASTIC_USERNAME", "")),
        Param("password", Kind.VALUE, "basic auth password", type=STR, allow_env=True,
              default=EnvRef("FLOW_ELASTIC_PASSWORD", "")),
        Param("ca_certs", Kind.VALUE, "CA bundle file", type=STR, allow_env=True,
              default=EnvRef("FLOW_ELASTIC_CA_CERTS", "")),
        Param("batch_size", Kind.VALUE, "documents per bulk request", type=INT, default=500),
        Param("batch_bytes", Kind.VALUE, "bytes per bulk request", type=INT,
              default=5_000_000),
    ),  # fmt: skip
    output=lambda ctx: None,
    runtime="ElasticSink",
    module=__name__,
    examples=(
        Example('source file("x.log") | geoip | anonymize(email) | sink elastic("idx")'),
        Example(
            'source file("app.jsonl", format=json)\n'
            '  | sink elastic("app-%Y.%m.%d", id=request_id, time=ts)'
        ),
    ),
)

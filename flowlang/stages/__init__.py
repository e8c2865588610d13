"""The stage catalogue: an explicit list of stage modules, each declaring SPEC.

Importing this package loads only the declarations; each stage's runtime
imports its heavy libraries when it is instantiated.
"""

from __future__ import annotations

from . import (
    anomaly,
    anonymize,
    dedup,
    elastic,
    file_sink,
    file_source,
    geoip,
    http_sink,
    http_source,
    influx,
    kafka_sink,
    kafka_source,
    lookup,
    nats_sink,
    nats_source,
    null_sink,
    parse,
    sample,
    stdin_source,
    stdout_sink,
    summarize,
    syslog_source,
    user_agent,
)
from .spec import StageSpec

_MODULES = (
    file_source,
    stdin_source,
    nats_source,
    kafka_source,
    http_source,
    syslog_source,
    geoip,
    user_agent,
    anonymize,
    parse,
    lookup,
    dedup,
    sample,
    anomaly,
    summarize,
    elastic,
    influx,
    file_sink,
    stdout_sink,
    null_sink,
    nats_sink,
    kafka_sink,
    http_sink,
)

CATALOGUE: tuple[StageSpec, ...] = tuple(m.SPEC for m in _MODULES)


def find(role: str, name: str) -> StageSpec | None:
    """The stage of this role and name, or None."""
    for spec in CATALOGUE:
        if spec.role == role and spec.name == name:
            return spec
    return None


def names(role: str) -> list[str]:
    return sorted(spec.name for spec in CATALOGUE if spec.role == role)

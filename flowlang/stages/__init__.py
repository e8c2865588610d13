"""The stage catalogue: an explicit list of stage modules, each declaring SPEC.

The catalogue (`CATALOGUE`, `find`, `names`) loads every stage's declaration
when it is first used; importing one stage module (`from flowlang.stages
import file_sink`, as generated modules do) loads only that one. Each
stage's runtime imports its heavy libraries when it is instantiated.
"""

from __future__ import annotations

import importlib

from .spec import StageSpec

# the catalogue's order: sources, processors, sinks
_MODULES = (
    "file_source",
    "stdin_source",
    "nats_source",
    "kafka_source",
    "http_source",
    "syslog_source",
    "geoip",
    "user_agent",
    "anonymize",
    "parse",
    "lookup",
    "dedup",
    "sample",
    "anomaly",
    "summarize",
    "elastic",
    "influx",
    "file_sink",
    "stdout_sink",
    "null_sink",
    "nats_sink",
    "kafka_sink",
    "http_sink",
)

_catalogue: tuple[StageSpec, ...] | None = None


def catalogue() -> tuple[StageSpec, ...]:
    """Every stage's declaration, in catalogue order."""
    global _catalogue
    if _catalogue is None:
        _catalogue = tuple(importlib.import_module(f".{name}", __name__).SPEC for name in _MODULES)
    return _catalogue


def __getattr__(name: str):
    if name == "CATALOGUE":
        return catalogue()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def find(role: str, name: str) -> StageSpec | None:
    """The stage of this role and name, or None."""
    for spec in catalogue():
        if spec.role == role and spec.name == name:
            return spec
    return None


def names(role: str) -> list[str]:
    return sorted(spec.name for spec in catalogue() if spec.role == role)

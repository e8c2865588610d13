"""The stage catalogue: an explicit list of stage modules, each declaring SPEC.

`CATALOGUE` (every declaration) loads every stage module when it is first
asked for; `find` loads only the module of the stage it finds and `names`
none, so checking a program loads the declarations of the stages it uses,
and importing one stage module (`from flowlang.stages import file_sink`,
as generated modules do) loads only that one. Each stage's runtime imports
its heavy libraries when it is instantiated.
"""

from __future__ import annotations

import importlib

from .spec import StageSpec

# (role, name) -> the module declaring that stage, in the catalogue's order
# (sources, processors, windows, sinks); each module's SPEC says the same
# role and name (tests/stages/test_declarations.py)
_MODULES: dict[tuple[str, str], str] = {
    ("source", "file"): "file_source",
    ("source", "stdin"): "stdin_source",
    ("source", "nats"): "nats_source",
    ("source", "kafka"): "kafka_source",
    ("source", "http"): "http_source",
    ("source", "syslog"): "syslog_source",
    ("processor", "geoip"): "geoip",
    ("processor", "user_agent"): "user_agent",
    ("processor", "anonymize"): "anonymize",
    ("processor", "parse"): "parse",
    ("processor", "lookup"): "lookup",
    ("processor", "dedup"): "dedup",
    ("processor", "sample"): "sample",
    ("processor", "anomaly"): "anomaly",
    ("window", "summarize"): "summarize",
    ("sink", "elastic"): "elastic",
    ("sink", "influx"): "influx",
    ("sink", "file"): "file_sink",
    ("sink", "stdout"): "stdout_sink",
    ("sink", "null"): "null_sink",
    ("sink", "nats"): "nats_sink",
    ("sink", "kafka"): "kafka_sink",
    ("sink", "http"): "http_sink",
}

_catalogue: tuple[StageSpec, ...] | None = None


def catalogue() -> tuple[StageSpec, ...]:
    """Every stage's declaration, in catalogue order."""
    global _catalogue
    if _catalogue is None:
        _catalogue = tuple(_load(module) for module in _MODULES.values())
    return _catalogue


def __getattr__(name: str):
    if name == "CATALOGUE":
        return catalogue()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load(module: str) -> StageSpec:
    return importlib.import_module(f".{module}", __name__).SPEC


def find(role: str, name: str) -> StageSpec | None:
    """The stage of this role and name, or None; loads only its module."""
    module = _MODULES.get((role, name))
    return None if module is None else _load(module)


def names(role: str) -> list[str]:
    """The names of the stages of this role, sorted."""
    return sorted(n for r, n in _MODULES if r == role)

"""flowlang's runtime: what generated modules import (`from flowlang import runtime as rt`).

A generated module defines `build(ctx) -> Program` and ends with
`rt.main(build)`; `flowc run` calls `rt.run(build, ...)`.

The names below are loaded from their modules when first used, so that
importing one part of the runtime (a stage's declaration imports
`runtime.base`) does not load the engine and asyncio with it.
"""

from __future__ import annotations

import importlib

# name -> the module of this package that defines it
_EXPORTS = {
    "Processor": "base",
    "Record": "base",
    "RecordError": "base",
    "Rejected": "base",
    "Sink": "base",
    "Source": "base",
    "SourceBatch": "base",
    "SourceItem": "base",
    "StageContext": "base",
    "WindowProcessor": "base",
    "Bus": "bus",
    "BadVariable": "context",
    "Context": "context",
    "MissingVariable": "context",
    "env": "context",
    "Outcome": "engine",
    "FlowError": "errors",
    "error_record": "errors",
    "main": "launch",
    "run": "launch",
    "run_program": "launch",
    "balanced": "metrics",
    "PipelineDecl": "program",
    "Program": "program",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

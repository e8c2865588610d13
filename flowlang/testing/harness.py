"""One run of a compiled program under test: the real generated module on the
real runtime, in this process, with every source replaced by given records
and every sink replaced by one that accepts everything; what each pipeline
emits and every error record it produces are collected.

Nothing reaches the network or the user's files: sources and sinks are never
instantiated. `env()` reads only the test's variables (and defaults);
`now()` and processing-time windows read the test's fixed time; the
anonymize key is a fixed test key unless the test sets `FLOW_ANON_KEY`.
Windows are flushed at the end of the given input, as at the end of a file.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..runtime.base import Record, RecordError, Sink, Source, SourceBatch, SourceItem
from ..runtime.coerce import coercer
from ..runtime.context import Context, environment
from ..runtime.engine import Engine
from ..runtime.errors import FlowError

TEST_ANON_KEY = "flowlang-test-key"
BATCH = 256  # records per given batch


class GivenSource(Source):
    """Yields the given records, coerced to the replaced source's type as
    that source would coerce what it decodes."""

    def __init__(self, ctx, records: list[Record], descriptor: Any) -> None:
        super().__init__(ctx)
        self.records = records
        self.coerce = coercer(descriptor)

    async def batches(self):
        coerce = self.coerce
        for start in range(0, len(self.records), BATCH):
            good: list[Record] = []
            bad: list[SourceItem] = []
            for rec in self.records[start : start + BATCH]:
                try:
                    good.append(coerce(rec))
                except RecordError as exc:
                    bad.append(SourceItem(None, error=exc))
            yield SourceBatch(bad, records=good)


class AcceptingSink(Sink):
    """Stands in for every sink: accepts each record (the engine has already
    shown it to the test through `Context.observe_output`)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)

    async def write(self, records: list[Record]) -> list:
        return []


@dataclass
class RunResult:
    """What one run produced: per pipeline, the records it emitted and its
    error records; the metrics; and how the run ended."""

    outputs: dict[str, list[Record]]
    errors: dict[str, list[Record]]
    inputs: dict[str, list[Record]]
    metrics: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0
    failure: str | None = None

    def count(self, pipeline: str, part: str | None = None) -> int:
        if part is None:
            return len(self.outputs[pipeline])
        if part == "errors":
            return len(self.errors[pipeline])
        if part == "input":
            return len(self.inputs.get(pipeline, ()))
        return int(self.metrics.get(pipeline, {}).get("dropped", 0))


def run_module(
    module: Any,
    sources: Mapping[str, Any],
    inputs: Mapping[str, list[Record]],
    *,
    now: _dt.datetime,
    env: Mapping[str, str] = (),
) -> RunResult:
    """Run generated `module` with `inputs` (pipeline → records) in place of
    its sources; `sources` maps each pipeline with a source to the type
    descriptor of what that source produces."""
    outputs: dict[str, list[Record]] = {}
    errors: dict[str, list[Record]] = {}
    ctx = Context(
        status=False,
        signals=False,
        clock=lambda: now,
        state_dir=os.path.join(tempfile.gettempdir(), "flowc-test-state"),
        observe_output=lambda name, recs: outputs.setdefault(name, []).extend(recs),
        observe_errors=lambda name, recs: errors.setdefault(name, []).extend(recs),
    )
    variables = {"FLOW_ANON_KEY": TEST_ANON_KEY, **dict(env)}
    given = {name: list(records) for name, records in inputs.items()}
    with environment(variables):
        try:
            program = module.build(ctx)
            for decl in program.pipelines.values():
                outputs.setdefault(decl.name, [])
                errors.setdefault(decl.name, [])
                if decl.source_stage is not None:
                    decl.source_stage.cls = GivenSource
                    decl.source_stage.args = {
                        "records": given.get(decl.name, []),
                        "descriptor": sources[decl.name],
                    }
                if decl.sink_stage is not None:
                    decl.sink_stage.cls = AcceptingSink
                    decl.sink_stage.args = {}
            engine = Engine(program, ctx)
            engine.prepare()
        except FlowError as exc:
            return RunResult(outputs, errors, given, exit_code=2, failure=str(exc))
        outcome = asyncio.run(engine.run())
    return RunResult(outputs, errors, given, outcome.metrics, outcome.exit_code, outcome.failure)

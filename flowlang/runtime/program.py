"""The program a generated module builds: pipelines, their stages and edges.

Building only records what to run; stage instances are created when the run
starts, and only for the selected pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .context import Context
from .errors import FlowError

SegmentFactory = Callable[..., Callable[..., list]]


@dataclass
class StageDecl:
    """One stage: where it sits, how it was written, and (for instantiated
    roles) the runtime class and its arguments."""

    index: int
    label: str
    line: int
    role: str = "inline"  # source | processor | window | sink | route | inline | head
    cls: type | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class SegmentDecl:
    """Stages first..last fused into one synchronous loop over a batch;
    `watched`: its stages note which watched fields they saw (see
    `PipelineDecl.watch`), so it runs as `run(batch, dropped, fail, present)`;
    `tappable`: `factory(stages, tapped=True)` gives the same loop that also
    copies records passing its stages before the last, run as
    `run_tapped(batch, dropped, fail, present, want, got)` only while a tap
    is attached to one of them (`runtime/tap.py`)."""

    factory: SegmentFactory
    first: int
    last: int
    watched: bool = False
    tappable: bool = False


class PipelineDecl:
    """A pipeline as declared: a head (source, `from P` or `from P.errors`),
    segments and windows in stage order, and an optional sink. Its methods
    are the builder API that generated code calls."""

    def __init__(self, name: str, line: int, file: str, stages: list[StageDecl]):
        self.name = name
        self.line = line
        self.file = file
        self.stages = stages
        self.source_stage: StageDecl | None = None
        self.sink_stage: StageDecl | None = None
        # `route { … }`: the pipelines its routes go to, in route order; the
        # segment that ends with it returns one list of records per route
        self.routes: tuple[str, ...] = ()
        self.reads: str | None = None  # upstream pipeline name
        self.reads_errors = False
        self.segments: list[SegmentDecl] = []
        self.windows: list[StageDecl] = []
        self.watches: tuple[tuple[int, tuple[str, ...]], ...] = ()

    # builder API, called by generated code

    def source(self, index: int, cls: type, /, **args: Any) -> None:
        """Stage `index` (the head) is a Source of class `cls`."""
        self.source_stage = self._stage(index, "source", cls, args)

    def processor(self, index: int, cls: type, /, **args: Any) -> None:
        """Stage `index` is a per-record Processor used inside a segment."""
        self._stage(index, "processor", cls, args)

    def window(self, index: int, cls: type, /, **args: Any) -> None:
        """Stage `index` is a WindowProcessor; it separates segments."""
        self.windows.append(self._stage(index, "window", cls, args))

    def sink(self, index: int, cls: type, /, **args: Any) -> None:
        """Stage `index` (the last) is a Sink of class `cls`."""
        self.sink_stage = self._stage(index, "sink", cls, args)

    def route(self, index: int, targets: tuple[str, ...]) -> None:
        """Stage `index` (the last) routes each record to one of `targets`,
        the pipelines that read this one; it ends the last segment."""
        if index != len(self.stages) - 1:
            raise FlowError(f"pipeline {self.name}: a route must be the last stage")
        self.routes = tuple(targets)
        self.stages[index].role = "route"

    def segment(
        self,
        factory: SegmentFactory,
        first: int,
        last: int,
        watched: bool = False,
        tappable: bool = False,
    ) -> None:
        """Stages first..last run as `factory(stages)(batch, dropped, fail)`,
        with `present` (the pipeline's watch flags) when `watched`; see
        `SegmentDecl` for `tappable`."""
        if not (0 < first <= last < len(self.stages)):
            raise FlowError(f"pipeline {self.name}: bad segment {first}..{last}")
        self.segments.append(SegmentDecl(factory, first, last, watched, tappable))

    def watch(self, slots: tuple[tuple[int, tuple[str, ...]], ...]) -> None:
        """Fields to watch: slot k is (stage index, field path), a field the
        stage reads that may be absent from every record (the checker could
        not prove it exists). A segment sets `present[k]` once a record that
        reaches the stage has it; windows are watched by the runner."""
        for index, _ in slots:
            if not 0 < index < len(self.stages):
                raise FlowError(f"pipeline {self.name}: no stage {index} to watch")
        self.watches = tuple(slots)

    def read_from(self, upstream: str) -> None:
        """The head is `from upstream`: every record upstream emits."""
        self.reads, self.reads_errors = upstream, False
        self.stages[0].role = "head"

    def read_errors_from(self, upstream: str) -> None:
        """The head is `from upstream.errors`: upstream's error records."""
        self.reads, self.reads_errors = upstream, True
        self.stages[0].role = "head"

    def _stage(self, index: int, role: str, cls: type, args: dict) -> StageDecl:
        if not 0 <= index < len(self.stages):
            raise FlowError(f"pipeline {self.name}: no stage {index}")
        decl = self.stages[index]
        decl.role, decl.cls, decl.args = role, cls, args
        return decl

    def stage_label(self, index: int) -> str:
        """The name error records and metrics use: `geoip(ip) (web.flow:2)`."""
        decl = self.stages[index]
        return f"{decl.label} ({self.file}:{decl.line})"

    def steps(self) -> list[SegmentDecl | StageDecl]:
        """Segments and windows in stage order."""
        items: list[tuple[int, SegmentDecl | StageDecl]] = [(s.first, s) for s in self.segments]
        items += [(w.index, w) for w in self.windows]
        return [step for _, step in sorted(items, key=lambda pair: pair[0])]


class Program:
    """All pipelines of one `.flow` file."""

    def __init__(self, file: str, ctx: Context):
        self.file = file
        self.ctx = ctx
        self.pipelines: dict[str, PipelineDecl] = {}

    def pipeline(self, name: str, line: int, stages: list[tuple[str, int]]) -> PipelineDecl:
        """Declare a pipeline; `stages` is (label, line) for the head, each
        processor and the sink, in order."""
        if name in self.pipelines:
            raise FlowError(f"pipeline {name} is declared twice")
        decls = [StageDecl(i, label, ln) for i, (label, ln) in enumerate(stages)]
        pipe = PipelineDecl(name, line, self.file, decls)
        self.pipelines[name] = pipe
        return pipe

    def selected(self, name: str | None) -> list[PipelineDecl]:
        """The pipelines a run executes: all, or `name` and every pipeline it
        reads from (transitively), in declaration order."""
        self.validate()
        if name is None:
            return list(self.pipelines.values())
        if name not in self.pipelines:
            known = ", ".join(self.pipelines) or "none"
            raise FlowError(f"no pipeline named {name!r} (pipelines: {known})")
        wanted: set[str] = set()
        current: str | None = name
        while current is not None and current not in wanted:
            wanted.add(current)
            current = self.pipelines[current].reads
        return [p for p in self.pipelines.values() if p.name in wanted]

    def validate(self) -> None:
        """Every pipeline has a head, reads a known pipeline, and there are no cycles."""
        for pipe in self.pipelines.values():
            if pipe.source_stage is None and pipe.reads is None:
                raise FlowError(f"pipeline {pipe.name} has no source and reads no pipeline")
            if pipe.reads is not None and pipe.reads not in self.pipelines:
                raise FlowError(f"pipeline {pipe.name} reads unknown pipeline {pipe.reads!r}")
            for target in pipe.routes:
                reader = self.pipelines.get(target)
                if reader is None or reader.reads != pipe.name or reader.reads_errors:
                    raise FlowError(
                        f"pipeline {pipe.name} routes to {target!r}, which does not read it"
                    )
        for pipe in self.pipelines.values():
            seen = [pipe.name]
            current = pipe.reads
            while current is not None:
                if current in seen:
                    raise FlowError(
                        "pipelines read each other in a cycle: " + " <- ".join(seen + [current])
                    )
                seen.append(current)
                current = self.pipelines[current].reads

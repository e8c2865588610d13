"""The lowered plan: what the checker produces and the code generator reads.

Everything here is resolved and typed: stage arguments are bound constants,
expressions carry their static type, pipelines come in dependency order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from .types import Type

Path = tuple[str, ...]


# ---------------------------------------------------------------- typed expressions


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool, None; durations are Duration
    type: Type


@dataclass(frozen=True)
class Duration:
    millis: int
    type: Type


@dataclass(frozen=True)
class FieldRef:
    path: Path
    type: Type


@dataclass(frozen=True)
class ListExpr:
    items: tuple["TExpr", ...]
    type: Type


@dataclass(frozen=True)
class Unary:
    op: str  # "not" | "-"
    operand: "TExpr"
    type: Type


@dataclass(frozen=True)
class Binary:
    """`=~` has a Literal str pattern on the right (checked to compile)."""

    op: str
    left: "TExpr"
    right: "TExpr"
    type: Type


@dataclass(frozen=True)
class IfExpr:
    cond: "TExpr"
    then: "TExpr"
    else_: "TExpr"
    type: Type


@dataclass(frozen=True)
class Call:
    """A builtin function call (see flowlang.builtins); never `env`."""

    name: str
    args: tuple["TExpr", ...]
    type: Type


@dataclass(frozen=True)
class EnvCall:
    """`env("NAME", default)`: read once when the program starts, held then
    to `check` (a rule as `stages.spec.Param.check`: a regex for `=~`, a
    builtin's argument rule) with `what` naming it in the message."""

    name: str
    default: str | None
    type: Type
    check: Callable[..., Any] | None = None
    what: str = field(default="", compare=False)


TExpr = Union[Literal, Duration, FieldRef, ListExpr, Unary, Binary, IfExpr, Call, EnvCall]


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepInfo:
    index: int  # 0 is the head; the sink, if any, is last
    label: str  # the stage as the user wrote it, one line, for comments and errors
    line: int  # 1-based line in the .flow file
    # fields the stage reads that the checker could not prove exist (of open
    # records or `any`); the run reports those absent from every record
    unproven_reads: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Choice:
    """The argument of a CHOICE parameter: the option and its own arguments
    (bound like a call's, in the option's parameter order)."""

    option: str
    args: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class CallStep:
    """A catalogue stage: source, processor or sink.

    `args` are the bound arguments, (name, value) pairs in the spec's
    parameter order with defaults filled in: constants, field paths (tuples),
    schemas (`types.RecordT`), `Choice` for an option, and
    `stages.spec.EnvRef` for env(). How they are passed to the runtime
    class is the generator's business (`codegen.calls`)."""

    info: StepInfo
    role: str  # "source" | "processor" | "sink"
    name: str
    module: str  # "flowlang.stages.geoip"
    runtime: str  # "GeoIP"
    args: tuple[tuple[str, Any], ...]
    may_drop: bool
    input_type: Type | None
    output_type: Type | None


@dataclass(frozen=True)
class FromStep:
    """The head `from NAME` or `from NAME.errors`."""

    info: StepInfo
    pipeline: str
    errors: bool
    output_type: Type


@dataclass(frozen=True)
class WhereStep:
    info: StepInfo
    cond: TExpr


@dataclass(frozen=True)
class SetStep:
    info: StepInfo
    assignments: tuple[tuple[Path, TExpr], ...]


@dataclass(frozen=True)
class DropStep:
    info: StepInfo
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class KeepStep:
    info: StepInfo
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class RenameStep:
    info: StepInfo
    pairs: tuple[tuple[Path, Path], ...]


@dataclass(frozen=True)
class AggregatePlan:
    name: str  # output field
    function: str  # count, sum, avg, min, max, p50, p90, p95, p99, distinct_count
    path: Path | None  # the aggregated field; None for count()
    type: Type  # the output field's type


@dataclass(frozen=True)
class SummarizeStep:
    info: StepInfo
    aggregates: tuple[AggregatePlan, ...]
    keys: tuple[tuple[str, Path], ...]  # (output field, path)
    every_ms: int
    on: Path | None  # event-time field; None: processing time
    allowed_lateness_ms: int
    output_type: Type


@dataclass(frozen=True)
class RouteStep:
    """`route { … }`, always the last step: each record goes to the pipeline
    of the first route whose condition holds (null counts as false), or of
    the `else` route (condition None); with no `else`, a record that no route
    takes is dropped."""

    info: StepInfo
    routes: tuple[tuple[str, TExpr | None], ...]  # (target pipeline, condition)
    texts: tuple[str, ...] = ()  # each route's condition as written (canonical), or "else"


Step = Union[CallStep, WhereStep, SetStep, DropStep, KeepStep, RenameStep, SummarizeStep, RouteStep]
Head = Union[CallStep, FromStep]


@dataclass(frozen=True)
class PipelinePlan:
    name: str
    line: int
    head: Head
    steps: tuple[Step, ...]  # processors and relational stages, then the sink if any
    output_type: Type  # the record type after the last processor
    readers: tuple[str, ...]  # pipelines reading `from NAME` (its routes' targets, if it routes)
    error_readers: tuple[str, ...]  # pipelines reading `from NAME.errors`


# ---------------------------------------------------------------- tests


@dataclass(frozen=True)
class GivenPlan:
    """Input for the source of `pipeline`: fixed records (already coerced to
    run-time values), or generated from `type` (a property test), optionally
    constrained by `where`."""

    pipeline: str
    type: Type  # the record type the replaced source produces
    records: tuple[Any, ...] | None
    where: TExpr | None


@dataclass(frozen=True)
class ExpectPlan:
    """One `expect` line, lowered.

    form: "equals" (P's records are exactly `records`, in any order),
    "contains" / "lacks" (a record matching the partial `records[0]` is / is
    not among P's), "every" (`cond` holds for each of P's records), "counts"
    (`cond` over the counts record, whose fields are named `count(P)`,
    `count(P.errors)`, `count(P.input)`, `count(P.dropped)`), "reaches" /
    "absent" (each record given to `given` that satisfies `cond` does / does
    not reach P, matched on the fields `key`)."""

    form: str
    line: int
    text: str  # the expectation as written, one line
    span: Any  # source.Span of the expectation
    pipeline: str | None = None
    errors: bool = False  # P.errors rather than P
    records: tuple[Any, ...] = ()
    cond: TExpr | None = None
    given: str | None = None
    key: tuple[Path, ...] = ()


@dataclass(frozen=True)
class TestPlan:
    name: str
    property: bool
    line: int
    span: Any  # source.Span of the whole test
    given: tuple[GivenPlan, ...]
    expects: tuple[ExpectPlan, ...]
    now: Any  # an aware datetime
    env: tuple[tuple[str, str], ...]
    examples: int | None  # property tests: how many inputs (None: the default)


@dataclass(frozen=True)
class Plan:
    file: str  # the .flow file's name as given
    pipelines: tuple[PipelinePlan, ...]  # producers before their readers
    tests: tuple[TestPlan, ...] = ()
    schemas: tuple[tuple[str, Type], ...] = ()  # the declared schemas, by name
    # files read while checking whose text the generated code carries (grok
    # patterns files), absolute: the compile cache checks they are unchanged
    inputs: tuple[str, ...] = ()

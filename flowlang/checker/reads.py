"""The fields a stage reads that the checker cannot prove exist.

A field of an open record or of `any` may be absent from every record (a
typo: `where stauts >= 500` on JSON without a schema). The checker cannot
tell, so it lists these reads on the step (`StepInfo.unproven_reads`); the
generated code notes whether each was present in at least one record, and
the run reports the ones that never were.

A read the program already guards is not listed: the left side of `??`
(`latency ?? 0`) and a comparison with `null` (`user == null`) say that the
field may be missing.
"""

from __future__ import annotations

from .. import ir
from ..stages import find
from ..stages.spec import ParamKind
from ..types import Nullable, RecordT, Type

Path = tuple[str, ...]


def declared(record: Type, path: Path) -> bool:
    """Is `path` a field the record type declares (unknown fields of open
    records are not known to exist)?"""
    current = record
    for name in path:
        if isinstance(current, Nullable):
            current = current.inner
        if not isinstance(current, RecordT):
            return False
        found = current.get(name)
        if found is None:
            return False
        current = found
    return True


def unproven_reads(step: ir.Step, record: RecordT) -> tuple[Path, ...]:
    """The paths `step` reads from its input record of type `record` that the
    type does not declare, in the order they are read, each once."""
    reads: list[Path] = []
    written: set[Path] = set()  # fields an earlier part of the same stage made

    def read(path: Path | None) -> None:
        if path is None or any(path[: len(w)] == w for w in written):
            return
        if path not in reads and not declared(record, path):
            reads.append(path)

    if isinstance(step, ir.WhereStep):
        for path in expression_reads(step.cond):
            read(path)
    elif isinstance(step, ir.RouteStep):
        for _, cond in step.routes:
            for path in expression_reads(cond) if cond is not None else ():
                read(path)
    elif isinstance(step, ir.SetStep):
        for target, value in step.assignments:
            for path in expression_reads(value):
                read(path)
            written.add(target)
    elif isinstance(step, (ir.DropStep, ir.KeepStep)):
        for path in step.paths:
            read(path)
    elif isinstance(step, ir.RenameStep):
        for old, new in step.pairs:
            read(old)
            written.add(new)
    elif isinstance(step, ir.SummarizeStep):
        for _, path in step.keys:
            read(path)
        for aggregate in step.aggregates:
            read(aggregate.path)
        read(step.on)
    elif isinstance(step, ir.CallStep) and step.role == "processor":
        for path in _field_arguments(step):
            read(path)
    return tuple(reads)


def _field_arguments(step: ir.CallStep) -> list[Path]:
    spec = find(step.role, step.name)
    if spec is None:
        return []
    paths: list[Path] = []
    for name, value in step.args:
        param = spec.param(name)
        if param is None or value is None:
            continue
        if param.kind is ParamKind.FIELD:
            paths.append(value)
        elif param.kind is ParamKind.FIELDS:
            paths.extend(value)
    return paths


def expression_reads(e: ir.TExpr) -> list[Path]:
    """The field paths an expression reads, but those it guards against
    absence (left of `??`, compared with null)."""
    found: list[Path] = []

    def walk(node: ir.TExpr) -> None:
        if isinstance(node, ir.FieldRef):
            found.append(node.path)
        elif isinstance(node, ir.Binary):
            if node.op == "??":
                walk(node.right)
                return
            if node.op in ("==", "!=") and (_is_null(node.left) or _is_null(node.right)):
                return
            walk(node.left)
            walk(node.right)
        elif isinstance(node, ir.Unary):
            walk(node.operand)
        elif isinstance(node, ir.IfExpr):
            walk(node.cond)
            walk(node.then)
            walk(node.else_)
        elif isinstance(node, ir.ListExpr):
            for item in node.items:
                walk(item)
        elif isinstance(node, ir.Call):
            for arg in node.args:
                walk(arg)

    walk(e)
    return found


def _is_null(e: ir.TExpr) -> bool:
    return isinstance(e, ir.Literal) and e.value is None

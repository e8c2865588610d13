"""Tests written in the language: `test` and `property` blocks, checked
against the program they sit in and lowered into `ir.TestPlan`s.

Given records are typed against the record type of the source they replace,
expected records against the output type of the pipeline they name, with the
same coercion a source applies at run time (`runtime.coerce`), so a test
accepts exactly what the real source would produce.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Any

from .. import ast, codes, ir
from ..runtime.base import RecordError
from ..runtime.coerce import coercer
from ..source import SourceFile, Span
from ..syntax import path_label
from ..types import ANY, ERROR_RECORD, INT, ListT, Nullable, RecordT, Type, to_descriptor
from .chain import ChainResult
from .exprs import ExprChecker, is_condition
from .records import lookup
from .report import Reporter, did_you_mean, pick_span

DEFAULT_NOW = _dt.datetime(2025, 1, 1, tzinfo=_dt.timezone.utc)
COUNT_PARTS = ("errors", "input", "dropped")
_BAD = object()  # a constant that could not be evaluated (already reported)


class TestChecker:
    """Checks the tests of one file against its checked pipelines."""

    def __init__(
        self, src: SourceFile, rep: Reporter, exprs: ExprChecker, results: dict[str, ChainResult]
    ) -> None:
        self.src = src
        self.rep = rep
        self.exprs = exprs
        self.results = results

    def check_all(self, tests: list[ast.Test]) -> list[ir.TestPlan]:
        plans: list[ir.TestPlan] = []
        seen: dict[str, ast.Test] = {}
        for test in tests:
            if test.name in seen:
                self.rep.error(
                    codes.DUPLICATE_NAME,
                    f'test "{test.name}" is defined twice',
                    pick_span(test.name_span, test.span),
                    hint="give each test its own name: `-k` selects tests by name",
                )
                continue
            seen[test.name] = test
            plan = self.check(test)
            if plan is not None:
                plans.append(plan)
        return plans

    def check(self, test: ast.Test) -> ir.TestPlan | None:
        errors_before = self.rep.error_count
        given: dict[str, ir.GivenPlan] = {}
        expects: list[ir.ExpectPlan] = []
        settings: dict[str, Any] = {"now": DEFAULT_NOW, "examples": None}
        env: dict[str, str] = {}
        for item in test.items:
            if isinstance(item, ast.Given):
                plan = self._given(item, test)
                if plan is not None:
                    if item.pipeline in given:
                        self.rep.error(
                            codes.DUPLICATE_NAME,
                            f"input for `{item.pipeline}` is given twice",
                            pick_span(item.name_span, item.span),
                        )
                    given[item.pipeline] = plan
            elif isinstance(item, ast.Setting):
                self._setting(item, test, settings, env)
            else:
                expect = self._expect(item)
                if expect is not None:
                    expects.append(expect)
        if not any(isinstance(item, ast.Expect) for item in test.items):
            self.rep.error(
                codes.BAD_EXPECTATION,
                f'test "{test.name}" expects nothing',
                pick_span(test.name_span, test.span),
                hint="add `expect …` lines; a property test still checks the "
                "built-in laws, but say so with e.g. `expect count(P) >= 0`",
            )
        if self.rep.error_count > errors_before:
            return None
        return ir.TestPlan(
            name=test.name,
            property=test.property,
            line=self.src.line_col(test.span.start)[0],
            span=test.span,
            given=tuple(given.values()),
            expects=tuple(expects),
            now=settings["now"],
            env=tuple(sorted(env.items())),
            examples=settings["examples"],
        )

    # ------------------------------------------------------------ given

    def _pipeline(self, name: str, span: Span) -> ChainResult | None:
        found = self.results.get(name)
        if found is None:
            hint = did_you_mean(name, self.results) or (
                "the pipelines are " + ", ".join(f"`{n}`" for n in self.results)
            )
            self.rep.error(codes.UNKNOWN_PIPELINE, f"unknown pipeline `{name}`", span, hint=hint)
        return found

    def _source_type(self, name: str, span: Span) -> RecordT | None:
        """The record type the source of pipeline `name` produces."""
        found = self._pipeline(name, span)
        if found is None:
            return None
        head = found.head
        if not isinstance(head, ir.CallStep):
            upstream = head.pipeline if isinstance(head, ir.FromStep) else "another pipeline"
            self.rep.error(
                codes.GIVEN_NO_SOURCE,
                f"`{name}` has no source to replace: it reads `{upstream}`",
                span,
                hint=f"give the records to the pipeline with the source (`given {upstream} = …`)",
            )
            return None
        out = head.output_type
        return out if isinstance(out, RecordT) else RecordT((), open=True)

    def _given(self, item: ast.Given, test: ast.Test) -> ir.GivenPlan | None:
        span = pick_span(item.name_span, item.span)
        typ = self._source_type(item.pipeline, span)
        if typ is None:
            return None
        if item.records is None:
            if not test.property:
                self.rep.error(
                    codes.BAD_TEST_SETTING,
                    "generated input belongs in a `property` test",
                    item.span,
                    hint=f"give records (`given {item.pipeline} = [{{…}}]`), or "
                    "write `property` instead of `test`",
                )
                return None
            where = None
            if item.where is not None:
                where = self._condition(item.where, typ)
            return ir.GivenPlan(item.pipeline, typ, None, where)
        exprs = item.records.items if isinstance(item.records, ast.ListExpr) else (item.records,)
        records = []
        for expr in exprs:
            value = self.typed(expr, typ, partial=False)
            if value is not _BAD:
                records.append(value)
        return ir.GivenPlan(item.pipeline, typ, tuple(records), None)

    def _setting(self, item: ast.Setting, test: ast.Test, settings: dict, env: dict) -> None:
        value = constant(item.value, self.rep)
        if value is _BAD:
            return
        if item.name == "now":
            try:
                settings["now"] = coercer("time")(value)
            except RecordError:
                self.rep.error(
                    codes.BAD_TEST_SETTING,
                    "`now` must be a time",
                    item.value.span,
                    hint='e.g. now = "2025-01-01T12:00:00Z"',
                )
        elif item.name == "env":
            if not isinstance(value, str):
                self.rep.error(
                    codes.BAD_TEST_SETTING,
                    "an environment variable's value is a string",
                    item.value.span,
                    hint='write it in quotes: "…"',
                )
            else:
                env[item.variable] = value
        elif not test.property:
            self.rep.error(
                codes.BAD_TEST_SETTING,
                "`examples` belongs in a `property` test",
                item.span,
                hint="an example test runs once, on its given records",
            )
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
            self.rep.error(
                codes.BAD_TEST_SETTING,
                "`examples` is a whole number from 1 to 100000",
                item.value.span,
            )
        else:
            settings["examples"] = value

    def typed(self, expr: ast.Expr, typ: Type, partial: bool, path: tuple[str, ...] = ()) -> Any:
        """The run-time value of constant `expr` as a value of type `typ`
        (coerced as a source would), or _BAD after reporting why not.
        `partial`: a record may leave fields out (`{…} in P`)."""
        if isinstance(typ, Nullable):
            if isinstance(expr, ast.Literal) and expr.value is None:
                return None
            typ = typ.inner
        if isinstance(typ, RecordT):
            if not isinstance(expr, ast.RecordExpr):
                return self._mismatch(expr, typ, path, "a record `{…}`")
            return self._record(expr, typ, partial, path)
        if isinstance(typ, ListT):
            if not isinstance(expr, ast.ListExpr):
                return self._mismatch(expr, typ, path, "a list `[…]`")
            items = [self.typed(i, typ.item, partial, path) for i in expr.items]
            return _BAD if any(i is _BAD for i in items) else items
        value = constant(expr, self.rep)
        if value is _BAD or typ == ANY:
            return value
        try:
            return coercer(to_descriptor(typ))(value)
        except RecordError:
            return self._mismatch(expr, typ, path, None)

    def _mismatch(self, expr: ast.Expr, typ: Type, path: tuple[str, ...], shape: str | None):
        where = f"field `{path_label(path)}` " if path else ""
        hints = {
            "time": 'a time is written as text: "2025-01-01T12:00:00Z"',
            "ip": 'an address is written as text: "192.0.2.1"',
            "duration": "a duration is written 250ms, 5s, 1m, 2h or 1d",
        }
        self.rep.error(
            codes.TYPE_MISMATCH,
            f"{where}expects {typ}",
            expr.span,
            hint=hints.get(str(typ)) or (f"write {shape}" if shape else None),
        )
        return _BAD

    def _record(self, expr: ast.RecordExpr, typ: RecordT, partial: bool, path) -> Any:
        out: dict[str, Any] = {}
        bad = False
        for entry in expr.entries:
            sub = path + (entry.name,)
            if entry.name in out:
                self.rep.error(
                    codes.DUPLICATE_FIELD, f"field `{path_label(sub)}` is given twice", entry.span
                )
                bad = True
                continue
            ftype = typ.get(entry.name)
            if ftype is None and not typ.open:
                lookup(typ, (entry.name,), entry.span, self.rep)  # reports the unknown field
                bad = True
                continue
            value = self.typed(entry.value, ftype or ANY, partial, sub)
            bad = bad or value is _BAD
            out[entry.name] = value
        if not partial:
            for name, ftype in typ.fields:
                if name not in out and not path and name.startswith("_"):
                    out[name] = zero_value(ftype)  # a source's metadata (`_nats`)
                elif name not in out and not (isinstance(ftype, Nullable) or ftype == ANY):
                    self.rep.error(
                        codes.TYPE_MISMATCH,
                        f"field `{path_label(path + (name,))}` is missing (it is {ftype})",
                        expr.span,
                        hint=f"add `{path_label((name,))}: …`, or make the field "
                        "nullable in the schema",
                    )
                    bad = True
                elif name not in out:
                    out[name] = None
        return _BAD if bad else out

    def _condition(self, expr: ast.Expr, typ: Type) -> ir.TExpr:
        cond = self.exprs.check(expr, typ)
        if not is_condition(cond.type):
            self.rep.error(codes.NOT_BOOL, f"the condition is {cond.type}, not bool", expr.span)
        return cond

    # ------------------------------------------------------------ expect

    def _target(self, ref: ast.FieldRef) -> tuple[str, bool, Type] | None:
        """(pipeline, errors, record type) for `P` or `P.errors`."""
        name = ref.path[0]
        found = self._pipeline(name, ref.span)
        if found is None:
            return None
        if len(ref.path) == 1:
            return name, False, found.output_type
        if ref.path[1:] == ("errors",):
            return name, True, ERROR_RECORD
        self.rep.error(
            codes.BAD_EXPECTATION,
            f"`{path_label(ref.path)}` is not a pipeline's records",
            ref.span,
            hint=f"name the records of `{name}` or its error records, `{name}.errors`",
        )
        return None

    def _expect(self, item: ast.Expect) -> ir.ExpectPlan | None:
        line = self.src.line_col(item.span.start)[0]
        text = " ".join(self.src.text[item.span.start : item.span.end].split())
        base = dict(line=line, text=text, span=item.span)
        if item.form == "every":
            target = self._target(item.target)
            if target is None:
                return None
            name, errors, typ = target
            return ir.ExpectPlan(
                "every", pipeline=name, errors=errors, cond=self._condition(item.cond, typ), **base
            )
        if item.form in ("reaches", "absent"):
            return self._reaches(item, base)
        return self._that(item.cond, base)

    def _that(self, cond: ast.Expr, base: dict) -> ir.ExpectPlan | None:
        negated = isinstance(cond, ast.Unary) and cond.op == "not"
        inner = cond.operand if negated else cond
        if (
            isinstance(inner, ast.Binary)
            and inner.op == "in"
            and isinstance(inner.left, ast.RecordExpr)
            and isinstance(inner.right, ast.FieldRef)
        ):
            target = self._target(inner.right)
            if target is None:
                return None
            name, errors, typ = target
            record = self.typed(inner.left, typ, partial=True)
            if record is _BAD:
                return None
            return ir.ExpectPlan(
                "lacks" if negated else "contains",
                pipeline=name,
                errors=errors,
                records=(record,),
                **base,
            )
        if (
            isinstance(cond, ast.Binary)
            and cond.op == "=="
            and isinstance(cond.left, ast.FieldRef)
            and isinstance(cond.right, ast.ListExpr)
        ):
            target = self._target(cond.left)
            if target is None:
                return None
            name, errors, typ = target
            records = [self.typed(r, typ, partial=False) for r in cond.right.items]
            if any(r is _BAD for r in records):
                return None
            return ir.ExpectPlan(
                "equals", pipeline=name, errors=errors, records=tuple(records), **base
            )
        fields: dict[str, Type] = {}
        rewritten = self._counts(cond, fields)
        if rewritten is None:
            return None
        scope = RecordT(tuple(fields.items()), open=False)
        return ir.ExpectPlan("counts", cond=self._condition(rewritten, scope), **base)

    def _counts(self, e: ast.Expr, fields: dict[str, Type]) -> ast.Expr | None:
        """`e` with each `count(P…)` replaced by a field of the counts record."""
        if isinstance(e, ast.Call) and e.name == "count":
            arg = e.args[0].value if len(e.args) == 1 and e.args[0].name is None else None
            if not isinstance(arg, ast.FieldRef) or len(arg.path) > 2:
                self.rep.error(
                    codes.BAD_EXPECTATION,
                    "count() takes a pipeline: count(P), "
                    "count(P.errors), count(P.input) or count(P.dropped)",
                    e.span,
                )
                return None
            name = arg.path[0]
            if self._pipeline(name, arg.span) is None:
                return None
            part = arg.path[1] if len(arg.path) == 2 else None
            if part is not None and part not in COUNT_PARTS:
                self.rep.error(
                    codes.BAD_EXPECTATION,
                    f"unknown count `{path_label(arg.path)}`",
                    arg.span,
                    hint=did_you_mean(part, COUNT_PARTS)
                    or "count(P), count(P.errors), count(P.input), count(P.dropped)",
                )
                return None
            key = count_key(name, part)
            fields[key] = INT
            return ast.FieldRef((key,), span=e.span)
        if isinstance(e, ast.FieldRef):
            self.rep.error(
                codes.BAD_EXPECTATION,
                f"`{path_label(e.path)}` alone is not something a test can check",
                e.span,
                hint=f"compare counts (`count({path_label(e.path[:1])}) == 2`), "
                f"records (`{path_label(e.path[:1])} == [{{…}}]`), or write "
                f"`expect every {path_label(e.path[:1])}: …`",
            )
            return None
        if isinstance(e, ast.RecordExpr):
            self.rep.error(
                codes.BAD_EXPECTATION,
                "a record is compared with a pipeline's records",
                e.span,
                hint="write `{…} in P` or `P == [{…}]`",
            )
            return None
        children: dict[str, Any] = {}
        for f in dataclasses.fields(e):
            value = getattr(e, f.name)
            if isinstance(
                value,
                (
                    ast.Literal,
                    ast.Duration,
                    ast.FieldRef,
                    ast.ListExpr,
                    ast.RecordExpr,
                    ast.Unary,
                    ast.Binary,
                    ast.IfExpr,
                    ast.Call,
                ),
            ):
                new = self._counts(value, fields)
                if new is None:
                    return None
                children[f.name] = new
            elif isinstance(value, tuple) and value and isinstance(value[0], (ast.Arg,)):
                args = []
                for arg in value:
                    new = self._counts(arg.value, fields)
                    if new is None:
                        return None
                    args.append(dataclasses.replace(arg, value=new))
                children[f.name] = tuple(args)
            elif isinstance(value, tuple) and value and not isinstance(value[0], str):
                items = []
                for item in value:
                    new = self._counts(item, fields)
                    if new is None:
                        return None
                    items.append(new)
                children[f.name] = tuple(items)
        return dataclasses.replace(e, **children) if children else e

    def _reaches(self, item: ast.Expect, base: dict) -> ir.ExpectPlan | None:
        given_span = pick_span(item.name_span, item.span)
        source = self._source_type(item.given, given_span)
        target = self._pipeline(item.pipeline, pick_span(item.pipeline_span, item.span))
        if source is None or target is None:
            return None
        path = self._path(item.given, item.pipeline)
        if path is None:
            self.rep.error(
                codes.NOT_DOWNSTREAM,
                f"`{item.pipeline}` does not receive the records given to `{item.given}`",
                pick_span(item.pipeline_span, item.span),
                hint=f"name `{item.given}` or a pipeline that reads from it",
            )
            return None
        cond = self._condition(item.cond, source) if item.cond is not None else None
        if item.by:
            key = []
            for ref in item.by:
                if (
                    lookup(source, ref.path, ref.span, self.rep) is not None
                    and lookup(target.output_type, ref.path, ref.span, self.rep) is not None
                ):
                    key.append(ref.path)
            if len(key) < len(item.by):
                return None
        else:
            key = default_key(source, target.output_type, path)
            if not key:
                self.rep.error(
                    codes.BAD_EXPECTATION,
                    f"no field identifies a given record in `{item.pipeline}`",
                    item.span,
                    hint="name the fields to match on: `… by field, other`",
                )
                return None
        return ir.ExpectPlan(
            "reaches" if item.form == "reaches" else "absent",
            pipeline=item.pipeline,
            given=item.given,
            cond=cond,
            key=tuple(key),
            **base,
        )

    def _path(self, given: str, pipeline: str) -> list[ChainResult] | None:
        """The chains a record given to `given` passes through to leave
        `pipeline`, upstream first, or None when it never gets there."""
        chain: list[ChainResult] = []
        current: str | None = pipeline
        while current is not None and current in self.results:
            result = self.results[current]
            chain.insert(0, result)
            if current == given:
                return chain
            head = result.head
            current = head.pipeline if isinstance(head, ir.FromStep) and not head.errors else None
        return None


def count_key(pipeline: str, part: str | None) -> str:
    """The counts record's field for `count(P)` / `count(P.errors)` / …."""
    return f"count({pipeline})" if part is None else f"count({pipeline}.{part})"


def default_key(source: RecordT, output: Type, chains: list[ChainResult]) -> list[tuple[str, ...]]:
    """The fields that identify a given record among a pipeline's outputs when
    `by` is not written: top-level fields of the source's type that reach
    the output with the same type and that no stage on the way names."""
    touched: set[str] = set()
    for chain in chains:
        for step in chain.steps:
            touched.update(_named_fields(step))
    out = output if isinstance(output, RecordT) else None
    if out is None:
        return []
    return [(name,) for name, typ in source.fields if name not in touched and out.get(name) == typ]


def _named_fields(step: ir.Step) -> set[str]:
    if isinstance(step, ir.SetStep):
        return {path[0] for path, _ in step.assignments}
    if isinstance(step, ir.DropStep):
        return {path[0] for path in step.paths}
    if isinstance(step, ir.RenameStep):
        return {p[0] for pair in step.pairs for p in pair}
    if isinstance(step, ir.CallStep):
        found: set[str] = set()
        for _, value in step.args:
            _collect_paths(value, found)
        return found
    return set()


def _collect_paths(value: Any, found: set[str]) -> None:
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        found.add(value[0])
    elif isinstance(value, (tuple, list)):
        for v in value:
            _collect_paths(v, found)


def zero_value(t: Type) -> Any:
    """The value a left-out metadata field of type `t` takes in a test."""
    if isinstance(t, Nullable) or t == ANY:
        return None
    if isinstance(t, RecordT):
        return {name: zero_value(ftype) for name, ftype in t.fields}
    if isinstance(t, ListT):
        return []
    zeros = {
        "str": "",
        "int": 0,
        "float": 0.0,
        "bool": False,
        "ip": "0.0.0.0",
        "time": _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc),
        "duration": _dt.timedelta(0),
    }
    return zeros.get(t.name)


def constant(expr: ast.Expr, rep: Reporter) -> Any:
    """The run-time value of a constant expression (literals, durations,
    lists, records, negated numbers), or _BAD after reporting why not."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.Duration):
        return _dt.timedelta(milliseconds=expr.millis)
    if isinstance(expr, ast.ListExpr):
        items = [constant(i, rep) for i in expr.items]
        return _BAD if any(i is _BAD for i in items) else items
    if isinstance(expr, ast.RecordExpr):
        out = {e.name: constant(e.value, rep) for e in expr.entries}
        return _BAD if any(v is _BAD for v in out.values()) else out
    if isinstance(expr, ast.Unary) and expr.op == "-":
        inner = constant(expr.operand, rep)
        if isinstance(inner, (int, float, _dt.timedelta)) and not isinstance(inner, bool):
            return -inner
        if inner is _BAD:
            return _BAD
    rep.error(
        codes.NOT_CONSTANT,
        "a test's records and settings are constants",
        expr.span,
        hint="write the value itself: a string, number, duration, list or record",
    )
    return _BAD

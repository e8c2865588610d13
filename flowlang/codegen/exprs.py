"""Typed expressions and relational stages → Python source lines.

Where the checker proved the operand types, the plain Python operator is
emitted; otherwise a helper from `flowlang.runtime.ops` applies the null rules
and run-time type checks. Constants (regexes, durations, env values) are
hoisted out of the record loop into the segment's setup.
"""

from __future__ import annotations

import sys
from typing import Callable

from .. import ir
from ..builtins import FUNCTIONS
from ..stages.spec import EnvRef
from ..types import ANY, BOOL, IP, STR, ListT, RecordT, python_operator, strip_null
from .literals import env_code, pyrepr

_COMPARE = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_ARITH = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}


def runtime_function(fn: Callable) -> str:
    """How a generated module names `fn`, a module-level function of
    flowlang.runtime (a rule an env() value is held to): `_ops.f`, `rt.times.f`."""
    module, name = fn.__module__, fn.__name__
    assert getattr(sys.modules[module], name, None) is fn, fn
    if module == "flowlang.runtime.ops":
        return f"_ops.{name}"
    sub = module.removeprefix("flowlang.runtime.")
    assert module == f"flowlang.runtime.{sub}" and sub.isidentifier(), module
    return f"rt.{sub}.{name}"


class Hoister:
    """Collects the setup lines of one segment: constants computed once."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._names: dict[str, str] = {}
        self._temps = 0

    def const(self, prefix: str, expr: str) -> str:
        name = self._names.get(expr)
        if name is None:
            name = self._names[expr] = f"{prefix}_{len(self._names)}"
            self.lines.append(f"{name} = {expr}")
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"


class ExprCompiler:
    def __init__(self, hoist: Hoister, function: Callable[[Callable], str] | None = None) -> None:
        self.hoist = hoist
        self.function = function  # how the module names a rule an env() value is held to

    def expr(self, e: ir.TExpr) -> str:
        method = getattr(self, "_" + type(e).__name__)
        return method(e)

    def cond(self, e: ir.TExpr) -> str:
        """A Python truth value for a condition: null counts as false."""
        if e.type == BOOL:
            return self.expr(e)
        return f"_ops.truth({self.expr(e)})"

    def _Literal(self, e: ir.Literal) -> str:
        return pyrepr(e.value)

    def _Duration(self, e: ir.Duration) -> str:
        return self.hoist.const("dur", f"_ops.duration({e.millis!r})")

    def _FieldRef(self, e: ir.FieldRef) -> str:
        if len(e.path) == 1:
            return f"rec.get({pyrepr(e.path[0])})"
        return f"_ops.get_path(rec, {pyrepr(e.path)})"

    def _ListExpr(self, e: ir.ListExpr) -> str:
        return "[" + ", ".join(self.expr(i) for i in e.items) + "]"

    def _Unary(self, e: ir.Unary) -> str:
        if e.op == "not":
            return f"(not {self.cond(e.operand)})"
        operand = self.expr(e.operand)
        if python_operator("-", e.operand.type):
            return f"(-{operand})"
        return f"_ops.neg({operand})"

    def _Binary(self, e: ir.Binary) -> str:
        op, lt, rt_ = e.op, e.left.type, e.right.type
        if op in ("and", "or"):
            return f"({self.cond(e.left)} {op} {self.cond(e.right)})"
        if op == "??":
            tmp = self.hoist.temp()
            return (
                f"({tmp} if ({tmp} := {self.expr(e.left)}) is not None else {self.expr(e.right)})"
            )
        if op == "=~":
            if isinstance(e.right, ir.EnvCall):
                source = self._EnvCall(e.right)
            else:
                source = pyrepr(e.right.value)
            pattern = self.hoist.const("re", f"_ops.regex({source})")
            if lt == STR:
                return f"({pattern}.search({self.expr(e.left)}) is not None)"
            return f"_ops.match({pattern}, {self.expr(e.left)})"
        left, right = self.expr(e.left), self.expr(e.right)
        if op == "in":
            return f"_ops.in_({left}, {right})"
        if python_operator(op, lt, rt_):
            return f"({left} {op} {right})"
        if op in ("==", "!="):
            return f"_ops.{'eq' if op == '==' else 'ne'}({left}, {right})"
        if op in _COMPARE:
            if strip_null(lt) == IP and strip_null(rt_) == IP:
                return f"_ops.{_COMPARE[op]}(_ops.ip_key({left}), _ops.ip_key({right}))"
            return f"_ops.{_COMPARE[op]}({left}, {right})"
        return f"_ops.{_ARITH[op]}({left}, {right})"

    def _IfExpr(self, e: ir.IfExpr) -> str:
        return f"({self.expr(e.then)} if {self.cond(e.cond)} else {self.expr(e.else_)})"

    def _Call(self, e: ir.Call) -> str:
        impl = FUNCTIONS[e.name].impl.__name__  # a function of runtime.ops (tests/test_builtins.py)
        return f"_ops.{impl}(" + ", ".join(self.expr(a) for a in e.args) + ")"

    def _EnvCall(self, e: ir.EnvCall) -> str:
        ref = EnvRef(e.name, e.default, check=e.check, what=e.what)
        return self.hoist.const("env", env_code(ref, self.function))


def _may_share(e: ir.TExpr) -> bool:
    """Could `e` evaluate to a dict or list that is part of the record?"""
    if isinstance(e, (ir.Literal, ir.Duration, ir.Call, ir.EnvCall, ir.Unary)):
        return False
    if isinstance(e, ir.Binary) and e.op != "??":
        return False
    return strip_null(e.type) == ANY or isinstance(strip_null(e.type), (ListT, RecordT))


def watch_lines(slots: list[tuple[int, ir.Path]]) -> list[str]:
    """Lines that note, once, that a record reaching the stage had the field
    of each watch slot; `_seen_<slot>` is local to the segment's run and
    saved in `present` after the batch."""
    lines = []
    for slot, path in slots:
        if len(path) == 1:
            test = f"{pyrepr(path[0])} in rec"
        else:
            test = f"_ops.has_path(rec, {pyrepr(path)})"
        lines += [f"if not _seen_{slot} and {test}:", f"    _seen_{slot} = True"]
    return lines


def step_lines(step: ir.Step, exprs: ExprCompiler, stage_var: str | None) -> list[str]:
    """The body lines of one fused stage; `rec` is the current record."""
    i = step.info.index
    if isinstance(step, ir.WhereStep):
        return [f"if not {exprs.cond(step.cond)}:", f"    dropped[{i}] += 1", "    continue"]
    if isinstance(step, ir.RouteStep):
        # the first route whose condition holds takes the record; an `else`
        # takes the rest, and the routes after it are never tried
        lines = []
        for r, (_, cond) in enumerate(step.routes):
            if cond is None:
                if r == 0:
                    return [f"take_{r}(rec)"]
                return lines + ["else:", f"    take_{r}(rec)"]
            lines += [f"{'if' if r == 0 else 'elif'} {exprs.cond(cond)}:", f"    take_{r}(rec)"]
        return lines + ["else:", f"    dropped[{i}] += 1"]
    if isinstance(step, ir.SetStep):
        lines = []
        for path, value in step.assignments:
            code = exprs.expr(value)
            if _may_share(value):
                code = f"_ops.fresh({code})"
            if len(path) == 1:
                lines.append(f"rec[{pyrepr(path[0])}] = {code}")
            else:
                lines.append(f"_ops.set_path(rec, {pyrepr(path)}, {code})")
        return lines
    if isinstance(step, ir.DropStep):
        return [
            f"rec.pop({pyrepr(p[0])}, None)" if len(p) == 1 else f"_ops.drop_path(rec, {pyrepr(p)})"
            for p in step.paths
        ]
    if isinstance(step, ir.KeepStep):
        if all(len(p) == 1 for p in step.paths):
            items = ", ".join(f"{pyrepr(p[0])}: rec.get({pyrepr(p[0])})" for p in step.paths)
            return [f"rec = {{{items}}}"]
        return [f"rec = _ops.keep_paths(rec, {pyrepr(step.paths)})"]
    if isinstance(step, ir.RenameStep):
        lines = []
        for old, new in step.pairs:
            if len(old) == 1 and len(new) == 1:
                lines += [
                    f"if {pyrepr(old[0])} in rec:",
                    f"    rec[{pyrepr(new[0])}] = rec.pop({pyrepr(old[0])})",
                ]
            else:
                lines.append(f"_ops.rename_path(rec, {pyrepr(old)}, {pyrepr(new)})")
        return lines
    if isinstance(step, ir.CallStep):
        assert stage_var is not None
        if step.may_drop:
            return [
                f"rec = {stage_var}(rec)",
                "if rec is None:",
                f"    dropped[{i}] += 1",
                "    continue",
            ]
        return [f"rec = {stage_var}(rec)"]
    raise TypeError(f"not a fusable step: {type(step).__name__}")

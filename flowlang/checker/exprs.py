"""Typing expressions: ast.Expr in the context of a record type -> ir.TExpr,
every node with its static type, reporting what can never work."""

from __future__ import annotations

import dataclasses
import datetime

from .. import ast, codes, ir
from ..builtins import AGGREGATES, ENV_PARAMS, FUNCTIONS, Function, describe
from ..runtime.ops import regex_problem, regex_rule
from ..source import Span
from ..syntax import path_label
from ..types import (
    ANY,
    BOOL,
    DURATION,
    FLOAT,
    INT,
    NULL,
    STR,
    ListT,
    Nullable,
    Type,
    is_numeric,
    join,
    join_all,
    may_equal,
    operator_type,
    strip_null,
)
from .arguments import count, match_arguments
from .records import lookup
from .report import Reporter, did_you_mean, pick_span

_RE2_HINT = "patterns use RE2 syntax, which has no backreferences and no lookaround"


def is_condition(t: Type) -> bool:
    """May `t` be used as a condition (bool, bool?, any; null counts as false)?"""
    return strip_null(t) == BOOL or t in (ANY, NULL)


def const_bool(e: ir.TExpr) -> bool | None:
    """The value a condition always has, when it is a constant (null is false)."""
    if isinstance(e, ir.Literal):
        if e.value is None:
            return False
        return e.value if isinstance(e.value, bool) else None
    if isinstance(e, ir.Unary) and e.op == "not":
        inner = const_bool(e.operand)
        return None if inner is None else not inner
    if isinstance(e, ir.Binary) and e.op in ("and", "or"):
        left, right = const_bool(e.left), const_bool(e.right)
        if e.op == "and":
            if False in (left, right):
                return False
            return True if left is True and right is True else None
        if True in (left, right):
            return True
        return False if left is False and right is False else None
    return None


def env_call(call: ast.Call, rep: Reporter) -> tuple[str, str | None] | None:
    """The (name, default) of `env("NAME"[, "default"])`, or None after
    reporting why the call is not one."""
    span = pick_span(call.span, call.name_span)
    for arg in call.args:
        if arg.name is not None:
            rep.error(
                codes.UNKNOWN_PARAM,
                f"env() takes no keyword argument `{arg.name}`",
                pick_span(arg.span, span),
                hint='write env("NAME", "default")',
            )
            return None
        if not (isinstance(arg.value, ast.Literal) and isinstance(arg.value.value, str)):
            rep.error(
                codes.NOT_CONSTANT,
                "env() takes literal strings",
                pick_span(arg.value.span, span),
                hint='the variable\'s name and an optional default: env("NAME", "default")',
            )
            return None
    matched = match_arguments(ENV_PARAMS, call.args)
    if matched.missing:
        rep.error(
            codes.MISSING_ARG,
            "env() needs the name of an environment variable",
            span,
            hint='env("NAME") or env("NAME", "default")',
        )
        return None
    if matched.extra:
        rep.error(
            codes.TOO_MANY_ARGS,
            f"env() takes at most {count(len(ENV_PARAMS))}, got {len(call.args)}",
            pick_span(matched.extra[0].span, span),
            hint='env("NAME", "default")',
        )
        return None
    name, default = (
        p.default if p.name not in matched.given else matched.given[p.name].value.value
        for p in ENV_PARAMS
    )
    if not name:
        rep.error(
            codes.BAD_ARG_VALUE,
            "env() needs a non-empty variable name",
            pick_span(matched.given["name"].span, span),
        )
        return None
    return name, default


def _describe_operand(e: ir.TExpr) -> str:
    if isinstance(e, ir.FieldRef):
        return f"`{path_label(e.path)}`"
    return "this operand"


class ExprChecker:
    """Types expressions against a record type; one per file."""

    def __init__(self, rep: Reporter) -> None:
        self.rep = rep

    def check(self, e: ast.Expr, record: Type) -> ir.TExpr:
        """`e` typed in a record of type `record`."""
        if isinstance(e, ast.Literal):
            return ir.Literal(e.value, _literal_type(e.value))
        if isinstance(e, ast.Duration):
            return ir.Duration(e.millis, DURATION)
        if isinstance(e, ast.FieldRef):
            found = lookup(record, e.path, e.span, self.rep)
            return ir.FieldRef(e.path, ANY if found is None else found)
        if isinstance(e, ast.ListExpr):
            items = tuple(self.check(item, record) for item in e.items)
            return ir.ListExpr(items, ListT(join_all(i.type for i in items)))
        if isinstance(e, ast.Unary):
            return self._unary(e, record)
        if isinstance(e, ast.Binary):
            return self._binary(e, record)
        if isinstance(e, ast.IfExpr):
            cond = self.check(e.cond, record)
            if not is_condition(cond.type):
                self.rep.error(
                    codes.NOT_BOOL, f"the condition of `if` is {cond.type}, not bool", e.cond.span
                )
            then, else_ = self.check(e.then, record), self.check(e.else_, record)
            return ir.IfExpr(cond, then, else_, join(then.type, else_.type))
        if isinstance(e, ast.Call):
            return self._call(e, record)
        if isinstance(e, ast.RecordExpr):
            self.rep.error(
                codes.RECORD_OUTSIDE_TEST,
                "a record literal cannot be used here",
                e.span,
                hint="record literals are a test's given and expected "
                "records; in a pipeline, build a record field by field with `set`",
            )
            return ir.Literal(None, ANY)
        raise TypeError(f"not an expression node: {type(e).__name__}")

    # ------------------------------------------------------------ operators

    def _unary(self, e: ast.Unary, record: Type) -> ir.TExpr:
        operand = self.check(e.operand, record)
        t = operand.type
        if e.op == "not":
            if not is_condition(t):
                self.rep.error(
                    codes.TYPE_MISMATCH, f"`not` needs a bool; this is {t}", e.operand.span
                )
            return ir.Unary("not", operand, BOOL)
        if self._null_operand(e.op, operand, e.operand.span):
            return ir.Unary(e.op, operand, ANY)
        typ = operator_type(e.op, t)
        if typ is not None:
            return ir.Unary(e.op, operand, typ)
        self.rep.error(
            codes.NOT_NUMERIC,
            f"unary `-` needs a number or a duration; this is {t}",
            e.operand.span,
        )
        return ir.Unary(e.op, operand, ANY)

    def _binary(self, e: ast.Binary, record: Type) -> ir.TExpr:
        op = e.op
        left = self.check(e.left, record)
        if op == "=~":
            return self._match(e, left)
        right = self.check(e.right, record)
        lt, rt = left.type, right.type
        if op in ("and", "or"):
            for side, node in ((left, e.left), (right, e.right)):
                if not is_condition(side.type):
                    self.rep.error(
                        codes.TYPE_MISMATCH,
                        f"`{op}` needs bool operands; this is {side.type}",
                        node.span,
                    )
            return ir.Binary(op, left, right, BOOL)
        if op in ("==", "!="):
            if not may_equal(lt, rt):
                self.rep.error(
                    codes.BAD_OPERANDS,
                    f"`{op}` compares {strip_null(lt)} with {strip_null(rt)}, "
                    "which are never equal",
                    e.span,
                    hint="convert one side, e.g. with to_str(…) or to_int(…)",
                )
            return ir.Binary(op, left, right, BOOL)
        if op in ("<", "<=", ">", ">="):
            a, b = strip_null(lt), strip_null(rt)
            if operator_type(op, a, b) is None:
                self.rep.error(
                    codes.BAD_OPERANDS,
                    f"cannot order {a} and {b} with `{op}`",
                    e.span,
                    hint="both sides must be numbers, or both str, time, duration or ip",
                )
            return ir.Binary(op, left, right, BOOL)
        if op == "in":
            self._membership(e, left, right)
            return ir.Binary(op, left, right, BOOL)
        if op == "??":
            typ = rt if lt == NULL else join(strip_null(lt), rt)
            return ir.Binary(op, left, right, typ)
        if op in ("+", "-", "*", "/", "%"):
            return ir.Binary(op, left, right, self._arithmetic(e, left, right))
        raise ValueError(f"unknown binary operator {op!r}")

    def _membership(self, e: ast.Binary, left: ir.TExpr, right: ir.TExpr) -> None:
        a, r = strip_null(left.type), strip_null(right.type)
        if r in (ANY, NULL):
            return
        if isinstance(r, ListT):
            if not may_equal(a, r.item):
                self.rep.error(
                    codes.BAD_OPERANDS,
                    f"{_describe_operand(left)} is {a} but the list holds {r.item}",
                    e.span,
                    hint="it can never be in the list",
                )
            return
        if r == STR:
            if a not in (STR, ANY, NULL):
                self.rep.error(
                    codes.BAD_OPERANDS,
                    f"`in` a str looks for a substring; {_describe_operand(left)} is {a}",
                    e.span,
                    hint="convert it with to_str(…)",
                )
            return
        self.rep.error(
            codes.BAD_OPERANDS,
            f"`in` needs a list or a str on the right; this is {r}",
            e.right.span,
        )

    def _match(self, e: ast.Binary, left: ir.TExpr) -> ir.TExpr:
        a = strip_null(left.type)
        if a not in (STR, ANY, NULL):
            self.rep.error(
                codes.BAD_OPERANDS,
                f"`=~` matches text; {_describe_operand(left)} is {a}",
                e.left.span,
                hint="convert it with to_str(…)",
            )
        pattern = e.right
        if isinstance(pattern, ast.Call) and pattern.name == "env":
            found = env_call(pattern, self.rep)
            if found is None:
                return ir.Binary("=~", left, ir.Literal("", STR), BOOL)
            name, default = found
            if default is not None:
                self._pattern(default, pick_span(pattern.args[1].value.span, pattern.span))
            what = "pattern of `=~`"
            return ir.Binary("=~", left, ir.EnvCall(name, default, STR, regex_rule, what), BOOL)
        if not (isinstance(pattern, ast.Literal) and isinstance(pattern.value, str)):
            self.rep.error(
                codes.BAD_OPERANDS,
                "the right side of `=~` must be a string literal or env()",
                e.right.span,
                hint='write the pattern as a raw string: r"…"',
            )
            return ir.Binary("=~", left, ir.Literal("", STR), BOOL)
        self._pattern(pattern.value, pattern.span)
        return ir.Binary("=~", left, ir.Literal(pattern.value, STR), BOOL)

    def _pattern(self, pattern: str, span: Span) -> None:
        message = regex_problem(pattern)
        if message is not None:
            self.rep.error(
                codes.BAD_REGEX, f"invalid regular expression: {message}", span, hint=_RE2_HINT
            )

    def _null_operand(self, op: str, operand: ir.TExpr, span: Span) -> bool:
        """Report arithmetic on a value that is or may be null."""
        t = operand.type
        if t == NULL:
            self.rep.error(
                codes.NULLABLE_OPERAND,
                f"`{op}` on null",
                span,
                hint="arithmetic on null has no value",
            )
            return True
        if isinstance(t, Nullable):
            self.rep.error(
                codes.NULLABLE_OPERAND,
                f"{_describe_operand(operand)} is {t} and may be null",
                span,
                hint="use `??` to give a default",
            )
            return True
        return False

    def _arithmetic(self, e: ast.Binary, left: ir.TExpr, right: ir.TExpr) -> Type:
        op = e.op
        bad_null = self._null_operand(op, left, e.left.span)
        bad_null = self._null_operand(op, right, e.right.span) or bad_null
        a, b = strip_null(left.type), strip_null(right.type)
        if bad_null and NULL in (a, b):
            return ANY
        found = operator_type(op, a, b)
        if found is not None:
            return found
        if op in ("*", "/", "%"):
            for t, node in ((a, e.left), (b, e.right)):
                if not is_numeric(t):
                    self.rep.error(
                        codes.NOT_NUMERIC, f"`{op}` needs numbers; this is {t}", node.span
                    )
            return ANY
        hint = "convert with to_str(…) to join text" if op == "+" and STR in (a, b) else None
        self.rep.error(
            codes.BAD_OPERANDS, f"`{op}` does not apply to {a} and {b}", e.span, hint=hint
        )
        return ANY

    # ------------------------------------------------------------ calls

    def _call(self, call: ast.Call, record: Type) -> ir.TExpr:
        name_span = pick_span(call.name_span, call.span)
        if call.name == "env":
            found = env_call(call, self.rep)
            if found is None:
                return ir.Literal(None, ANY)
            name, default = found
            return ir.EnvCall(name, default, STR if default is not None else Nullable(STR))
        fn = FUNCTIONS.get(call.name)
        if fn is None:
            for arg in call.args:
                self.check(arg.value, record)
            if call.name in AGGREGATES:
                self.rep.error(
                    codes.UNKNOWN_FUNCTION,
                    f"`{call.name}` is an aggregate, not a function",
                    name_span,
                    hint="aggregates are written in `summarize`",
                )
            else:
                self.rep.error(
                    codes.UNKNOWN_FUNCTION,
                    f"unknown function `{call.name}`",
                    name_span,
                    hint=did_you_mean(call.name, [*FUNCTIONS, "env"]),
                )
            return ir.Call(call.name, (), ANY)
        return self._builtin(fn, call, record, name_span)

    def _arg_rule(self, fn: Function, param, value, span: Span) -> bool:
        """Does a constant argument of a builtin keep the parameter's rule?"""
        problem = param.check(value)
        if problem:
            self.rep.error(codes.BAD_ARG_VALUE, f"`{param.name}` of `{fn.name}`: {problem}", span)
            return False
        return True

    def _builtin(self, fn: Function, call: ast.Call, record: Type, name_span: Span) -> ir.TExpr:
        params = fn.params
        matched = match_arguments(params, call.args)

        def at(arg: ast.Arg) -> Span:
            return pick_span(arg.span, arg.value.span)

        for arg in matched.misplaced:
            self.check(arg.value, record)
        positional = sum(1 for a in call.args if a.name is None)
        for arg in matched.extra:
            self.rep.error(
                codes.TOO_MANY_ARGS,
                f"`{fn.name}` takes {count(len(params))}, got {positional}",
                at(arg),
            )
        for arg in matched.unknown:
            self.rep.error(
                codes.UNKNOWN_PARAM,
                f"`{fn.name}` has no parameter `{arg.name}`",
                at(arg),
                hint=did_you_mean(arg.name, [p.name for p in params]),
            )
        for arg, param in matched.repeated:
            self.rep.error(
                codes.DUPLICATE_ARG, f"`{param.name}` of `{fn.name}` given twice", at(arg)
            )
        ok = not matched.misplaced
        bound: list[ir.TExpr | None] = []
        for param in params:
            arg = matched.given.get(param.name)
            value = None if arg is None else self.check(arg.value, record)
            bound.append(value)
            if value is not None and not param.admits(value.type):
                self.rep.error(
                    codes.TYPE_MISMATCH,
                    f"`{param.name}` of `{fn.name}` must be {describe(param.accepts)}; "
                    f"this is {value.type}",
                    arg.value.span,
                )
                ok = False
            elif param.check is not None and isinstance(value, ir.EnvCall):
                # held to the rule when the run starts; a default now
                default_span = pick_span(_env_default_span(arg.value), arg.value.span)
                if value.default is not None and not self._arg_rule(
                    fn, param, value.default, default_span
                ):
                    ok = False
                what = f"`{param.name}` of `{fn.name}`"
                bound[-1] = dataclasses.replace(value, check=param.check, what=what)
            elif param.check is not None and (constant := constant_value(value)) is not None:
                ok = self._arg_rule(fn, param, constant, arg.value.span) and ok
        for name in fn.from_env:
            arg = matched.given.get(name)
            value = bound[[p.name for p in params].index(name)]
            if arg is not None and not (isinstance(value, ir.EnvCall) and value.default is None):
                self.rep.error(
                    codes.BAD_ARG_VALUE,
                    f"the `{name}` of `{fn.name}` must come from the environment, "
                    "not the program text",
                    arg.value.span,
                    hint=f'put it in an environment variable and pass {name}=env("NAME")',
                )
                ok = False
        if matched.missing:
            self.rep.error(
                codes.MISSING_ARG,
                f"`{fn.name}` needs {count(sum(p.required for p in params))}: "
                f"missing `{'`, `'.join(p.name for p in matched.missing)}`",
                name_span,
                hint=f"{fn.name}({', '.join(p.name for p in params)}): {fn.doc}",
            )
            ok = False
        given = _trim_defaults(params, bound)
        if ok and fn.relate is not None:
            problem = fn.relate([a.type for a in given])
            if problem:
                self.rep.error(codes.TYPE_MISMATCH, problem, pick_span(call.span, name_span))
        return ir.Call(fn.name, given, fn.result_type([a.type for a in given]))


def _env_default_span(e: ast.Expr) -> Span | None:
    """Where the default of `env("NAME", "default")` is written."""
    if isinstance(e, ast.Call) and len(e.args) > 1:
        return e.args[1].value.span
    return None


def constant_value(e: ir.TExpr | None):
    """The value of a constant argument (a literal, a duration, a list of
    them), else None."""
    if isinstance(e, ir.Literal):
        return e.value
    if isinstance(e, ir.Duration):
        return datetime.timedelta(milliseconds=e.millis)
    if isinstance(e, ir.ListExpr):
        items = [constant_value(item) for item in e.items]
        return None if None in items else items
    return None


def _trim_defaults(params, bound) -> tuple[ir.TExpr, ...]:
    """Given arguments in parameter order; defaults fill gaps before the last
    given one, and trailing omitted ones are left to the run time."""
    last = max((i for i, b in enumerate(bound) if b is not None), default=-1)
    out = []
    for param, value in zip(params[: last + 1], bound[: last + 1]):
        if value is None:
            default = None if param.required else param.default
            value = ir.Literal(default, _literal_type(default))
        out.append(value)
    return tuple(out)


def _literal_type(value) -> Type:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    return STR

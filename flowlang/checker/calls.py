"""Catalogue stages in a chain: finding the stage, binding its arguments by
parameter kind (flowlang.stages.spec.ParamKind), and running its output-type rule
with a RuleContext that reports at the right argument."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .. import ast, codes, ir
from ..runtime.context import ENV_TYPES
from ..source import Span
from ..stages import catalogue, find, names
from ..stages.spec import EnvRef, Param, ParamKind, RuleContext, StageSpec, problem_parts
from ..syntax import STAGE_FORMS, path_label, quote
from ..types import (
    ANY,
    BOOL,
    DURATION,
    FLOAT,
    INT,
    NULL,
    OPEN_RECORD,
    STR,
    ListT,
    RecordT,
    Type,
    field_type,
    strip_null,
)
from .arguments import count as _count
from .arguments import match_arguments
from .exprs import env_call
from .records import lookup
from .report import Reporter, closest, did_you_mean, one_of, pick_span

# the parameter types env() may give, by their name in runtime.context.ENV_TYPES
ENV_TYPE_NAMES = {STR: "str", INT: "int", FLOAT: "float", BOOL: "bool", DURATION: "duration"}

# names people bring from other tools, and the flowlang stage that does it
_ALIASES = {
    "filter": "where",
    "select": "keep",
    "remove": "drop",
    "mutate": "set",
    "eval": "set",
    "aggregate": "summarize",
    "stats": "summarize",
    "group": "summarize",
}


@dataclass(frozen=True)
class Owner:
    """The stage or option whose arguments are bound; `str()` names it in
    messages (`` `geoip` ``, ``option `csv` ``)."""

    name: str
    option: bool = False

    def __str__(self) -> str:
        return f"option `{self.name}`" if self.option else f"`{self.name}`"


@dataclass
class Bound:
    """A call's arguments bound to parameters: `values` as the output rule
    sees them (schemas as RecordT, CHOICE params with `<name>_args`), the
    span of each written argument, and whether binding went without error."""

    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    ok: bool = True


class StageRuleContext(RuleContext):
    """The RuleContext handed to a stage's output-type rule."""

    def __init__(
        self,
        rep: Reporter,
        input: Type | None,
        bound: Bound,
        schemas: dict[str, RecordT],
        call_span: Span,
        inputs: list[str],
    ) -> None:
        self.input = input
        self.args = bound.values
        self.schemas = schemas
        self.source_name = rep.src.name
        self._rep = rep
        self._spans = bound.spans
        self._call_span = call_span
        self.errors = 0
        self._inputs = inputs

    def _span(self, param: str | None) -> Span:
        return self._spans.get(param, self._call_span) if param else self._call_span

    def error(self, code, message, param=None, hint=None) -> None:
        self.errors += 1
        self._rep.error(code, message, self._span(param), hint)

    def given(self, param: str) -> bool:
        return param in self._spans

    def read_text(self, path: str) -> str:
        text = super().read_text(path)
        where = os.path.abspath(self.resolve(path))
        if where not in self._inputs:
            self._inputs.append(where)
        return text

    def field_type(self, path: tuple[str, ...]) -> Type:
        found = field_type(self.input if self.input is not None else ANY, path)
        return ANY if found is None else found


def plan_args(spec_params: tuple[Param, ...], values: dict[str, Any]) -> tuple:
    """Bound values as ir.CallStep args: parameter order, each CHOICE as an
    `ir.Choice` of its option and that option's own arguments."""
    out = []
    for param in spec_params:
        value = values[param.name]
        if param.kind is ParamKind.CHOICE:
            option = param.options.get(value, ())
            value = ir.Choice(value, plan_args(option, values[param.name + "_args"]))
        out.append((param.name, value))
    return tuple(out)


class CallChecker:
    """Checks catalogue stage calls for one file."""

    def __init__(
        self, rep: Reporter, schemas: dict[str, RecordT], schemas_complete: bool = True
    ) -> None:
        self.rep = rep
        self.schemas = schemas
        # False: an import failed, so an unknown schema may be one of its
        self.schemas_complete = schemas_complete
        self.inputs: list[str] = []  # files the output rules read (RuleContext.read_text)

    # ------------------------------------------------------------ the stage

    def find_stage(self, role: str, call: ast.Call) -> StageSpec | None:
        """The catalogue stage `call` names in a `role` position, or None
        after reporting E101 (unknown) or E109 (a stage of another role)."""
        spec = find(role, call.name)
        if spec is not None:
            return spec
        span = pick_span(call.name_span, call.span)
        dots = "(…)" if call.args else ""
        others = [s for s in catalogue() if s.name == call.name and s.role in STAGE_FORMS]
        if others:
            other = next((s for s in others if s.role == "sink"), others[0])
            what = " and a ".join(k for k in STAGE_FORMS if any(s.role == k for s in others))
            self.rep.error(
                codes.WRONG_STAGE_KIND,
                f"`{call.name}` is a {what}, not a {role}",
                span,
                hint=_wrong_role_hint(role, other.role, call.name + dots),
            )
            return None
        hint = did_you_mean(call.name, names(role))
        if hint is None and role == "processor" and call.name in _ALIASES:
            hint = f"flowlang writes this as `| {_ALIASES[call.name]} …`"
        if hint is None:
            near = closest(call.name, [s.name for s in catalogue()])
            if near is not None:
                hint = f"did you mean `{_written(near, dots)}`?"
        if hint is None:
            hint = f"the {role}s are {one_of(names(role))}"
        self.rep.error(codes.UNKNOWN_STAGE, f"unknown {role} `{call.name}`", span, hint=hint)
        return None

    def check_stage(
        self, spec: StageSpec, call: ast.Call, record: RecordT | None
    ) -> tuple[Bound, Type | None]:
        """Bind `call` to `spec` and run its output rule: (bound, output type).
        The rule runs only on cleanly bound arguments; otherwise the output is
        a best guess (the input record, opened) so checking goes on."""
        span = pick_span(call.name_span, call.span)
        bound = self.bind(Owner(spec.name), spec.params, call, record, span)
        if not bound.ok:
            return bound, _best_guess(spec, record)
        ctx = StageRuleContext(self.rep, record, bound, self.schemas, span, self.inputs)
        out = spec.output(ctx)
        if spec.role == "sink":
            return bound, None
        if ctx.errors or not isinstance(out, RecordT):
            return bound, out if isinstance(out, RecordT) else _best_guess(spec, record)
        return bound, out

    # ------------------------------------------------------------ arguments

    def bind(
        self,
        owner: Owner,
        params: tuple[Param, ...],
        call: ast.Call,
        record: RecordT | None,
        span: Span,
    ) -> Bound:
        """Bind `call.args` to `params`, defaults filled in; `owner` names the
        stage or option in messages."""
        bound = Bound()
        matched = match_arguments(params, call.args)

        def at(arg: ast.Arg) -> Span:
            return pick_span(arg.span, arg.value.span, span)

        for arg in matched.extra:
            self.rep.error(
                codes.TOO_MANY_ARGS,
                f"{owner} takes at most {_count(len(params))}",
                at(arg),
                hint=_signature(owner, params),
            )
        for arg in matched.unknown:
            hint = did_you_mean(arg.name, [p.name for p in params]) or _signature(owner, params)
            self.rep.error(
                codes.UNKNOWN_PARAM, f"{owner} has no parameter `{arg.name}`", at(arg), hint=hint
            )
        for arg, param in matched.repeated:
            self.rep.error(
                codes.DUPLICATE_ARG, f"`{param.name}` of {owner} is given twice", at(arg)
            )
        bound.ok = not matched.misplaced
        for param in params:
            arg = matched.given.get(param.name)
            if arg is None:
                self._default(owner, param, record, span, bound)
                continue
            bound.spans[param.name] = pick_span(arg.value.span, arg.span, span)
            self._bind_one(owner, param, arg.value, record, bound)
        return bound

    def _default(
        self, owner: Owner, param: Param, record: RecordT | None, span: Span, bound: Bound
    ) -> None:
        if param.required:
            self.rep.error(
                codes.MISSING_ARG,
                f"{owner} needs `{param.name}`: {param.doc}",
                span,
                hint=_signature(owner, (param,), more=True),
            )
            bound.ok = False
            bound.values[param.name] = None
            if param.kind is ParamKind.CHOICE:
                bound.values[param.name + "_args"] = {}
            return
        bound.values[param.name] = param.default
        if param.kind is ParamKind.CHOICE:
            option = param.options.get(param.default, ())
            sub = self.bind(
                Owner(str(param.default), option=True),
                option,
                ast.Call(str(param.default)),
                record,
                span,
            )
            bound.values[param.name + "_args"] = sub.values
            bound.ok = bound.ok and sub.ok
        elif param.kind is ParamKind.FIELD and param.default is not None and record is not None:
            # a stage reading a field by default fails where that field is missing
            found = self._field(owner, param, param.default, span, record, by_default=True)
            bound.ok = bound.ok and found

    def _bind_one(
        self, owner: Owner, param: Param, expr: ast.Expr, record: RecordT | None, bound: Bound
    ) -> None:
        name = param.name
        span = bound.spans[name]
        is_null = isinstance(expr, ast.Literal) and expr.value is None
        if is_null and param.default is None and param.kind is not ParamKind.CHOICE:
            bound.values[name] = None
            return
        value: Any = None
        ok = True
        if param.kind is ParamKind.VALUE:
            ok, value = self._value(owner, param, expr, span)
        elif param.kind is ParamKind.FIELD:
            path = self._path(owner, param, expr, span)
            ok = path is not None and self._field(owner, param, path, span, record)
            value = path
        elif param.kind is ParamKind.FIELDS:
            items = expr.items if isinstance(expr, ast.ListExpr) else (expr,)
            paths = []
            for item in items:
                item_span = pick_span(item.span, span)
                path = self._path(owner, param, item, item_span)
                if path is None or not self._field(owner, param, path, item_span, record):
                    ok = False
                if path is not None:
                    paths.append(path)
            value = tuple(paths)
        elif param.kind is ParamKind.NEW_FIELD:
            path = self._path(owner, param, expr, span)
            if path is not None and len(path) != 1:
                self.rep.error(
                    codes.BAD_ARG_VALUE,
                    f"`{name}` of {owner} is one field name, not a path",
                    span,
                    hint=f"write a name such as `{path[-1]}`",
                )
                path = None
            ok = path is not None
            value = path[0] if path else param.default
        elif param.kind is ParamKind.CHOICE:
            ok, value, option_args = self._choice(owner, param, expr, record, span)
            bound.values[name + "_args"] = option_args
        elif param.kind is ParamKind.SCHEMA:
            ok, value = self._schema(owner, param, expr, span)
        bound.values[name] = value
        bound.ok = bound.ok and ok

    # ------------------------------------------------------------ by kind

    def _value(self, owner: Owner, param: Param, expr: ast.Expr, span: Span) -> tuple[bool, Any]:
        if isinstance(expr, ast.Call) and expr.name == "env":
            return self._env(owner, param, expr, span)
        ok, value = self._constant(owner, param, expr, param.type, span)
        if ok and value is not None:
            ok = self._rule(owner, param, value, span)
        return ok, value

    def _env(self, owner: Owner, param: Param, expr: ast.Call, span: Span) -> tuple[bool, Any]:
        """`env("NAME"[, "default"])` as a parameter's value: an EnvRef read
        when the run starts, its default held now to the rule a literal is."""
        typ = ENV_TYPE_NAMES.get(param.type) if param.env else None
        if typ is None:
            why = (
                "a list" if isinstance(param.type, ListT) else "needed when the program is compiled"
            )
            self.rep.error(
                codes.NOT_CONSTANT,
                f"`{param.name}` of {owner} cannot come from env(): it is {why}",
                span,
                hint="write the value itself",
            )
            return False, None
        found = env_call(expr, self.rep)
        if found is None:
            return False, None
        name, default = found
        if default is not None:
            default_span = pick_span(expr.args[1].value.span, span)
            try:
                value = ENV_TYPES[typ](default)
            except ValueError as exc:
                self.rep.error(
                    codes.BAD_ARG_VALUE,
                    f"the default of env({quote(name)}) for `{param.name}` of {owner} {exc}",
                    default_span,
                )
                return False, None
            if not self._rule(owner, param, value, default_span):
                return False, None
        return True, EnvRef(name, default, typ, param.check, (), f"`{param.name}` of {owner}")

    def _rule(self, owner: Owner, param: Param, value: Any, span: Span) -> bool:
        """Does a constant (or an env() default) keep the parameter's rule?"""
        found = problem_parts(param.check(value)) if param.check is not None else None
        if found is None:
            return True
        message, hint = found
        self.rep.error(param.check_code, message, span, hint=hint)
        return False

    def _constant(
        self, owner: Owner, param: Param, expr: ast.Expr, typ: Type | None, span: Span
    ) -> tuple[bool, Any]:
        if isinstance(expr, ast.ListExpr):
            if typ is not None and typ != ANY and not isinstance(typ, ListT):
                return self._mismatch(owner, param, typ, "a list", span), None
            item_type = typ.item if isinstance(typ, ListT) else None
            results = [
                self._constant(owner, param, item, item_type, pick_span(item.span, span))
                for item in expr.items
            ]
            return all(ok for ok, _ in results), tuple(v for _, v in results)
        value, vtype = _literal(expr)
        if vtype is None:
            hint = "a literal such as a number, a string, true/false or a duration"
            if isinstance(expr, ast.FieldRef) and typ == STR:
                hint = f'text is written in quotes: "{path_label(expr.path)}"'
            self.rep.error(
                codes.NOT_CONSTANT, f"`{param.name}` of {owner} must be a constant", span, hint=hint
            )
            return False, None
        if typ is None or typ == ANY or vtype == typ:
            return True, value
        if vtype == NULL:
            self.rep.error(codes.BAD_ARG_VALUE, f"`{param.name}` of {owner} cannot be null", span)
            return False, None
        if typ == FLOAT and vtype == INT:
            return True, float(value)
        hint = "write a duration such as 30s or 5m" if typ == DURATION else None
        return self._mismatch(owner, param, typ, str(vtype), span, hint), None

    def _mismatch(self, owner, param, typ, got, span, hint=None) -> bool:
        self.rep.error(
            codes.BAD_ARG_VALUE,
            f"`{param.name}` of {owner} must be {typ}; this is {got}",
            span,
            hint=hint,
        )
        return False

    def _path(self, owner: Owner, param: Param, expr: ast.Expr, span: Span) -> tuple | None:
        """A field path written as an argument, or None after reporting."""
        if isinstance(expr, ast.FieldRef):
            return expr.path
        hint = None
        if isinstance(expr, ast.Literal) and isinstance(expr.value, str) and expr.value:
            hint = f"write the field's name without quotes: {path_label((expr.value,))}"
        self.rep.error(
            codes.BAD_ARG_VALUE, f"`{param.name}` of {owner} must name a field", span, hint=hint
        )
        return None

    def _field(
        self,
        owner: Owner,
        param: Param,
        path: tuple,
        span: Span,
        record: RecordT | None,
        by_default: bool = False,
    ) -> bool:
        """Does the field exist, with a type the parameter accepts?"""
        if record is None:
            return True
        if by_default and field_type(record, path) is None:
            # say where the field name came from: it was not written
            near = closest(path[-1], record.names)
            shown = path_label((near,)) if near else "…"
            hint = f"name the field to read: `{_signature(owner, ())[:-1]}{param.name}={shown})`"
            self.rep.error(
                codes.UNKNOWN_FIELD,
                f"{owner} reads `{path_label(path)}` by default, and the record has no such field",
                span,
                hint=hint,
            )
            return False
        typ = lookup(record, path, span, self.rep)
        if typ is None:
            return False
        if not param.admits(typ):
            wanted = [t for t in param.accepts if t != ANY]
            accepted = " or ".join(dict.fromkeys(str(strip_null(t)) for t in wanted))
            self.rep.error(
                codes.TYPE_MISMATCH,
                f"`{param.name}` of {owner} must be a field of type {accepted}; "
                f"`{path_label(path)}` is {typ}",
                span,
            )
            return False
        return True

    def _choice(
        self, owner: Owner, param: Param, expr: ast.Expr, record: RecordT | None, span: Span
    ) -> tuple[bool, Any, dict]:
        if isinstance(expr, ast.FieldRef) and len(expr.path) == 1:
            option_call = ast.Call(
                expr.path[0], (), parens=False, span=expr.span, name_span=expr.span
            )
        elif isinstance(expr, ast.Call):
            option_call = expr
        else:
            hint = None
            if isinstance(expr, ast.Literal) and isinstance(expr.value, str):
                hint = f"options are bare names: {param.name}={expr.value}"
            self.rep.error(
                codes.BAD_ARG_VALUE,
                f"`{param.name}` of {owner} must be one of {one_of(param.options)}",
                span,
                hint=hint,
            )
            return False, param.default if not param.required else None, {}
        name = option_call.name
        option = param.options.get(name)
        if option is None:
            hint = did_you_mean(name, param.options)
            self.rep.error(
                codes.UNKNOWN_OPTION,
                f"unknown option `{name}` for `{param.name}` of {owner}; valid "
                f"options: {one_of(param.options)}",
                pick_span(option_call.name_span, span),
                hint=hint,
            )
            return False, name, {}
        sub_span = pick_span(option_call.name_span, span)
        sub = self.bind(Owner(name, option=True), option, option_call, record, sub_span)
        return sub.ok, name, sub.values

    def _schema(self, owner: Owner, param: Param, expr: ast.Expr, span: Span) -> tuple[bool, Any]:
        if not (isinstance(expr, ast.FieldRef) and len(expr.path) == 1):
            self.rep.error(
                codes.BAD_ARG_VALUE,
                f"`{param.name}` of {owner} must name a schema",
                span,
                hint="declare one with `schema Name { field: type, … }`",
            )
            return False, None
        name = expr.path[0]
        schema = self.schemas.get(name)
        if schema is None:
            hint = did_you_mean(name, self.schemas)
            if hint is None and not self.schemas_complete:
                return False, None  # perhaps the missing import's; its error is reported
            hint = hint or "declare it with `schema " + name + " { field: type, … }`"
            self.rep.error(codes.UNKNOWN_SCHEMA, f"unknown schema `{name}`", span, hint=hint)
            return False, None
        return True, schema


def _literal(expr: ast.Expr) -> tuple[Any, Type | None]:
    """The value and type of a constant argument, or (None, None)."""
    if isinstance(expr, ast.Literal):
        v = expr.value
        if v is None:
            return None, NULL
        if isinstance(v, bool):
            return v, BOOL
        if isinstance(v, int):
            return v, INT
        if isinstance(v, float):
            return v, FLOAT
        return v, STR
    if isinstance(expr, ast.Duration):
        return expr.millis, DURATION
    if isinstance(expr, ast.Unary) and expr.op == "-" and isinstance(expr.operand, ast.Literal):
        v = expr.operand.value
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v, INT if isinstance(v, int) else FLOAT
    return None, None


def _signature(owner: Owner, params: tuple[Param, ...], more: bool = False) -> str:
    """`geoip(field=…, into=…)` for the stage or option `owner`."""
    shown = [p.name if p.required else f"{p.name}=…" for p in params]
    return f"{owner.name}({', '.join(shown + (['…'] if more else []))})"


def _written(name: str, dots: str) -> str:
    """How the catalogue stage `name` stands in a chain (`| summarize …` for
    a stage written in its own syntax)."""
    spec = next(s for s in catalogue() if s.name == name)
    if spec.role not in STAGE_FORMS:
        return f"| {name} …"
    return STAGE_FORMS[spec.role].format(name + dots)


def _wrong_role_hint(position: str, actual: str, written: str) -> str:
    if position == "processor":
        return f"did you mean `{STAGE_FORMS[actual].format(written)}`?"
    if actual == "processor":
        return f"use it as a stage of the chain: `| {written}`"
    return f"did you mean `{STAGE_FORMS[actual].format(written)}`?"


def _best_guess(spec: StageSpec, record: RecordT | None) -> Type | None:
    if spec.role == "sink":
        return None
    if record is None:
        return OPEN_RECORD
    return RecordT(record.fields, open=True)

"""`summarize agg, … [by key, …] every D [on F] [allowed_lateness = D]`:
aggregates, keys and the window record it emits."""

from __future__ import annotations

from .. import ast, codes, ir
from ..builtins import AGGREGATES, FUNCTIONS
from ..syntax import path_label
from ..types import ANY, TIME, RecordT, Type, strip_null
from .arguments import match_arguments
from .records import lookup
from .report import Reporter, did_you_mean, one_of, pick_span

WINDOW_FIELDS = (("window_start", TIME), ("window_end", TIME))


def check_summarize(
    stage: ast.SummarizeStage, record: RecordT, info: ir.StepInfo, rep: Reporter
) -> tuple[ir.SummarizeStep, RecordT]:
    """The plan step of a summarize stage and the record type it emits."""
    fields: list[tuple[str, Type]] = list(WINDOW_FIELDS)
    taken = {name for name, _ in WINDOW_FIELDS}

    def claim(name: str, span) -> None:
        if name in taken:
            hint = (
                "`window_start` and `window_end` are added by summarize"
                if name in dict(WINDOW_FIELDS)
                else "give one of them another name"
            )
            rep.error(
                codes.DUPLICATE_FIELD,
                f"field `{path_label((name,))}` is named twice in the output of summarize",
                span,
                hint=hint,
            )
        taken.add(name)

    keys = []
    for key in stage.by:
        span = pick_span(key.field.span, key.span)
        typ = lookup(record, key.field.path, span, rep)
        name = key.name if key.name is not None else key.field.path[-1]
        claim(name, pick_span(key.span, span))
        keys.append((name, key.field.path))
        fields.append((name, ANY if typ is None else typ))

    aggregates = []
    for agg in stage.aggregates:
        plan = _aggregate(agg, record, rep)
        claim(agg.name, pick_span(agg.span, agg.call.span))
        aggregates.append(plan)
        fields.append((agg.name, plan.type))

    if stage.every.millis <= 0:
        rep.error(
            codes.BAD_ARG_VALUE, "`every` must be a duration longer than zero", stage.every.span
        )
    on = None
    if stage.on is not None:
        on = stage.on.path
        typ = lookup(record, on, stage.on.span, rep)
        if typ is not None and strip_null(typ) not in (TIME, ANY):
            rep.error(
                codes.TYPE_MISMATCH,
                f"`on` needs a time field; `{path_label(on)}` is {typ}",
                stage.on.span,
                hint="turn text into a time first: "
                f"`set {path_label(on)} = parse_time({path_label(on)})`",
            )
    lateness = stage.allowed_lateness.millis if stage.allowed_lateness is not None else 0
    out = RecordT(tuple(fields), open=False)
    step = ir.SummarizeStep(
        info, tuple(aggregates), tuple(keys), stage.every.millis, on, lateness, out
    )
    return step, out


def _aggregate(agg: ast.Aggregate, record: RecordT, rep: Reporter) -> ir.AggregatePlan:
    call = agg.call
    name_span = pick_span(call.name_span, call.span, agg.span)
    fn = AGGREGATES.get(call.name)
    if fn is None:
        if call.name in FUNCTIONS:
            message = f"`{call.name}` is a function, not an aggregate"
            hint = "compute the value with `set` before summarize, then aggregate that field"
        else:
            message = f"unknown aggregate `{call.name}`"
            hint = did_you_mean(call.name, AGGREGATES) or f"the aggregates are {one_of(AGGREGATES)}"
        rep.error(codes.BAD_AGGREGATE, message, name_span, hint=hint)
        return ir.AggregatePlan(agg.name, call.name, None, ANY)
    matched = match_arguments(fn.params, call.args)
    none = ir.AggregatePlan(agg.name, fn.name, None, fn.result(ANY))
    example = f"for example {fn.name}(latency_ms)"
    no_field = "count() counts records; distinct_count(field) counts distinct values"
    for arg in matched.unknown:
        rep.error(
            codes.UNKNOWN_PARAM,
            f"`{fn.name}` has no parameter `{arg.name}`",
            pick_span(arg.span, name_span),
            hint=example if fn.takes_field else no_field,
        )
    for arg, _ in matched.repeated:
        rep.error(
            codes.DUPLICATE_ARG,
            f"the field of `{fn.name}` is given twice",
            pick_span(arg.span, name_span),
        )
    if matched.extra and not fn.takes_field:
        rep.error(
            codes.TOO_MANY_ARGS,
            f"`{fn.name}()` takes no argument",
            pick_span(matched.extra[0].span, name_span),
            hint=no_field,
        )
    elif matched.extra:
        rep.error(
            codes.TOO_MANY_ARGS,
            f"`{fn.name}` takes one field, got {len(call.args)} arguments",
            pick_span(matched.extra[0].span, name_span),
        )
    if matched.missing and not matched.misplaced:
        rep.error(
            codes.MISSING_ARG,
            f"`{fn.name}` needs the field to aggregate",
            name_span,
            hint=example,
        )
    if not fn.takes_field or matched.missing or matched.unknown:
        return none
    arg = matched.given[fn.params[0].name]
    if not isinstance(arg.value, ast.FieldRef):
        rep.error(
            codes.BAD_AGGREGATE,
            f"the argument of `{fn.name}` must be a field path",
            pick_span(arg.span, arg.value.span, name_span),
            hint="compute the value with `set` before summarize, then aggregate that field",
        )
        return none
    path = arg.value.path
    typ = lookup(record, path, arg.value.span, rep)
    if typ is None:
        typ = ANY
    elif not fn.params[0].admits(typ):
        rep.error(
            codes.NOT_NUMERIC,
            f"`{fn.name}` needs a numeric field; `{path_label(path)}` is {typ}",
            arg.value.span,
            hint="convert it with to_float(…) in a `set` before summarize",
        )
        typ = ANY
    return ir.AggregatePlan(agg.name, fn.name, path, fn.result(typ))

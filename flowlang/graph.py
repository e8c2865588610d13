"""The pipelines of a checked program as a graph: Graphviz DOT or Mermaid.

Each pipeline is a node labelled with its name, its source, and each of its
stages as written (`| where …`, `| sink …`; one line each); `from NAME` is a solid edge and `from NAME.errors` a dashed one.
The edges of `route { … }` are labelled with their conditions (`else` for the
default route); a record takes the first that holds.
"""

from __future__ import annotations

from . import ir

FORMATS = ("dot", "mermaid")


def _describe(p: ir.PipelinePlan) -> list[str]:
    """The node's lines: the name, the source (what a pipeline reads is its
    edge), then every stage; a route's conditions are on its edges."""
    lines = [p.name]
    if isinstance(p.head, ir.CallStep):
        lines.append(p.head.info.label)
    for step in p.steps:
        lines.append("| route" if isinstance(step, ir.RouteStep) else f"| {step.info.label}")
    return lines


def _edges(plan: ir.Plan) -> list[tuple[str, str, bool, str | None]]:
    """(producer, reader, is the error stream, route condition) in plan order."""
    conditions: dict[tuple[str, str], str] = {}
    for p in plan.pipelines:
        last = p.steps[-1] if p.steps else None
        if isinstance(last, ir.RouteStep):
            for k, ((target, _), text) in enumerate(zip(last.routes, last.texts)):
                conditions[(p.name, target)] = f"{k + 1}: {text}"
    edges = []
    for p in plan.pipelines:
        if isinstance(p.head, ir.FromStep):
            producer = p.head.pipeline
            route = None if p.head.errors else conditions.get((producer, p.name))
            edges.append((producer, p.name, p.head.errors, route))
    return edges


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(plan: ir.Plan) -> str:
    """The plan's pipelines as a Graphviz digraph."""
    out = [
        f'digraph "{_dot_text(plan.file)}" {{',
        "  rankdir=LR;",
        '  node [shape=box, fontname="monospace"];',
    ]
    for p in plan.pipelines:
        label = "\\n".join(_dot_text(line) for line in _describe(p))
        out.append(f'  "{_dot_text(p.name)}" [label="{label}"];')
    for producer, reader, errors, route in _edges(plan):
        style = ' [style=dashed, label="errors"]' if errors else ""
        if route is not None:
            style = f' [label="{_dot_text(route)}"]'
        out.append(f'  "{_dot_text(producer)}" -> "{_dot_text(reader)}"{style};')
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid labels take HTML entities; quotes and brackets would end them
    for char, entity in (
        ("#", "#35;"),
        ("&", "#amp;"),
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
    ):
        text = text.replace(char, entity)
    return text


def to_mermaid(plan: ir.Plan) -> str:
    """The plan's pipelines as a Mermaid flowchart. Node ids are positional
    (`p0`, `p1`, …) because words such as `end` are reserved in Mermaid."""
    ids = {p.name: f"p{i}" for i, p in enumerate(plan.pipelines)}
    out = ["flowchart LR"]
    for p in plan.pipelines:
        label = "<br/>".join(_mermaid_text(line) for line in _describe(p))
        out.append(f'  {ids[p.name]}["{label}"]')
    for producer, reader, errors, route in _edges(plan):
        arrow = " -. errors .-> " if errors else " --> "
        if route is not None:
            arrow = f' -- "{_mermaid_text(route)}" --> '

        out.append(f"  {ids[producer]}{arrow}{ids[reader]}")
    return "\n".join(out) + "\n"


def render(plan: ir.Plan, fmt: str = "dot") -> str:
    """The graph in `fmt` (one of FORMATS)."""
    if fmt == "mermaid":
        return to_mermaid(plan)
    if fmt == "dot":
        return to_dot(plan)
    raise ValueError(f"unknown graph format {fmt!r}; use one of {', '.join(FORMATS)}")

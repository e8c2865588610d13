"""The whole program: schemas, pipeline names, the `from` graph (unknown
names, cycles, dependency order), each chain, and the plan."""

from __future__ import annotations

import heapq
import os
import re
from dataclasses import dataclass

from .. import ast, codes, ir
from ..diagnostics import Diagnostic, Label
from ..names import KEYWORDS
from ..source import NO_SPAN, SourceFile, Span
from ..syntax import path_label
from ..types import (
    ANY,
    ERROR_RECORD,
    OPEN_RECORD,
    PRIMITIVE_NAMES,
    ListT,
    Prim,
    RecordT,
    Type,
    nullable,
)
from .calls import CallChecker
from .chain import ChainChecker, ChainResult
from .exprs import ExprChecker
from .imports import load_imports
from .report import Reporter, did_you_mean, pick_span
from .tests import TestChecker


def pipeline_name_for_file(filename: str) -> str:
    """The name of a file's unnamed chain: its stem made an identifier
    (`access-log.flow` -> `access_log`)."""
    stem = os.path.basename(filename)
    if stem.endswith(".flow"):
        stem = stem[: -len(".flow")]
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    if not name or name[0].isdigit():
        name = "_" + name
    if name in KEYWORDS:
        name += "_"
    return name


@dataclass
class _Entry:
    name: str
    index: int  # position among the file's pipelines
    node: ast.Pipeline
    span: Span  # where the name is (or the chain, for the unnamed one)


class ProgramChecker:
    """Checks one program; `run()` once."""

    def __init__(self, program: ast.Program, src: SourceFile) -> None:
        self.program = program
        self.src = src
        self.rep = Reporter(src)
        self.schemas: dict[str, RecordT] = {}
        # every chain checked, by pipeline name (duplicates too), for editors
        self.chains: list[tuple[str, ChainResult]] = []
        self.pipelines: dict[str, Span] = {}  # where each pipeline is named
        self.inputs: list[str] = []  # the files imported (then those the stages read, once checked)
        # where each schema is declared: its node and file (imported or this one)
        self.schema_decls: dict[str, tuple[ast.Schema, SourceFile]] = {}
        # False when an import could not be read or parsed: an unknown schema
        # name close to no known one may be one of its, so it is not reported
        # (the import's error is)
        self.imports_complete = True

    def run(self) -> tuple[ir.Plan | None, list[Diagnostic]]:
        self._schemas()
        entries, extras = self._pipelines()
        comments = sorted(c.span for c in self.program.comments)
        exprs = ExprChecker(self.rep)
        calls = CallChecker(self.rep, self.schemas, self.imports_complete)
        chains = ChainChecker(self.src, self.rep, comments, calls, exprs)
        order, cyclic = self._order(entries)
        results: dict[str, ChainResult] = {}

        def head_type(head: ast.FromHead) -> Type:
            if head.name not in entries:
                return OPEN_RECORD
            if head.errors:
                return ERROR_RECORD
            done = results.get(head.name)
            return done.output_type if done is not None else OPEN_RECORD

        for name in order:
            results[name] = chains.check(entries[name].node.chain, head_type)
            self.chains.append((name, results[name]))
        for extra in extras:
            self.chains.append((extra.name, chains.check(extra.node.chain, head_type)))
        self.pipelines = {name: entry.span for name, entry in entries.items()}
        readers, error_readers = self._readers(entries, order)
        for name in order:
            if results[name].route is not None:
                self._routes(name, results[name].route, entries, readers[name])
        tests = TestChecker(self.src, self.rep, exprs, results).check_all(
            [s for s in self.program.statements if isinstance(s, ast.Test)]
        )
        for name in order:
            entry = entries[name]
            if not results[name].has_sink and not readers[name]:
                self.rep.error(
                    codes.NO_SINK,
                    f"pipeline `{name}` has no sink and nobody reads it",
                    entry.span,
                    hint=f"end it with `| sink …`, or read it with `from {name}`",
                )
        self.inputs += [path for path in calls.inputs if path not in self.inputs]
        if self.rep.error_count or cyclic:
            return None, self.rep.sorted()
        plans = []
        for name in order:
            res = results[name]
            if res.head is None:
                return None, self.rep.sorted()
            line = self.src.line_col(entries[name].node.span.start)[0]
            plans.append(
                ir.PipelinePlan(
                    name,
                    line,
                    res.head,
                    tuple(res.steps),
                    res.output_type,
                    tuple(readers[name]),
                    tuple(error_readers[name]),
                )
            )
        schemas = tuple(self.schemas.items())
        plan = ir.Plan(self.src.name, tuple(plans), tuple(tests), schemas, tuple(self.inputs))
        return plan, self.rep.sorted()

    # ------------------------------------------------------------ schemas

    def _schemas(self) -> None:
        """The schemas of the imported files, then this file's: one name space."""
        imported = load_imports(self.program, self.src, self.rep, self.inputs)
        self.imports_complete = imported.complete
        declared = [(found.schema, found.src) for found in imported.schemas]
        declared += [(s, self.src) for s in self.program.statements if isinstance(s, ast.Schema)]
        decls: dict[str, ast.Schema] = {}
        files = self.schema_decls
        for stmt, src in declared:
            span = pick_span(stmt.name_span, stmt.span)
            with self.rep.in_file(src):
                if stmt.name in PRIMITIVE_NAMES:
                    self.rep.error(
                        codes.DUPLICATE_NAME,
                        f"schema `{stmt.name}` has the name of a built-in type",
                        span,
                        hint="choose another name, e.g. a capitalised one",
                    )
                elif stmt.name in decls:
                    first, first_src = files[stmt.name]
                    where = pick_span(first.name_span, first.span)
                    self.rep.error(
                        codes.DUPLICATE_NAME,
                        f"schema `{stmt.name}` is declared twice",
                        span,
                        labels=(Label(where, "first declared here", file=first_src),),
                    )
                else:
                    decls[stmt.name] = stmt
                    files[stmt.name] = (stmt, src)
        resolving: list[str] = []

        def resolve(name: str, at: Span) -> Type:
            if name in self.schemas:
                return self.schemas[name]
            if name in resolving:
                cycle = " → ".join(resolving[resolving.index(name) :] + [name])
                self.rep.error(
                    codes.RECURSIVE_SCHEMA,
                    f"schema `{name}` contains itself: {cycle}",
                    at,
                    hint="record types are finite; use `any` for the nested part",
                )
                return ANY
            resolving.append(name)
            schema, src = files[name]
            with self.rep.in_file(src):
                record = self._record(schema.fields, False, resolve, decls)
            resolving.pop()
            self.schemas[name] = RecordT(record.fields, open=schema.open, name=name)
            return self.schemas[name]

        for name, schema in decls.items():
            with self.rep.in_file(files[name][1]):
                resolve(name, pick_span(schema.name_span, schema.span))

    def _record(self, decls: tuple[ast.FieldDecl, ...], open_: bool, resolve, schemas) -> RecordT:
        fields: list[tuple[str, Type]] = []
        seen: set[str] = set()
        for decl in decls:
            typ = self._type(decl.type, resolve, schemas)
            if decl.name in seen:
                self.rep.error(
                    codes.DUPLICATE_FIELD,
                    f"field `{path_label((decl.name,))}` is declared twice",
                    pick_span(decl.span, decl.type.span),
                )
                continue
            seen.add(decl.name)
            fields.append((decl.name, typ))
        return RecordT(tuple(fields), open=open_)

    def _type(self, texpr: ast.TypeExpr, resolve, schemas) -> Type:
        if isinstance(texpr, ast.TypeName):
            if texpr.name in PRIMITIVE_NAMES:
                return Prim(texpr.name)
            if texpr.name in schemas:
                return resolve(texpr.name, texpr.span)
            hint = did_you_mean(texpr.name, [*PRIMITIVE_NAMES, *schemas])
            if hint is None and not self.imports_complete:
                return ANY  # perhaps the missing import's; its error is reported
            hint = hint or (
                "the types are str, int, float, bool, time, ip, duration, any, and schema names"
            )
            self.rep.error(
                codes.UNKNOWN_TYPE, f"unknown type `{texpr.name}`", texpr.span, hint=hint
            )
            return ANY
        if isinstance(texpr, ast.NullableType):
            return nullable(self._type(texpr.inner, resolve, schemas))
        if isinstance(texpr, ast.ListType):
            return ListT(self._type(texpr.inner, resolve, schemas))
        if isinstance(texpr, ast.RecordTypeExpr):
            return self._record(texpr.fields, texpr.open, resolve, schemas)
        raise TypeError(f"not a type node: {type(texpr).__name__}")

    # ------------------------------------------------------------ pipelines

    def _pipelines(self) -> tuple[dict[str, _Entry], list[_Entry]]:
        """The pipelines by name (first wins) and the duplicates, which are
        still checked on their own."""
        entries: dict[str, _Entry] = {}
        extras: list[_Entry] = []
        unnamed_seen = False
        bare = pipeline_name_for_file(self.src.name)
        index = 0
        for stmt in self.program.statements:
            if not isinstance(stmt, ast.Pipeline):
                continue
            if stmt.name is None:
                name = bare
                span = pick_span(stmt.chain.head.span, stmt.span)
                if unnamed_seen:
                    self.rep.error(
                        codes.DUPLICATE_NAME,
                        "a file has one unnamed chain; this is a second one",
                        span,
                        hint="name it: `pipeline NAME = …`",
                    )
                    extras.append(_Entry(name, index, stmt, span))
                    index += 1
                    continue
                unnamed_seen = True
            else:
                name = stmt.name
                span = pick_span(stmt.name_span, stmt.span)
            entry = _Entry(name, index, stmt, span)
            index += 1
            if name in entries:
                first = entries[name]
                hint = (
                    f"the unnamed chain is named `{bare}` after the file"
                    if stmt.name is None or first.node.name is None
                    else None
                )
                self.rep.error(
                    codes.DUPLICATE_NAME,
                    f"pipeline `{name}` is defined twice",
                    span,
                    hint=hint,
                    labels=(Label(first.span, "first defined here"),),
                )
                extras.append(entry)
                continue
            entries[name] = entry
        return entries, extras

    def _order(self, entries: dict[str, _Entry]) -> tuple[list[str], bool]:
        """Producers before readers, ties in source order; reports unknown
        names and cycles. Pipelines caught in a cycle come last."""
        producer: dict[str, str] = {}
        for name, entry in entries.items():
            head = entry.node.chain.head
            if not isinstance(head, ast.FromHead):
                continue
            if head.name in entries:
                producer[name] = head.name
                continue
            others = [n for n in entries if n != name]
            hint = did_you_mean(head.name, others) or (
                f"declare it with `pipeline {head.name} = …`"
                if not others
                else "the pipelines are " + ", ".join(f"`{n}`" for n in others)
            )
            self.rep.error(
                codes.UNKNOWN_PIPELINE, f"unknown pipeline `{head.name}`", head.span, hint=hint
            )
        cyclic = self._cycles(entries, producer)
        readers_of: dict[str, list[str]] = {n: [] for n in entries}
        for reader, prod in producer.items():
            readers_of[prod].append(reader)
        ready = [(e.index, n) for n, e in entries.items() if n not in producer]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for reader in readers_of[name]:
                heapq.heappush(ready, (entries[reader].index, reader))
        placed = set(order)
        stuck = sorted((e.index, n) for n, e in entries.items() if n not in placed)
        order.extend(n for _, n in stuck)
        return order, cyclic

    def _cycles(self, entries: dict[str, _Entry], producer: dict[str, str]) -> bool:
        """Report each cycle of `from` edges once; a pipeline reads one other,
        so following producers from any pipeline either ends or loops."""
        done: set[str] = set()
        found = False
        for start in entries:
            path: list[str] = []
            position: dict[str, int] = {}
            node: str | None = start
            while node is not None and node not in done and node not in position:
                position[node] = len(path)
                path.append(node)
                node = producer.get(node)
            done.update(path)
            if node is None or node not in position:
                continue
            members = path[position[node] :]
            found = True
            first = min(members, key=lambda n: entries[n].index)
            # data flows from producer to reader: walk the loop that way
            flow = [first]
            while (nxt := next(n for n in members if producer[n] == flow[-1])) != first:
                flow.append(nxt)
            text = " → ".join(f"`{n}`" for n in flow + [first])
            heads = {n: entries[n].node.chain.head for n in members}
            labels = tuple(
                Label(heads[n].span, f"`{n}` reads `{producer[n]}` here")
                for n in flow[1:]
                if heads[n].span != NO_SPAN
            )
            self.rep.error(
                codes.CYCLE,
                f"pipelines form a cycle: {text}",
                heads[first].span,
                hint="a pipeline cannot read its own output, even indirectly",
                labels=labels,
            )
        return found

    def _routes(
        self, name: str, stage: ast.RouteStage, entries: dict[str, _Entry], readers: list[str]
    ) -> None:
        """Each route of `name` goes to a pipeline that reads `from name`, once,
        and every pipeline that reads `from name` is one of its routes."""
        targets: dict[str, ast.Route] = {}
        for route in stage.routes:
            at = pick_span(route.name_span, route.span)
            if route.target in targets:
                self.rep.error(
                    codes.DUPLICATE_NAME,
                    f"route `{route.target}` is named twice",
                    at,
                    hint="a record goes to one route; join the conditions with `or`",
                    labels=(Label(pick_span(targets[route.target].name_span), "first here"),),
                )
                continue
            targets[route.target] = route
            entry = entries.get(route.target)
            if entry is None:
                others = [n for n in entries if n != name]
                hint = did_you_mean(route.target, others) or (
                    f"declare it: `pipeline {route.target} = from {name} | …`"
                )
                self.rep.error(
                    codes.UNKNOWN_PIPELINE,
                    f"route `{route.target}`: there is no pipeline `{route.target}`",
                    at,
                    hint=hint,
                )
                continue
            head = entry.node.chain.head
            if not (isinstance(head, ast.FromHead) and head.name == name and not head.errors):
                self.rep.error(
                    codes.NOT_ROUTE_READER,
                    f"route `{route.target}` goes to pipeline `{route.target}`, "
                    f"which does not read `{name}`",
                    at,
                    hint=f"a route's pipeline starts with `from {name}`: "
                    f"`pipeline {route.target} = from {name} | …`",
                    labels=(Label(pick_span(head.span, entry.span), "it starts here"),),
                )
        for reader in readers:
            if reader not in targets:
                head = entries[reader].node.chain.head
                self.rep.error(
                    codes.READS_ROUTED,
                    f"`{reader}` reads `{name}`, which routes its records, "
                    f"but `{reader}` is none of its routes",
                    head.span,
                    hint=f"add `{reader}: condition` (or `{reader}: else`) to the route of `{name}`",
                    labels=(Label(stage.span, f"`{name}` routes here"),),
                )

    def _readers(self, entries: dict[str, _Entry], order: list[str]):
        readers: dict[str, list[str]] = {n: [] for n in entries}
        error_readers: dict[str, list[str]] = {n: [] for n in entries}
        for name in order:
            head = entries[name].node.chain.head
            if isinstance(head, ast.FromHead) and head.name in entries:
                (error_readers if head.errors else readers)[head.name].append(name)
        return readers, error_readers

"""Record types under the relational stages: looking a field path up (with
the diagnostics for unknown fields and non-records), and the record types
that `set`, `drop`, `keep` and `rename` produce."""

from __future__ import annotations

from .. import codes
from ..source import Span
from ..syntax import path_label
from ..types import ANY, NULL, OPEN_RECORD, Nullable, RecordT, Type, nullable, walk_path
from .report import Reporter, did_you_mean

_LISTED_FIELDS = 8


def _record_words(record: RecordT, prefix: tuple[str, ...]) -> str:
    if record.name:
        return f" in record {record.name}"
    if prefix:
        return f" in `{path_label(prefix)}`"
    return ""


def _unknown_field_hint(name: str, record: RecordT) -> str:
    hint = did_you_mean(name, record.names, render=lambda n: path_label((n,)))
    if hint:
        return hint
    if not record.names:
        return "the record has no fields"
    shown = [f"`{path_label((n,))}`" for n in record.names[:_LISTED_FIELDS]]
    more = ", …" if len(record.names) > _LISTED_FIELDS else ""
    return "the record has " + ", ".join(shown) + more


def lookup(record: Type, path: tuple[str, ...], span: Span, rep: Reporter) -> Type | None:
    """The type of `path` in `record`, or None after reporting why there is
    none (E201 unknown field of a closed record, E204 not a record).

    A path through a nullable record is nullable; through `any` or an open
    record's unknown field it is `any` (as `types.field_type`)."""
    found, i, at = walk_path(record, path)
    if found is not None:
        return found
    if not isinstance(at, RecordT):
        rep.error(
            codes.NOT_A_RECORD,
            f"`{path_label(path[:i])}` is {at}, not a record",
            span,
            hint=f"`{path_label(path)}` reads a field inside it",
        )
        return None
    rep.error(
        codes.UNKNOWN_FIELD,
        f"unknown field `{path_label(path[: i + 1])}`{_record_words(at, path[:i])}",
        span,
        hint=_unknown_field_hint(path[i], at),
    )
    return None


def as_record(t: Type) -> RecordT:
    """The record type a stage sees; a value of unknown shape is an open record."""
    return t if isinstance(t, RecordT) else OPEN_RECORD


def set_path(
    record: RecordT, path: tuple[str, ...], typ: Type, span: Span, rep: Reporter
) -> RecordT:
    """`record` after `set path = <typ>`: intermediate records are created
    when missing or null (a created record lacks the fields the null one
    would have had, so they become nullable)."""
    head, tail = path[0], path[1:]
    if not tail:
        return record.with_field(head, typ)
    child = record.get(head)
    if child is None:
        child = OPEN_RECORD if record.open else RecordT(())
    elif child == ANY:
        child = OPEN_RECORD
    elif child == NULL:
        child = RecordT(())
    elif isinstance(child, Nullable) and isinstance(child.inner, RecordT):
        inner = child.inner
        child = RecordT(tuple((k, nullable(t)) for k, t in inner.fields), inner.open)
    if not isinstance(child, RecordT):
        rep.error(
            codes.NOT_A_RECORD,
            f"cannot set `{path_label(path)}`: `{head}` is {child}, not a record",
            span,
            hint=f"set `{path_label((head,))}` itself, or drop it first",
        )
        return record
    return record.with_field(head, set_path(child, tail, typ, span, rep))


def remove_path(record: RecordT, path: tuple[str, ...]) -> RecordT:
    """`record` without the field at `path` (already known to exist or be
    possible: unknown parts of open records stay as they are)."""
    head, tail = path[0], path[1:]
    if not tail:
        return record.without(head)
    child = record.get(head)
    if isinstance(child, RecordT):
        return record.with_field(head, remove_path(child, tail))
    if isinstance(child, Nullable) and isinstance(child.inner, RecordT):
        return record.with_field(head, nullable(remove_path(child.inner, tail)))
    return record


def keep_paths(record: RecordT, paths: list[tuple[str, ...]]) -> RecordT:
    """The closed record of only the fields at `paths` (a whole field wins
    over parts of it); unknown fields of an open record are `any`."""
    groups: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        groups.setdefault(path[0], []).append(path[1:])
    fields = []
    for name, tails in groups.items():
        child = record.get(name)
        if child is None:
            child = ANY
        if any(not t for t in tails) or child == ANY:
            fields.append((name, child))
            continue
        null = isinstance(child, Nullable)
        inner = child.inner if isinstance(child, Nullable) else child
        if not isinstance(inner, RecordT):
            fields.append((name, child))
            continue
        kept = keep_paths(inner, tails)
        fields.append((name, nullable(kept) if null else kept))
    return RecordT(tuple(fields), open=False)


def rename_path(
    record: RecordT,
    old: tuple[str, ...],
    new: tuple[str, ...],
    typ: Type,
    span: Span,
    rep: Reporter,
) -> RecordT:
    """`record` after `rename old as new`; a field renamed within the same
    record keeps its place (and that record its nullability)."""
    if old[:-1] == new[:-1]:
        renamed = _rename_in_place(record, old, new[-1])
        if renamed is not None:
            return renamed
    return set_path(remove_path(record, old), new, typ, span, rep)


def _rename_in_place(record: RecordT, old: tuple[str, ...], new_name: str) -> RecordT | None:
    head, tail = old[0], old[1:]
    if not tail:
        if record.get(head) is None:
            return None
        return RecordT(
            tuple((new_name if k == head else k, t) for k, t in record.fields), record.open
        )
    child = record.get(head)
    null = isinstance(child, Nullable)
    inner = child.inner if isinstance(child, Nullable) else child
    if not isinstance(inner, RecordT):
        return None
    renamed = _rename_in_place(inner, tail, new_name)
    if renamed is None:
        return None
    return record.with_field(head, nullable(renamed) if null else renamed)

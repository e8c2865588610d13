"""Turning input lines (without their newline) into records: the `auto`,
`json`, `lines` and `csv` formats shared by the file and stdin sources, with
optional schema coercion.

Blank lines are skipped, except with `lines`. A trailing carriage return is
removed. Failed lines become SourceItems with an error (`decode`: not UTF-8,
`parse`: malformed, `schema`: does not fit the schema, `limit`: too long or
nested too deep).
"""

from __future__ import annotations

import csv
from typing import Any, Callable

import orjson

from .base import Record, RecordError, SourceItem
from .coerce import coercer
from .jsonl import (
    MAX_DEPTH,
    any_may_hold_long_int,
    depth_exceeds,
    exact,
    loads,
    may_hold_long_int,
    may_nest_deeper,
    too_deep,
)
from .lines import MAX_LINE, TooLong

FORMATS = ("auto", "json", "lines", "csv")

_orjson_loads = orjson.loads
_DecodeError = (orjson.JSONDecodeError, TypeError)


_loads = loads  # one JSON document, integers of any size exactly


def _too_deep(line: bytes) -> SourceItem:
    text = line.decode("utf-8", "replace").rstrip("\r")
    message = f"the record is nested deeper than {MAX_DEPTH} levels"
    return SourceItem(None, text, RecordError("limit", message, text))


def _text(line: bytes) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bad_utf8(line: bytes) -> SourceItem:
    raw = line.decode("utf-8", "replace")
    return SourceItem(None, raw, RecordError("decode", "line is not valid UTF-8", raw))


def _too_long(line: TooLong) -> SourceItem:
    raw = line.head.decode("utf-8", "replace")
    return SourceItem(None, raw, RecordError("limit", f"line longer than {MAX_LINE} bytes", raw))


class Decoder:
    """Decodes the lines of one stream (call `new_file()` where a file starts)."""

    def __init__(self, format: str = "auto", format_args: dict | None = None, schema: Any = None):
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}")
        args = dict(format_args or {})
        self.format = format
        self.header_wanted = bool(args.get("header", True))
        self.delimiter = str(args.get("delimiter", ","))
        self.coerce: Callable[[Any], Any] | None = (
            coercer(schema, from_text=(format == "csv")) if schema is not None else None
        )
        columns = args.get("columns")
        self.columns: tuple[str, ...] | None = tuple(columns) if columns is not None else None
        self.header: list[str] | None = None
        # the lines of a CSV record whose quoted field is still open, and
        # their bytes with newlines: a checkpoint must stay before them
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def new_file(self) -> None:
        """The next line starts a new file (a CSV header comes again; call
        `finish` first for what the last file left open)."""
        self.header = None
        self._drop_pending()

    def finish(self) -> list[SourceItem]:
        """The end of the input: a CSV record still open is an error."""
        if not self.pending:
            return []
        text = b"\n".join(self.pending).decode("utf-8", "replace")
        self._drop_pending()
        why = "unterminated quoted field at the end of the input"
        return [SourceItem(None, text, RecordError("parse", f"invalid CSV: {why}", text))]

    def read_header(self, head: bytes) -> None:
        """Read the CSV header from `head`, a file's first bytes (a followed
        file resumed past its start)."""
        for line in head.split(b"\n")[:-1]:
            self._one(line)
            if self.header is not None:
                break
        self._drop_pending()

    def _drop_pending(self) -> None:
        self.pending = []
        self.pending_bytes = 0

    def decode(self, lines: list) -> tuple[list[Record], list[SourceItem]]:
        """The records the lines hold, and the lines that failed."""
        records: list[Record] = []
        failed: list[SourceItem] = []
        if self.coerce is None and self.format in ("json", "auto"):
            self._json_like(lines, records, failed, self.format == "auto")
            return records, failed
        if self.coerce is None and self.format == "lines" and self._plain_lines(lines, records):
            return records, failed
        one, coerce = self._one, self.coerce
        for line in lines:
            item = one(line)
            if item is None:
                continue
            if item.error is None and coerce is not None:
                try:
                    item.record = coerce(item.record)
                except RecordError as exc:
                    text = item.raw  # a CSV record's text, which may span lines
                    if text is None:
                        text = line.decode("utf-8", "replace")
                        text = text[:-1] if text.endswith("\r") else text
                    item = SourceItem(None, text, exc)
                    exc.raw = item.raw
            if item.error is None:
                records.append(item.record)
            else:
                failed.append(item)
        return records, failed

    def _one(self, line: Any) -> SourceItem | None:
        """One line, the slow and thorough way."""
        if self.format == "csv":
            return self._csv_line(line)
        if type(line) is TooLong:
            return _too_long(line)
        if self.format == "lines":
            return self._message(line)
        try:
            obj = _loads(line)
        except orjson.JSONDecodeError:
            return self._slow(line, self.format == "auto")
        if type(obj) is dict:
            return _too_deep(line) if may_nest_deeper(line) and too_deep(obj) else SourceItem(obj)
        if self.format == "auto":
            return self._message(line)
        return self._not_object(line, obj)

    def _plain_lines(self, lines: list, records: list) -> bool:
        """The common case, a batch of UTF-8 lines without `\r`, decoded in
        one call; False (nothing added) for a batch with a line too long,
        bytes that are not UTF-8 or a `\r`, which is read line by line."""
        try:
            text = b"\n".join(lines).decode("utf-8")
        except (TypeError, UnicodeDecodeError):
            return False
        if "\r" in text:
            return False
        if lines:
            records += [{"message": line} for line in text.split("\n")]
        return True

    def _json_like(self, lines: list, records: list, failed: list, auto: bool) -> None:
        # the common case, a batch of JSON objects, decodes without a Python loop
        try:
            objects = list(map(_orjson_loads, lines))
        except _DecodeError:
            pass
        else:
            if set(map(type, objects)) <= {dict} and not depth_exceeds(lines):
                if any_may_hold_long_int(lines):
                    objects = [
                        exact(ln) if may_hold_long_int(ln) else obj
                        for ln, obj in zip(lines, objects)
                    ]
                records += objects
                return
        append = records.append
        for line in lines:
            # orjson ignores surrounding white space, \r included
            try:
                obj = _loads(line)
            except _DecodeError:
                item = self._slow(line, auto)
                if item is not None:
                    if item.error is None:
                        append(item.record)
                    else:
                        failed.append(item)
                continue
            if type(obj) is dict:
                if may_nest_deeper(line) and too_deep(obj):
                    failed.append(_too_deep(line))
                else:
                    append(obj)
            elif auto:
                item = self._message(line)
                if item.error is None:
                    append(item.record)
                else:
                    failed.append(item)
            else:
                failed.append(self._not_object(line, obj))

    def _slow(self, line: Any, auto: bool) -> SourceItem | None:
        if type(line) is TooLong:
            return _too_long(line)
        if not line.strip():
            return None
        if auto:
            return self._message(line)
        text = _text(line)
        if text is None:
            return _bad_utf8(line)
        text = text[:-1] if text.endswith("\r") else text
        try:
            _orjson_loads(line)
        except orjson.JSONDecodeError as exc:
            return SourceItem(None, text, RecordError("parse", f"invalid JSON: {exc}", text))
        return None  # pragma: no cover - loads failed a moment ago

    def _message(self, line: bytes) -> SourceItem:
        if line[-1:] == b"\r":
            line = line[:-1]
        text = _text(line)
        if text is None:
            return _bad_utf8(line)
        return SourceItem({"message": text})

    @staticmethod
    def _not_object(line: bytes, obj: Any) -> SourceItem:
        text = line.decode("utf-8", "replace").rstrip("\r")
        kind = {
            list: "a list",
            str: "a string",
            bool: "a boolean",
            type(None): "null",
        }.get(type(obj), "a number")
        return SourceItem(
            None,
            text,
            RecordError("parse", f"expected a JSON object, got {kind}", text),
        )

    def _csv_line(self, line: Any) -> SourceItem | None:
        """One line of CSV: a record, or part of one whose quoted field spans
        lines (RFC 4180), kept in `pending` until a line closes it."""
        if self.pending:
            if type(line) is TooLong:
                return self._too_long_record()
            self.pending.append(line)
            self.pending_bytes += len(line) + 1
            if self.pending_bytes > MAX_LINE:
                return self._too_long_record()
            if b'"' not in line:  # a quoted field can only close at a quote
                return None
            data = b"\n".join(self.pending)
        else:
            if type(line) is TooLong:
                return _too_long(line)
            if b'"' not in line:  # one line, one record
                return self._csv(line[:-1] if line[-1:] == b"\r" else line)
            data = line
        text = _text(data)
        if text is None:
            self._drop_pending()
            return _bad_utf8(data)
        text = text[:-1] if text.endswith("\r") else text
        try:
            values = next(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":  # inside a quoted field: read on
                if not self.pending:
                    self.pending, self.pending_bytes = [line], len(line) + 1
                return None
            self._drop_pending()
            return SourceItem(None, text, RecordError("parse", f"invalid CSV: {exc}", text))
        except StopIteration:
            values = []
        self._drop_pending()
        return self._row(values, text)

    def _too_long_record(self) -> SourceItem:
        raw = b"\n".join(self.pending)[:4096].decode("utf-8", "replace")
        self._drop_pending()
        message = f"CSV record longer than {MAX_LINE} bytes (a quoted field not closed?)"
        return SourceItem(None, raw, RecordError("limit", message, raw))

    def _csv(self, line: bytes) -> SourceItem | None:
        text = _text(line)
        if text is None:
            return _bad_utf8(line)
        if not text.strip():
            return None
        try:
            values = next(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            return SourceItem(None, text, RecordError("parse", f"invalid CSV: {exc}", text))
        return self._row(values, text)

    def _row(self, values: list[str], text: str) -> SourceItem | None:
        """The record of one CSV row (None: it was the header)."""
        if self.header_wanted and self.header is None:
            self.header = values
            return None
        names = self.columns if self.columns is not None else self.header
        if names is None:
            return SourceItem({f"column{i + 1}": v for i, v in enumerate(values)}, text)
        if len(values) != len(names):
            named = "the columns name" if self.columns is not None else "the header names"
            message = f"CSV row has {len(values)} values, {named} {len(names)}"
            return SourceItem(None, text, RecordError("parse", message, text))
        return SourceItem(dict(zip(names, values)), text)

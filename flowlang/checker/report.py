"""Collecting diagnostics while checking, and the small helpers every part of
the checker uses to word them (did-you-mean, field names, stage labels)."""

from __future__ import annotations

import bisect
import contextlib
import difflib
from typing import Iterable, Iterator

from ..diagnostics import Diagnostic, Label, file_order
from ..source import NO_SPAN, SourceFile, Span


class Reporter:
    """Collects errors and warnings for one file, in any order; `sorted()`
    gives them by position."""

    def __init__(self, src: SourceFile) -> None:
        self.src = src
        self._root = src
        self._diags: list[Diagnostic] = []

    def error(
        self,
        code: str,
        message: str,
        span: Span,
        hint: str | None = None,
        labels: tuple[Label, ...] = (),
    ) -> None:
        self._diags.append(Diagnostic(code, "error", message, span, hint, labels, self.src))

    def warn(
        self,
        code: str,
        message: str,
        span: Span,
        hint: str | None = None,
        labels: tuple[Label, ...] = (),
    ) -> None:
        self._diags.append(Diagnostic(code, "warning", message, span, hint, labels, self.src))

    @contextlib.contextmanager
    def in_file(self, src: SourceFile) -> Iterator[None]:
        """Within the block, what is reported is about `src` (an imported file)."""
        saved, self.src = self.src, src
        try:
            yield
        finally:
            self.src = saved

    def add(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Diagnostics found elsewhere (an imported file's syntax errors)."""
        self._diags.extend(diagnostics)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self._diags if d.is_error)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._diags, key=file_order(self._root))


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate `name` was most likely meant to be, if any is close."""
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if found:
        return found[0]
    # a slip of case (`Strr` for `str`) should not hide the match
    lowered: dict[str, str] = {}
    for c in pool:
        lowered.setdefault(c.lower(), c)
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if found:
        return lowered[found[0]]
    # `ip` for `client_ip`: the name is one word of a longer one
    words = [c for c in pool if name.lower() in c.lower().split("_") and c.lower() != name.lower()]
    return words[0] if len(words) == 1 else None


def did_you_mean(name: str, candidates: Iterable[str], render=None) -> str | None:
    """A `did you mean `x`?` hint, or None."""
    found = closest(name, candidates)
    if found is None:
        return None
    return f"did you mean `{render(found) if render else found}`?"


def one_of(names: Iterable[str]) -> str:
    """`a`, `b` or `c`."""
    quoted = [f"`{n}`" for n in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def pick_span(*spans: Span) -> Span:
    """The first span that points somewhere (nodes built by hand have none)."""
    for span in spans:
        if span != NO_SPAN:
            return span
    return NO_SPAN


LABEL_WIDTH = 60


def stage_label(src: SourceFile, span: Span, comments: list[Span], fallback) -> str:
    """The stage as written, on one line: comments removed, white space
    collapsed, cut at LABEL_WIDTH characters with an ellipsis. `comments`
    are the file's comment spans in order; `fallback()` gives a label for a
    stage that has no source text (a tree built by hand)."""
    if span == NO_SPAN or span.end <= span.start:
        return fallback()
    pieces, cursor = [], span.start
    first = bisect.bisect_left(comments, Span(span.start, span.start))
    for c in comments[first:]:
        if c.start >= span.end:
            break
        if c.start >= cursor and c.end <= span.end:
            pieces.append(src.text[cursor : c.start])
            cursor = c.end
    pieces.append(src.text[cursor : span.end])
    text = " ".join("".join(pieces).split())
    if not text:
        return fallback()
    if len(text) > LABEL_WIDTH:
        text = text[: LABEL_WIDTH - 1] + "…"
    return text

"""Acknowledgement of source batches, refcounted and in order.

Every batch a source yields with an `ack` gets a Token. Each place that holds
records derived from the batch (a queue entry, a window, an error-stream
entry) holds one reference; when the last reference goes, the token is done.
A source's `ack` callbacks run in the order its batches were read, and never
for a batch while an earlier one is still outstanding.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable, Iterable


class Token:
    __slots__ = ("refs", "ack", "tracker", "read_at")

    def __init__(self, tracker: "AckTracker", ack: Callable[[], None]):
        self.refs = 1
        self.ack = ack
        self.tracker = tracker
        self.read_at = time.monotonic()


class AckTracker:
    """The outstanding batches of one source, oldest first."""

    def __init__(self) -> None:
        self._pending: deque[Token] = deque()

    def token(self, ack: Callable[[], None]) -> Token:
        """A token for a new batch, holding one reference."""
        tok = Token(self, ack)
        self._pending.append(tok)
        return tok

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def age(self) -> float:
        """Seconds since the oldest outstanding batch was read (0 when none
        is): how far behind the reading the source's checkpoint is."""
        pending = self._pending
        return time.monotonic() - pending[0].read_at if pending else 0.0

    def _settle(self) -> None:
        pending = self._pending
        while pending and pending[0].refs <= 0:
            pending.popleft().ack()


def retain(tokens: Iterable[Token], n: int = 1) -> None:
    """Add `n` references to each token (records now also held elsewhere)."""
    for tok in tokens:
        tok.refs += n


def release(tokens: Iterable[Token]) -> None:
    """Drop one reference from each token; acknowledge what became done."""
    for tok in tokens:
        tok.refs -= 1
        if tok.refs == 0:
            tok.tracker._settle()

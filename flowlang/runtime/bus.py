"""A small synchronous publish/subscribe bus for lifecycle events.

Topics used by the engine: `started`, `paused`, `resumed`, `flushed`,
`stopped` (each with `pipeline=` and, where it applies, `stage=`), and
`signal` (with `signum=` and `count=`; a reload's stop publishes it with
`count=0`). Subscribers are plain callables,
called in subscription order on the event loop's thread; they must be quick.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

TOPICS = ("started", "paused", "resumed", "flushed", "stopped", "signal")


class Bus:
    """Topic → subscribers. `publish` calls each subscriber with the topic's data."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable[..., Any]]] = defaultdict(list)

    def subscribe(self, topic: str, callback: Callable[..., Any]) -> Callable[[], None]:
        """Call `callback(topic=..., **data)` on every `publish(topic, ...)`;
        `topic="*"` receives every topic. Returns a function that unsubscribes."""
        self._subscribers[topic].append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers[topic]:
                self._subscribers[topic].remove(callback)

        return unsubscribe

    def publish(self, topic: str, **data: Any) -> None:
        """Deliver one event to the topic's subscribers, then to `*` subscribers."""
        for callback in tuple(self._subscribers.get(topic, ())):
            callback(topic=topic, **data)
        for callback in tuple(self._subscribers.get("*", ())):
            callback(topic=topic, **data)

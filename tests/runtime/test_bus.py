"""The lifecycle bus."""

from __future__ import annotations

from flowlang.runtime import Bus


def test_subscribers_get_their_topic_and_wildcards_get_all_in_order():
    bus = Bus()
    got = []
    bus.subscribe("paused", lambda topic, **d: got.append(("paused-sub", topic, d)))
    unsubscribe = bus.subscribe("*", lambda topic, **d: got.append(("any", topic, d)))
    bus.publish("paused", pipeline="web", stage="source file (web.flow:1)")
    bus.publish("started", pipeline="web")
    assert got == [
        (
            "paused-sub",
            "paused",
            {"pipeline": "web", "stage": "source file (web.flow:1)"},
        ),
        ("any", "paused", {"pipeline": "web", "stage": "source file (web.flow:1)"}),
        ("any", "started", {"pipeline": "web"}),
    ]
    unsubscribe()
    bus.publish("started", pipeline="other")
    assert len(got) == 3

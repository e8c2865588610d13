"""Shared test configuration: the real servers the suite talks to are started
by the fixtures in tests/fixtures (each on a free loopback port)."""

pytest_plugins = [
    "tests.fixtures.search",
    "tests.fixtures.metrics_db",
    "tests.fixtures.nats",
    "tests.fixtures.faults",
]

"""Shared test configuration: the real servers the suite talks to are started
by the fixtures in tests/fixtures (each on a free loopback port)."""

# the case files are programs with mistakes on purpose (their tests among
# them); the .flow plugin must not collect them as tests
collect_ignore_glob = ["cases/*.flow"]

pytest_plugins = [
    "tests.fixtures.search",
    "tests.fixtures.metrics_db",
    "tests.fixtures.nats",
    "tests.fixtures.kafka",
    "tests.fixtures.faults",
]

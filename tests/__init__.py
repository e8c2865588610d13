"""The flowlang test suite (a package, so tests can share helpers)."""

"""Benchmarks run by `make bench` (`python -m bench`); each module's `run()`
returns rows: a `benchmark` name, its figures, and a `note`."""

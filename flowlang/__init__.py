"""flowlang: a declarative language for streaming data pipelines."""

__version__ = "0.1.0"

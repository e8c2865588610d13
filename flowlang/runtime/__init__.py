"""flowlang's runtime: what generated modules import (`from flowlang import runtime as rt`)."""

from .base import (  # noqa: F401
    Processor,
    Record,
    RecordError,
    Rejected,
    Sink,
    Source,
    SourceBatch,
    SourceItem,
    StageContext,
    WindowProcessor,
)

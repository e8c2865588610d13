"""flowlang's runtime: what generated modules import (`from flowlang import runtime as rt`).

A generated module defines `build(ctx) -> Program` and ends with
`rt.main(build)`; `flowc run` calls `rt.run(build, ...)`.
"""

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
from .bus import Bus  # noqa: F401
from .context import BadVariable, Context, MissingVariable, env  # noqa: F401
from .engine import Outcome  # noqa: F401
from .errors import FlowError, error_record  # noqa: F401
from .launch import main, run, run_program  # noqa: F401
from .metrics import balanced  # noqa: F401
from .program import PipelineDecl, Program  # noqa: F401

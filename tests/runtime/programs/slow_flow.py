# generated from slow.flow by flowc, do not edit
# (hand-written in the generated shape, for the runtime tests)
import teststages as _st_teststages

from flowlang import runtime as rt
from flowlang.stages import file_source as _st_file_source


def build(ctx: rt.Context) -> rt.Program:
    prog = rt.Program("slow.flow", ctx)
    # slow.flow:1
    slow = prog.pipeline("slow", line=1, stages=[("source file", 1), ("sink slow_file", 2)])
    slow.source(
        0,
        _st_file_source.FileSource,
        path=rt.env("FLOW_IN"),
        format="auto",
        format_args={},
        schema=None,
        follow=False,
        start="beginning",
    )
    slow.sink(1, _st_teststages.SlowFileSink, path=rt.env("FLOW_OUT"), delay=0.05)
    return prog


if __name__ == "__main__":
    rt.main(build)

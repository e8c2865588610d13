# generated from stdin.flow by flowc, do not edit
# (hand-written in the generated shape, for the runtime tests)
from flowlang import runtime as rt
from flowlang.stages import stdin_source as _st_stdin_source
from flowlang.stages import stdout_sink as _st_stdout_sink


def build(ctx: rt.Context) -> rt.Program:
    prog = rt.Program("stdin.flow", ctx)
    # stdin.flow:1
    stdin = prog.pipeline("stdin", line=1, stages=[("source stdin", 1), ("sink stdout", 2)])
    stdin.source(
        0,
        _st_stdin_source.StdinSource,
        format=rt.env("FLOW_FORMAT", "auto"),
        format_args={},
        schema=None,
    )
    stdin.sink(1, _st_stdout_sink.StdoutSink, format=rt.env("FLOW_OUTPUT", "json"))
    return prog


if __name__ == "__main__":
    rt.main(build)

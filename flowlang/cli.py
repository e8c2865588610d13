"""`flowc`: check, format, graph, compile, run, test and debug .flow files,
explain diagnostic codes, serve .flow files to an editor (`flowc lsp`), and
tap a running pipeline (`flowc tap`).

Exit codes: 0 success, 1 diagnostics (or files `fmt --check` would change),
2 usage errors and unreadable files. Diagnostics go to stderr; a command's
product (a graph, a written module's path) to stdout. The compiler is
imported inside each command so that `flowc --help` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Sequence, TextIO

from . import __version__
from .runtime.options import add_run_options

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .source import SourceFile

OK, FAILED, USAGE = 0, 1, 2


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error returns instead of exiting the process
    (so `main()` can be called in-process) and names the program `flowc`."""

    def error(self, message: str):  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"flowc: error: {message}", file=sys.stderr)
        raise _UsageError()


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run flowc with `argv` (default: the command line); the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError:
        return USAGE
    except SystemExit as exc:  # --help and --version end here
        return exc.code if isinstance(exc.code, int) else OK
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------- arguments


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="flowc",
        description="The flowlang compiler: check, format, graph, compile and run .flow files.",
        epilog="Run `flowc COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"flowc {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_ArgumentParser
    )

    check = commands.add_parser(
        "check",
        help="parse and type-check; report every diagnostic",
        description="Parse and type-check .flow files and report every error and warning "
        "on stderr. Exit 0 when there is no error (warnings allowed), 1 when there is one, "
        "2 when a file cannot be read.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help=".flow files to check")
    check.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (like a compiler, coloured on a terminal unless NO_COLOR is "
        "set) or json (one object per line)",
    )
    check.set_defaults(run=_cmd_check)

    fmt = commands.add_parser(
        "fmt",
        help="rewrite files in the canonical layout",
        description="Rewrite .flow files in place in the canonical layout, keeping comments. "
        "With --check nothing is written: exit 1 and name the files that would change.",
    )
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".flow files to format")
    fmt.add_argument("--check", action="store_true", help="only report files that would change")
    fmt.set_defaults(run=_cmd_fmt)

    graph = commands.add_parser(
        "graph",
        help="print the pipelines and their `from` edges",
        description="Print the pipelines of a .flow file as a graph on stdout: nodes show "
        "each pipeline's source and sink, `from` edges are solid, `from NAME.errors` dashed.",
    )
    graph.add_argument("file", metavar="FILE", help="a .flow file")
    graph.add_argument(
        "--format",
        choices=("dot", "mermaid"),
        default="dot",
        help="Graphviz DOT (default) or a Mermaid flowchart",
    )
    graph.set_defaults(run=_cmd_graph)

    comp = commands.add_parser(
        "compile",
        help="write the generated Python module",
        description="Compile a .flow file into a Python module (a.flow -> DIR/a_flow.py) that "
        "runs on its own with `python DIR/a_flow.py`.",
    )
    comp.add_argument("file", metavar="FILE", help="a .flow file")
    comp.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=".",
        help="directory for the module (default: the current directory)",
    )
    comp.set_defaults(run=_cmd_compile)

    run = commands.add_parser(
        "run",
        help="compile (cached) and run",
        description="Compile a .flow file (cached by content hash) and run its pipelines "
        "until their input ends or SIGINT/SIGTERM. SIGHUP reads the file again: with errors "
        "the running program goes on; else it is drained and the new one takes over.",
    )
    run.add_argument("file", metavar="FILE", help="a .flow file")
    run.add_argument(
        "--pipeline", metavar="P", help="run only pipeline P (and the pipelines it reads)"
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="fail the run on the first record sent to an unread error stream",
    )
    run.add_argument(
        "--state-dir", metavar="DIR", help="where checkpoints are kept (default: .flowc-state)"
    )
    run.add_argument(
        "--metrics",
        metavar="FILE",
        help="write the exit status and the final metrics of every pipeline and stage "
        "to FILE as JSON (the numbers of the summary table)",
    )
    add_run_options(run)  # the options a generated module's `main` has too
    run.set_defaults(run=_cmd_run)

    test = commands.add_parser(
        "test",
        help="run the example and property tests written in .flow files",
        description="Run the `test` and `property` blocks of .flow files (directories are "
        "searched for .flow files) on the real compiled pipelines, with sources replaced by "
        "given or generated records and sinks captured. Exit 0 when every test passes, 1 when "
        "one fails, 2 on a compile error, an unreadable file or no tests.",
    )
    test.add_argument("files", nargs="+", metavar="FILE", help=".flow files or directories")
    test.add_argument(
        "-k",
        metavar="PATTERN",
        dest="pattern",
        help="run only the tests whose name contains PATTERN (or matches it as a glob)",
    )
    test.add_argument(
        "--examples",
        type=_positive,
        metavar="N",
        help="inputs per property test (default: the test's `examples`, else 100)",
    )
    test.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="seed of the generated inputs (a failure prints the one to replay)",
    )
    test.add_argument("--junit-xml", metavar="PATH", help="also write the results as JUnit XML")
    test.set_defaults(run=_cmd_test)

    debug = commands.add_parser(
        "debug",
        help="print the syntax tree or the checked plan of a file",
        description="Print an intermediate form of a .flow file on stdout: `ast` is the "
        "syntax tree the parser builds (with line:column spans), `plan` the typed plan the "
        "checker hands to the code generator. Exit 1 when the file has errors.",
    )
    debug.add_argument("form", choices=("ast", "plan"), help="which form to print")
    debug.add_argument("file", metavar="FILE", help="a .flow file")
    debug.set_defaults(run=_cmd_debug)

    explain = commands.add_parser(
        "explain",
        help="what a diagnostic code means, with an example and the fix",
        description="Explain a diagnostic code (E301, W502, …): what it means, a program "
        "that gives it with what flowc says about it, and the fix. Without a code, list "
        "every code. Exit 2 for an unknown code. docs/errors.md holds the same text.",
    )
    explain.add_argument("code", nargs="?", metavar="CODE", help="a code such as E301")
    explain.set_defaults(run=_cmd_explain)

    lsp = commands.add_parser(
        "lsp",
        help="run the language server on stdin/stdout",
        description="Serve the Language Server Protocol on stdin/stdout for an editor: "
        "diagnostics as you type, hover, completion, go to definition and formatting "
        "(see docs/editors.md).",
    )
    lsp.set_defaults(run=_cmd_lsp)

    tap = commands.add_parser(
        "tap",
        help="print a live sample of the records passing a point of a run",
        description="Connect to a run started with `--http ADDR` and print, one JSON object "
        "a line, a sample of the records leaving PIPELINE (its last stage) or the stage on "
        "line LINE of the .flow file, rate-limited; a tap never slows the run, and samples "
        "a slow reader loses are reported as `dropped` lines. Exit 0 when the pipeline or "
        "the run ends (or --limit is reached), 1 when the connection is lost, 2 when no run "
        "answers at ADDR or the point is unknown (the valid points are listed).",
    )
    tap.add_argument("address", metavar="ADDR", help="the run's --http address (or its URL)")
    tap.add_argument(
        "point", metavar="PIPELINE[:LINE]", help="a pipeline, or a line of one of its stages"
    )
    tap.add_argument(
        "--rate",
        metavar="N",
        help="at most N records a second (`N` or `N/s`; default 10), and as many error records",
    )
    tap.add_argument("--errors", action="store_true", help="also the point's error records")
    tap.add_argument(
        "--limit", metavar="N", type=_positive, help="stop after N records (and error records)"
    )
    tap.set_defaults(run=_cmd_tap)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# ---------------------------------------------------------------- helpers


def read_source(path: str) -> "SourceFile | None":
    """The file as a SourceFile named as given, or None after saying why it
    cannot be read."""
    from .source import Unreadable, read_file

    try:
        return read_file(path)
    except Unreadable as exc:
        print(f"flowc: {exc}", file=sys.stderr)
        return None


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _report(diags: "list[Diagnostic]", src: "SourceFile", fmt: str = "text") -> None:
    from .diagnostics import render_all

    if diags:
        text = render_all(diags, src, fmt=fmt, colour=fmt == "text" and use_colour(sys.stderr))
        print(text + ("\n" if fmt == "text" else ""), file=sys.stderr)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------- commands


def _cmd_test(args) -> int:
    from .testing.report import run_paths

    return run_paths(
        args.files,
        pattern=args.pattern,
        examples=args.examples,
        seed=args.seed,
        junit=args.junit_xml,
        out=sys.stdout,
        err=sys.stderr,
        colour=use_colour(sys.stdout),
    )


def _cmd_check(args) -> int:
    from .checker import check_source

    errors = warnings = 0
    unreadable = False
    for path in args.files:
        src = read_source(path)
        if src is None:
            unreadable = True
            continue
        _, diags = check_source(src)
        _report(diags, src, args.format)
        errors += sum(d.is_error for d in diags)
        warnings += sum(not d.is_error for d in diags)
    if args.format == "text" and (errors or warnings):
        print(f"flowc: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}", file=sys.stderr)
    if unreadable:
        return USAGE
    return FAILED if errors else OK


def _cmd_fmt(args) -> int:
    from .formatter import format_source

    status = OK
    unreadable = False
    for path in args.files:
        src = read_source(path)
        if src is None:
            unreadable = True
            continue
        text, diags = format_source(src)
        if text is None:
            _report(diags, src)
            status = FAILED
            continue
        if text == src.text:
            continue
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
            status = FAILED
            continue
        try:
            from .runtime.atomic import replace_file

            replace_file(path, text.encode("utf-8"))
        except OSError as exc:
            print(f"flowc: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            unreadable = True
            continue
        print(f"reformatted {path}", file=sys.stderr)
    return USAGE if unreadable else status


def _cmd_graph(args) -> int:
    from .checker import check_source
    from .graph import render

    src = read_source(args.file)
    if src is None:
        return USAGE
    plan, diags = check_source(src)
    _report(diags, src)
    if plan is None:
        return FAILED
    sys.stdout.write(render(plan, args.format))
    return OK


def _cmd_debug(args) -> int:
    from .checker import check
    from .debug import dump
    from .parser import parse

    src = read_source(args.file)
    if src is None:
        return USAGE
    program, diags = parse(src)
    if program is not None and args.form == "plan" and not any(d.is_error for d in diags):
        plan, more = check(program, src)
        diags = diags + more
    _report(diags, src)
    if program is None or any(d.is_error for d in diags):
        return FAILED
    sys.stdout.write(dump(program if args.form == "ast" else plan, src))
    return OK


def _cmd_explain(args) -> int:
    from . import explain

    if args.code is None:
        sys.stdout.write(explain.listing())
        return OK
    try:
        found = explain.entry(args.code)
    except explain.UnknownCode as exc:
        print(f"flowc: {exc}", file=sys.stderr)
        print("flowc: `flowc explain` lists every code", file=sys.stderr)
        return USAGE
    sys.stdout.write(explain.render_text(found))
    return OK


def _cmd_lsp(args) -> int:
    from .lsp.server import main as serve

    return serve()


def _cmd_tap(args) -> int:
    from . import tap_client

    rate = None
    if args.rate is not None:
        try:
            rate = tap_client.parse_rate(args.rate)
        except ValueError as exc:
            print(f"flowc: --rate: {exc}", file=sys.stderr)
            return USAGE
    return tap_client.run(args.address, args.point, rate, args.errors, args.limit)


def _cmd_compile(args) -> int:
    from .compiler import compile_source

    src = read_source(args.file)
    if src is None:
        return USAGE
    result = compile_source(src)
    _report(result.diagnostics, src)
    if result.code is None:
        return FAILED
    target = os.path.join(args.output, result.module_name + ".py")
    try:
        os.makedirs(args.output, exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(result.code)
    except OSError as exc:
        print(f"flowc: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE
    print(target)
    return OK


def _cmd_run(args) -> int:
    from .compile_cache import run_file

    if not os.path.isfile(args.file):
        reason = "is a directory" if os.path.isdir(args.file) else "no such file"
        print(f"flowc: cannot read {args.file}: {reason}", file=sys.stderr)
        return USAGE
    return run_file(
        args.file,
        pipeline=args.pipeline,
        strict=args.strict,
        state_dir=args.state_dir,
        metrics=args.metrics,
        http=args.http,
        progress_interval=args.progress_interval,
        log_format=args.log_format,
        workers=args.workers,
    )


if __name__ == "__main__":
    sys.exit(main())

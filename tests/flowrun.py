"""Run a .flow program for a test: compile it with the real compiler, run the
generated module on the real runtime (in this process, or as `flowc run` in a
subprocess), and collect what its sinks wrote and its error records.

Conventions: the program runs with `tmp_path` as working directory; `records`
(if given) are written to `input.jsonl` there; a `sink file("output.jsonl")`
is read back as `.output`; every pipeline's error stream is collected into
`errors.jsonl` by pipelines appended to the program (`from P.errors`).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from flowlang.compile_cache import load_module
from flowlang.compiler import compile_source
from flowlang.diagnostics import render_all
from flowlang.runtime import jsonl
from flowlang.runtime.context import Context
from flowlang.runtime.launch import run_program
from flowlang.source import SourceFile

FLOWC = str(Path(sys.executable).with_name("flowc"))


@dataclass
class FlowResult:
    output: list[dict]
    errors: list[dict]
    exit_code: int
    stderr: str
    code: str = ""
    metrics: dict = field(default_factory=dict)


class CompileFailed(AssertionError):
    pass


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, "rb") as f:
        return [jsonl.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, records) -> None:
    with open(path, "wb") as f:
        for rec in records:
            f.write(jsonl.dumps(rec) + b"\n")


def with_error_collectors(text: str, name: str = "test.flow") -> str:
    """`text` plus one pipeline per pipeline that copies its errors to errors.jsonl."""
    from flowlang.checker import check
    from flowlang.parser import parse

    src = SourceFile(name, text)
    program, diags = parse(src)
    if program is None:
        raise CompileFailed(render_all(diags, src))
    plan, diags = check(program, src)
    if plan is None:
        raise CompileFailed(render_all(diags, src))
    extra = [
        f'\npipeline collect_errors_{i} = from {p.name}.errors | sink file("errors.jsonl")'
        for i, p in enumerate(plan.pipelines)
        if not p.name.startswith("collect_errors_")
    ]
    return text + "\n" + "\n".join(extra) + "\n"


@contextlib.contextmanager
def _environment(cwd: Path, env: dict[str, str] | None):
    old_cwd = os.getcwd()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.chdir(cwd)
    os.environ.update(env or {})
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_flow(
    text: str,
    tmp_path,
    *,
    records=None,
    env: dict[str, str] | None = None,
    collect_errors: bool = True,
    strict: bool = False,
    name: str = "test.flow",
    clock=None,
) -> FlowResult:
    """Compile and run `text` in this process; `clock` fixes the run's now()."""
    tmp_path = Path(tmp_path)
    if records is not None:
        write_jsonl(tmp_path / "input.jsonl", records)
    if collect_errors:
        text = with_error_collectors(text, name)
    src = SourceFile(name, text)
    result = compile_source(src)
    if not result.ok:
        raise CompileFailed(render_all(result.diagnostics, src))
    module_path = tmp_path / f"{result.module_name}.py"
    module_path.write_text(result.code, encoding="utf-8")
    module = load_module(module_path)
    stderr = io.StringIO()
    with _environment(tmp_path, env), contextlib.redirect_stderr(stderr):
        ctx = Context(
            strict=strict,
            state_dir=str(tmp_path / ".flowc-state"),
            status=False,
            clock=clock,
        )
        outcome = run_program(module.build, ctx)
    return FlowResult(
        output=read_jsonl(tmp_path / "output.jsonl"),
        errors=read_jsonl(tmp_path / "errors.jsonl"),
        exit_code=outcome.exit_code,
        stderr=stderr.getvalue(),
        code=result.code,
        metrics=outcome.metrics,
    )


def run_flow_cli(
    flow_file: Path,
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: bytes | None = None,
) -> subprocess.CompletedProcess:
    """`flowc run FILE ARGS…` in a subprocess (the user's way)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [FLOWC, "run", str(flow_file), *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        timeout=timeout,
    )

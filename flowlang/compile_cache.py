"""`flowc run`: compile a .flow file (cached by content hash) and run it;
on SIGHUP, compile it again for the run to reload (`runtime.reload`)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import lru_cache, partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import __version__
from .cachedir import cache_dir
from .compiler import CompileResult, compile_source, module_name
from .diagnostics import Diagnostic, render_all, sort_key, to_json
from .runtime.atomic import replace_file
from .source import SourceFile, Unreadable, read_file

if TYPE_CHECKING:
    from .runtime.reload import Recompiled


# the parts of flowlang a generated module is made by; the runtime (which it
# imports when it runs), the language server and `flowc test` are not
_NOT_COMPILER = ("runtime", "lsp", "testing", "__pycache__")


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    """A digest of the compiler's own files (its Python code, templates,
    grammar and stage declarations), so that a module cached by another
    build of flowlang, even of the same version number, is not reused."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in _NOT_COMPILER or not path.is_file():
            continue
        if path.suffix not in (".py", ".jinja", ".lark"):
            continue
        h.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    # an installed flowlang has the grammar inside the package (found above);
    # a checkout has it beside the package
    checkout = root.parent / "grammar" / "flow.lark"
    if checkout.is_file():
        h.update(checkout.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _black_version() -> str:
    """Black's version from its installed metadata: importing Black itself
    (only to read it) would cost a run from the cache tens of milliseconds."""
    from importlib.metadata import version

    return version("black")


def _key(src: SourceFile) -> str:
    h = hashlib.sha256()
    for part in (__version__, compiler_digest(), _black_version(), src.name, src.text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def _inputs_text(paths) -> str:
    """One line per file the compile read besides the program (grok patterns
    files): its content's digest, a tab, its path ("-" when unreadable)."""
    lines = []
    for path in paths:
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digest = "-"
        lines.append(f"{digest}\t{path}\n")
    return "".join(lines)


def _inputs_unchanged(inputs_path: Path) -> bool:
    if not inputs_path.is_file():
        return True  # a program that read no other file
    lines = inputs_path.read_text(encoding="utf-8").splitlines()
    paths = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    return _inputs_text(paths).splitlines() == lines


def compile_cached(src: SourceFile) -> tuple[Path | None, str]:
    """The path of the compiled module (None on errors) and the rendered
    diagnostics (warnings are kept with the cached module and shown again).
    A cached module is used while the files its compile read (grok patterns
    files, whose definitions the module carries) are unchanged."""
    module_path, notes, _ = _compile_cached(src)
    return module_path, notes


def _compile_cached(src: SourceFile) -> tuple[Path | None, str, list[Diagnostic]]:
    """`compile_cached`, with the diagnostics of a fresh compile as data
    (none when the cached module is used)."""
    folder = cache_dir() / _key(src)
    module_path = folder / f"{module_name(src.name)}.py"
    notes_path = folder / "diagnostics.txt"
    inputs_path = folder / "inputs.txt"
    if module_path.is_file() and notes_path.is_file() and _inputs_unchanged(inputs_path):
        return module_path, notes_path.read_text(encoding="utf-8"), []
    result: CompileResult = compile_source(src)
    notes = render_all(result.diagnostics, src) if result.diagnostics else ""
    if not result.ok:
        return None, notes, result.diagnostics
    folder.mkdir(parents=True, exist_ok=True)
    inputs = _inputs_text(result.plan.inputs) if result.plan is not None else ""
    # atomic: concurrent runs see whole files only; the inputs go first, so a
    # module is never paired with the digests of another compile's files
    for path, text in ((inputs_path, inputs), (module_path, result.code), (notes_path, notes)):
        replace_file(path, text.encode("utf-8"))
    return module_path, notes, result.diagnostics


def load_module(path: Path) -> ModuleType:
    """Import a generated module from its file (tracebacks show its lines)."""
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_file(
    path: str,
    *,
    pipeline: str | None = None,
    strict: bool = False,
    state_dir: str | None = None,
    status: bool | None = None,
    metrics: str | None = None,
    **options: Any,
) -> int:
    """Compile and run; the process exit code (diagnostics → 1). `options`:
    the other keywords of `runtime.run` (`http`, `progress_interval`, `log_format`,
    `workers`)."""
    try:
        src = read_file(path)
    except Unreadable as exc:
        print(f"flowc: {exc}", file=sys.stderr)
        return 2
    module_path, notes = compile_cached(src)
    if notes:
        print(notes, file=sys.stderr)
    if module_path is None:
        return 1
    module = load_module(module_path)
    from .runtime import run
    from .runtime.reload import Reload

    return run(
        module.build,
        pipeline=pipeline,
        strict=strict,
        state_dir=state_dir,
        status=status,
        metrics=metrics,
        reload=Reload(path, partial(recompile, path)),
        **options,
    )


def recompile(path: str) -> Recompiled:
    """SIGHUP under `flowc run`: the file read, checked and compiled again
    (through the cache), as the new program's `build` or its diagnostics."""
    from .runtime.reload import Recompiled

    try:
        src = read_file(path)
    except Unreadable as exc:
        return Recompiled(None, f"flowc: {exc}")
    module_path, notes, diagnostics = _compile_cached(src)
    found = [to_json(d, src) for d in sorted(diagnostics, key=sort_key)]
    if module_path is None:
        return Recompiled(None, notes, found)
    return Recompiled(load_module(module_path).build, notes, found)

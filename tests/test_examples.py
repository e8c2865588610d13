"""Every program in examples/ checks clean; those with an `examples/expected/<name>/`
folder are run with `flowc run` on their bundled data, and every file they
write under `out/<name>/` must equal the expected one (error records compared
without their `at` time)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowlang.compiler import compile_source
from flowlang.source import SourceFile
from tests.flowrun import read_jsonl, run_flow_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.flow"))
WITH_EXPECTED = [p for p in EXAMPLES if (ROOT / "examples" / "expected" / p.stem).is_dir()]


def _comparable(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "at"} for r in records]


def test_examples_exist():
    assert any(p.stem == "quickstart" for p in WITH_EXPECTED)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_compiles(example: Path):
    result = compile_source(SourceFile(f"examples/{example.name}", example.read_text()))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    compile(result.code, example.stem + "_flow.py", "exec")


@pytest.mark.parametrize("example", WITH_EXPECTED, ids=lambda p: p.stem)
def test_example_output_matches_expected(example: Path, tmp_path: Path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    proc = run_flow_cli(
        Path("examples") / example.name,
        cwd=tmp_path,
        env={"FLOWC_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    expected_dir = ROOT / "examples" / "expected" / example.stem
    written = sorted(p.name for p in (tmp_path / "out" / example.stem).glob("*"))
    assert written == sorted(p.name for p in expected_dir.glob("*"))
    for name in written:
        got = read_jsonl(tmp_path / "out" / example.stem / name)
        want = read_jsonl(expected_dir / name)
        assert _comparable(got) == _comparable(want), name


def regenerate() -> list[Path]:
    """Rewrite examples/expected/<name>/ from a fresh run of each such example."""
    import tempfile

    written = []
    for example in WITH_EXPECTED:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            shutil.copytree(ROOT / "examples", work / "examples")
            proc = run_flow_cli(
                Path("examples") / example.name,
                cwd=work,
                env={"FLOWC_CACHE_DIR": str(work / "cache")},
            )
            assert proc.returncode == 0, proc.stderr.decode()
            target = ROOT / "examples" / "expected" / example.stem
            shutil.rmtree(target)
            shutil.copytree(work / "out" / example.stem, target)
            written += sorted(target.glob("*"))
    return written


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_in_canonical_layout(example: Path):
    from flowlang.formatter import format_source

    text = example.read_text()
    formatted, diagnostics = format_source(SourceFile(example.name, text))
    assert not diagnostics and formatted == text

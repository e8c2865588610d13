"""Run a golden module on its sample input.

A golden case `NAME.flow` with a folder `NAME.input/` is also run: the golden
module (`NAME_flow.py.golden`, byte for byte what the compiler writes) runs as
a plain `python NAME_flow.py` process in a fresh directory holding the input
files, with a fixed anonymize key, and what it leaves there (every file its
sinks wrote, its stdout as `stdout`, and for an `elastic` sink the documents
of the index as `elastic-INDEX.jsonl`) is compared with `NAME.expected/`.
The time an error record was made (`at`) is the one value that differs
between runs; it is written as "…".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
ANON_KEY = "golden-key"
CLOCK = "…"


def run_cases() -> list[Path]:
    return sorted(f for f in GOLDEN.glob("*.flow") if f.with_suffix(".input").is_dir())


def indices(flow: Path) -> list[str]:
    """The Elasticsearch indices the case writes to (read back after the run)."""
    return [
        line.split('"')[1]
        for line in flow.read_text(encoding="utf-8").splitlines()
        if "sink elastic(" in line
    ]


def run(flow: Path, work: Path, elastic_url: str | None = None) -> dict[str, str]:
    """Run the case's golden module in `work`; the files it produced by name."""
    module = work / (flow.stem + "_flow.py")
    shutil.copy(flow.with_name(flow.stem + "_flow.py.golden"), module)
    inputs = {p.name for p in flow.with_suffix(".input").iterdir()}
    for name in inputs:
        shutil.copy(flow.with_suffix(".input") / name, work / name)
    env = dict(os.environ, FLOW_ANON_KEY=ANON_KEY, NO_COLOR="1")
    if elastic_url:
        env["FLOW_ELASTIC_URL"] = elastic_url
        _clear(elastic_url, indices(flow))
    proc = subprocess.run(
        [
            sys.executable,
            module.name,
            "--state-dir",
            "state",
            "--no-status",
            "--metrics",
            "metrics.json",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((work / "metrics.json").read_text())
    for name, p in metrics["pipelines"].items():  # the conservation law, per pipeline
        assert p["in"] == p["out"] + p["dropped"] + p["errors"] + p.get("absorbed", 0), name
    produced = {}
    for path in sorted(work.iterdir()):
        if path.is_file() and path.name not in inputs | {module.name, "metrics.json"}:
            produced[path.name] = _normal(path.read_text(encoding="utf-8"))
    if proc.stdout:
        produced["stdout"] = _normal(proc.stdout)
    if elastic_url:
        for index in indices(flow):
            produced[f"elastic-{index}.jsonl"] = _documents(elastic_url, index)
    return produced


def expected(flow: Path) -> dict[str, str]:
    folder = flow.with_suffix(".expected")
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def write_expected(flow: Path, produced: dict[str, str]) -> list[Path]:
    folder = flow.with_suffix(".expected")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    written = []
    for name, text in produced.items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def _normal(text: str) -> str:
    lines = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(value, dict) and "at" in value and "pipeline" in value:
            value["at"] = CLOCK  # an error record: when it was made
            line = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def _clear(url: str, names: list[str]) -> None:
    from elasticsearch import Elasticsearch

    with Elasticsearch(url, request_timeout=30) as client:
        for index in names:
            client.options(ignore_status=404).indices.delete(index=index)


def _documents(url: str, index: str) -> str:
    from elasticsearch import Elasticsearch

    with Elasticsearch(url, request_timeout=30) as client:
        client.indices.refresh(index=index)
        hits = client.search(index=index, size=10_000, query={"match_all": {}})["hits"]["hits"]
    docs = sorted(json.dumps(h["_source"], sort_keys=True, ensure_ascii=False) for h in hits)
    return "".join(d + "\n" for d in docs)

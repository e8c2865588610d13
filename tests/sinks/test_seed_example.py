"""The seed example end to end: examples/seed.flow on its bundled data
(`source file(…) | geoip | anonymize(email) | sink elastic("idx")`) into a
real search server, read back through the client and compared with
examples/expected/seed.jsonl."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.search import read_all
from tests.flowrun import read_jsonl, run_flow, run_flow_cli

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed.flow"
EXPECTED = ROOT / "examples" / "expected" / "seed.jsonl"
KEY = "seed-example-key"


def canonical(docs: list[dict]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in d.items() if k != "_id"}, sort_keys=True) for d in docs
    )


@pytest.fixture
def workdir(tmp_path: Path, es_reader) -> Path:
    """A copy of the example's data laid out as in the repository, and an
    empty `idx` index."""
    shutil.copytree(ROOT / "examples" / "data", tmp_path / "examples" / "data")
    es_reader.indices.delete(index="idx", ignore_unavailable=True)
    return tmp_path


def test_seed_example_indexes_every_event_enriched_and_pseudonymised(
    workdir, elastic_url, es_reader
):
    result = run_flow(
        SEED.read_text(),
        workdir,
        env={"FLOW_ELASTIC_URL": elastic_url, "FLOW_ANON_KEY": KEY},
        name="seed.flow",  # its tests name the bare chain after the file
    )
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    docs = read_all(es_reader, "idx")
    lines = (ROOT / "examples" / "data" / "seed.log").read_text().splitlines()
    assert len(docs) == len(lines) == 15
    assert canonical(docs) == canonical(read_jsonl(EXPECTED))
    token = hmac.new(KEY.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    ann = [d for d in docs if d.get("email") == token]
    assert len(ann) == 3  # the same address gives the same token: joins still work
    assert {d["geo"]["country_iso"] for d in ann} == {"GB", "RU"}
    assert not any("@" in str(d.get("email")) for d in docs)
    private = next(d for d in docs if d.get("ip") == "10.1.2.3")
    assert private["geo"] is None
    metrics = result.metrics["seed"]  # the bare chain is named after its file
    assert (metrics["in"], metrics["out"], metrics["errors"]) == (15, 15, 0)
    assert metrics["stages"][-1]["counters"]["bulk_requests"] == 1


def test_seed_example_runs_with_flowc(workdir, elastic_url, es_reader):
    shutil.copy(SEED, workdir / "examples" / "seed.flow")
    proc = run_flow_cli(
        Path("examples") / "seed.flow",
        cwd=workdir,
        env={
            "FLOW_ELASTIC_URL": elastic_url,
            "FLOW_ANON_KEY": KEY,
            "FLOWC_CACHE_DIR": str(workdir / "cache"),
        },
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert canonical(read_all(es_reader, "idx")) == canonical(read_jsonl(EXPECTED))

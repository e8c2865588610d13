"""A plain, non-editable install of the wheel gives a working `flowc`: the
grammar ships inside the package."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = 'source file("x.log") | geoip | anonymize(email) | sink elastic("idx")\n'


@pytest.mark.timeout(600)
def test_the_wheel_installs_a_working_flowc(tmp_path: Path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("flowlang-*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    assert "flowlang/grammar/flow.lark" in shipped
    for name in ("grok-patterns", "httpd", "LICENSE", "NOTICE.TXT"):
        assert f"flowlang/stages/grok_patterns/{name}" in shipped

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # the dependencies come from this environment; flowlang itself only from the wheel
    (purelib,) = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )

    work = tmp_path / "work"
    work.mkdir()
    (work / "seed.flow").write_text(SEED)
    where = subprocess.run(
        [python, "-c", "import flowlang; print(flowlang.__file__)"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(env_dir))
    check = subprocess.run(
        [env_dir / "bin" / "flowc", "check", "seed.flow"],
        cwd=work,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert check.returncode == 0, check.stderr
    # the grok patterns are read from the installed package
    (work / "grok.flow").write_text(
        'source stdin | parse(grok("%{COMBINEDAPACHELOG}")) | sink stdout\n'
    )
    grok = subprocess.run(
        [env_dir / "bin" / "flowc", "check", "grok.flow"],
        cwd=work,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert grok.returncode == 0, grok.stderr
    compiled = subprocess.run(
        [env_dir / "bin" / "flowc", "compile", "seed.flow", "-o", "out"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert (work / "out" / "seed_flow.py").read_text().startswith("# generated from seed.flow")

    # flowc test works from a plain install: Hypothesis is a dependency of the
    # package, not of its test extra
    metadata = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("/METADATA"))
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    assert any(
        line.startswith("Requires-Dist: hypothesis") and "extra ==" not in line
        for line in requires.splitlines()
    )
    (work / "quickstart.flow").write_text((ROOT / "examples" / "quickstart.flow").read_text())
    tested = subprocess.run(
        [env_dir / "bin" / "flowc", "test", "quickstart.flow", "--seed", "1"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout

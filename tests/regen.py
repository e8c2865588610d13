"""Regenerate golden files after a deliberate change: `python -m tests.regen`
(or `make regen`). Each kind of golden file is one regenerator in
REGENERATORS; add new kinds there. Review the diff before committing."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Regenerator:
    """A kind of golden file: `module.function()` rewrites them and returns
    the paths it changed or wrote."""

    name: str
    module: str
    function: str = "regenerate"

    def run(self) -> list[Path]:
        return list(getattr(importlib.import_module(self.module), self.function)())


REGENERATORS: list[Regenerator] = [
    Regenerator("diagnostic cases (tests/cases)", "tests.test_cases"),
    Regenerator("formatter cases (tests/formatter)", "tests.test_formatter"),
    Regenerator("generated code (tests/golden)", "tests.test_golden"),
    Regenerator("stage reference (docs/stages.md)", "tests.stages.test_stage_docs"),
    Regenerator("error reference (docs/errors.md)", "tests.test_explain"),
    Regenerator("TextMate grammar (editors/vscode/syntaxes)", "tests.test_textmate"),
    Regenerator("access example (examples/expected)", "tests.stages.test_access_example"),
    Regenerator("quickstart example (examples/expected/quickstart)", "tests.test_examples"),
]


def main(argv: list[str] | None = None) -> int:
    """Run the regenerators named in `argv` (by module), or all of them."""
    wanted = set(argv if argv is not None else sys.argv[1:])
    # goldens describe a clean environment: no key, no colour
    os.environ.pop("FLOW_ANON_KEY", None)
    os.environ["NO_COLOR"] = "1"
    os.chdir(ROOT)
    for regen in REGENERATORS:
        if wanted and regen.module not in wanted:
            continue
        changed = regen.run()
        print(f"{regen.name}: {len(changed)} file(s) written")
        for path in changed:
            print(f"  {Path(path).resolve().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

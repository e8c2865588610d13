"""pytest collects the tests written in .flow files (registered as the
`flowlang` plugin through the `pytest11` entry point).

A .flow file is collected when it holds a `test` or `property` block; each
block is one pytest item, so `pytest` runs them next to Python tests, with
`-k` selecting by name. `--flow-seed` and `--flow-examples` are `flowc
test`'s `--seed` and `--examples`.
"""

from __future__ import annotations

import re

import pytest

_HAS_TESTS = re.compile(r'^[ \t]*(?:test|property)[ \t]+"', re.M)


def pytest_addoption(parser) -> None:
    group = parser.getgroup("flowlang")
    group.addoption(
        "--flow-seed", type=int, default=None, help="seed of the inputs of .flow property tests"
    )
    group.addoption(
        "--flow-examples", type=int, default=None, help="inputs per .flow property test"
    )


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".flow":
        try:
            text = file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if _HAS_TESTS.search(text):
            return FlowFile.from_parent(parent, path=file_path)
    return None


class FlowFile(pytest.File):
    def collect(self):
        from . import load

        program = load(self.path)  # a CompileError is a collection error
        for index, test in enumerate(program.tests):
            yield FlowItem.from_parent(self, name=test.name, program=program, index=index)


class FlowTestFailed(Exception):
    pass


class FlowItem(pytest.Item):
    def __init__(self, *, program, index: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.program = program
        self.index = index
        # no fixtures; some plugins' run hooks (pytest-lsp's) expect the
        # attribute on every item and fail on an item without it
        self.funcargs: dict = {}

    def runtest(self) -> None:
        from .suite import run_test

        config = self.config
        outcome = run_test(
            self.program,
            self.index,
            self.program.tests[self.index],
            examples=config.getoption("flow_examples"),
            seed=config.getoption("flow_seed"),
        )
        if not outcome.passed:
            from .report import failure_text

            raise FlowTestFailed(failure_text(self.program, outcome))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, FlowTestFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        test = self.program.tests[self.index]
        return self.path, test.line - 1, f"{'property' if test.property else 'test'} {test.name}"

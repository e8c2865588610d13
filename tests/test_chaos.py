"""The chaos trials of tests/chaos.py, two per scenario: `make chaos` runs
ten. kill -9 at random moments, restart, finish: nothing lost, nothing
corrupt, every window exact; duplicates only what was in flight at a kill."""

from __future__ import annotations

import random

import pytest

from tests.chaos import SCENARIOS, run_scenario, table

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

KILLS = 2


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_kill_9_at_random_moments_loses_and_corrupts_nothing(name, tmp_path):
    seed = random.randrange(1 << 30)
    outcomes = run_scenario(name, trials=2, kills=KILLS, seed=seed, workdir=tmp_path)
    report = f"seed {seed}\n{table(outcomes)}\n" + "\n".join(
        f for o in outcomes for f in o.failed_runs
    )
    for o in outcomes:
        assert o.finished and not o.failed_runs, report
        assert o.lost == 0 and o.corrupt == 0, report
        if name == "summarize":
            # a window written just before a kill may come again, whole: at
            # most the windows one batch closed (three hosts each)
            assert o.duplicated <= 24 * KILLS, report
        else:
            # records in flight at a kill: a few batches of at most 1,024
            assert o.duplicated <= 4 * 1024 * KILLS, report

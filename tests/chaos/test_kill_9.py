"""Chaos: kill -9 each kind of process once, with a job in flight, and restart it (tests/chaos/faults.py)."""

from __future__ import annotations

import pytest

from tests.chaos.faults import CLAIM_TIMEOUT, FAULTS, RECOVERY_GOAL, run_fault

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_killed_and_restarted_process_loses_nothing(tmp_path, gpt2_dir, gpt2, fault):
    recovery = await run_fault(fault, tmp_path, gpt2_dir, gpt2.hex)
    assert recovery.outputs == recovery.shards  # every output reached the client
    assert recovery.lamports_unaccounted == 0  # every lamport is in a wallet, a program account or a fee
    assert all(s["verdict"] == "pay" for s in recovery.settlements), recovery.settlements
    assert recovery.within_goal, f"{fault}: completed {recovery.completed_after_restart:.1f} s after the restart " \
                                 f"(goal: {CLAIM_TIMEOUT} + {RECOVERY_GOAL} s)"

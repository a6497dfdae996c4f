"""How an audit judges a slash from its own check of the primary's tokens."""

from __future__ import annotations

import hashlib

from client.audit import Finding, judge_generation
from marketplace.verification import CheckOutcome, check_digest

PRIMARY = hashlib.sha256(b"the primary's tokens").digest()


def test_a_slashed_primary_is_upheld_only_when_its_tokens_do_not_check_out():
    assert judge_generation(PRIMARY, PRIMARY, CheckOutcome.INCONSISTENT)[0] is Finding.UPHELD
    assert judge_generation(PRIMARY, PRIMARY, CheckOutcome.CONSISTENT)[0] is Finding.OVERTURNED
    assert judge_generation(PRIMARY, PRIMARY, CheckOutcome.TIE)[0] is Finding.OVERTURNED  # a near-tie is no lie


def test_a_slashed_replica_is_upheld_when_its_finding_is_wrong():
    accused = check_digest(PRIMARY, CheckOutcome.INCONSISTENT)  # it said the primary lied
    assert judge_generation(accused, PRIMARY, CheckOutcome.CONSISTENT)[0] is Finding.UPHELD
    assert judge_generation(accused, PRIMARY, CheckOutcome.INCONSISTENT)[0] is Finding.OVERTURNED
    covered = check_digest(PRIMARY, CheckOutcome.CONSISTENT)  # it covered for a lying primary
    assert judge_generation(covered, PRIMARY, CheckOutcome.INCONSISTENT)[0] is Finding.UPHELD


def test_a_digest_that_is_neither_the_primary_nor_a_check_of_it_is_unverifiable():
    assert judge_generation(b"\x01" * 32, PRIMARY, CheckOutcome.CONSISTENT)[0] is Finding.UNVERIFIABLE

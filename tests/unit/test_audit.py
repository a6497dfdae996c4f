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


def test_a_published_input_must_be_the_one_the_client_committed():
    from client.audit import committed_input
    from marketplace.digests import input_digest
    from marketplace.merkle import merkle_root

    inputs = [{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]
    shards = [{"index": i, "input": x, "input_digest": input_digest(x).hex()} for i, x in enumerate(inputs)]
    report = {"shards": shards}
    root = merkle_root([input_digest(x) for x in inputs])
    assert committed_input(report, shards[1], root) is None
    swapped = {**shards[1], "input": {"prompt": "not what was asked"}}
    assert "not the shard's input digest" in committed_input(report, swapped, root)
    forged = {**shards[1], "input": {"prompt": "x"}, "input_digest": input_digest({"prompt": "x"}).hex()}
    assert "not the input root" in committed_input({"shards": [shards[0], forged, shards[2]]}, forged, root)
    assert "create_job" in committed_input(report, shards[1], None)

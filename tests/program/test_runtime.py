"""The local runtime refuses bad transactions with an error instead of a Rust panic."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from marketplace.chain import instructions as ix
from tests.program.conftest import config


def test_send_with_wrong_signers_raises_value_error(runtime, funded):
    authority, stranger = funded(), Keypair()
    instruction = ix.initialize_market(authority.pubkey(), config(authority.pubkey()))
    with pytest.raises(ValueError, match="signers do not match"):
        runtime.send([instruction], [authority, stranger])
    with pytest.raises(ValueError, match="missing"):
        runtime.send([instruction], [stranger])


def test_clock_follows_the_time_it_is_given(runtime):
    start = runtime.unix_time
    runtime.advance(3_600)
    assert runtime.unix_time == start + 3_600

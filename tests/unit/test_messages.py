"""Signed messages: authentic, fresh, bound to a purpose and a job, used once."""

from __future__ import annotations

import dataclasses

import pytest
from solders.keypair import Keypair

from marketplace.errors import MessageExpired, MessageFormatError, MessageReplayed, SignatureInvalid, WrongJob, WrongKind
from marketplace.messages import MemoryReplayGuard, SignedMessage, sign_message, verify_message

NOW = 1_750_000_000.0


def clock():
    return NOW


def signed(**overrides):
    message = sign_message(Keypair(), "results", {"shard": 3, "digest": "ab"}, job="Job111", now=clock)
    return dataclasses.replace(message, **overrides) if overrides else message


def test_valid_message_verifies_once():
    guard, message = MemoryReplayGuard(clock), signed()
    verify_message(message, "results", guard, job="Job111", now=clock)
    with pytest.raises(MessageReplayed):
        verify_message(message, "results", guard, job="Job111", now=clock)


def test_json_round_trip():
    message = signed()
    assert SignedMessage.from_json(message.to_json()) == message


@pytest.mark.parametrize("change,error", [
    ({"body": {"shard": 4, "digest": "ab"}}, SignatureInvalid),
    ({"job": "Job222"}, WrongJob),
    ({"kind": "register"}, WrongKind),
    ({"expires_at": int(NOW) - 3600}, MessageExpired),
    ({"expires_at": int(NOW) + 3600}, MessageExpired),
    ({"signer": Keypair().pubkey()}, SignatureInvalid),
])
def test_tampered_messages_are_refused(change, error):
    message = signed(**change)
    with pytest.raises(error):
        verify_message(message, "results", MemoryReplayGuard(clock), job="Job111", now=clock)


def test_job_binding_is_signed_not_just_checked():
    message = signed(job="Job222")  # attacker rebinds the message to another job
    with pytest.raises(SignatureInvalid):
        verify_message(message, "results", MemoryReplayGuard(clock), job="Job222", now=clock)


@pytest.mark.parametrize("data", [None, [], {"kind": "x"}, {**signed().to_json(), "signature": "nope"},
                                  {**signed().to_json(), "nonce": "short"}, {**signed().to_json(), "body": "text"}])
def test_malformed_json_is_refused(data):
    with pytest.raises(MessageFormatError):
        SignedMessage.from_json(data)


def test_replay_guard_forgets_expired_nonces():
    now = [NOW]
    guard = MemoryReplayGuard(lambda: now[0])
    signer = Keypair().pubkey()
    assert guard.claim(signer, "n" * 16, int(NOW) + 10)
    now[0] += 100
    assert guard.claim(signer, "m" * 16, int(now[0]) + 10)
    assert len(guard._seen) == 1  # noqa: SLF001 - the expired nonce is gone

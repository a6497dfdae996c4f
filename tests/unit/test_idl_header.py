"""The C header is generated from the IDL and agrees with anchorpy's Borsh layouts."""

from __future__ import annotations

import copy

import pytest
from solders.keypair import Keypair

from marketplace.chain import MarketAccount, ProviderAccount, ProviderStatus
from marketplace.chain.program import idl_json
from marketplace.sbf.build import default_sources
from marketplace.sbf.errors import IdlLayoutError
from marketplace.sbf.idl_header import account_layouts, discriminator, generate_header


def test_committed_header_matches_the_idl():
    sources = default_sources()
    assert sources.header.read_text() == generate_header(idl_json()), (
        "programs/tessera/include/tessera/idl.h has drifted from the IDL: run `tessera program build`"
    )


def test_header_drift_is_detected():
    idl = copy.deepcopy(idl_json())
    idl["errors"].append({"code": 6999, "name": "Extra", "msg": "added"})
    assert generate_header(idl) != default_sources().header.read_text()


def test_discriminators_are_anchors():
    header = generate_header(idl_json())
    disc = int.from_bytes(discriminator("global", "initialize_market"), "little")
    assert f"#define IX_INITIALIZE_MARKET 0x{disc:016x}ULL" in header
    disc = int.from_bytes(discriminator("account", "Provider"), "little")
    assert f"#define PROVIDER_DISCRIMINATOR 0x{disc:016x}ULL" in header


def _distinct_values(fields):
    """A value per field that no other field's encoding contains."""
    return {name: index + 1 for index, name in enumerate(fields)}


def test_generated_offsets_match_anchorpy_market_layout():
    layout = account_layouts(idl_json())["Market"]
    keys = {"authority": Keypair().pubkey(), "verifier": Keypair().pubkey(), "treasury": Keypair().pubkey()}
    numbers = _distinct_values(["min_stake", "unbonding_period", "claim_timeout", "jobs_created", "total_stake",
                                "provider_count", "fee_bps", "slash_bps", "sampling_rate_bps", "bump"])
    account = MarketAccount(**keys, **numbers)
    data = account.encode()
    assert len(data) == layout.size
    for field in layout.fields:
        chunk = data[field.offset:field.offset + field.size]
        if field.name in keys:
            assert chunk == bytes(keys[field.name]), field.name
        elif field.name in numbers:
            assert int.from_bytes(chunk, "little") == numbers[field.name], field.name


def test_generated_offsets_match_anchorpy_provider_layout():
    layout = account_layouts(idl_json())["Provider"]
    keys = {"market": Keypair().pubkey(), "owner": Keypair().pubkey()}
    numbers = _distinct_values(["stake", "locked_stake", "unbonding_stake", "unbond_at", "registered_at",
                                "shards_served", "shards_slashed", "capacity", "bump"])
    account = ProviderAccount(**keys, **numbers, status=ProviderStatus.PAUSED, endpoint="http://x")
    data = account.encode()
    assert len(data) == layout.size
    offsets = {f.name: f for f in layout.fields}
    for name, value in numbers.items():
        field = offsets[name]
        assert int.from_bytes(data[field.offset:field.offset + field.size], "little") == value, name
    assert data[offsets["status"].offset] == ProviderStatus.PAUSED
    assert data[offsets["endpoint"].offset:offsets["endpoint"].offset + 9] == b"http://x\0"


def test_misaligned_field_is_rejected_with_its_name():
    idl = copy.deepcopy(idl_json())
    fields = idl["accounts"][0]["type"]["fields"]
    fields.insert(0, {"name": "flag", "type": "u8"})
    with pytest.raises(IdlLayoutError, match=r"Market.authority sits at byte 9"):
        generate_header(idl)


def test_variable_size_field_is_rejected():
    idl = copy.deepcopy(idl_json())
    idl["accounts"][0]["type"]["fields"].append({"name": "note", "type": "string"})
    with pytest.raises(IdlLayoutError, match="no fixed size"):
        generate_header(idl)

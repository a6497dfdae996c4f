"""The Anchor 0.30+ IDL is derived from the legacy one, kept in sync, and read by `@coral-xyz/anchor` itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from solders.keypair import Keypair

from marketplace.chain import MarketAccount, MarketConfig
from marketplace.chain import instructions as ix
from marketplace.chain.program import PROGRAM_ID, idl_json
from marketplace.sbf.idl_spec import anchor_idl

ROOT = Path(__file__).resolve().parents[2]
ANCHOR_IDL = ROOT / "programs" / "tessera" / "idl" / "tessera.anchor.json"
ANCHOR_VERSION = "0.31.1"


def test_the_committed_anchor_idl_is_the_legacy_idl_converted():
    assert json.loads(ANCHOR_IDL.read_text()) == anchor_idl(idl_json())


def test_spec_fields_and_discriminators():
    idl = json.loads(ANCHOR_IDL.read_text())
    assert idl["address"] == str(PROGRAM_ID) and idl["metadata"]["spec"] == "0.1.0"
    settle = next(i for i in idl["instructions"] if i["name"] == "settle")
    assert bytes(settle["discriminator"]) == ix.build_instruction("settle", {"seed": [0] * 32, "entries": []}, {
        "verifier": PROGRAM_ID, "market": PROGRAM_ID, "job": PROGRAM_ID, "client": PROGRAM_ID, "treasury": PROGRAM_ID}).data[:8]
    assert {a["name"] for a in idl["accounts"]} <= {t["name"] for t in idl["types"]}


@pytest.fixture(scope="module")
def anchor_js(tmp_path_factory) -> Path:
    """@coral-xyz/anchor from the npm registry, installed once (node and npm come from Debian)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed: apt-get install -y nodejs npm")
    cache = Path(os.environ.get("TESSERA_NPM_CACHE", ROOT / ".npm-anchor"))
    if not (cache / "node_modules" / "@coral-xyz" / "anchor").exists():
        cache.mkdir(exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cache),
                        f"@coral-xyz/anchor@{ANCHOR_VERSION}"], check=True, timeout=600)
    return cache


def test_anchor_js_encodes_instructions_and_decodes_accounts_as_the_program_does(anchor_js):
    authority, owner = Keypair().pubkey(), Keypair().pubkey()
    config = MarketConfig(authority, authority, 10**9, 60, 60, 200, 5_000, 1_000, 2_500, 3_600)
    python = [ix.initialize_market(authority, config), ix.create_job(
        owner, authority, 2**63 - 5, model_digest=b"m" * 32, input_root=b"i" * 32, seed_commitment=b"s" * 32,
        price_per_shard=100_000, deadline=1_900_000_000, shard_count=3), ix.unwind_assignment(authority, owner, owner)]
    u64 = lambda n: {"$u64": str(n)}  # noqa: E731
    key = lambda k: {"$pubkey": str(k)}  # noqa: E731
    market = MarketAccount(authority, owner, authority, 10**9, -1, 60, 2**63 - 5, 3 * 10**9, 4, 200, 5_000, 1_000, 254,
                           2_500, 3_600, 7_000_000)
    request = {
        "instructions": [
            {"name": "initialize_market", "args": {"config": {
                "verifier": key(authority), "treasury": key(authority), "min_stake": u64(10**9), "unbonding_period": u64(60),
                "claim_timeout": u64(60), "fee_bps": 200, "slash_bps": 5_000, "sampling_rate_bps": 1_000,
                "cache_fee_bps": 2_500, "grace_period": u64(3_600), "max_price_per_shard": u64(100_000)}}},
            {"name": "create_job", "args": {"model_digest": list(b"m" * 32), "input_root": list(b"i" * 32),
                                            "seed_commitment": list(b"s" * 32), "job_id": u64(2**63 - 5),
                                            "price_per_shard": u64(100_000), "deadline": u64(1_900_000_000), "shard_count": 3}},
            {"name": "unwind_assignment", "args": {}},
        ],
        "accounts": [{"name": "Market", "hex": market.encode().hex()}],
        "events": [],
    }
    done = subprocess.run(["node", str(ROOT / "tests" / "anchor_js" / "check_idl.js"), str(ANCHOR_IDL)],
                          input=json.dumps(request), capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(anchor_js / "node_modules")})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["address"] == str(PROGRAM_ID)
    assert answer["instructions"] == [bytes(i.data).hex() for i in python]
    [decoded] = answer["accounts"]
    assert decoded["verifier"] == str(owner) and decoded["jobs_created"] == str(2**63 - 5)
    assert decoded["unbonding_period"] == "-1" and decoded["grace_period"] == "3600" and decoded["cache_fee_bps"] == 2_500
    assert decoded["max_price_per_shard"] == "7000000"

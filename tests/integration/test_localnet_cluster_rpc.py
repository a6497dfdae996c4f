"""The cluster's RPC methods over HTTP, parsed by the typed response models clients use (solana-py and solders):
a chain of one validator that leads every slot, votes with one vote account and holds every block."""

from __future__ import annotations

import asyncio
import json

from solana.rpc.types import TokenAccountOpts
from solders.keypair import Keypair
from solders.rpc.responses import (GetBlockProductionResp, GetBlocksWithLimitResp, GetHighestSnapshotSlotResp,
                                   GetMaxRetransmitSlotResp, GetMaxShredInsertSlotResp, GetSlotLeadersResp, RPCError)
from solders.system_program import CreateAccountParams, create_account
from spl.token import instructions as token
from spl.token.constants import TOKEN_PROGRAM_ID

from localnet.chain import SLOTS_PER_EPOCH
from tests.integration.conftest import SOL, rpc_call
from tests.integration.test_localnet_clients import send


async def typed(net, response_type, method: str, params: list | None = None):
    """A method solana-py has no call for, parsed by solders as a client would."""
    return response_type.from_json(json.dumps(await rpc_call(net.url, method, params)))


async def test_one_validator_leads_votes_and_produces_every_block(net, client, wallet):
    identity = (await client.get_identity()).value.identity
    [node] = (await client.get_cluster_nodes()).value
    node = json.loads(node.to_json())
    assert (node["pubkey"], node["rpc"], node["pubsub"]) == (str(identity), f"127.0.0.1:{net.port}", f"127.0.0.1:{net.ws_port}")
    votes = (await client.get_vote_accounts()).value
    assert votes.delinquent == [] and [v.node_pubkey for v in votes.current] == [identity]
    assert votes.current[0].vote_pubkey == net.chain.vote_account and votes.current[0].epoch_vote_account
    slot = (await client.get_slot()).value
    assert (await client.get_slot_leader()).value == identity
    leaders = (await typed(net, GetSlotLeadersResp, "getSlotLeaders", [slot, 10])).value
    assert leaders == [identity] * 10
    schedule = (await client.get_leader_schedule()).value
    assert list(schedule) == [identity] and len(schedule[identity]) == SLOTS_PER_EPOCH
    assert (await client.get_leader_schedule(SLOTS_PER_EPOCH * 5)).value is None  # an epoch not computed yet
    epochs = (await client.get_epoch_schedule()).value
    assert (epochs.slots_per_epoch, epochs.warmup, epochs.first_normal_slot) == (SLOTS_PER_EPOCH, False, 0)
    production = (await typed(net, GetBlockProductionResp, "getBlockProduction", [{"range": {"firstSlot": 1, "lastSlot": slot}}])).value
    assert production.by_identity == {identity: (slot, slot)} and production.range.last_slot == slot
    for response_type, method in ((GetMaxRetransmitSlotResp, "getMaxRetransmitSlot"), (GetMaxShredInsertSlotResp, "getMaxShredInsertSlot")):
        assert (await typed(net, response_type, method)).value >= slot


async def test_every_block_is_kept_and_final(net, client, wallet):
    slot = (await client.get_slot()).value
    assert (await client.get_first_available_block()).value == 0
    assert (await client.get_minimum_ledger_slot()).value == 0
    assert (await client.get_blocks(slot - 2, slot)).value == [slot - 2, slot - 1, slot]
    assert (await client.get_blocks(slot)).value[0] == slot
    assert (await typed(net, GetBlocksWithLimitResp, "getBlocksWithLimit", [slot - 2, 3])).value == [slot - 2, slot - 1, slot]
    commitment = (await client.get_block_commitment(slot)).value
    assert len(commitment.commitment) == 32 and commitment.total_stake == 0
    assert (await client.get_block_commitment(slot + 10_000)).value.commitment is None
    snapshot = await typed(net, GetHighestSnapshotSlotResp, "getHighestSnapshotSlot")
    assert isinstance(snapshot, RPCError) or snapshot.error  # no snapshots: the validator's "No snapshot" error
    assert (await rpc_call(net.url, "getHighestSnapshotSlot"))["error"]["code"] == -32008
    assert (await client.get_blocks(slot, slot - 1)).value == []


async def test_supply_adds_up_to_the_accounts_the_chain_holds(net, client, wallet):
    supply = (await client.get_supply()).value
    assert supply.total == sum(lamports for _, lamports in net.chain.balances())
    assert (supply.circulating, supply.non_circulating, supply.non_circulating_accounts) == (supply.total, 0, [])
    largest = (await client.get_largest_accounts()).value
    assert largest[0].lamports >= largest[-1].lamports and wallet.pubkey() in [a.address for a in largest]
    # (solana-py's own filter argument is sent beside the config, where a validator does not read it)
    assert (await rpc_call(net.url, "getLargestAccounts", [{"filter": "nonCirculating"}]))["result"]["value"] == []
    governor = (await client.get_inflation_governor()).value
    assert governor.initial == governor.terminal == 0.0  # no inflation: nothing is paid that the supply would not show
    assert (await client.get_inflation_rate()).value.total == 0.0
    assert (await client.get_inflation_reward([wallet.pubkey()])).value == [None]
    minimum = (await rpc_call(net.url, "getStakeMinimumDelegation"))["result"]
    assert minimum["value"] == SOL  # the runtime's stake program's own answer


async def test_performance_is_sampled_every_minute(net, client):
    assert (await client.get_recent_performance_samples(5)).value == []
    net.chain._sampled = (net.chain._sampled[0] - 61, net.chain._sampled[1], net.chain._sampled[2])  # a minute passed
    await asyncio.sleep(0.5)  # the next slot on the clock takes the sample
    [sample] = (await client.get_recent_performance_samples()).value
    assert sample.sample_period_secs == 60 and sample.num_slots >= 1 and sample.num_transactions >= 0


async def test_token_supply_largest_holders_and_delegates(client, wallet):
    mint, holder, delegate = Keypair(), Keypair(), Keypair()
    mint_rent = (await client.get_minimum_balance_for_rent_exemption(82)).value
    account_rent = (await client.get_minimum_balance_for_rent_exemption(165)).value
    await send(client, [
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=mint.pubkey(), lamports=mint_rent, space=82, owner=TOKEN_PROGRAM_ID)),
        token.initialize_mint(token.InitializeMintParams(decimals=2, program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), mint_authority=wallet.pubkey())),
        create_account(CreateAccountParams(from_pubkey=wallet.pubkey(), to_pubkey=holder.pubkey(), lamports=account_rent, space=165, owner=TOKEN_PROGRAM_ID)),
        token.initialize_account(token.InitializeAccountParams(program_id=TOKEN_PROGRAM_ID, account=holder.pubkey(), mint=mint.pubkey(), owner=wallet.pubkey())),
        token.mint_to(token.MintToParams(program_id=TOKEN_PROGRAM_ID, mint=mint.pubkey(), dest=holder.pubkey(), mint_authority=wallet.pubkey(), amount=12_345)),
        token.approve(token.ApproveParams(program_id=TOKEN_PROGRAM_ID, source=holder.pubkey(), delegate=delegate.pubkey(), owner=wallet.pubkey(), amount=100)),
    ], [wallet, mint, holder])
    supply = (await client.get_token_supply(mint.pubkey())).value
    assert (supply.amount, supply.decimals, supply.ui_amount_string) == ("12345", 2, "123.45")
    [largest] = (await client.get_token_largest_accounts(mint.pubkey())).value
    assert (largest.address, largest.amount.amount) == (holder.pubkey(), "12345")
    delegated = (await client.get_token_accounts_by_delegate(delegate.pubkey(), TokenAccountOpts(mint=mint.pubkey()))).value
    assert [a.pubkey for a in delegated] == [holder.pubkey()]
    assert (await client.get_token_accounts_by_delegate(Keypair().pubkey(), TokenAccountOpts(program_id=TOKEN_PROGRAM_ID))).value == []


async def test_bad_params_get_the_validators_invalid_params(net):
    for method, params in (("getSlotLeaders", [1, 0]), ("getSlotLeaders", [1, 6_000]), ("getBlocksWithLimit", [1, 600_000]),
                           ("getTokenSupply", [str(Keypair().pubkey())]), ("getLargestAccounts", [{"filter": "mine"}]),
                           ("getBlockProduction", [{"range": {"firstSlot": 5, "lastSlot": 2}}]),
                           ("getRecentPerformanceSamples", [721]), ("getInflationReward", ["nope"])):
        answer = await rpc_call(net.url, method, params)
        assert answer["error"]["code"] == -32602, (method, answer)

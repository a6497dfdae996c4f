"""The cluster's JSON-RPC methods, answered for a chain of one validator.

One node is the cluster: it is the leader of every slot, votes on every block with its one vote account, and
produces a block in every slot; every block is final at once and the ledger keeps them all. Nothing is staked with
it and the chain pays no inflation, so stake and rewards are zero rather than invented.
"""

from __future__ import annotations

import base64
from functools import cached_property
from typing import Any

from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction, VersionedTransaction

from localnet import params as p
from localnet.chain import SLOTS_PER_EPOCH, LocalChain
from localnet.errors import InvalidParams, RpcError

SOLANA_CORE_VERSION = "2.2.0"  # the RPC API whose shapes these answers follow
FEATURE_SET = 3294202862
SHRED_VERSION = 1
MAX_BLOCK_RANGE = 500_000  # getBlocks / getBlocksWithLimit, as the validator bounds them
MAX_SLOT_LEADERS = 5_000
MAX_LOCKOUT_HISTORY = 31
LARGEST_ACCOUNTS = 20
STAKE_PROGRAM = Pubkey.from_string("Stake11111111111111111111111111111111111111")
GET_MINIMUM_DELEGATION = (13).to_bytes(4, "little")  # StakeInstruction::GetMinimumDelegation, bincode
NO_INFLATION = {"initial": 0.0, "terminal": 0.0, "taper": 0.0, "foundation": 0.0, "foundationTerm": 0.0}


class NoSnapshot(RpcError):
    code = -32008


class ClusterMethods:
    chain: LocalChain
    identity: Pubkey
    rpc_address: str | None = None  # host:port, once the server listens
    pubsub_address: str | None = None

    def _context(self, value: Any) -> dict:
        """An answer with its context, as every method of RpcMethods gives it too."""
        return {"context": {"slot": self.chain.slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value}

    def _epoch(self, slot: int) -> int:
        return slot // SLOTS_PER_EPOCH

    # the node

    def rpc_getVersion(self, params):
        return {"solana-core": SOLANA_CORE_VERSION, "feature-set": FEATURE_SET}

    def rpc_getHealth(self, params):
        return "ok"

    def rpc_getGenesisHash(self, params):
        return str(self.chain.genesis_hash)

    def rpc_getIdentity(self, params):
        return {"identity": str(self.identity)}

    def rpc_getClusterNodes(self, params):
        return [{"pubkey": str(self.identity), "gossip": None, "tvu": None, "tpu": None, "tpuQuic": None,
                 "tpuForwards": None, "tpuForwardsQuic": None, "tpuVote": None, "serveRepair": None,
                 "rpc": self.rpc_address, "pubsub": self.pubsub_address, "version": SOLANA_CORE_VERSION,
                 "featureSet": FEATURE_SET, "shredVersion": SHRED_VERSION}]

    def rpc_getVoteAccounts(self, params):
        cfg = p.config(params, 0)
        vote = str(self.chain.vote_account)
        if cfg.get("votePubkey") not in (None, vote):
            return {"current": [], "delinquent": []}
        slot = self.chain.slot
        return {"current": [{"votePubkey": vote, "nodePubkey": str(self.identity), "activatedStake": 0,
                             "epochVoteAccount": True, "commission": 0, "lastVote": slot, "rootSlot": slot,
                             "epochCredits": [[self._epoch(slot), slot, 0]]}],
                "delinquent": []}

    # slots, epochs and leaders

    def rpc_getSlot(self, params):
        return self.chain.slot

    def rpc_getBlockHeight(self, params):
        return self.chain.block_height

    def rpc_getTransactionCount(self, params):
        return len(self.chain.transactions)

    def rpc_getMaxRetransmitSlot(self, params):
        return self.chain.slot

    def rpc_getMaxShredInsertSlot(self, params):
        return self.chain.slot

    def rpc_getEpochInfo(self, params):
        slot = self.chain.slot
        return {"absoluteSlot": slot, "blockHeight": self.chain.block_height, "epoch": self._epoch(slot),
                "slotIndex": slot % SLOTS_PER_EPOCH, "slotsInEpoch": SLOTS_PER_EPOCH,
                "transactionCount": len(self.chain.transactions)}

    def rpc_getEpochSchedule(self, params):
        return {"slotsPerEpoch": SLOTS_PER_EPOCH, "leaderScheduleSlotOffset": SLOTS_PER_EPOCH, "warmup": False,
                "firstNormalEpoch": 0, "firstNormalSlot": 0}

    def rpc_getSlotLeader(self, params):
        return str(self.identity)

    def rpc_getSlotLeaders(self, params):
        start = p.unsigned(p.positional(params, 0, "start slot"), "start slot")
        limit = p.unsigned(p.positional(params, 1, "limit"), "limit")
        if not 1 <= limit <= MAX_SLOT_LEADERS:
            raise InvalidParams(f"Invalid limit; max {MAX_SLOT_LEADERS}")
        if self._epoch(start) > self._epoch(self.chain.slot) + 1:
            raise InvalidParams(f"Invalid slot range: leader schedule for epoch {self._epoch(start)} is unavailable")
        return [str(self.identity)] * limit

    def rpc_getLeaderSchedule(self, params):
        # [slot], [slot, config], [config] or nothing: the slot may be left out, not only null.
        first = p.positional(params, 0, "slot", required=False)
        cfg = first if isinstance(first, dict) else p.config(params, 1)
        slot = self.chain.slot if first is None or isinstance(first, dict) else p.unsigned(first, "slot")
        if cfg.get("identity") is not None:
            p.pubkey(cfg["identity"], "identity")
        if self._epoch(slot) > self._epoch(self.chain.slot) + 1:
            return None  # not computed yet, as for any epoch past the next
        if cfg.get("identity") not in (None, str(self.identity)):
            return {}
        return {str(self.identity): self._whole_epoch}

    @cached_property
    def _whole_epoch(self) -> list[int]:
        return list(range(SLOTS_PER_EPOCH))

    # blocks

    def rpc_getBlocks(self, params):
        start = p.unsigned(p.positional(params, 0, "start slot"), "start slot")
        end = p.positional(params, 1, "end slot", required=False)
        end = None if isinstance(end, dict) else end  # [start, config]: a commitment, no end
        end = self.chain.slot if end is None else min(p.unsigned(end, "end slot"), self.chain.slot)
        if end - start > MAX_BLOCK_RANGE:
            raise InvalidParams(f"Slot range too large; max {MAX_BLOCK_RANGE}")
        return list(range(start, end + 1))

    def rpc_getBlocksWithLimit(self, params):
        start = p.unsigned(p.positional(params, 0, "start slot"), "start slot")
        limit = p.unsigned(p.positional(params, 1, "limit"), "limit")
        if limit > MAX_BLOCK_RANGE:
            raise InvalidParams(f"Limit too large; max {MAX_BLOCK_RANGE}")
        return list(range(start, min(start + limit, self.chain.slot + 1)))

    def rpc_getFirstAvailableBlock(self, params):
        return 0  # the ledger keeps every block

    def rpc_minimumLedgerSlot(self, params):
        return 0

    def rpc_getHighestSnapshotSlot(self, params):
        raise NoSnapshot("No snapshot")  # the ledger is kept as a database, not as snapshots

    def rpc_getBlockCommitment(self, params):
        slot = p.unsigned(p.positional(params, 0, "slot"), "slot")
        # Every block is final at once; the vote counted at each lockout depth carries the stake (none).
        return {"commitment": [0] * (MAX_LOCKOUT_HISTORY + 1) if slot <= self.chain.slot else None, "totalStake": 0}

    def rpc_getBlockProduction(self, params):
        cfg = p.config(params, 0)
        current = self.chain.slot
        requested = cfg.get("range") or {}
        if not isinstance(requested, dict):
            raise InvalidParams("range must be {firstSlot, lastSlot}")
        first = p.unsigned(requested.get("firstSlot", current - current % SLOTS_PER_EPOCH), "firstSlot")
        last = p.unsigned(requested.get("lastSlot", current), "lastSlot")
        if last < first or last > current:
            raise InvalidParams(f"lastSlot must be at least firstSlot and at most the current slot {current}")
        slots = last - first + 1
        by_identity = {str(self.identity): [slots, slots]}
        if cfg.get("identity") is not None and p.pubkey(cfg["identity"], "identity") != self.identity:
            by_identity = {}
        return self._context({"byIdentity": by_identity, "range": {"firstSlot": first, "lastSlot": last}})

    def rpc_getRecentPerformanceSamples(self, params):
        limit = 720 if not params else p.unsigned(p.positional(params, 0, "limit"), "limit")
        if limit > 720:
            raise InvalidParams("Invalid limit; max 720")
        return [{"slot": s.slot, "numTransactions": s.transactions, "numNonVoteTransactions": s.transactions,
                 "numSlots": s.slots, "samplePeriodSecs": s.seconds}
                for s in list(self.chain.performance_samples)[:limit]]

    # lamports

    def rpc_getSupply(self, params):
        p.config(params, 0)  # excludeNonCirculatingAccountsList: the list is empty either way
        total = sum(lamports for _, lamports in self.chain.balances())
        value = {"total": total, "circulating": total, "nonCirculating": 0, "nonCirculatingAccounts": []}
        return self._context(value)

    def rpc_getLargestAccounts(self, params):
        cfg = p.config(params, 0)
        selection = cfg.get("filter")
        if selection not in (None, "circulating", "nonCirculating"):
            raise InvalidParams('filter must be "circulating" or "nonCirculating"')
        if selection == "nonCirculating":
            return self._context([])  # no account is held out of circulation
        largest = sorted(self.chain.balances(), key=lambda item: (-item[1], bytes(item[0])))[:LARGEST_ACCOUNTS]
        return self._context([{"address": str(key), "lamports": lamports} for key, lamports in largest])

    def rpc_getInflationGovernor(self, params):
        return dict(NO_INFLATION)

    def rpc_getInflationRate(self, params):
        return {"total": 0.0, "validator": 0.0, "foundation": 0.0, "epoch": self._epoch(self.chain.slot)}

    def rpc_getInflationReward(self, params):
        addresses = p.positional(params, 0, "addresses")
        if not isinstance(addresses, list):
            raise InvalidParams("addresses must be an array of base58 pubkeys")
        cfg = p.config(params, 1)
        epoch = cfg.get("epoch")
        if epoch is not None and p.unsigned(epoch, "epoch") >= self._epoch(self.chain.slot):
            raise InvalidParams(f"Epoch {epoch} is not finished yet")
        for address in addresses:
            p.pubkey(address, "address")
        return [None] * len(addresses)  # no rewards are paid

    def rpc_getStakeMinimumDelegation(self, params):
        return self._context(self._minimum_delegation)

    @cached_property
    def _minimum_delegation(self) -> int:
        """What the runtime's stake program itself answers (its return data)."""
        ix = Instruction(STAKE_PROGRAM, GET_MINIMUM_DELEGATION, [])
        faucet = self.chain.faucet
        tx = Transaction([faucet], Message([ix], faucet.pubkey()), self.chain.latest_blockhash)
        outcome = self.chain.simulate(VersionedTransaction.from_legacy(tx))
        if outcome.err is not None or outcome.return_data is None:
            raise RpcError(f"the stake program did not answer its minimum delegation: {outcome.err}")
        return int.from_bytes(base64.b64decode(outcome.return_data["data"][0]), "little")

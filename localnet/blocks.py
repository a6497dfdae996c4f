"""A block as getBlock and blockNotification serve it: every slot holds one (a transaction's, or an empty one)."""

from __future__ import annotations

from localnet.chain import LocalChain
from localnet.errors import InvalidParams
from localnet.transactions import ENCODINGS, transaction_json

DETAILS = ("full", "signatures", "none")


def block_json(chain: LocalChain, slot: int, cfg: dict) -> dict:
    details = cfg.get("transactionDetails", "full")
    if details not in DETAILS:
        raise InvalidParams(f"transactionDetails must be one of {', '.join(DETAILS)}")
    if cfg.get("encoding", "json") not in ENCODINGS:
        raise InvalidParams(f"unsupported encoding {cfg['encoding']!r}; use one of {', '.join(ENCODINGS)}")
    records = [chain.transactions[s] for s in chain.by_slot.get(slot, [])]
    block = {
        "blockhash": str(chain.blockhash_of(slot)),
        "previousBlockhash": str(chain.blockhash_of(max(slot - 1, 0))),
        "parentSlot": max(slot - 1, 0),
        "blockTime": chain.block_time(slot),
        "blockHeight": slot,
    }
    if details == "full":
        block["transactions"] = [transaction_json(r, cfg.get("encoding", "json"), cfg.get("maxSupportedTransactionVersion"))
                                 for r in records]
    elif details == "signatures":
        block["signatures"] = [r["signature"] for r in records]
    if cfg.get("rewards", cfg.get("showRewards", True)):
        block["rewards"] = []
    return block

"""What settling requests paid by voucher costs on chain: one epoch job for many channels versus a job per request.

1,000 one-shard requests from 10 agents (100 each, each agent with its own payment channel) over 3 providers, with
the market's sampling (10%: a sampled request is also run by the next provider), settled in the real runtime
(LiteSVM, the shipped .so). Every instruction an aggregator and the providers would send is sent, packed into as few
transactions as fit Solana's 1,232-byte packets; transactions, fees (signatures, the precompile's included) and
compute units are counted. What it measures is the program's settlement path, not the aggregator's intake.
`python -m tests.benchmarks.epoch_settlement`.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet import LocalRuntime
from marketplace.chain import ChannelAccount, MarketConfig, Verdict, channel_address, epoch_address, job_address, market_address
from marketplace.chain import instructions as ix
from marketplace.chain.instructions import Settlement
from marketplace.chain.packing import PACKET_DATA_SIZE, pack, wire_size
from marketplace.chain.vouchers import Voucher
from marketplace.economics import job_escrow
from marketplace.merkle import merkle_root

SOL = 1_000_000_000
PRICE = 20_000
AGENTS, PROVIDERS, REQUESTS_PER_AGENT = 10, 3, 100
SAMPLING_BPS = 1_000
SEED = hashlib.sha256(b"the epoch's sampling seed").digest()
GOAL_TRANSACTIONS, GOAL_FEES = 0.01, 100


@dataclass
class Ledger:
    """Transactions sent, with their fees and each instruction's compute units."""

    transactions: int = 0
    fees: int = 0
    largest: int = 0  # bytes of the largest transaction sent
    units: dict[str, list[int]] = field(default_factory=dict)


class Chain:
    def __init__(self) -> None:
        self.runtime = LocalRuntime(unix_time=1_750_000_000)
        self.verifier = self.funded()
        config = MarketConfig(self.verifier.pubkey(), self.verifier.pubkey(), SOL, 3_600, 60, 200, 5_000, SAMPLING_BPS,
                              max_price_per_shard=SOL // 100)
        self.send_one(Ledger(), "initialize_market", [ix.initialize_market(self.verifier.pubkey(), config)], [self.verifier])
        self.market = market_address(self.verifier.pubkey())[0]
        self.owners = [self.funded() for _ in range(PROVIDERS)]
        for i, owner in enumerate(self.owners):
            self.send_one(Ledger(), "register_provider", [ix.register_provider(
                owner.pubkey(), self.market, f"http://127.0.0.1:{7000 + i}", 50 * SOL, 64)], [owner])
        self.agents = [(self.funded(), Keypair()) for _ in range(AGENTS)]
        for owner, authorizer in self.agents:
            self.send_one(Ledger(), "open_channel", [ix.open_channel(owner.pubkey(), self.market, authorizer.pubkey(), 20 * SOL,
                                                                     3_600)], [owner])
        self.claimed = [0] * AGENTS

    def funded(self) -> Keypair:
        key = Keypair()
        self.runtime.airdrop(key.pubkey(), 1_000 * SOL)
        return key

    def channel(self, agent: int) -> Pubkey:
        return channel_address(self.market, self.agents[agent][0].pubkey())[0]

    def voucher(self, agent: int, amount: int) -> Voucher:
        """What agent `agent` authorizes: a voucher for `amount` more than it authorized so far."""
        self.claimed[agent] += amount
        generation = ChannelAccount.decode(self.runtime.account_data(self.channel(agent))).generation
        return Voucher.sign(self.agents[agent][1], self.channel(agent), generation, self.claimed[agent])

    def send_one(self, ledger: Ledger, name: str, instructions: list[Instruction], signers: list[Keypair]) -> None:
        size = wire_size(instructions, signers)
        assert size <= PACKET_DATA_SIZE, f"{name}: {size} bytes"
        outcome = self.runtime.send(instructions, signers)
        assert outcome.ok, (name, outcome.logs[-4:])
        ledger.transactions += 1
        ledger.fees += outcome.fee
        ledger.largest = max(ledger.largest, size)
        ledger.units.setdefault(name, []).append(outcome.compute_units)

    def send_packed(self, ledger: Ledger, name: str, groups: Sequence[list[Instruction]], signer: Keypair) -> None:
        """Groups of instructions that travel together, as many to a transaction as fit a packet."""
        for batch in pack(groups, [signer]):
            self.send_one(ledger, name, [i for p in batch for i in groups[p]], [signer])


def requests() -> list[tuple[int, int]]:
    """(agent, its request number), in the order they arrive: the agents interleaved."""
    return [(agent, n) for n in range(REQUESTS_PER_AGENT) for agent in range(AGENTS)]


def sampled(index: int) -> bool:
    """The market's share of requests, evenly: a job's budget pays for no more replicas."""
    return index % (10_000 // SAMPLING_BPS) == 0


def digest(job: Pubkey, shard: int) -> bytes:
    return hashlib.sha256(bytes(job) + shard.to_bytes(4, "little")).digest()


def submissions(shards: Sequence[int], first_place: int = 0) -> dict[int, set[int]]:
    """Which shards each provider runs: primaries round-robin by the request's place in the stream of requests, a
    sampled request's replica on the next provider."""
    runs: dict[int, set[int]] = {p: set() for p in range(PROVIDERS)}
    for place, shard in enumerate(shards, start=first_place):
        runs[place % PROVIDERS].add(shard)
        if sampled(place):
            runs[(place + 1) % PROVIDERS].add(shard)
    return runs


def commit_and_settle(chain: Chain, ledger: Ledger, job: Pubkey, client: Pubkey, runs: dict[int, set[int]]) -> None:
    for p, ran in runs.items():
        if ran:
            root = merkle_root([digest(job, s) for s in sorted(ran)])
            chain.send_one(ledger, "submit_results", [ix.submit_results(chain.owners[p].pubkey(), chain.market, job, sorted(ran),
                                                                        root)], [chain.owners[p]])
    settlements = [Settlement(chain.owners[p].pubkey(), Verdict.PAY, frozenset(ran)) for p, ran in runs.items() if ran]
    chain.send_one(ledger, "settle", [ix.settle(chain.verifier.pubkey(), chain.market, job, client, chain.verifier.pubkey(),
                                                SEED, settlements)], [chain.verifier])


def epoch_run() -> Ledger:
    """One epoch: the verifier opens the job, claims each channel's shards (its requests, laid out channel by
    channel: shard = the channel's first shard + the request's number), providers commit once, one settle, one close."""
    chain, ledger = Chain(), Ledger()
    total = AGENTS * REQUESTS_PER_AGENT
    job_id = 7
    job = job_address(chain.market, job_id)[0]
    opening = ix.open_epoch(chain.verifier.pubkey(), chain.market, job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                            seed_commitment=hashlib.sha256(SEED).digest(), price_per_shard=PRICE,
                            deadline=chain.runtime.unix_time + 600, shard_count=total)
    escrow = job_escrow(PRICE, REQUESTS_PER_AGENT, SAMPLING_BPS, 200)
    claims = [ix.claim_epoch(chain.verifier.pubkey(), chain.market, job, chain.voucher(a, escrow),
                             chain.agents[a][1].pubkey(), REQUESTS_PER_AGENT) for a in range(AGENTS)]
    chain.send_packed(ledger, "open_epoch + claim_epoch", [[opening], *claims], chain.verifier)
    commit_and_settle(chain, ledger, job, epoch_address(job)[0], submissions(range(total)))
    chain.send_one(ledger, "close_job (epoch)", [ix.close_epoch_job(job, chain.verifier.pubkey(),
                                                                    [chain.channel(a) for a in range(AGENTS)])], [chain.verifier])
    return ledger


def job_per_request_run() -> Ledger:
    """Each request its own job, opened by its channel's claim (what the aggregator sends with `--epoch-seconds 0`)."""
    chain, ledger = Chain(), Ledger()
    escrow = job_escrow(PRICE, 1, SAMPLING_BPS, 200)
    for job_id, (agent, _) in enumerate(requests(), start=100):
        claim = ix.claim_channel(chain.verifier.pubkey(), chain.market, job_id, chain.voucher(agent, escrow),
                                 chain.agents[agent][1].pubkey(), model_digest=b"m" * 32, input_root=b"i" * 32,
                                 seed_commitment=hashlib.sha256(SEED).digest(), price_per_shard=PRICE,
                                 deadline=chain.runtime.unix_time + 600, shard_count=1)
        chain.send_one(ledger, "claim_channel", claim, [chain.verifier])
        job = job_address(chain.market, job_id)[0]
        commit_and_settle(chain, ledger, job, chain.channel(agent), submissions([0], first_place=job_id - 100))
        chain.send_one(ledger, "close_job", [ix.close_job(job, chain.channel(agent))], [chain.verifier])
    return ledger


def measure() -> dict[str, Ledger]:
    return {"one epoch job for all channels (open_epoch, claim_epoch)": epoch_run(),
            "a job per request (claim_channel)": job_per_request_run()}


def markdown(ledgers: dict[str, Ledger]) -> str:
    requests_count = AGENTS * REQUESTS_PER_AGENT
    lines = [
        "## Settling requests paid by voucher: one epoch job versus a job per request (on chain)",
        "",
        f"{requests_count:,} one-shard requests from {AGENTS} agents (a channel each) over {PROVIDERS} providers, the market "
        f"sampling {SAMPLING_BPS // 100}% (a sampled request is also run by another provider), settled in LiteSVM with the "
        "shipped program: every instruction an aggregator and the providers send, packed into as few transactions as fit "
        f"a {PACKET_DATA_SIZE:,}-byte packet. Fees count every signature, the Ed25519 precompile's included. "
        "`python -m tests.benchmarks.epoch_settlement`.",
        "",
        "| settling | transactions | per request | fees per request (lamports) | largest transaction (bytes) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ledger in ledgers.items():
        lines.append(f"| {name} | {ledger.transactions:,} | {ledger.transactions / requests_count:.4f} | "
                     f"{ledger.fees / requests_count:,.0f} | {ledger.largest:,} |")
    epoch = next(iter(ledgers.values()))
    per_request, fees = epoch.transactions / requests_count, epoch.fees / requests_count
    met = "met" if per_request <= GOAL_TRANSACTIONS and fees <= GOAL_FEES else "**not met**"
    lines += ["", "Compute units in the epoch run (per transaction; a claim transaction holds several claims with their "
              "precompile checks):", "", "| transaction | median CU | max CU | count |", "|---|---:|---:|---:|"]
    for name, units in epoch.units.items():
        lines.append(f"| {name} | {statistics.median(units):,.0f} | {max(units):,} | {len(units)} |")
    lines += ["", f"Goals (issue #18): ≤ {GOAL_TRANSACTIONS} transactions and ≤ {GOAL_FEES} lamports of fees per request: "
              f"{met} by the epoch's settlement ({per_request:.4f} and {fees:,.0f}). The program alone, here; the "
              "aggregator's epochs, with real providers, are the last row of the section above.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(measure()))

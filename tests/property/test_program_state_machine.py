"""Random sequences of every instruction, from honest and hostile actors, in the real runtime.

After every step: lamports are conserved (what leaves the accounts is the
transaction fees), no wallet is debited without signing, program accounts
are debited only by the instructions whose rules allow it, the books of
every account add up, and no provider is ever paid twice for a shard.

`TESSERA_PROPERTY_EXAMPLES` (default 40 sequences of up to 60 steps) runs more.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from localnet import LocalRuntime
from marketplace.chain import (
    AssignmentAccount,
    ChannelAccount,
    EpochAccount,
    JobAccount,
    MarketAccount,
    MarketConfig,
    ProviderAccount,
    Verdict,
    assignment_address,
    channel_address,
    epoch_address,
    job_address,
    market_address,
    provider_address,
)
from marketplace.chain import instructions as ix
from marketplace.chain.accounts import MAX_SHARDS
from marketplace.chain.program import account_size
from marketplace.chain.instructions import Settlement
from marketplace.chain.vouchers import Voucher
from marketplace.economics import deters, job_escrow
from marketplace.merkle import merkle_root

SOL = 1_000_000_000
U64_MAX = 2**64 - 1
EXAMPLES = int(os.environ.get("TESSERA_PROPERTY_EXAMPLES", "40"))
PROGRAM_DEBITS = {  # which instructions may take lamports out of each program account type
    "market": set(),
    "provider": {"withdraw_stake", "settle", "slash"},
    "job": {"settle", "slash", "refund", "cancel_job", "close_job", "serve_cached"},
    "assignment": {"close_assignment"},
    "channel": {"claim_channel", "claim_epoch", "withdraw"},
    "epoch": {"close_job"},
}
amounts = st.one_of(st.integers(1, 3 * SOL), st.integers(U64_MAX - 10 * SOL, U64_MAX), st.just(0))
shard_sets = st.frozensets(st.integers(0, 9), max_size=6)


@dataclass(frozen=True)
class JobRef:
    address: Pubkey
    client: Pubkey  # a wallet, the channel that funded the job, or an epoch job's epoch
    signer: Keypair  # who signs for the client: the wallet itself, or the channel's owner or anyone (who cannot)
    seed: bytes


class ProgramMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runtime = LocalRuntime(unix_time=1_750_000_000)
        self.authority, self.attacker = Keypair(), Keypair()
        self.owners = [Keypair() for _ in range(4)]
        # One client also owns a provider, and the treasury is the verifier (the README's market): an account
        # in two roles of one instruction must settle like any other.
        self.clients = [Keypair(), self.owners[3]]
        self.treasury = self.authority.pubkey()
        # Agents with payment channels; the attacker's key is never an authorizer, and vouchers are what each
        # agent signed: the most any claim may take from its channel in all.
        self.agents = [self.clients[0], Keypair()]
        self.authorizers = [Keypair(), Keypair()]
        self.signed: dict[tuple[Pubkey, int], int] = {}  # (channel, generation) -> highest voucher signed
        for key in {k.pubkey(): k for k in (self.authority, self.attacker, *self.clients, *self.owners, *self.agents)}.values():
            self.runtime.airdrop(key.pubkey(), 1_000 * SOL)
        self.config = MarketConfig(self.authority.pubkey(), self.treasury, SOL, 100, 60, 250, 3_000, 2_000, cache_fee_bps=5_000,
                                   max_price_per_shard=SOL // 20)
        self.market = market_address(self.authority.pubkey())[0]
        self.jobs: list[JobRef] = []
        self.last_job_id = 0
        self.paid: set[tuple[Pubkey, Pubkey, int]] = set()  # (job, provider, shard)
        self.committed: dict[tuple[Pubkey, Pubkey], dict[int, bytes]] = {}  # (job, owner) -> its last round's digests
        self.sent: list[tuple[str, Instruction, Keypair]] = []
        self.kinds = {self.market: "market", self.treasury: "wallet"}
        for key in (self.authority, self.attacker, *self.clients, *self.owners, *self.agents):
            self.kinds[key.pubkey()] = "wallet"
        self.fees = 0
        self.send("initialize_market", ix.initialize_market(self.authority.pubkey(), self.config), self.authority)
        for i, owner in enumerate(self.owners):
            self.kinds[provider_address(self.market, owner.pubkey())[0]] = "provider"
            self.send("register_provider", ix.register_provider(owner.pubkey(), self.market, f"http://127.0.0.1:{7000 + i}", 2 * SOL, 4), owner)
        self.total = self.total_lamports() + self.fees

    # sending, and what every transaction must respect

    def total_lamports(self) -> int:
        return sum(self.runtime.balance(key) for key in self.kinds)

    def send(self, name: str, instructions: Instruction | list[Instruction], signer: Keypair):
        """One transaction: the program's instruction last, after any precompile check it reads."""
        instructions = instructions if isinstance(instructions, list) else [instructions]
        before = {key: self.runtime.balance(key) for key in self.kinds}
        outcome = self.runtime.send(instructions, [signer])
        self.fees += outcome.fee
        signers = {m.pubkey for i in instructions for m in i.accounts if m.is_signer} | {signer.pubkey()}
        for key, kind in self.kinds.items():
            lost = before[key] - self.runtime.balance(key) - (outcome.fee if key == signer.pubkey() else 0)
            if lost <= 0:
                continue
            if kind == "wallet":
                assert key in signers, f"{name} debited wallet {key} that did not sign"
            else:
                assert name in PROGRAM_DEBITS[kind], f"{name} debited a {kind} account"
        if outcome.ok:
            self.sent.append((name, instructions, signer))
            for event in outcome.events:
                if event.name == "AssignmentSettled":
                    for shard in range(MAX_SHARDS):
                        if event.data.accepted[shard // 8] >> (shard % 8) & 1:
                            paid = (event.data.job, event.data.provider, shard)
                            assert paid not in self.paid, f"shard {shard} paid twice to {event.data.provider}"
                            self.paid.add(paid)
        return outcome

    def owner(self, index: int) -> Keypair:
        return self.owners[index % len(self.owners)]

    def job(self, index: int) -> JobRef:
        return self.jobs[index % len(self.jobs)]

    def next_job_id(self, reuse: bool) -> int:
        """Clients choose ids; one already in use must be refused."""
        if not (reuse and self.jobs):
            self.last_job_id = MarketAccount.decode(self.runtime.account_data(self.market)).jobs_created + 1_000
        return self.last_job_id

    # honest and careless actors

    @rule(client=st.integers(0, 1), shards=st.integers(0, 12), price=st.one_of(st.integers(1, SOL // 10), st.just(U64_MAX)),
          lifetime=st.integers(-10, 300), reuse_id=st.booleans())
    def create_job(self, client, shards, price, lifetime, reuse_id):
        client = self.clients[client]
        job_id = self.next_job_id(reuse_id)
        seed = hashlib.sha256(f"seed-{job_id}".encode()).digest()
        address = job_address(self.market, job_id)[0]
        instruction = ix.create_job(client.pubkey(), self.market, job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                                    seed_commitment=hashlib.sha256(seed).digest(), price_per_shard=price,
                                    deadline=self.runtime.unix_time + lifetime, shard_count=shards)
        if self.send("create_job", instruction, client).ok:
            self.kinds[address] = "job"
            self.jobs.append(JobRef(address, client.pubkey(), client, seed))

    @precondition(lambda self: self.jobs)
    @rule(owner=st.integers(0, 3), job=st.integers(0, 50), shards=shard_sets)
    def submit_results(self, owner, job, shards):
        owner, address = self.owner(owner), self.job(job).address
        provider = provider_address(self.market, owner.pubkey())[0]
        self.kinds[assignment_address(address, provider)[0]] = "assignment"
        digests = {s: hashlib.sha256(f"{address} {owner.pubkey()} {s}".encode()).digest() for s in shards}
        root = merkle_root([digests[s] for s in sorted(digests)]) if digests else b"r" * 32
        if self.send("submit_results", ix.submit_results(owner.pubkey(), self.market, address, shards, root), owner).ok:
            self.committed[(address, owner.pubkey())] = digests  # non-empty: empty submissions are refused

    @precondition(lambda self: self.jobs)
    @rule(job=st.integers(0, 50), entries=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(Verdict)), shard_sets),
                                                   min_size=1, max_size=3, unique_by=lambda e: e[0]),
          hostile=st.sampled_from(["none", "verifier", "seed"]))
    def settle(self, job, entries, hostile):
        ref = self.job(job)
        signer = self.attacker if hostile == "verifier" else self.authority
        settlements = [Settlement(self.owner(o).pubkey(), verdict, accepted) for o, verdict, accepted in entries]
        instruction = ix.settle(signer.pubkey(), self.market, ref.address, ref.client, self.treasury,
                                b"\x00" * 32 if hostile == "seed" else ref.seed, settlements)
        self.send("settle", instruction, signer)

    @precondition(lambda self: self.committed)
    @rule(submission=st.integers(0, 50), pick=st.integers(0, 255), paid=st.integers(0, 3),
          hostile=st.sampled_from(["none", "verifier", "forged", "agreeing referee"]))
    def slash(self, submission, pick, paid, hostile):
        """The verifier slashes with evidence; an intruder, forged evidence or a referee that agreed are refused."""
        address, owner = sorted(self.committed, key=str)[submission % len(self.committed)]
        client = next(ref.client for ref in self.jobs if ref.address == address)
        committed = self.committed[(address, owner)]
        shard = sorted(committed)[pick % len(committed)]
        accepted = set(sorted(committed)[:paid]) - {shard}
        if hostile == "forged":
            evidence = ix.SlashEvidence(shard, hashlib.sha256(b"never committed").digest(), b"z" * 32, ())
        else:
            evidence = ix.SlashEvidence.build(committed, shard, committed[shard] if hostile == "agreeing referee" else b"z" * 32)
        signer = self.attacker if hostile == "verifier" else self.authority
        outcome = self.send("slash", ix.slash(signer.pubkey(), self.market, address, client, self.treasury,
                                              owner, accepted, evidence), signer)
        assert hostile == "none" or not outcome.ok, f"a slash with {hostile} went through"

    @rule(sampling=st.integers(0, 10_000), slash=st.integers(0, 10_000), max_price=st.integers(SOL // 20, SOL // 10))
    def update_market(self, sampling, slash, max_price):
        """An authority that would make faking pay is refused (see the invariant)."""
        config = replace(self.config, sampling_rate_bps=sampling, slash_bps=slash, max_price_per_shard=max_price)
        self.send("update_market", ix.update_market(self.authority.pubkey(), config), self.authority)

    @precondition(lambda self: self.jobs)
    @rule(job=st.integers(0, 50), shards=shard_sets, by_attacker=st.booleans())
    def serve_cached(self, job, shards, by_attacker):
        signer = self.attacker if by_attacker else self.authority
        self.send("serve_cached", ix.serve_cached(signer.pubkey(), self.market, self.job(job).address, self.treasury, shards), signer)

    @precondition(lambda self: self.jobs)
    @rule(job=st.integers(0, 50), by_attacker=st.booleans(), action=st.sampled_from(["cancel_job", "refund", "close_job"]))
    def client_action(self, job, by_attacker, action):
        ref = self.job(job)
        signer = self.attacker if by_attacker else ref.signer
        instruction = {
            "cancel_job": lambda: ix.cancel_job(signer.pubkey(), ref.address),
            "refund": lambda: ix.refund(signer.pubkey(), ref.address),
            "close_job": lambda: ix.close_job(ref.address, ref.client),
        }[action]()
        self.send(action, instruction, signer)

    @precondition(lambda self: self.jobs)
    @rule(owner=st.integers(0, 3), job=st.integers(0, 50))
    def close_assignment(self, owner, job):
        owner = self.owner(owner)
        self.send("close_assignment", ix.close_assignment(owner.pubkey(), self.market, self.job(job).address), owner)

    @rule(owner=st.integers(0, 3), amount=amounts, action=st.sampled_from(["add_stake", "request_unstake", "withdraw_stake"]))
    def stake_action(self, owner, amount, action):
        owner = self.owner(owner)
        instruction = {
            "add_stake": lambda: ix.add_stake(owner.pubkey(), self.market, amount),
            "request_unstake": lambda: ix.request_unstake(owner.pubkey(), self.market, amount),
            "withdraw_stake": lambda: ix.withdraw_stake(owner.pubkey(), self.market),
        }[action]()
        self.send(action, instruction, owner)

    @precondition(lambda self: self.jobs)
    @rule(owner=st.integers(0, 3), job=st.integers(0, 50))
    def unwind_assignment(self, owner, job):
        """Anyone, for a verifier that stopped settling: past the deadline and the grace period nothing stays locked."""
        provider = provider_address(self.market, self.owner(owner).pubkey())[0]
        self.send("unwind_assignment", ix.unwind_assignment(self.market, self.job(job).address, provider), self.attacker)

    # agents paying through channels

    def channel(self, agent: int) -> Pubkey:
        return channel_address(self.market, self.agents[agent].pubkey())[0]

    @initialize()
    def agents_open_channels(self):
        for agent in range(len(self.agents)):
            self.open_channel(agent, 10 * SOL, 120)

    @rule(agent=st.integers(0, 1), deposit=st.one_of(st.integers(1, 20 * SOL), amounts), delay=st.integers(-1, 300))
    def open_channel(self, agent, deposit, delay):
        owner, channel = self.agents[agent], self.channel(agent)
        self.kinds[channel] = "channel"
        self.send("open_channel", ix.open_channel(owner.pubkey(), self.market, self.authorizers[agent].pubkey(), deposit,
                                                  max(delay, 0)), owner)

    @rule(agent=st.integers(0, 1), amount=amounts, by_attacker=st.booleans(),
          action=st.sampled_from(["top_up_channel", "request_withdraw", "withdraw"]))
    def channel_action(self, agent, amount, by_attacker, action):
        signer, channel = self.attacker if by_attacker else self.agents[agent], self.channel(agent)
        instruction = {
            "top_up_channel": lambda: ix.top_up_channel(signer.pubkey(), channel, amount),
            "request_withdraw": lambda: ix.request_withdraw(signer.pubkey(), channel),
            "withdraw": lambda: ix.withdraw(signer.pubkey(), channel),
        }[action]()
        outcome = self.send(action, instruction, signer)
        assert not (by_attacker and outcome.ok), f"a stranger's {action} went through"

    def open_channels(self) -> list[int]:
        return [a for a in range(len(self.agents)) if self.runtime.account_data(self.channel(a)) is not None]

    @precondition(lambda self: self.open_channels())
    @rule(agent=st.integers(0, 1), shards=st.integers(0, 12), price=st.integers(1, SOL // 10),
          extra=st.one_of(st.just(0), st.integers(-SOL // 10, SOL)), lifetime=st.integers(-10, 300), reuse_id=st.booleans(),
          hostile=st.one_of(st.just("none"), st.sampled_from(["verifier", "forger", "other channel", "stale"])))
    def claim_channel(self, agent, shards, price, extra, lifetime, reuse_id, hostile):
        """The verifier opens a job a channel pays for, by voucher; a claim beyond what the agent signed, signed by
        another key, naming another channel, or sent by an intruder is refused."""
        agent = self.open_channels()[agent % len(self.open_channels())]
        channel, other = self.channel(agent), self.channel(1 - agent)
        state = ChannelAccount.decode(self.runtime.account_data(channel))
        claimed, generation = state.claimed, state.generation
        market = MarketAccount.decode(self.runtime.account_data(self.market))
        escrow = job_escrow(price, shards, market.sampling_rate_bps, market.fee_bps) if shards else 0
        amount = claimed if hostile == "stale" else max(0, claimed + escrow + extra)
        signer_key = self.attacker if hostile == "forger" else self.authorizers[1 - agent if hostile == "other channel" else agent]
        named = other if hostile == "other channel" else channel
        voucher = Voucher.sign(signer_key, named, generation, amount)
        if hostile != "forger":
            self.signed[(named, generation)] = max(self.signed.get((named, generation), 0), amount)
        verifier = self.attacker if hostile == "verifier" else self.authority
        job_id = self.next_job_id(reuse_id)
        seed = hashlib.sha256(f"seed-{job_id}".encode()).digest()
        precompile, claim = ix.claim_channel(
            verifier.pubkey(), self.market, job_id, voucher, signer_key.pubkey(), model_digest=b"m" * 32,
            input_root=b"i" * 32, seed_commitment=hashlib.sha256(seed).digest(), price_per_shard=price,
            deadline=self.runtime.unix_time + lifetime, shard_count=shards)
        metas = list(claim.accounts)
        metas[2] = AccountMeta(channel, False, True)  # the claim always draws on this agent's channel
        outcome = self.send("claim_channel", [precompile, Instruction(claim.program_id, claim.data, metas)], verifier)
        assert hostile == "none" or not outcome.ok, f"a claim with {hostile} went through"
        if outcome.ok:
            address = job_address(self.market, job_id)[0]
            self.kinds[address] = "job"
            self.jobs.append(JobRef(address, channel, self.agents[agent], seed))

    # epochs: one job for many channels, each paying for its own shards

    def epochs(self) -> list[JobRef]:
        return [ref for ref in self.jobs if self.kinds.get(ref.client) == "epoch"]

    @rule(shards=st.integers(0, 12), price=st.integers(1, SOL // 10), lifetime=st.integers(-10, 300),
          reuse_id=st.booleans(), by_attacker=st.booleans())
    def open_epoch(self, shards, price, lifetime, reuse_id, by_attacker):
        signer = self.attacker if by_attacker else self.authority
        job_id = self.next_job_id(reuse_id)
        seed = hashlib.sha256(f"seed-{job_id}".encode()).digest()
        address = job_address(self.market, job_id)[0]
        epoch = epoch_address(address)[0]
        instruction = ix.open_epoch(signer.pubkey(), self.market, job_id, model_digest=b"m" * 32, input_root=b"i" * 32,
                                    seed_commitment=hashlib.sha256(seed).digest(), price_per_shard=price,
                                    deadline=self.runtime.unix_time + lifetime, shard_count=shards)
        outcome = self.send("open_epoch", instruction, signer)
        assert not (by_attacker and outcome.ok), "an intruder opened an epoch"
        if outcome.ok:
            self.kinds[address], self.kinds[epoch] = "job", "epoch"
            self.jobs.append(JobRef(address, epoch, self.attacker, seed))

    @precondition(lambda self: self.epochs() and self.open_channels())
    @rule(epoch=st.integers(0, 50), agent=st.integers(0, 1), shards=st.one_of(st.integers(1, 3), st.integers(0, 13)),
          extra=st.one_of(st.just(0), st.integers(-SOL // 10, SOL)),
          hostile=st.one_of(st.just("none"), st.sampled_from(["verifier", "forger", "other channel", "stale"])))
    def claim_epoch(self, epoch, agent, shards, extra, hostile):
        """A channel pays for an epoch's next shards by voucher, within what its agent signed."""
        ref = self.epochs()[epoch % len(self.epochs())]
        job = self.runtime.account_data(ref.address)
        agent = self.open_channels()[agent % len(self.open_channels())]
        channel, other = self.channel(agent), self.channel(1 - agent)
        state = ChannelAccount.decode(self.runtime.account_data(channel))
        escrow = 0
        if job is not None and shards:
            job_state = JobAccount.decode(job)
            escrow = job_escrow(job_state.price_per_shard, shards, job_state.sampling_rate_bps, job_state.fee_bps)
        amount = state.claimed if hostile == "stale" else max(0, state.claimed + escrow + extra)
        signer_key = self.attacker if hostile == "forger" else self.authorizers[1 - agent if hostile == "other channel" else agent]
        named = other if hostile == "other channel" else channel
        voucher = Voucher.sign(signer_key, named, state.generation, amount)
        if hostile != "forger":
            self.signed[(named, state.generation)] = max(self.signed.get((named, state.generation), 0), amount)
        verifier = self.attacker if hostile == "verifier" else self.authority
        precompile, claim = ix.claim_epoch(verifier.pubkey(), self.market, ref.address, voucher, signer_key.pubkey(), shards)
        metas = list(claim.accounts)
        metas[2] = AccountMeta(channel, False, True)  # the claim always draws on this agent's channel
        outcome = self.send("claim_epoch", [precompile, Instruction(claim.program_id, claim.data, metas)], verifier)
        assert hostile == "none" or not outcome.ok, f"an epoch claim with {hostile} went through"

    @precondition(lambda self: self.epochs())
    @rule(epoch=st.integers(0, 50), tamper=st.sampled_from(["none", "reversed", "dropped", "payer"]))
    def close_epoch(self, epoch, tamper):
        """Anyone closes an epoch job with its payer and channels; any other list of them is refused."""
        ref = self.epochs()[epoch % len(self.epochs())]
        data = self.runtime.account_data(ref.client)
        if data is None:
            return
        state = EpochAccount.decode(data)
        channels = [entry.channel for entry in state.entries]
        payer = self.attacker.pubkey() if tamper == "payer" else state.payer
        if tamper == "reversed":
            channels.reverse()
        elif tamper == "dropped":
            channels = channels[:-1]
        changed = channels != [entry.channel for entry in state.entries] or payer != state.payer
        outcome = self.send("close_job", ix.close_epoch_job(ref.address, payer, channels), self.attacker)
        assert not (changed and outcome.ok), f"an epoch closed with its payers {tamper}"

    @rule(seconds=st.integers(1, 400))
    def time_passes(self, seconds):
        self.runtime.advance(seconds)

    # hostile actors

    @precondition(lambda self: self.sent)
    @rule(index=st.integers(0, 10_000))
    def replay(self, index):
        name, instructions, signer = self.sent[index % len(self.sent)]
        self.send(name, instructions, signer)

    @precondition(lambda self: self.sent)
    @rule(index=st.integers(0, 10_000), position=st.integers(0, 20), replacement=st.integers(0, 10_000))
    def substitute_account(self, index, position, replacement):
        """Another account (of another type, job or market, or a spoofed address) where one is expected."""
        name, instructions, signer = self.sent[index % len(self.sent)]
        *checks, instruction = instructions
        metas = list(instruction.accounts)
        i = position % len(metas)
        if metas[i].is_signer:
            return
        candidates = sorted(self.kinds, key=str) + [Keypair().pubkey(), SYSTEM_PROGRAM_ID]
        original = metas[i].pubkey
        metas[i] = AccountMeta(candidates[replacement % len(candidates)], False, metas[i].is_writable)
        # An account may hold two roles (the treasury is the verifier here), but never a role that is not its.
        borrowed = metas[i].pubkey != original and any(m.pubkey == metas[i].pubkey for j, m in enumerate(metas) if j != i)
        outcome = self.send(name, [*checks, Instruction(instruction.program_id, instruction.data, metas)], signer)
        if borrowed and metas[i].pubkey != SYSTEM_PROGRAM_ID:
            assert not outcome.ok, f"{name} accepted another role's account in position {i}"

    # what must hold after every step

    @invariant()
    def lamports_are_conserved(self):
        assert self.total_lamports() + self.fees == self.total

    @invariant()
    def books_add_up(self):
        rent = self.runtime.rent_exempt_minimum
        total_stake = 0
        for key, kind in self.kinds.items():
            data = self.runtime.account_data(key)
            if kind == "provider":
                p = ProviderAccount.decode(data)
                assert p.locked_stake <= p.stake
                assert self.runtime.balance(key) >= rent(account_size("Provider")) + p.stake + p.unbonding_stake
                total_stake += p.stake
            elif kind == "job" and data is not None:
                job = JobAccount.decode(data)
                assert self.runtime.balance(key) == rent(account_size("Job")) + job.escrow
                assert job.executions_paid <= job.execution_budget
                assert job.paid_shards <= job.served_shards
            elif kind == "assignment" and data is not None:
                a = AssignmentAccount.decode(data)
                assert a.paid_shards <= a.submitted_shards and a.pending_shards <= a.submitted_shards
            elif kind == "channel" and data is not None:
                channel = ChannelAccount.decode(data)
                assert self.runtime.balance(key) >= rent(account_size("Channel"))
                assert channel.claimed <= self.signed.get((key, channel.generation), 0), "claimed beyond any voucher"
                funded = [r for r in self.jobs if r.client == key and self.runtime.account_data(r.address) is not None]
                claims = [e for r in self.epochs() if (d := self.runtime.account_data(r.client)) is not None
                          for e in EpochAccount.decode(d).entries if e.channel == key]
                assert channel.open_jobs == len(funded) + len(claims)
            elif kind == "epoch" and data is not None:
                # Each channel's part: what it paid in less what verdicts spent on its own shards, within its budget;
                # together exactly the job's escrow. The epoch holds its rent and the slash credits.
                epoch = EpochAccount.decode(data)
                job = JobAccount.decode(self.runtime.account_data(epoch.job))
                assert all(e.spent <= e.escrow and e.executions_paid <= e.execution_budget for e in epoch.entries)
                assert sum(e.escrow - e.spent for e in epoch.entries) == job.escrow
                assert self.runtime.balance(key) == rent(account_size("Epoch")) + sum(e.credit for e in epoch.entries)
                assert epoch.funded_shards + job.unfunded_shards == job.shard_count
        market = MarketAccount.decode(self.runtime.account_data(self.market))
        assert market.total_stake == total_stake
        assert deters(market.max_price_per_shard, market.sampling_rate_bps, market.min_stake, market.slash_bps)


ProgramMachine.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_program_state_machine = ProgramMachine.TestCase

"""A whole job's life: three providers, sampling replicas, a slash, a refund and a close."""

from __future__ import annotations

from marketplace.chain import JobAccount, ProviderAccount, Verdict, assignment_address
from marketplace.chain import instructions as ix
from marketplace.chain.program import account_size
from marketplace.chain.instructions import Settlement
from marketplace.merkle import merkle_root
from tests.program.conftest import create_job


def test_job_life_with_three_providers_a_slash_a_refund_and_a_close(runtime, funded, market, providers):
    client = funded()
    honest_a, honest_b, liar = providers
    everyone = {
        "client": client.pubkey(), "treasury": market.config.treasury, "verifier": market.authority.pubkey(),
        **{f"owner{i}": p.owner.pubkey() for i, p in enumerate(providers)},
        **{f"provider{i}": p.address for i, p in enumerate(providers)},
    }
    job = create_job(runtime, market, client, shard_count=6, price=1_000_000, lifetime=600)
    everyone["job"] = job.address
    everyone.update({f"assignment{i}": assignment_address(job.address, p.address)[0] for i, p in enumerate(providers)})
    fees = 0

    def send(instruction, signer):
        nonlocal fees
        outcome = runtime.send([instruction], [signer])
        assert outcome.ok, "\n".join(outcome.logs)
        fees += outcome.fee
        return outcome

    total_before = sum(runtime.balance(k) for k in everyone.values())

    # Shards 0-2 to A, 3-4 to B; the liar replicates shards 0 and 3 (sampled) and lies; shard 5 is never served.
    send(ix.submit_results(honest_a.owner.pubkey(), market.address, job.address, [0, 1, 2], b"a" * 32), honest_a.owner)
    send(ix.submit_results(honest_b.owner.pubkey(), market.address, job.address, [3, 4], b"b" * 32), honest_b.owner)
    lies = {0: b"x" * 32, 3: b"y" * 32}
    send(ix.submit_results(liar.owner.pubkey(), market.address, job.address, [0, 3], merkle_root([lies[0], lies[3]])), liar.owner)

    outcome = send(ix.settle(market.authority.pubkey(), market.address, job.address, client.pubkey(), market.config.treasury, job.seed, [
        Settlement(honest_a.owner.pubkey(), Verdict.PAY, frozenset({0, 1, 2})),
        Settlement(honest_b.owner.pubkey(), Verdict.PAY, frozenset({3, 4})),
    ]), market.authority)
    assert [e.name for e in outcome.events] == ["SeedRevealed", "AssignmentSettled", "AssignmentSettled"]
    evidence = ix.SlashEvidence.build(lies, 3, referee_digest=b"b" * 32)
    outcome = send(ix.slash(market.authority.pubkey(), market.address, job.address, client.pubkey(), market.config.treasury,
                            liar.owner.pubkey(), (), evidence), market.authority)
    assert [e.name for e in outcome.events] == ["AssignmentSettled", "AssignmentSlashed"]
    slashed = outcome.events[1].data.slashed
    assert slashed == liar.stake * market.config.slash_bps // 10_000

    state = JobAccount.decode(runtime.account_data(job.address))
    assert state.paid_shards == {0, 1, 2, 3, 4} and state.pending_assignments == 0 and state.revealed_seed == job.seed
    liar_state = ProviderAccount.decode(runtime.account_data(liar.address))
    assert (liar_state.stake, liar_state.locked_stake, liar_state.shards_slashed) == (liar.stake - slashed, 0, 2)

    # After the deadline: the client takes back what shard 5 and the unused budget were reserved for, then anyone closes.
    runtime.advance(601)
    refund = send(ix.refund(client.pubkey(), job.address), client)
    assert refund.events[0].data.escrow == 0
    close = send(ix.close_job(job.address, client.pubkey()), honest_a.owner)
    assert runtime.account(job.address) is None
    for p in providers:
        send(ix.close_assignment(p.owner.pubkey(), market.address, job.address), p.owner)

    # Every lamport is accounted for: what left the watched accounts is exactly the transaction fees.
    total_after = sum(runtime.balance(k) for k in everyone.values())
    assert total_before == total_after + fees
    paid = 5 * job.price
    treasury_rent = runtime.rent_exempt_minimum(0)  # what it held before: a treasury must be rent-exempt
    assert runtime.balance(market.config.treasury) == treasury_rent + paid * 200 // 10_000 + (slashed - slashed // 2)
    for p, shards in ((honest_a, 3), (honest_b, 2)):
        assert ProviderAccount.decode(runtime.account_data(p.address)).shards_served == shards
    assert close.events[0].data.refunded == runtime.rent_exempt_minimum(account_size("Job"))

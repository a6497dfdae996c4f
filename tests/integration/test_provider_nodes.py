"""Real provider nodes (transformers models from disk) in a market on localnet with the aggregator over HTTP."""

from __future__ import annotations

import asyncio
import contextlib

from solders.keypair import Keypair

from client import TesseraClient

from marketplace.chain import AssignmentAccount, ProviderAccount, assignment_address, provider_address
from marketplace.digests import DecodingParams, generation_digest, input_digest
from provider.executor import Executor
from provider.generation import GenerationRequest, generate_batch
from provider.journal import Journal
from provider.node import NodeConfig, ProviderNode
from provider.staking import Staking
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, running_market


@contextlib.asynccontextmanager
async def nodes(market, tmp_path, models, count: int = 3, capacity: int = 8):
    """`count` staked, registered nodes serving `models`, running until the block ends."""
    running, stop = [], asyncio.Event()
    for i in range(count):
        owner = Keypair()
        await market.chain.airdrop(owner.pubkey(), 5 * SOL)
        await Staking(market.chain, owner, market.address).register(2 * SOL, "http://127.0.0.1", capacity)
        node = ProviderNode(NodeConfig(aggregator=market.aggregator_url, journal=tmp_path / f"journal-{i}.sqlite3",
                                       capacity=capacity, claim_wait=0.5),
                            owner, market.address, market.chain, Executor(models), Journal(tmp_path / f"journal-{i}.sqlite3"))
        running.append(node)
    tasks = [asyncio.create_task(node.run(stop)) for node in running]
    try:
        async with asyncio.timeout(30):  # quotes need a live provider: wait until every node has registered
            while len((await market.request("GET", "/v1/dashboard"))[1]["providers"]) < count:
                await asyncio.sleep(0.05)
        yield running
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_generation_job_is_served_checked_and_paid(tmp_path, gpt2):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, nodes(market, tmp_path, [gpt2]) as running:
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        inputs = [{"prompt": f"Agents pay per request {i}"} for i in range(6)]
        params = {"max_new_tokens": 8, "temperature": 0.7, "top_p": 0.95, "seed": 11}
        job = await market.submit_job(client, inputs, params, model=gpt2.digest)
        report = await market.wait_for(job, "closed", timeout=90)

        expected = generate_batch(gpt2, [GenerationRequest(i["prompt"], DecodingParams(**params), input_digest(i)) for i in inputs])
        for shard, item, generation in zip(report["shards"], inputs, expected):
            assert shard["status"] == "verified"
            assert shard["output"]["token_ids"] == generation.token_ids
            assert shard["digest"] == generation_digest(gpt2.digest, input_digest(item), DecodingParams(**params),
                                                        generation.token_ids).hex()
        assert {s["verification"] for s in report["shards"]} == {"checked"}  # every shard sampled: a replica checked it
        assert not report["faults"]
        served = 0
        for node in running:
            account = await market.chain.fetch(ProviderAccount, provider_address(market.address, node.keypair.pubkey())[0])
            assert account.shards_slashed == 0 and account.locked_stake == 0
            served += account.shards_served
            assert node.journal.counts().get("ran", 0) == 0  # nothing left unposted
        assert served >= len(inputs)


async def test_embedding_job_with_minilm(tmp_path, minilm):
    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, nodes(market, tmp_path, [minilm], count=2):
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        texts = [{"text": t} for t in ("a cat sat on the mat", "Solana settles the escrow", "shards run in parallel")]
        job = await market.submit_job(client, texts, kind="embed", model=minilm.digest)
        report = await market.wait_for(job, "closed", timeout=90)
        vectors = [s["output"]["vector"] for s in report["shards"]]
        assert all(len(v) == 384 for v in vectors)
        assert {s["verification"] for s in report["shards"]} == {"replica_agreed"}  # every shard sampled, both agreed
        norms = [sum(x * x for x in v) ** 0.5 for v in vectors]
        assert all(abs(n - 1) < 1e-3 for n in norms)


async def test_a_node_hands_back_what_it_cannot_serve(tmp_path, gpt2, llama):
    """An input over the model's limit is handed back; with no other node to take it, the job fails fast."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market, nodes(market, tmp_path, [llama], count=1) as running:
        client = Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        long_prompt = "word " * 600  # over the tiny model's 512 positions
        job = await market.submit_job(client, [{"prompt": long_prompt}], {"max_new_tokens": 4}, model=llama.digest)
        for _ in range(100):
            if running[0].journal.counts() == {"done": 1}:  # handed back, and the aggregator took it
                break
            await asyncio.sleep(0.1)
        assert running[0].stats.tasks_declined == 1 and running[0].stats.tasks_run == 0
        # No node can take it: it fails at once rather than at the deadline, and its client may close the job.
        report = await market.wait_for(job, status="failed", timeout=20)
        assert report["shards"][0]["status"] == "failed"


async def test_restart_after_a_lost_confirmation_does_not_submit_twice(tmp_path, gpt2):
    """A node that crashed after sending submit_results resumes: it finds the round on chain and marks it done."""
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market:
        async with nodes(market, tmp_path, [gpt2], count=1) as running:
            client = Keypair()
            await market.chain.airdrop(client.pubkey(), 10 * SOL)
            job = await market.submit_job(client, [{"prompt": "one"}, {"prompt": "two"}], {"max_new_tokens": 4},
                                          model=gpt2.digest)
            await market.wait_for(job, "closed", timeout=60)
        node = running[0]
        journal = Journal(node.config.journal)
        rows = [r for rows in [journal._rows()] for r in rows]
        assert {r.state for r in rows} == {"committed"}
        # Pretend the confirmation was lost: the journal says the round is still in flight.
        journal.mark_committing(rows, rows[0].root)
        fees_before = await market.chain.balance(node.keypair.pubkey())
        restarted = ProviderNode(node.config, node.keypair, market.address, market.chain, Executor([gpt2]), journal)
        await restarted.commit()
        assert {r.state for r in journal._rows()} == {"committed"}
        assert await market.chain.balance(node.keypair.pubkey()) == fees_before  # no second transaction
        assignment = await market.chain.fetch(AssignmentAccount, assignment_address(
            __import__("solders.pubkey", fromlist=["Pubkey"]).Pubkey.from_string(job), node.provider)[0])
        assert assignment is None or assignment.submitted_shards == {0, 1}
        journal.close()


async def test_nodes_serve_an_epoch_first_and_commit_it_by_the_indices_the_chain_gives(tmp_path, gpt2):
    """Requests of two channels served in an epoch by real nodes: each node runs its tasks before the epoch exists on
    chain, waits for it to be funded, reads each channel's first shard from the Epoch account, and commits by those
    indices; every shard is checked (sampling 100%) and paid, nothing slashed, nothing left to commit."""
    async with running_market(tmp_path, sampling_rate_bps=10_000, epoch_seconds=2.0) as market, \
            nodes(market, tmp_path, [gpt2], count=2) as running:
        agents = []
        for _ in range(2):
            wallet = Keypair()
            await market.chain.airdrop(wallet.pubkey(), 10 * SOL)
            agents.append(TesseraClient(market.aggregator_url, market.net.url, wallet, timeout=90))
        try:
            for tessera in agents:
                await tessera.open_channel(2 * SOL, withdraw_delay=3_600)
            prompts = [[f"Epoch agent {a} asks {i}" for i in range(3)] for a in range(2)]
            results = await asyncio.gather(*(tessera.generate(p, model=gpt2.digest, max_new_tokens=4)
                                             for tessera, asked in zip(agents, prompts) for p in asked))
            params = DecodingParams(max_new_tokens=4)
            expected = generate_batch(gpt2, [GenerationRequest(p, params, input_digest({"prompt": p}))
                                             for asked in prompts for p in asked])
            assert [r.shards[0].output["token_ids"] for r in results] == [g.token_ids for g in expected]
            epochs = set()  # the requests came over more than the epoch's two seconds: they may span two epochs
            for tessera, result in zip([a for a in agents for _ in range(3)], results):
                _, report = await market.request("GET", f"/v1/jobs/{result.receipt.job}", reader=tessera.channel.authorizer)
                epochs.add(report["epoch"]["job"])
            for epoch in epochs:
                closed = await market.wait_for(epoch, "closed", timeout=120)
                assert {s["verdict"] for s in closed["settlements"]} == {"pay"}
                assert {s["verification"] for s in closed["shards"]} == {"checked"}
            served = 0
            for node in running:
                account = await market.chain.fetch(ProviderAccount, provider_address(market.address, node.keypair.pubkey())[0])
                assert account.shards_slashed == 0 and account.locked_stake == 0
                served += account.shards_served
                assert set(node.journal.counts()) <= {"committed", "done"}  # everything it ran went on chain
            assert served == 2 * len(results)  # each shard twice: its run and its check
        finally:
            for tessera in agents:
                await tessera.close()

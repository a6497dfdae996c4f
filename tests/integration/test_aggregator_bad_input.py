"""Bad input at the aggregator's HTTP boundary: a 4xx with a stable code, and nothing changes."""

from __future__ import annotations

import dataclasses
import json

import aiohttp
import pytest
from solders.keypair import Keypair
from sqlalchemy import func, select

from marketplace.aggregator import models as m
from marketplace.aggregator.db import create_engine, sessions
from marketplace.messages import sign_message
from tests.integration.market import RAREST_SAMPLING_BPS, SOL, prompt_inputs, running_market
from tests.integration.scripted import MODEL_DIGEST, ScriptedProvider

pytestmark = pytest.mark.slow


async def counts(market) -> dict:
    engine = create_engine(market.config.db_url)
    async with sessions(engine)() as session:
        result = {table.__tablename__: (await session.execute(select(func.count()).select_from(table))).scalar_one()
                  for table in (m.Job, m.Shard, m.Task, m.Provider, m.Settlement)}
    await engine.dispose()
    return result


async def raw(market, path: str, body: bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(market.aggregator_url + path, data=body, headers={"content-type": "application/json"}) as r:
            return r.status, await r.json()


async def test_bad_input_gets_4xx_and_changes_nothing(tmp_path):
    async with running_market(tmp_path, sampling_rate_bps=RAREST_SAMPLING_BPS) as market:  # one provider: (almost) no replicas
        provider = ScriptedProvider(market.aggregator_url, market.chain, market.address)
        await provider.join(3 * SOL, "http://127.0.0.1:7300")
        client, stranger = Keypair(), Keypair()
        await market.chain.airdrop(client.pubkey(), 10 * SOL)
        job = await market.submit_job(client, prompt_inputs(2), {"max_new_tokens": 2})
        before = await counts(market)
        good_job_message = sign_message(client, "job", {"job": job, "kind": "generate", "params": {"max_new_tokens": 2},
                                                        "inputs": prompt_inputs(2)}, job=job)
        cases = [
            ("/v1/quotes", b"{nope", 400, "bad_request"),
            ("/v1/quotes", b'{"model_digest": "xyz", "shard_count": 2}', 400, "bad_request"),
            ("/v1/quotes", ('{"model_digest": "%s", "shard_count": 0}' % MODEL_DIGEST.hex()).encode(), 400, "bad_request"),
            ("/v1/jobs", b'{"job": "unsigned"}', 400, "message_malformed"),
            ("/v1/jobs", b"[]", 400, "message_malformed"),
            ("/v1/jobs", json.dumps(dataclasses.replace(good_job_message, body={**good_job_message.body, "kind": "embed"}).to_json()).encode(), 401, "signature_invalid"),
            ("/v1/jobs", json.dumps(good_job_message.to_json()).encode(), 409, "job_exists"),
            ("/v1/jobs", json.dumps(good_job_message.to_json()).encode(), 401, "message_replayed"),
            ("/v1/jobs", json.dumps(sign_message(client, "job", good_job_message.body, job=str(Keypair().pubkey())).to_json()).encode(), 401, "message_wrong_job"),
            ("/v1/jobs", json.dumps(sign_message(client, "results", good_job_message.body, job=job).to_json()).encode(), 401, "message_wrong_kind"),
            ("/v1/work", json.dumps(sign_message(stranger, "claim", {"max_tasks": 1, "wait": 0}).to_json()).encode(), 403, "provider_unknown"),
            ("/v1/work", json.dumps(sign_message(provider.keypair, "claim", {"max_tasks": 1, "wait": "soon"}).to_json()).encode(), 400, "bad_request"),
            ("/v1/work", json.dumps(sign_message(provider.keypair, "claim", {"max_tasks": 1, "wait": -1}).to_json()).encode(), 400, "bad_request"),
            ("/v1/providers", json.dumps(sign_message(stranger, "register", {"models": [MODEL_DIGEST.hex()], "capacity": 1, "endpoint": "http://x"}).to_json()).encode(), 403, "provider_unknown"),
            (f"/v1/jobs/{job}/results", json.dumps(sign_message(stranger, "results", {"results": [{"task": 1, "digest": "00" * 32, "output": None}]}, job=job).to_json()).encode(), 403, "task_not_yours"),
            (f"/v1/jobs/{job}/results", json.dumps(sign_message(stranger, "results", {"results": [{"task": 99999, "digest": "00" * 32, "output": None}]}, job=job).to_json()).encode(), 404, "task_not_found"),
            ("/v1/quotes", b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}', 413, "body_too_large"),
        ]
        for path, body, status, code in cases:
            got_status, answer = await raw(market, path, body)
            assert (got_status, answer["error"]["code"]) == (status, code), (path, answer)
        after = await counts(market)
        assert after == before
        status, missing = await market.request("GET", f"/v1/jobs/{Keypair().pubkey()}")
        assert (status, missing["error"]["code"]) == (404, "job_not_found")
        for query in ("wait=soon", "wait=nan", "wait=-1", "wait=1e9"):
            status, answer = await market.request("GET", f"/v1/jobs/{job}?revision=x&{query}")
            assert (status, answer["error"]["code"]) == (400, "bad_request"), query
        status, missing = await market.request("GET", f"/v1/jobs/{Keypair().pubkey()}?revision=x&wait=1")
        assert (status, missing["error"]["code"]) == (404, "job_not_found")
        status, seed = await market.request("GET", f"/v1/jobs/{job}/seed")
        assert (status, seed["error"]["code"]) == (404, "seed_not_revealed")
        status, document = await market.request("GET", "/v1/openapi.json")
        assert status == 200 and "/v1/work" in document["paths"]
        async with aiohttp.ClientSession() as session:
            async with session.get(market.aggregator_url + "/metrics") as r:
                assert r.status == 200 and "tessera_jobs" in await r.text()


async def test_deep_json_unknown_routes_and_methods_get_json_errors(tmp_path):
    async with running_market(tmp_path) as market:
        status, answer = await raw(market, "/v1/quotes", b"[" * 1100 + b"]" * 1100)
        assert status == 400 and answer["error"]["code"] == "bad_request"
        status, answer = await raw(market, "/v1/quotes", json.dumps({"model_digest": "ab" * 32, "shard_count": 1, "x": 1}).encode())
        assert status == 400 and "unknown fields" in answer["error"]["message"]
        async with aiohttp.ClientSession() as session:
            async with session.get(market.aggregator_url + "/v1/nowhere") as response:
                assert response.status == 404 and (await response.json())["error"]["code"] == "route_not_found"
            async with session.delete(market.aggregator_url + "/v1/quotes") as response:
                assert response.status == 405 and (await response.json())["error"]["code"] == "method_not_allowed"
            async with session.get(market.aggregator_url + "/v1/openapi.json") as response:
                spec = await response.json()
        for path in ("/v1/jobs/{job}", "/v1/jobs/{job}/seed", "/v1/jobs/{job}/results", "/v1/jobs/{job}/progress"):
            assert spec["paths"][path]["parameters"][0]["name"] == "job"


async def test_outputs_belong_to_the_client_and_its_providers_and_disputes_are_public(tmp_path):
    from marketplace.messages import read_authorization
    from tests.integration.test_aggregator_faults import funded_client
    from tests.integration.test_aggregator_market import providers_running

    async with running_market(tmp_path, sampling_rate_bps=10_000) as market, \
            providers_running(market, ["honest", "honest", "liar"]) as providers:
        providers[2].lie_on = {0, 1, 2}  # as the checker of a shard it accuses an honest primary: a dispute
        job = await market.submit_job(await funded_client(market), prompt_inputs(3), {"max_new_tokens": 2})
        private = await market.wait_for(job, timeout=60)
        assert all(s["output"] is not None for s in private["shards"])
        stranger = Keypair()
        for reader in (None, stranger):
            headers = {"Authorization": read_authorization(reader, job)} if reader else {}
            async with aiohttp.ClientSession() as session, \
                    session.get(f"{market.aggregator_url}/v1/jobs/{job}", headers=headers) as response:
                status, public = response.status, await response.json()
            if reader is stranger:
                assert status == 403 and public["error"]["code"] == "not_a_participant"
                continue
            disputed = {s["index"] for s in public["shards"] if any(r["role"] == "referee" for r in s["runs"])}
            assert disputed
            for shard in public["shards"]:
                if shard["index"] in disputed:  # what an audit needs: the input and every run's output
                    assert shard["input"] and shard["output"] and all("output" in r for r in shard["runs"])
                else:
                    assert shard["output"] is None and "input" not in shard
        ran = next(p for p in providers if str(p.owner) in {o for s in private["shards"] for o in s["providers"]})
        _, as_provider = await market.request("GET", f"/v1/jobs/{job}", reader=ran.keypair)
        assert all(s["output"] is not None for s in as_provider["shards"])
        async with aiohttp.ClientSession() as session, session.get(
                f"{market.aggregator_url}/v1/jobs/{job}", headers={"Authorization": "Tessera !!"}) as response:
            assert response.status == 400


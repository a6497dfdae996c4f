"""A model split over stage processes on loopback: fetched from peers, driven over HTTP, checked, failed over."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from contextlib import asynccontextmanager

import aiohttp
import pytest
import torch
from aiohttp import web
from solders.keypair import Keypair
from transformers import AutoModelForCausalLM

from marketplace.digests import DecodingParams, input_digest
from marketplace.keys import write_keypair
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.errors import StageUnavailable
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.store import FragmentStore
from marketplace.process import free_port
from provider.model_builder import build_causal_lm
from provider.pipeline.driver import AnswerTainted, PipelineDriver, StageRoute, check_span, referee_span
from provider.pipeline.fetch import FragmentFetcher
from provider.pipeline.process import StageProcess
from provider.pipeline.sessions import StageSessions
from provider.pipeline.spans import load_head, load_span
from marketplace.pipeline.activations import OCTETS
from provider.pipeline.stage_server import create_stage_app
from tests.cli import TESSERA
from tests.e2e.lying_stage import lie

pytestmark = pytest.mark.slow
PROMPT = "The quick brown fox jumps over"
NEW_TOKENS = 24
HIDDEN = 64


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    source = build_causal_lm(root / "model", "llama", seed=5, layers=6, width=HIDDEN)
    store = FragmentStore(root / "store")
    manifest = cut_model(source, store, 3)
    return root, source, store, manifest


@pytest.fixture(scope="module")
def stages(model):
    """Holders: layers 0-1 (a), 2-3 (b), 4-5 (c: fetched its fragment from a, d: a second holder)."""
    root, _, store, manifest = model
    started = []

    def start(name, layers, store_root, peers=()):
        write_keypair(root / f"{name}.json")
        process = StageProcess(root / f"{name}.json", store_root, manifest.hex, layers, peers, log=root / f"{name}.log")
        asyncio.run(process.start())
        started.append(process)
        return process

    try:
        a = start("a", "0-1", store.root)
        holders = {"a": a, "b": start("b", "2-3", store.root), "c": start("c", "4-5", root / "c-store", [a.url]),
                   "d": start("d", "4-5", store.root)}
        yield holders
    finally:
        for process in started:
            process.kill()


@pytest.fixture(scope="module")
def expected(model):
    _, source, store, manifest = model
    tokenizer = load_head(store, manifest).tokenizer
    ids = tokenizer(PROMPT)["input_ids"]
    whole = AutoModelForCausalLM.from_pretrained(source).eval()
    return ids, whole.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                               do_sample=False)[0, len(ids):].tolist()


@asynccontextmanager
async def served(app: web.Application):
    """An in-process stage app on a real loopback port."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def drive(model, routes, on_token=None):
    _, _, store, manifest = model
    head = load_head(store, manifest)
    ids = head.tokenizer(PROMPT)["input_ids"]
    params = DecodingParams(NEW_TOKENS)
    async with aiohttp.ClientSession() as http:
        driver = PipelineDriver(head, routes, http)
        # the tiny model has no end-of-text habit worth relying on: ask for every token
        head.eos_ids = lambda: set()
        return await driver.generate(ids, params, input_digest(PROMPT), on_token)


async def test_three_stages_over_http_give_the_whole_models_tokens_and_pass_their_checks(model, stages, expected):
    _, _, store, manifest = model
    s = stages
    answer = await drive(model, [StageRoute(Span(0, 2), (s["a"].url,)), StageRoute(Span(2, 4), (s["b"].url,)),
                                 StageRoute(Span(4, 6), (s["c"].url,))])
    assert answer.token_ids == expected[1]
    assert answer.bytes_per_token_per_hop() == HIDDEN * 4  # only the new token's hidden state travels: the floor
    for record in answer.spans:
        (session,) = record.sessions
        assert [r.step for r in session.receipts] == list(range(NEW_TOKENS))
        for receipt, data_in, data_out in zip(session.receipts, record.inputs, record.outputs):
            receipt.verify(data_in, data_out)
    async with aiohttp.ClientSession() as http:
        verdict = await check_span(http, answer.spans[2], s["d"].url, HIDDEN)  # d holds 4-5 too: it checks c
        assert verdict.check.agrees and verdict.check.worst_error < 1e-5, verdict
    root = model[0]
    fetched = FragmentStore(root / "c-store")  # c started with an empty store and took what it serves from a
    assert fetched.holds(manifest.fragment_for(Span(4, 6))) and fetched.manifest(manifest.hex) == manifest
    assert not fetched.holds(manifest.head)  # and nothing it does not serve


async def test_a_stage_killed_mid_answer_is_replaced_and_the_answer_is_unchanged(model, stages, expected):
    root, _, store, manifest = model
    write_keypair(root / "e.json")
    victim = await StageProcess(root / "e.json", store.root, manifest.hex, "2-3", log=root / "e.log").start()
    s = stages
    streamed: list[int] = []

    def kill_after_five(token):
        streamed.append(token)
        if len(streamed) == 5:
            victim.kill()  # kill -9, between two steps of the answer

    try:
        answer = await drive(model, [StageRoute(Span(0, 2), (s["a"].url,)),
                                     StageRoute(Span(2, 4), (victim.url, s["b"].url)),
                                     StageRoute(Span(4, 6), (s["d"].url,))], kill_after_five)
    finally:
        victim.kill()
    assert answer.token_ids == expected[1]
    first, second = answer.spans[1].sessions
    assert first.holder == victim.url and first.failed and second.holder == s["b"].url
    assert second.replayed == len(expected[0]) + 4  # the prompt and four generated tokens, replayed in one prefill
    assert first.tokens + second.tokens == len(expected[0]) + NEW_TOKENS - 1


async def test_a_full_stage_says_so_and_the_driver_goes_to_another_holder(model, stages, expected):
    _, _, store, manifest = model
    full = StageSessions(load_span(store, manifest, Span(0, 2)), Keypair(), max_sessions=1)
    full.open(max_length=8)
    async with served(create_stage_app(full, store)) as url, aiohttp.ClientSession() as http:
        body = {"model": manifest.hex, "layers": "0-1", "max_length": 8}
        async with http.post(f"{url}/v1/sessions", json=body) as response:
            assert response.status == 429 and response.headers["Retry-After"] == "1"
            assert (await response.json())["error"]["code"] == "stage_full"
        answer = await drive(model, [StageRoute(Span(0, 2), (url, stages["a"].url)),
                                     StageRoute(Span(2, 4), (stages["b"].url,)), StageRoute(Span(4, 6), (stages["d"].url,))])
    assert answer.token_ids == expected[1] and answer.spans[0].sessions[0].holder == stages["a"].url


async def test_a_stage_that_lied_and_died_taints_the_answer_instead_of_passing_it_on(model, stages):
    """Its replacement's replay recomputes what it answered; when they part, the answer is given up (the aggregator
    drives it again whole) rather than finished on tokens nobody will commit to."""
    _, _, store, manifest = model
    liar = StageSessions(lie(load_span(store, manifest, Span(2, 4)), "noise"), Keypair())
    runner = web.AppRunner(create_stage_app(liar, store))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    streamed: list[int] = []

    async def die_after_five(token):
        streamed.append(token)
        if len(streamed) == 5:
            await runner.cleanup()

    try:
        with pytest.raises(AnswerTainted, match="layers 2-3"):
            await drive(model, [StageRoute(Span(0, 2), (stages["a"].url,)),
                                StageRoute(Span(2, 4), (f"http://127.0.0.1:{port}", stages["b"].url)),
                                StageRoute(Span(4, 6), (stages["d"].url,))], die_after_five)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("how", ["skip", "noise", "weights"])
async def test_a_lying_stage_is_caught_by_a_second_holder_and_the_referee_names_its_layer(model, stages, how):
    _, _, store, manifest = model
    liar = StageSessions(lie(load_span(store, manifest, Span(2, 4)), how), Keypair())
    async with served(create_stage_app(liar, store)) as url, aiohttp.ClientSession() as http:
        answer = await drive(model, [StageRoute(Span(0, 2), (stages["a"].url,)), StageRoute(Span(2, 4), (url,)),
                                     StageRoute(Span(4, 6), (stages["c"].url,))])
        verdict = await check_span(http, answer.spans[1], stages["b"].url, HIDDEN)
        assert not verdict.check.agrees and verdict.blamed.holder == url
        judged = await referee_span(http, verdict, answer.spans[1], stages["b"].url, HIDDEN)
        assert judged.divergent_layer == 3
        # the liar's own signed receipts bind it to the outputs the check refuted
        verdict.blamed.receipts[0].verify(answer.spans[1].inputs[0], answer.spans[1].outputs[0])
        honest = await check_span(http, answer.spans[0], stages["a"].url, HIDDEN)
        assert honest.check.agrees  # the stages around it are not disputed


async def test_fragments_come_from_peers_resumed_and_a_corrupt_peer_is_refused(model, stages, tmp_path):
    _, _, store, manifest = model
    span = manifest.fragment_for(Span(2, 4))
    bad_store = FragmentStore(tmp_path / "bad")
    shutil.copytree(store.root, bad_store.root)
    path = bad_store.fragment_path(span.sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(data))
    corrupt = StageSessions(load_span(store, manifest, Span(0, 2)), Keypair())
    fresh = FragmentStore(tmp_path / "fresh")
    async with served(create_stage_app(corrupt, bad_store)) as bad_url, aiohttp.ClientSession() as http:
        fetcher = FragmentFetcher(fresh, [bad_url, stages["a"].url], http)
        got = await fetcher.model(manifest.hex)
        assert got == manifest
        await fetcher.fragment(span)
        fresh.verified_fragment(span)
        assert [peer for peer, _ in fetcher.report.refused] == [bad_url]
        with pytest.raises(StageUnavailable):
            await FragmentFetcher(FragmentStore(tmp_path / "only-bad"), [bad_url], http).fragment(span)

        # an interrupted download resumes where it stopped
        resumed = FragmentStore(tmp_path / "resumed")
        good = store.fragment_path(span.sha256).read_bytes()
        partial = resumed.fragment_path(span.sha256).with_name(f"{span.sha256}.safetensors.partial")
        partial.parent.mkdir(parents=True)
        partial.write_bytes(good[: len(good) // 2])
        again = FragmentFetcher(resumed, [stages["a"].url], http)
        await again.fragment(span)
        assert again.report.resumed_bytes == len(good) // 2 and resumed.fragment_path(span.sha256).read_bytes() == good

        # a fragment damaged on this node's own disk is fetched again, not loaded
        damaged = resumed.fragment_path(span.sha256)
        damaged.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
        await FragmentFetcher(resumed, [stages["a"].url], http).fragment(span)
        assert damaged.read_bytes() == good


def test_a_stage_with_no_intact_source_refuses_to_start(model, tmp_path):
    _, _, _, manifest = model
    write_keypair(tmp_path / "k.json")
    out = subprocess.run([TESSERA, "provider", "stage", "--keypair", str(tmp_path / "k.json"), "--store", str(tmp_path / "s"),
                          "--model", manifest.hex, "--layers", "0-1", "--peer", f"http://127.0.0.1:{free_port()}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "[stage_unavailable]" in out.stderr and "Traceback" not in out.stderr


async def test_bad_requests_get_clear_errors(model, stages):
    _, _, _, manifest = model
    url = stages["a"].url
    async with aiohttp.ClientSession() as http:
        async def status(method, path, **kwargs):
            async with http.request(method, url + path, **kwargs) as response:
                return response.status, (await response.json(content_type=None) or {}).get("error", {}).get("code")

        assert await status("POST", "/v1/sessions", data=b"{") == (400, "session_malformed")
        assert await status("POST", "/v1/sessions", json={"model": "0" * 64, "layers": "0-1", "max_length": 4}) == (404, "span_not_served")
        assert await status("POST", "/v1/sessions/nope/steps/0", data=b"\0" * 256, headers={"Content-Type": OCTETS}) == (404, "session_unknown")
        async with http.post(f"{url}/v1/sessions", json={"model": manifest.hex, "layers": "0-1", "max_length": 4}) as response:
            session = (await response.json())["session"]
        assert await status("POST", f"/v1/sessions/{session}/steps/0", json=[1.0]) == (400, "activation_malformed")
        assert await status("POST", f"/v1/sessions/{session}/steps/0", data=b"\0" * 7, headers={"Content-Type": OCTETS}) == (400, "activation_malformed")
        assert await status("POST", f"/v1/sessions/{session}/steps/1", data=b"\0" * 256, headers={"Content-Type": OCTETS}) == (409, "step_out_of_order")
        assert await status("POST", f"/v1/sessions/{session}/steps/0", data=b"\0" * 256 * 5, headers={"Content-Type": OCTETS}) == (400, "session_too_long")
        assert await status("DELETE", f"/v1/sessions/{session}") == (204, None)
        assert await status("GET", "/v1/fragments/../../etc/passwd") == (404, "route_not_found")
        assert await status("GET", "/v1/fragments/xyz") == (400, "name_malformed")
        assert await status("GET", f"/v1/models/{manifest.hex}/files/secret.key") == (404, "file_not_found")
        assert await status("GET", "/health") == (200, None)


def test_provider_run_with_layers_serves_a_stage(model, tmp_path):
    """`tessera provider run --model DIGEST --layers 0-1` runs the node as a stage of the aggregator's market: here no
    aggregator answers, which it says plainly; and a stage serves exactly one model."""
    _, _, store, manifest = model
    write_keypair(tmp_path / "k.json")
    base = [TESSERA, "provider", "run", "--keypair", str(tmp_path / "k.json"), "--store", str(store.root), "--layers", "0-1"]
    port = free_port()
    out = subprocess.run([*base, "--model", manifest.hex, "--aggregator", f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and f"127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
    two = subprocess.run([*base, "--model", manifest.hex, "--model", manifest.hex], capture_output=True, text=True, timeout=120)
    assert two.returncode == 2 and "exactly one --model" in two.stderr

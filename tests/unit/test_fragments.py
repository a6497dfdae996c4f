"""Fragment manifests and the model digest over them; step receipts; per-token checks. No model, no network."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch
from solders.keypair import Keypair

from marketplace.pipeline.checks import compare, first_divergent_layer
from marketplace.pipeline.errors import FragmentCorrupt, FragmentError, ReceiptInvalid
from marketplace.pipeline.fragments import Fragment, Manifest, Span, even_spans
from marketplace.pipeline.receipts import StepReceipt, receipts_root, sign_step


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(**changes) -> Manifest:
    base = Manifest("m", "llama", 6, 64, {"config.json": sha("config"), "tokenizer.json": sha("tokenizer")},
                    (Fragment(None, sha("head"), 10, 5), Fragment(Span(0, 3), sha("a"), 10, 5),
                     Fragment(Span(3, 6), sha("b"), 10, 5)))
    return dataclasses.replace(base, **changes)


def test_spans_parse_as_the_cli_writes_them_and_cut_evenly():
    assert Span.parse("10-19") == Span(10, 20) and str(Span(10, 20)) == "10-19" and Span.parse("4") == Span(4, 5)
    for bad in ("", "a-b", "9-3", "-1", "1-2-3"):
        with pytest.raises(FragmentError):
            Span.parse(bad)
    assert even_spans(30, 3) == [Span(0, 10), Span(10, 20), Span(20, 30)]
    assert [s.layers for s in even_spans(7, 3)] == [2, 3, 2]
    with pytest.raises(FragmentError):
        even_spans(2, 3)


def test_the_digest_covers_every_file_and_fragment_with_its_range():
    digest = manifest().digest
    assert manifest().digest == digest  # deterministic
    changed = [
        manifest(files={"config.json": sha("config2"), "tokenizer.json": sha("tokenizer")}),
        manifest(files={"config.json": sha("config"), "tokenizer.json": sha("other")}),
        manifest(fragments=(Fragment(None, sha("head2"), 10, 5),) + manifest().fragments[1:]),
        # the same fragment bytes claimed for other layers is another model
        manifest(fragments=(manifest().fragments[0], Fragment(Span(0, 2), sha("a"), 10, 5), Fragment(Span(2, 6), sha("b"), 10, 5))),
    ]
    assert all(other.digest != digest for other in changed)
    assert manifest(name="renamed").digest == digest  # a name is not content


def test_a_manifest_round_trips_and_a_tampered_one_is_refused():
    data = manifest().to_json()
    assert Manifest.from_json(data, expected_digest=manifest().hex) == manifest()
    with pytest.raises(FragmentCorrupt):
        Manifest.from_json(data, expected_digest=sha("another model"))
    swapped = {**data, "fragments": [data["fragments"][0], {**data["fragments"][1], "sha256": sha("evil")}, data["fragments"][2]]}
    with pytest.raises(FragmentCorrupt, match="hash to"):
        Manifest.from_json(swapped)  # the stated digest no longer matches the contents
    for bad in ({**data, "format": "x"}, {**data, "files": {"../config.json": sha("x")}},
                {**data, "fragments": data["fragments"][:2]}, {**data, "fragments": "no"}, None, []):
        with pytest.raises(FragmentError):
            Manifest.from_json(bad)


def test_spans_must_tile_the_layers_once():
    with pytest.raises(FragmentError, match="starts at"):
        manifest(fragments=(Fragment(None, sha("h"), 1, 1), Fragment(Span(0, 3), sha("a"), 1, 1),
                            Fragment(Span(2, 6), sha("b"), 1, 1))).check_tiling()
    with pytest.raises(FragmentError, match="cover 3 of 6"):
        manifest(fragments=manifest().fragments[:2]).check_tiling()
    with pytest.raises(FragmentError, match="exactly one head"):
        manifest(fragments=manifest().fragments[1:]).check_tiling()


def test_receipts_bind_the_stage_the_step_and_both_sides_bytes():
    key = Keypair()
    model, span, data_in, data_out = b"\x07" * 32, Span(10, 20), b"in" * 8, b"out" * 8
    receipt = sign_step(key, model, "s1", 3, span, hashlib.sha256(data_in).digest(), hashlib.sha256(data_out).digest())
    receipt.verify(data_in, data_out)
    parsed = StepReceipt.from_header(receipt.header(), model, "s1", 3, span, receipt.input_sha256, receipt.output_sha256)
    assert parsed == receipt
    with pytest.raises(ReceiptInvalid):
        receipt.verify(data_in, b"other output")
    for field, value in (("step", 4), ("session", "s2"), ("span", Span(0, 10)), ("model", b"\x08" * 32)):
        with pytest.raises(ReceiptInvalid):
            dataclasses.replace(receipt, **{field: value}).verify()
    with pytest.raises(ReceiptInvalid):
        StepReceipt.from_header("not base64!", model, "s1", 3, span, receipt.input_sha256, receipt.output_sha256)
    other = sign_step(key, model, "s1", 4, span, receipt.input_sha256, receipt.output_sha256)
    assert receipts_root([receipt, other]) == receipts_root([other, receipt]) != receipts_root([receipt])


def test_checks_compare_per_token_so_one_large_token_cannot_hide_the_rest():
    torch.manual_seed(0)
    honest = torch.randn(1, 8, 64)
    honest[0, 0] *= 100  # the first token's residual is ~100x the others'
    assert compare(honest + 1e-7 * honest.abs().mean(), honest).agrees
    tampered = honest.clone()
    tampered[0, 5] += 0.003 * tampered[0, 5].norm() / 8
    check = compare(tampered, honest)
    assert not check.agrees and check.worst_token == 5
    whole = (tampered - honest).norm() / honest.norm()
    assert whole < 1e-4  # a whole-sequence norm would have let it pass
    assert not compare(honest[:, :4], honest).agrees  # a short answer is not an answer
    nan = honest.clone()
    nan[0, 2, 0] = float("nan")
    assert not compare(nan, honest).agrees


def test_the_first_divergent_layer_is_named():
    layers = [torch.randn(1, 4, 16) for _ in range(5)]
    lied = [t.clone() for t in layers]
    for t in lied[2:]:
        t += 0.5
    assert first_divergent_layer(lied, layers) == 2
    assert first_divergent_layer(layers, [t.clone() for t in layers]) is None
    assert first_divergent_layer(layers[:3], layers) == 3  # a skipped layer: the trace is short


def test_routes_give_each_span_its_own_owner_and_checkers_are_strangers():
    from marketplace.pipeline.routing import Holder, choose_checker, choose_routes

    spans = [Span(0, 2), Span(2, 4)]
    holders = [Holder("a", "u1", spans[0]), Holder("a", "u2", spans[1]), Holder("b", "u3", spans[1], load=2),
               Holder("c", "u4", spans[0], seconds_per_step=0.5)]
    routes = choose_routes(spans, holders)
    assert [options[0].owner for _, options in routes] == ["a", "b"]  # not a twice, though a holds both spans
    assert [h.owner for h in routes[0][1]] == ["a", "c"]  # c: a fallback for 0-1
    assert [h.owner for h in routes[1][1]] == ["b"]  # a serves 0-1: never a fallback for 2-3
    with pytest.raises(ValueError, match="layers 2-3"):
        choose_routes(spans, holders, excluded={"b", "a"})
    assert choose_checker(spans[0], holders, busy={"a", "b"}).owner == "c"
    assert choose_checker(spans[1], holders, busy={"a", "b"}) is None


def test_a_pipeline_jobs_inputs_are_each_request_once_per_span():
    from marketplace.pipeline.routing import split_stage_inputs, stage_inputs

    spans = [Span(0, 2), Span(2, 4)]
    inputs = stage_inputs({"prompt": "a"}, spans) + stage_inputs({"prompt": "b"}, spans)
    assert split_stage_inputs(inputs, spans) == [{"prompt": "a"}, {"prompt": "b"}]
    for bad in (inputs[:3], inputs[1:] + inputs[:1], [inputs[0], {**inputs[1], "prompt": "x"}], [], ["x", "y"]):
        with pytest.raises(ValueError):
            split_stage_inputs(bad, spans)


def test_owners_already_serving_a_job_are_chosen_again():
    from marketplace.pipeline.routing import Holder, choose_routes

    spans = [Span(0, 2)]
    holders = [Holder("fast", "u1", spans[0], seconds_per_step=0.01), Holder("serving", "u2", spans[0], seconds_per_step=0.5)]
    assert choose_routes(spans, holders)[0][1][0].owner == "fast"
    assert choose_routes(spans, holders, serving={"serving"})[0][1][0].owner == "serving"


def test_stage_evidence_binds_the_bytes_to_the_owner_and_the_committed_digest():
    from marketplace.pipeline.evidence import StageEvidence

    key, model, span, hidden = Keypair(), b"\x05" * 32, Span(2, 4), 4
    steps = [(b"\x01" * 16 * 3, b"\x02" * 16 * 3), (b"\x03" * 16, b"\x04" * 16)]  # 3 tokens, then 1 (4 values × 4 bytes)
    receipts = tuple(sign_step(key, model, "s", i, span, hashlib.sha256(a).digest(), hashlib.sha256(b).digest())
                     for i, (a, b) in enumerate(steps))
    evidence = StageEvidence(receipts, (3, 1), b"".join(a for a, _ in steps), b"".join(b for _, b in steps))
    committed = receipts_root(receipts)
    again = StageEvidence.from_json(evidence.to_json())
    again.verify(key.pubkey(), committed, hidden)
    with pytest.raises(ReceiptInvalid, match="owner"):
        again.verify(Keypair().pubkey(), committed, hidden)
    with pytest.raises(ReceiptInvalid, match="root"):
        again.verify(key.pubkey(), receipts_root(receipts[:1]), hidden)
    tampered = dataclasses.replace(again, outputs=again.outputs[:-1] + b"\x00")
    with pytest.raises(ReceiptInvalid, match="bytes"):
        tampered.verify(key.pubkey(), committed, hidden)
    with pytest.raises(ReceiptInvalid, match="tokens"):
        dataclasses.replace(again, steps=(2, 1)).verify(key.pubkey(), committed, hidden)
    for bad in ({}, {**evidence.to_json(), "inputs": "!!"}, {**evidence.to_json(), "steps": []}):
        with pytest.raises(ReceiptInvalid):
            StageEvidence.from_json(bad)


def test_spans_are_sized_to_what_a_node_can_hold():
    from marketplace.pipeline.cutting import spans_within

    sizes = [10, 10, 10, 10, 10, 10]
    assert spans_within(sizes, 60) == 1 and spans_within(sizes, 30) == 2 and spans_within(sizes, 25) == 3
    assert spans_within(sizes, 10) == 6
    with pytest.raises(FragmentError, match="one layer needs"):
        spans_within(sizes, 9)

"""Cutting a model into fragments and running it as spans: the same tokens as the whole model, only a span's
layers resident, sessions that keep their cache, and lying spans that a recomputation catches."""

from __future__ import annotations

import json

import pytest
import torch
from solders.keypair import Keypair
from transformers import AutoModelForCausalLM

from marketplace.pipeline import activations
from marketplace.pipeline.checks import compare, first_divergent_layer
from marketplace.pipeline.cutting import cut_model
from marketplace.pipeline.errors import (
    ActivationMalformed,
    FragmentCorrupt,
    FragmentError,
    SessionOutOfOrder,
    SessionTooLong,
    SessionUnknown,
    StageFull,
)
from marketplace.pipeline.fragments import Span
from marketplace.pipeline.store import FragmentStore
from provider.model_builder import build_causal_lm
from provider.pipeline.sessions import StageSessions
from provider.pipeline.spans import load_head, load_span
from tests.cli import TESSERA
from tests.e2e.lying_stage import lie

PROMPTS = ["The quick brown fox", "Numbers: one two", "A model reads a prompt and"]


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def cut(request, tmp_path_factory):
    """A 6-layer model of the family, cut into 3 spans of 2 layers."""
    root = tmp_path_factory.mktemp(f"pipeline-{request.param}")
    source = build_causal_lm(root / "model", request.param, seed=3, layers=6, width=64)
    store = FragmentStore(root / "store")
    return source, store, cut_model(source, store, 3)


def run_pipeline(head, spans, prompt_ids, new_tokens):
    caches = [span.new_cache() for span in spans]
    tokens, new, position = [], list(prompt_ids), 0
    for _ in range(new_tokens):
        hidden = head.embed(new, position)
        for span, cache in zip(spans, caches):
            hidden = span.forward(hidden, position, cache)
        position += len(new)
        new = [int(head.logits(hidden).argmax())]
        tokens.append(new[0])
    return tokens


def test_cutting_writes_content_addressed_fragments_and_is_reproducible(cut, tmp_path):
    source, store, manifest = cut
    assert [f.label for f in manifest.fragments] == ["head", "layers 0-1", "layers 2-3", "layers 4-5"]
    for fragment in manifest.fragments:
        store.verified_fragment(fragment)  # each file hashes to its name
    assert set(manifest.files) >= {"config.json", "tokenizer.json"}
    again = cut_model(source, FragmentStore(tmp_path / "again"), 3)
    assert again.digest == manifest.digest
    assert cut_model(source, FragmentStore(tmp_path / "two"), 2).digest != manifest.digest  # other cuts, other model
    whole = AutoModelForCausalLM.from_pretrained(source)
    assert sum(f.parameters for f in manifest.fragments) == sum(p.numel() for p in whole.parameters())


def test_a_span_holds_only_its_layers(cut):
    _, store, manifest = cut
    span = load_span(store, manifest, Span(2, 4))
    fragment = manifest.fragment_for(Span(2, 4))
    resident = span.parameters()
    # its two layers, plus the one-row embedding a base model must have
    assert fragment.parameters <= resident <= fragment.parameters + manifest.hidden_size
    assert len(list(span.module.modules())) < 40


def test_three_spans_give_the_whole_models_greedy_tokens(cut):
    source, store, manifest = cut
    head = load_head(store, manifest)
    spans = [load_span(store, manifest, f.span) for f in manifest.spans]
    whole = AutoModelForCausalLM.from_pretrained(source).eval()
    for prompt in PROMPTS:
        ids = head.tokenizer(prompt)["input_ids"]
        expected = whole.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, min_new_tokens=16)[0, len(ids):]
        assert run_pipeline(head, spans, ids, 16) == expected.tolist()


def test_a_corrupted_or_substituted_fragment_is_refused_before_loading(cut, tmp_path):
    import shutil

    _, store, manifest = cut
    copy = FragmentStore(tmp_path / "copy")
    shutil.copytree(store.root, copy.root)
    path = copy.fragment_path(manifest.fragment_for(Span(0, 2)).sha256)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FragmentCorrupt):
        load_span(copy, manifest, Span(0, 2))
    with pytest.raises(FragmentError, match="no fragment of layers 1-2"):
        load_span(store, manifest, Span(1, 3))
    config = copy.model_dir(manifest.hex) / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "num_hidden_layers": 5}))
    with pytest.raises(FragmentCorrupt):
        load_head(copy, manifest)


@pytest.fixture
def sessions(cut):
    _, store, manifest = cut
    clock = [0.0]
    stage = StageSessions(load_span(store, manifest, Span(0, 2)), Keypair(), max_sessions=2, idle_timeout=10,
                          now=lambda: clock[0])
    return stage, clock, load_head(store, manifest)


def test_sessions_take_steps_in_order_resend_a_lost_answer_and_expire(sessions):
    stage, clock, head = sessions
    session = stage.open(max_length=8)
    prompt = activations.encode(head.embed([1, 2, 3], 0))
    first = stage.step(session.id, 0, prompt)
    assert stage.step(session.id, 0, prompt).output == first.output  # the answer was lost: the same answer again
    first.receipt.verify(prompt, first.output)
    with pytest.raises(SessionOutOfOrder):
        stage.step(session.id, 5, prompt)
    with pytest.raises(SessionTooLong):
        stage.step(session.id, 1, activations.encode(head.embed(list(range(6)), 3)))
    with pytest.raises(ActivationMalformed):
        stage.step(session.id, 1, b"\x00" * 7)
    with pytest.raises(ActivationMalformed):
        stage.step(session.id, 1, activations.encode(torch.full((1, 1, 64), float("nan"))))
    assert stage.step(session.id, 1, activations.encode(head.embed([4], 3))).length == 4
    stage.open(max_length=8)
    with pytest.raises(StageFull):
        stage.open(max_length=8)
    root = stage.receipts_root(session.id)
    clock[0] = 11.0
    assert stage.expire() == 2
    with pytest.raises(SessionUnknown):
        stage.step(session.id, 2, prompt)
    assert stage.receipts_root(session.id) == root  # its cache is gone; what it committed to is kept
    with pytest.raises(SessionTooLong):
        stage.open(max_length=10**6)


def test_recomputing_in_one_prefill_agrees_with_decoding_across_thread_counts(sessions):
    stage, _, head = sessions
    session = stage.open(max_length=32)
    inputs, outputs = [], []
    for step, ids in enumerate([[5, 6, 7, 8, 9]] + [[t] for t in range(10, 20)]):
        data = activations.encode(head.embed(ids, sum(len(x) for x in inputs) // (4 * 64)))
        inputs.append(data)
        outputs.append(stage.step(session.id, step, data).output)
    threads = torch.get_num_threads()
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            recomputed = stage.recompute(b"".join(inputs))
            check = compare(activations.decode(b"".join(outputs), 64), activations.decode(recomputed, 64))
            assert check.agrees and check.worst_error < 1e-5, check
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("how", ["skip", "noise", "weights"])
def test_a_lying_span_is_caught_and_the_layer_named(cut, how):
    _, store, manifest = cut
    head = load_head(store, manifest)
    honest = load_span(store, manifest, Span(2, 4))
    liar = lie(load_span(store, manifest, Span(2, 4)), how)
    ids = head.tokenizer("The quick brown fox jumps")["input_ids"]
    # what the stage before it would have sent: layers 0-1's output
    first = load_span(store, manifest, Span(0, 2))
    inputs = first.forward(head.embed(ids, 0), 0)
    check = compare(liar.forward(inputs, 0), honest.forward(inputs, 0))
    assert not check.agrees and check.worst_error > 1e-4
    assert first_divergent_layer(liar.trace(inputs), honest.trace(inputs)) == 1  # its last layer: layer 3 of the model


def test_the_fragment_command_prints_the_table_and_digest(tmp_path):
    import subprocess

    source = build_causal_lm(tmp_path / "m", "llama", seed=4, layers=4, width=32)
    out = subprocess.run([TESSERA, "provider", "fragment", str(source), "--spans", "2", "--store", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    manifest = FragmentStore(tmp_path / "s").manifests()[0]
    assert f"model digest {manifest.hex}" in out.stdout and "layers 2-3" in out.stdout
    refused = subprocess.run([TESSERA, "provider", "fragment", str(source), "--spans", "9", "--store", str(tmp_path / "s")],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "[fragment_invalid]" in refused.stderr and "Traceback" not in refused.stderr
    # Sized by memory: each of the 4 layers holds 37 kB here, so 0.08 MB per span means two layers a span.
    sized = subprocess.run([TESSERA, "provider", "fragment", str(source), "--max-span-mb", "0.08", "--store",
                            str(tmp_path / "m")], capture_output=True, text=True, timeout=120)
    assert sized.returncode == 0, sized.stderr
    assert [str(f.span) for f in FragmentStore(tmp_path / "m").manifests()[0].spans] == ["0-1", "2-3"]

"""`tessera audit <job>`: judge every slash of a job again, from chain data and the aggregator's published shards.

A slash on chain (AssignmentSlashed) names the shard, the digest the provider committed (proven against its
results root by the program) and the referee's digest. The aggregator publishes a disputed shard's input and runs
to anyone, and every shard's input digest; the input is checked against the input root the client committed in
create_job, so the aggregator cannot publish another. The auditor re-runs the shard on its own copy of the model, as a
referee would, and says whether the slashed run was wrong: a slash is upheld when the audit contradicts what the
slashed provider committed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey
from solders.signature import Signature

from client.errors import InvalidRequest
from marketplace.chain.client import TesseraChain
from marketplace.chain.events import decode_events
from marketplace.chain.program import coder
from marketplace.digests import embedding_digest, embeddings_agree, generation_digest, input_digest
from marketplace.errors import ApiError
from marketplace.http import JsonApi
from marketplace.chain import ProviderAccount
from marketplace.merkle import merkle_root
from marketplace.pipeline.errors import PipelineError, ReceiptInvalid
from marketplace.pipeline.evidence import StageEvidence
from marketplace.pipeline.routing import STAGE_FIELD
from marketplace.pipeline.store import FragmentStore
from marketplace.verification import CheckOutcome, check_digest
from marketplace.vocabulary import GENERATIVE, Role


class Finding(enum.StrEnum):
    UPHELD = "upheld"  # the audit contradicts what the slashed provider committed
    OVERTURNED = "overturned"  # the audit agrees with it: the slash was wrong
    UNVERIFIABLE = "unverifiable"  # what the provider committed is not among the published runs


@dataclass(frozen=True)
class Slash:
    """One AssignmentSlashed event, as the program recorded it."""

    signature: Signature
    provider: Pubkey  # the Provider account
    shard: int
    committed_digest: bytes
    referee_digest: bytes
    slashed: int  # lamports


@dataclass(frozen=True)
class SlashAudit:
    slash: Slash
    finding: Finding
    reason: str
    referee_reproduced: bool  # the referee's digest is what this audit's own check commits to


@dataclass(frozen=True)
class JobRecord:
    """What the chain says of a job, from its transactions (its account may be closed)."""

    input_root: bytes | None  # the Merkle root of the shards' input digests, from create_job
    slashes: list[Slash]


async def job_record(chain: TesseraChain, job: Pubkey) -> JobRecord:
    """The job's committed input root and every slash, oldest first, from its transactions."""
    signatures = (await chain.rpc.get_signatures_for_address(job, limit=1_000)).value
    input_root, found = None, []
    for info in reversed(signatures):
        if info.err is not None:
            continue
        sent = (await chain.rpc.get_transaction(info.signature, encoding="base64", max_supported_transaction_version=0)).value
        if sent is None:
            continue
        message = sent.transaction.transaction.message
        for instruction in message.instructions:
            if message.account_keys[instruction.program_id_index] != chain.program_id:
                continue
            parsed = coder().instruction.parse(bytes(instruction.data))
            if parsed.name == "create_job":
                input_root = bytes(parsed.data.input_root)
        logs = sent.transaction.meta.log_messages if sent.transaction.meta is not None else None
        for event in decode_events(list(logs or [])):
            if event.name == "AssignmentSlashed" and event.data.job == job:
                found.append(Slash(info.signature, event.data.provider, event.data.shard, bytes(event.data.committed_digest),
                                   bytes(event.data.referee_digest), event.data.slashed))
    return JobRecord(input_root, found)


def committed_input(report: dict, shard: dict, input_root: bytes | None) -> str | None:
    """Why the published input of `shard` cannot be trusted, or None: it must hash to the shard's input digest, and
    the digests of every shard to the input root the client signed into create_job."""
    if input_root is None:
        return "the job's create_job transaction was not found"
    if input_digest(shard["input"]).hex() != shard["input_digest"]:
        return "the published input is not the shard's input digest"
    leaves = [bytes.fromhex(s["input_digest"]) for s in sorted(report["shards"], key=lambda s: s["index"])]
    if merkle_root(leaves) != input_root:
        return "the published input digests are not the input root the client committed"
    return None


def judge_generation(committed: bytes, primary_digest: bytes, outcome: CheckOutcome) -> tuple[Finding, str]:
    """`outcome`: this audit's teacher-forced check of the primary's tokens. The slashed run is the primary (it
    committed the primary's digest) or a checking replica (it committed its finding on that digest)."""
    wrong = outcome is CheckOutcome.INCONSISTENT
    if committed == primary_digest:
        return (Finding.UPHELD, "the primary's tokens are not what the model generates") if wrong else \
            (Finding.OVERTURNED, f"the primary's tokens check out ({outcome.value})")
    for claimed in CheckOutcome:
        if committed == check_digest(primary_digest, claimed):
            if (claimed is CheckOutcome.INCONSISTENT) != wrong:
                return Finding.UPHELD, f"the replica found the primary {claimed.value}; the audit finds it {outcome.value}"
            return Finding.OVERTURNED, f"the replica found the primary {claimed.value}, as the audit does"
    return Finding.UNVERIFIABLE, "the committed digest is neither the primary's nor a check of it"


async def audit_job(job: str, aggregator_url: str, rpc_url: str, models: Sequence,
                    fragments: FragmentStore | None = None) -> list[SlashAudit]:
    """Re-judges every slash of `job` with `models` (provider.models.LoadedModel, one of them the job's), or for a
    pipelined model with the spans in `fragments` (a fragment store holding the slashed stages' spans)."""
    from provider.executor import Executor, Task

    try:
        job_key = Pubkey.from_string(job)
    except ValueError as exc:
        raise InvalidRequest(f"not a job address: {job!r}") from exc
    async with TesseraChain(rpc_url) as chain:
        record = await job_record(chain, job_key)
    if not record.slashes:
        return []
    async with JsonApi(aggregator_url) as api:
        try:
            report = await api.request("GET", f"/v1/jobs/{job}")
        except ApiError as exc:
            raise InvalidRequest(f"the aggregator has no published record of job {job}: {exc}") from exc
    if any(isinstance(s.get("input"), dict) and STAGE_FIELD in s["input"] for s in report["shards"]):
        if fragments is None:
            raise InvalidRequest(f"job {job} ran a pipelined model: give a fragment store holding its spans")
        return await _audit_stages(job, report, record.slashes, aggregator_url, rpc_url, fragments)
    model = next((m for m in models if m.hex == report["model_digest"]), None)
    if model is None:
        raise InvalidRequest(f"job {job} ran model {report['model_digest']}; load that model to audit it")
    executor = Executor([model])
    audits = []
    for slash in record.slashes:
        shard = next((s for s in report["shards"] if s["index"] == slash.shard), {})
        shard_input = shard.get("input")
        primary = next((r for r in shard.get("runs", []) if r["role"] == Role.PRIMARY and r.get("output")), None)
        if shard_input is None or primary is None:
            audits.append(SlashAudit(slash, Finding.UNVERIFIABLE, "the aggregator did not publish the shard's input and runs", False))
            continue
        distrust = committed_input(report, shard, record.input_root)
        if distrust is not None:
            audits.append(SlashAudit(slash, Finding.UNVERIFIABLE, distrust, False))
            continue
        task = dict(task=0, job=job, shard=slash.shard, kind=report["kind"], model_digest=model.hex, params=report["params"],
                    input=shard_input)
        if report["kind"] in GENERATIVE:
            params = Task.parse({**task, "role": Role.PRIMARY, "claims": []}).params
            primary_digest = generation_digest(model.digest, input_digest(shard_input), params, primary["output"]["token_ids"])
            claim = {"output": primary["output"], "digest": primary_digest.hex()}
            [result] = executor.run([Task.parse({**task, "role": Role.REPLICA, "claims": [claim]})])
            outcome = CheckOutcome(_outcome(result, primary_digest))
            finding, reason = judge_generation(slash.committed_digest, primary_digest, outcome)
            audits.append(SlashAudit(slash, finding, reason, slash.referee_digest == check_digest(primary_digest, outcome)))
        else:
            [result] = executor.run([Task.parse({**task, "role": Role.PRIMARY, "claims": []})])
            if result.output is None:
                raise InvalidRequest(f"the model could not run the shard: {result.error}")
            ours = result.output["vector"]
            slashed_run = next((r for r in shard["runs"] if r.get("output") and "vector" in r["output"] and embedding_digest(
                model.digest, input_digest(shard_input), r["output"]["vector"]) == slash.committed_digest), None)
            if slashed_run is None:
                audits.append(SlashAudit(slash, Finding.UNVERIFIABLE, "no published run has the committed digest", False))
            elif embeddings_agree(slashed_run["output"]["vector"], ours):
                audits.append(SlashAudit(slash, Finding.OVERTURNED, "the slashed vector agrees with the audit's", False))
            else:
                audits.append(SlashAudit(slash, Finding.UPHELD, "the slashed vector disagrees with the audit's", False))
    return audits


async def _audit_stages(job: str, report: dict, slashes: list[Slash], aggregator_url: str, rpc_url: str,
                        fragments: FragmentStore) -> list[SlashAudit]:
    """A slashed stage's published evidence: its receipts must be its owner's and root to what it committed, its bytes
    must be what they name; then this audit's own run of the span over the input says whether its output was the
    model's (per token, within the checks' tolerance)."""
    import hashlib

    from marketplace.pipeline import activations
    from marketplace.pipeline.checks import compare
    from provider.pipeline.spans import load_span

    try:
        manifest = fragments.manifest(report["model_digest"])
    except PipelineError as exc:
        raise InvalidRequest(f"{exc}: fetch the model's fragments first (tessera provider stage --peer …)") from exc
    audits, spans = [], {}
    async with TesseraChain(rpc_url) as chain, JsonApi(aggregator_url) as api:
        for slash in slashes:
            try:
                provider = await chain.fetch(ProviderAccount, slash.provider)
                if provider is None:
                    raise ReceiptInvalid(f"no provider account {slash.provider}")
                evidence = StageEvidence.from_json(
                    await api.get(f"/v1/jobs/{job}/shards/{slash.shard}/evidence/{provider.owner}"))
                evidence.verify(provider.owner, slash.committed_digest, manifest.hidden_size)
            except (ApiError, ReceiptInvalid) as exc:
                audits.append(SlashAudit(slash, Finding.UNVERIFIABLE, str(exc), False))
                continue
            span = evidence.receipts[0].span
            if span not in spans:
                spans[span] = load_span(fragments, manifest, span)
            ours = activations.encode(spans[span].forward(activations.decode(evidence.inputs, manifest.hidden_size), 0))
            check = compare(activations.decode(evidence.outputs, manifest.hidden_size),
                            activations.decode(ours, manifest.hidden_size))
            reproduced = hashlib.sha256(ours).digest() == slash.referee_digest
            if check.agrees:
                audits.append(SlashAudit(slash, Finding.OVERTURNED, f"the stage's output of layers {span} is the model's "
                                                                    f"(worst relative error {check.worst_error:.1e})", reproduced))
            else:
                audits.append(SlashAudit(slash, Finding.UPHELD, f"the stage's output of layers {span} is not the model's: "
                                                                f"token {check.worst_token} off by {check.worst_error:.1e}",
                                         reproduced))
    return audits


def _outcome(result, primary_digest: bytes) -> str:
    """The finding a check result committed to (its digest is check_digest(primary, finding))."""
    for outcome in CheckOutcome:
        if result.digest == check_digest(primary_digest, outcome).hex():
            return outcome.value
    raise InvalidRequest(f"the model could not check the shard: {result.error}")

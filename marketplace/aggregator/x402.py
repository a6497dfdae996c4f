"""HTTP 402 payment, in x402 v2's shapes, for requests paid by voucher from a Tessera payment channel.

A request without payment is answered 402 with `PAYMENT-REQUIRED`: base64 JSON naming what pays for it (scheme
`tessera-channel`, the network as CAIP-2 `solana:<genesis hash prefix>`, the amount in lamports, the market, and in
`extra` the quote the voucher pays for). The client retries with `PAYMENT-SIGNATURE`: base64 JSON carrying its
voucher and that quote. The answer carries `PAYMENT-RESPONSE`: the claim's transaction and what it paid. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.aggregator.errors import BadRequest
from marketplace.aggregator.payments import parse_voucher
from marketplace.chain.vouchers import Voucher
from marketplace.x402 import SCHEME, SIGNATURE_HEADER, VERSION, decode


def payment_required(resource: str, description: str, quote: dict, cluster: str, program: str, timeout: int) -> dict:
    """`timeout`: seconds the request may take once paid (its job's lifetime)."""
    return {
        "x402Version": VERSION,
        "error": "payment required: pay by voucher from a Tessera payment channel",
        "resource": {"url": resource, "description": description, "mimeType": "application/json"},
        "accepts": [{
            "scheme": SCHEME, "network": cluster, "amount": str(quote["escrow"]), "asset": "SOL", "payTo": quote["market"],
            "maxTimeoutSeconds": timeout,
            "extra": {"program": program, "decimals": 9, "jobId": quote["job_id"], "seedCommitment": quote["seed_commitment"],
                      "pricePerShard": quote["price_per_shard"], "shardCount": quote["shard_count"],
                      "expiresAt": quote["expires_at"], "voucher": "ed25519 over (domain, channel, generation, amount): "
                      "the amount is cumulative, this request's on top of what the channel has paid"},
        }],
    }


@dataclass(frozen=True)
class Payment:
    job_id: int
    seed_commitment: str
    voucher: Voucher


def parse_payment(header: str) -> Payment:
    try:
        raw = decode(header)
    except ValueError as exc:
        raise BadRequest(f"{SIGNATURE_HEADER} is not base64 JSON: {exc}", "payment_malformed") from exc
    if not isinstance(raw, dict) or raw.get("x402Version") != VERSION:
        raise BadRequest(f"{SIGNATURE_HEADER} must be x402 version {VERSION}", "payment_malformed")
    accepted, payload = raw.get("accepted"), raw.get("payload")
    if not isinstance(accepted, dict) or accepted.get("scheme") != SCHEME or not isinstance(payload, dict):
        raise BadRequest(f"{SIGNATURE_HEADER} carries {{accepted: the {SCHEME} requirements, payload: {{voucher}}}}",
                         "payment_malformed")
    extra = accepted.get("extra")
    job_id = extra.get("jobId") if isinstance(extra, dict) else None
    if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 <= job_id < 2**63 or \
            not isinstance(extra.get("seedCommitment"), str):
        raise BadRequest("the accepted requirements lost their quote (extra.jobId, extra.seedCommitment)", "payment_malformed")
    return Payment(extra["jobId"], extra["seedCommitment"], parse_voucher(payload.get("voucher")))


def payment_response(claim_signature: str | None, cluster: str, channel: str, job: str, voucher: int, escrow: int,
                     epoch: str | None = None) -> dict:
    """`claim_signature`: None for a request served in an epoch, whose claim is sent with the epoch's others when
    it ends (as x402's batch settlement defers its transaction): `epoch` names the job that will carry it."""
    return {"success": True, "transaction": claim_signature or "", "network": cluster, "payer": channel, "job": job,
            "voucher": voucher, "escrow": escrow, **({"epoch": epoch} if epoch else {})}

"""Messages signed with participants' Solana keys (Ed25519), with replay protection.

Every message names its purpose (`kind`), its signer, the job it is bound to
(if any), a random nonce and an expiry; the signature covers all of it in
canonical JSON behind a domain tag, so a signature made for one purpose or
job cannot be replayed for another, or twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from marketplace.errors import MessageExpired, MessageFormatError, MessageReplayed, SignatureInvalid, WrongJob, WrongKind

DOMAIN = b"tessera/message/v1\0"
MAX_TTL = 300  # seconds a message may live: bounds how long nonces must be remembered
CLOCK_SKEW = 30  # seconds of disagreement between clocks that is tolerated


@dataclass(frozen=True)
class SignedMessage:
    kind: str
    signer: Pubkey
    job: str | None  # the job account's address, when bound to one
    nonce: str
    expires_at: int  # unix seconds
    body: dict
    signature: Signature

    def signing_bytes(self) -> bytes:
        return signing_bytes(self.kind, self.signer, self.job, self.nonce, self.expires_at, self.body)

    def to_json(self) -> dict:
        return {"kind": self.kind, "signer": str(self.signer), "job": self.job, "nonce": self.nonce,
                "expires_at": self.expires_at, "body": self.body, "signature": str(self.signature)}

    @classmethod
    def from_json(cls, data: Any) -> SignedMessage:
        if not isinstance(data, dict):
            raise MessageFormatError("a signed message is a JSON object")
        try:
            kind, nonce, expires_at, body = data["kind"], data["nonce"], data["expires_at"], data["body"]
            job = data.get("job")
            if not (isinstance(kind, str) and isinstance(nonce, str) and 16 <= len(nonce) <= 64
                    and isinstance(expires_at, int) and isinstance(body, dict) and (job is None or isinstance(job, str))):
                raise MessageFormatError("kind, nonce (16-64 chars), expires_at (int), body (object) and job (string or null) are required")
            return cls(kind, Pubkey.from_string(data["signer"]), job, nonce, expires_at, body, Signature.from_string(data["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageFormatError(f"malformed signed message: {exc}") from exc


def signing_bytes(kind: str, signer: Pubkey, job: str | None, nonce: str, expires_at: int, body: dict) -> bytes:
    canonical = {"kind": kind, "signer": str(signer), "job": job, "nonce": nonce, "expires_at": expires_at, "body": body}
    return DOMAIN + json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_message(keypair: Keypair, kind: str, body: dict, job: str | None = None, ttl: int = 60,
                 now: Callable[[], float] = time.time) -> SignedMessage:
    nonce = secrets.token_hex(16)
    expires_at = int(now()) + ttl
    signature = keypair.sign_message(signing_bytes(kind, keypair.pubkey(), job, nonce, expires_at, body))
    return SignedMessage(kind, keypair.pubkey(), job, nonce, expires_at, body, signature)


AUTH_SCHEME = "Tessera"  # Authorization: Tessera <base64 of a signed message of kind "read">


def read_authorization(keypair: Keypair, job: str, ttl: int = 60) -> str:
    """The Authorization header value that lets `keypair` read `job`'s outputs (GET requests carry no body).
    Reads change nothing, so the token is not nonce-checked: it is bound to the job and expires."""
    message = sign_message(keypair, "read", {}, job=job, ttl=ttl)
    return f"{AUTH_SCHEME} " + base64.b64encode(json.dumps(message.to_json()).encode()).decode()


def parse_authorization(value: str) -> SignedMessage:
    scheme, _, token = value.partition(" ")
    if scheme != AUTH_SCHEME or not token:
        raise MessageFormatError(f"Authorization must be '{AUTH_SCHEME} <base64 signed message>'")
    try:
        return SignedMessage.from_json(json.loads(base64.b64decode(token, validate=True)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise MessageFormatError(f"the Authorization token is not base64 JSON: {exc}") from exc


class ReplayGuard(Protocol):
    def claim(self, signer: Pubkey, nonce: str, expires_at: int) -> bool:
        """Records the nonce; False if it was already recorded."""


class MemoryReplayGuard:
    """Nonces seen by one process, forgotten once their messages have expired."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._now = now

    def claim(self, signer: Pubkey, nonce: str, expires_at: int) -> bool:
        now = self._now()
        self._seen = {k: t for k, t in self._seen.items() if t + CLOCK_SKEW >= now}
        key = (str(signer), nonce)
        if key in self._seen:
            return False
        self._seen[key] = expires_at
        return True


def authenticate(message: SignedMessage, kind: str, job: str | None = None, now: Callable[[], float] = time.time) -> None:
    """Raises a MessageError unless the message is authentic, fresh, and for `kind` and `job`."""
    if message.kind != kind:
        raise WrongKind(f"message signed for {message.kind!r}, expected {kind!r}")
    if job is not None and message.job != job:
        raise WrongJob(f"message bound to job {message.job}, not {job}")
    current = now()
    if message.expires_at < current - CLOCK_SKEW or message.expires_at > current + MAX_TTL + CLOCK_SKEW:
        raise MessageExpired(f"message expires at {message.expires_at}; now is {int(current)} (at most {MAX_TTL} s ahead)")
    if not message.signature.verify(message.signer, message.signing_bytes()):
        raise SignatureInvalid(f"signature does not verify for {message.signer}")


def verify_message(message: SignedMessage, kind: str, guard: ReplayGuard, job: str | None = None,
                   now: Callable[[], float] = time.time) -> None:
    """`authenticate`, then refuse a nonce the guard has seen."""
    authenticate(message, kind, job, now)
    if not guard.claim(message.signer, message.nonce, message.expires_at):
        raise MessageReplayed(f"nonce {message.nonce} from {message.signer} was already used")

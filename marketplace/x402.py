"""x402 v2's wire for Tessera payment channels, shared by the aggregator and the SDK: the scheme, the headers, and
their base64 JSON. What goes in them: marketplace.aggregator.x402 (the server) and client.x402 (the payer)."""

from __future__ import annotations

import base64
import json
from typing import Any

VERSION = 2
SCHEME = "tessera-channel"
REQUIRED_HEADER, SIGNATURE_HEADER, RESPONSE_HEADER = "PAYMENT-REQUIRED", "PAYMENT-SIGNATURE", "PAYMENT-RESPONSE"


def encode(value: dict) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def decode(header: str) -> Any:
    """ValueError if the header is not base64 JSON."""
    try:
        return json.loads(base64.b64decode(header, validate=True))
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from exc


def network(genesis_hash: str) -> str:
    """CAIP-2 for a Solana cluster: its genesis hash, cut to 32 characters."""
    return f"solana:{genesis_hash[:32]}"

"""Job kinds, shared by the aggregator, the provider node and the SDK."""

from __future__ import annotations

KINDS = ("generate", "chat", "embed")
GENERATIVE = ("generate", "chat")  # token outputs, checked by teacher forcing

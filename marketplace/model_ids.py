"""A model's readable id (the OpenAI API's `model`): what providers announce beside a digest and the aggregator
accepts. One rule for both sides."""

from __future__ import annotations

import re

MODEL_ID = re.compile(r"[a-z0-9._-]{1,64}")


def readable_id(name: str) -> str:
    """A model's name made an id: lowercase letters, digits, '.', '_' and '-', at most 64."""
    return (re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "model")[:64]

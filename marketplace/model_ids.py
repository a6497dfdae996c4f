"""A model's readable id (the OpenAI API's `model`): what providers announce beside a digest and the aggregator
accepts. One rule for both sides."""

from __future__ import annotations

import re
from collections import Counter

MODEL_ID = re.compile(r"[a-z0-9._-]{1,64}")


def readable_id(name: str) -> str:
    """A model's name made an id: lowercase letters, digits, '.', '_' and '-', at most 64."""
    return (re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "model")[:64]


def model_ids(names: dict[str, set[str]]) -> dict[str, str]:
    """Readable id -> digest, from the names each digest's providers give it. A model is known by its name only
    where its providers agree on one and no other model has it; by its digest otherwise (no id names two models)."""
    agreed = {digest: next(iter(given)) for digest, given in names.items() if len(given) == 1}
    taken = Counter(agreed.values())
    return {(agreed[digest] if taken[agreed.get(digest)] == 1 else digest): digest for digest in names}

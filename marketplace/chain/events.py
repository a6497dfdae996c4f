"""Anchor events decoded from transaction logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.chain.program import PROGRAM_ID, coder


@dataclass(frozen=True)
class ProgramEvent:
    name: str  # as in the IDL, e.g. "ProviderRegistered"
    data: Any  # anchorpy's decoded fields, snake_case attributes


def decode_events(logs: list[str]) -> list[ProgramEvent]:
    """Every Tessera event in a transaction's logs, in order."""
    from anchorpy import EventParser  # lazily, as in program.py

    events: list[ProgramEvent] = []
    EventParser(PROGRAM_ID, coder()).parse_logs(logs, lambda e: events.append(ProgramEvent(e.name, e.data)))
    return events

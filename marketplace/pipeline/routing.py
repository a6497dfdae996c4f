"""Which holders a pipeline job goes through, and how its shards map to (request, stage). Pure: no I/O.

A job of R requests over a model of S spans has R x S shards, shard = request x S + stage, each input the
request with the span it is for. The program keeps one pending submission per provider and job, so a
provider commits all of a job's shards it served at once, and the owners that check a job's stages are
never owners that served one of them (nor each other).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from marketplace.pipeline.fragments import Span

STAGE_FIELD = "stage"


@dataclass(frozen=True)
class Holder:
    owner: str
    url: str
    span: Span
    seconds_per_step: float = 0.0  # measured by drivers; 0 when not yet measured
    load: int = 0  # sessions drivers have open on it now


def ranked(holders: Iterable[Holder]) -> list[Holder]:
    """Best first: least loaded, then fastest (unmeasured ones are tried as if fast), then by owner for a stable order."""
    return sorted(holders, key=lambda h: (h.load, h.seconds_per_step, h.owner))


def choose_routes(spans: Sequence[Span], holders: Iterable[Holder], excluded: Iterable[str] = (),
                  serving: Iterable[str] = ()) -> list[tuple[Span, list[Holder]]]:
    """Per span its holders, best first, so that no owner serves two spans (its two commitments to one job would
    collide). Owners already `serving` the job come first: each owner commits once per job, so a job spread over
    fewer owners leaves more of them free to check it. ValueError names a span nobody eligible holds."""
    excluded, serving = set(excluded), set(serving)
    by_span = {span: sorted(ranked(h for h in holders if h.span == span and h.owner not in excluded),
                            key=lambda h: h.owner not in serving) for span in spans}
    taken: set[str] = set()
    routes = []
    # The scarcest spans choose first, so a provider holding several spans is kept for the one only it holds.
    for span in sorted(spans, key=lambda s: len(by_span[s])):
        options = [h for h in by_span[span] if h.owner not in taken]
        if not options:
            raise ValueError(f"no eligible provider holds layers {span}")
        taken.add(options[0].owner)
        routes.append((span, options))
    chosen = {span: options for span, options in routes}
    primaries = {options[0].owner for options in chosen.values()}
    # Fallbacks of a span: its other holders not serving another span.
    return [(span, [chosen[span][0]] + [h for h in chosen[span][1:] if h.owner not in primaries]) for span in spans]


def choose_checker(span: Span, holders: Iterable[Holder], busy: Iterable[str]) -> Holder | None:
    """A holder of `span` whose owner neither served this job nor checks another of its stages."""
    busy = set(busy)
    return next((h for h in ranked(holders) if h.span == span and h.owner not in busy), None)


def stage_inputs(request: dict, spans: Sequence[Span]) -> list[dict]:
    return [{**request, STAGE_FIELD: str(span)} for span in spans]


def split_stage_inputs(inputs: Sequence[object], spans: Sequence[Span]) -> list[dict]:
    """The requests of a pipeline job's inputs; ValueError unless they are whole requests, each once per span in order."""
    count = len(spans)
    if not inputs or len(inputs) % count:
        raise ValueError(f"a pipeline job has one input per request and span ({count} spans), not {len(inputs)} inputs")
    requests = []
    for start in range(0, len(inputs), count):
        group = inputs[start:start + count]
        if not all(isinstance(item, dict) for item in group):
            raise ValueError("each input is an object")
        request = {k: v for k, v in group[0].items() if k != STAGE_FIELD}
        if [item.get(STAGE_FIELD) for item in group] != [str(s) for s in spans]:
            raise ValueError(f"inputs {start}-{start + count - 1} must name the spans {', '.join(map(str, spans))} in order")
        if any({k: v for k, v in item.items() if k != STAGE_FIELD} != request for item in group):
            raise ValueError(f"inputs {start}-{start + count - 1} must carry one request, once per span")
        requests.append(request)
    return requests

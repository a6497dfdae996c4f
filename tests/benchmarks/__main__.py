"""Runs the benchmarks and writes BENCHMARKS.md: `python -m tests.benchmarks` (or `make bench`)."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from tests.benchmarks import (aggregator_throughput, channel_payments, cheating, epoch_settlement, localnet_throughput,
                              market_wall_time, openai_api, pipeline_stages, program_cu, provider_throughput, recovery,
                              smollm2_chat, verification_overhead)

OUTPUT = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def main() -> int:
    rows = program_cu.measure()
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, "
        f"Python {platform.python_version()}, {platform.machine()}.\n\n"
    )
    throughput = localnet_throughput.measure()
    results = aggregator_throughput.measure()
    overhead = verification_overhead.measure()
    nodes = provider_throughput.measure()
    market = market_wall_time.measure()
    recoveries = recovery.measure()
    chat = smollm2_chat.measure()
    payments = channel_payments.measure()
    epochs = epoch_settlement.measure()
    api = openai_api.measure()
    pipeline = pipeline_stages.measure()
    OUTPUT.write_text("\n".join((header + market_wall_time.markdown(market), smollm2_chat.markdown(chat), openai_api.markdown(api),
                                 pipeline_stages.markdown(pipeline),
                                 provider_throughput.markdown(nodes),
                                 verification_overhead.markdown(overhead), cheating.markdown(), channel_payments.markdown(payments),
                                 epoch_settlement.markdown(epochs),
                                 program_cu.markdown(rows),
                                 localnet_throughput.markdown(throughput), aggregator_throughput.markdown(results),
                                 recovery.markdown(recoveries))))
    print(OUTPUT.read_text())
    missed = [r.instruction for r in rows if not r.meets_goal]
    if missed:
        print(f"goals missed (see the table): {', '.join(missed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`tessera provider ...`: stake through the program and run the node. Parsing here; work in the package."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from solana.constants import LAMPORTS_PER_SOL
from solders.pubkey import Pubkey

from marketplace.chain import ChainError
from marketplace.errors import MarketplaceError

DEFAULT_KEYPAIR = Path.home() / ".config" / "solana" / "id.json"


def parse_sol(text: str) -> int:
    """'1.5' SOL -> lamports, exactly; refuses negatives, dust below a lamport and junk."""
    try:
        lamports = Decimal(text) * LAMPORTS_PER_SOL
    except InvalidOperation as exc:
        raise click.BadParameter(f"{text!r} is not an amount of SOL") from exc
    if lamports <= 0 or lamports != lamports.to_integral_value() or lamports >= 2**64:
        raise click.BadParameter(f"{text!r} must be a positive amount of SOL with at most 9 decimals")
    return int(lamports)


def _market(text: str) -> Pubkey:
    try:
        return Pubkey.from_string(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a base58 address") from exc


keypair_option = click.option("--keypair", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_KEYPAIR,
                              show_default=True, help="The provider owner's Solana keypair (Solana CLI JSON).")
rpc_option = click.option("--rpc", default="http://127.0.0.1:8899", show_default=True, help="Solana JSON-RPC URL.")
market_option = click.option("--market", required=True, help="The Market account's address.")
store_option = click.option("--store", type=click.Path(file_okay=False, path_type=Path), default=Path("tessera-fragments"),
                            show_default=True, help="The fragment store; what a stage lacks is fetched from --peer.")
peers_option = click.option("--peer", "peers", multiple=True,
                            help="A node holding fragments of the pipelined model (repeat for several).")


def _run_chain(action):
    """Runs `action(staking)` against the chain; errors become one clear line."""
    from marketplace.chain.client import TesseraChain
    from marketplace.keys import load_keypair
    from provider.errors import ProviderError
    from provider.staking import Staking

    ctx = click.get_current_context()
    params = ctx.params

    async def go():
        async with TesseraChain(params["rpc"]) as chain:
            return await action(Staking(chain, load_keypair(params["keypair"]), _market(params["market"])))

    try:
        return asyncio.run(go())
    except (ProviderError, ChainError, MarketplaceError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


def _done(sent, what: str) -> None:
    click.echo(f"{what}: {sent.signature} (fee {sent.fee} lamports)")


@click.group()
def provider() -> None:
    """Stake SOL and serve inference as a provider."""


@provider.command()
@keypair_option
@rpc_option
@market_option
@click.option("--stake", "amount", required=True, help="SOL to stake (at least the market's minimum).")
@click.option("--endpoint", default="http://127.0.0.1", show_default=True, help="The node's public URL (on chain).")
@click.option("--capacity", default=8, show_default=True, type=click.IntRange(1, 1024), help="Shards served at once.")
def register(keypair, rpc, market, amount, endpoint, capacity) -> None:
    """Create this owner's Provider account with an initial stake."""
    lamports = parse_sol(amount)
    _done(_run_chain(lambda staking: staking.register(lamports, endpoint, capacity)), "registered")


@provider.command()
@keypair_option
@rpc_option
@market_option
@click.argument("amount")
def stake(keypair, rpc, market, amount) -> None:
    """Add AMOUNT SOL to the stake."""
    lamports = parse_sol(amount)
    _done(_run_chain(lambda staking: staking.add(lamports)), "staked")


@provider.command()
@keypair_option
@rpc_option
@market_option
@click.argument("amount")
def unstake(keypair, rpc, market, amount) -> None:
    """Start unbonding AMOUNT SOL (withdrawable after the market's unbonding period)."""
    lamports = parse_sol(amount)
    _done(_run_chain(lambda staking: staking.unstake(lamports)), "unbonding")


@provider.command()
@keypair_option
@rpc_option
@market_option
def withdraw(keypair, rpc, market) -> None:
    """Withdraw stake whose unbonding period has passed."""
    _done(_run_chain(lambda staking: staking.withdraw()), "withdrawn")


@provider.command()
@keypair_option
@rpc_option
@market_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(keypair, rpc, market, as_json) -> None:
    """Balances, stake (locked and unbonding), unbonding time and counters."""
    from client.formatting import sol, timestamp

    report = _run_chain(lambda staking: staking.report())
    if as_json:
        click.echo(json.dumps({
            "owner": str(report.owner), "provider": str(report.provider), "registered": report.registered,
            "wallet": report.wallet, "stake": report.stake, "locked": report.locked, "unbonding": report.unbonding,
            "unbond_at": report.unbond_at, "withdrawable_in": report.withdrawable_in, "min_stake": report.min_stake,
            "status": report.status.name.lower() if report.status else None, "shards_served": report.shards_served,
            "shards_slashed": report.shards_slashed, "endpoint": report.endpoint}))
        return
    table = Table(title=f"Provider {report.provider}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows = [("owner", str(report.owner)), ("wallet", sol(report.wallet)), ("registered", "yes" if report.registered else "no")]
    if report.registered:
        rows += [("status", report.status.name.lower()), ("stake", sol(report.stake)), ("locked by open work", sol(report.locked)),
                 ("free", sol(report.stake - report.locked)), ("unbonding", sol(report.unbonding)),
                 ("withdrawable at", timestamp(report.unbond_at) + (f" (in {report.withdrawable_in} s)" if report.withdrawable_in else "")),
                 ("market minimum", sol(report.min_stake)), ("shards served", str(report.shards_served)),
                 ("shards slashed", str(report.shards_slashed)), ("endpoint", report.endpoint)]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)


@provider.command()
@keypair_option
@rpc_option
@click.option("--market", default=None, help="The Market account (default: the one the aggregator serves).")
@click.option("--aggregator", default="http://127.0.0.1:8080", show_default=True, help="The aggregator's URL.")
@click.option("--model", "models", multiple=True, required=True,
              help="A transformers model directory, a GGUF file, or a catalog name such as smollm2-135m-instruct "
                   "(repeat for several).")
@click.option("--journal", type=click.Path(dir_okay=False, path_type=Path), default=Path("tessera-provider.sqlite3"),
              show_default=True, help="The node's SQLite journal: results survive a crash here.")
@click.option("--capacity", default=8, show_default=True, type=click.IntRange(1, 64), help="Tasks batched at once.")
@click.option("--threads", default=None, type=click.IntRange(1, 256), help="torch CPU threads (default: torch's choice).")
@click.option("--max-input-tokens", default=None, type=click.IntRange(1), help="Refuse longer inputs (default: the model's limit).")
@click.option("--health-port", default=0, show_default=True, help="Port of GET /health on 127.0.0.1 (0: any free port).")
@click.option("--endpoint", default="", help="URL advertised to the aggregator (default: the health server's).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Where the models run (default: cuda when torch sees one, else cpu). Replicas on other devices "
                   "agree: greedy tokens differ only at near-ties, which checks treat as ties.")
@click.option("--layers", default=None, help="Serve only this span (10-19) of a pipelined model: --model is then its "
                                             "digest, and the node runs as `tessera provider stage`.")
@store_option
@peers_option
@click.option("--log-level", default="info", show_default=True)
def run(keypair, rpc, market, aggregator, models, journal, capacity, threads, max_input_tokens, health_port, endpoint,
        device, layers, store, peers, log_level) -> None:
    """Serve the models: claim shards, run them, post results, commit digests on chain. SIGTERM stops it cleanly.
    With --layers, serve one span of a pipelined model instead, as a stage of the aggregator's market."""
    from marketplace import logs

    if layers is not None:
        if len(models) != 1:
            raise click.BadParameter("a stage serves one pipelined model: give exactly one --model (its digest)")
        _serve_stage(keypair, models[0], layers, store, peers, "127.0.0.1", health_port, capacity, 120.0, threads,
                     aggregator, rpc, log_level)
        return
    logs.configure(log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    require_model_runtime()
    from provider.errors import ProviderError
    from provider.runner import NodeSetup, run_node

    try:
        asyncio.run(run_node(NodeSetup(keypair=keypair, rpc=rpc, market=market, aggregator=aggregator, models=list(models),
                                       journal=journal, capacity=capacity, threads=threads, max_input_tokens=max_input_tokens,
                                       health_port=health_port, endpoint=endpoint, device=device), _install_stop))
    except (ProviderError, MarketplaceError, ChainError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc


def require_model_runtime() -> None:
    """Running models needs the provider extra; say so instead of an ImportError deep in a load."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(f"running models needs torch and transformers ({exc.name} is missing): "
                                   "pip install 'tessera[provider]'") from exc


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


@provider.command("digest")
@click.argument("model")
def digest(model) -> None:
    """Load MODEL as a node would (a directory, a GGUF file, or a catalog name) and print its digest: what clients
    name it by. A GGUF file is dequantized into the cache once."""
    require_model_runtime()
    from provider.errors import ProviderError
    from provider.models import load_model

    try:
        loaded = load_model(model)
    except ProviderError as exc:
        raise click.ClickException(f"[{exc.code}] {exc}") from exc
    click.echo(f"{loaded.name} ({loaded.kind.value}) model digest {loaded.hex}")


@provider.command("build-model")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--family", type=click.Choice(["gpt2", "llama"]), default="gpt2", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--layers", default=2, show_default=True)
@click.option("--width", default=64, show_default=True)
def build_model(directory, family, seed, layers, width) -> None:
    """Write a small seeded random causal LM (and its tokenizer) for demos and tests, offline."""
    require_model_runtime()
    from provider.model_builder import build_causal_lm
    from provider.models import model_digest

    path = build_causal_lm(directory, family, seed, layers, width)
    click.echo(f"{path} model digest {model_digest(path).hex()}")


@provider.command("fragment")
@click.argument("model")
@click.option("--spans", default=None, type=click.IntRange(1, 1024), help="Spans of decoder layers [default: 3].")
@click.option("--max-span-mb", default=None, type=click.FloatRange(min=0, min_open=True), help="Instead of --spans: as few spans as "
              "keep each within this many MB of weights (what the smallest node's memory allows).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), default=Path("tessera-fragments"),
              show_default=True, help="The fragment store to write into.")
def fragment(model, spans, max_span_mb, store) -> None:
    """Cut MODEL (a directory, a GGUF file or a catalog name) into the head fragment and SPANS spans of layers, each a
    safetensors file named by its sha256; print the manifest and the model digest (the Merkle root over them)."""
    require_model_runtime()
    from marketplace.pipeline.cutting import cut_model, layer_bytes, spans_within
    from marketplace.pipeline.errors import PipelineError
    from marketplace.pipeline.store import FragmentStore
    from provider.catalog import MODELS, resolve
    from provider.errors import ProviderError
    from provider.gguf import converted

    try:
        path = resolve(model)
        directory = converted(path) if path.suffix == ".gguf" else path
        name = model.lower() if model.lower() in MODELS else directory.name
        if max_span_mb is not None:
            if spans is not None:
                raise click.UsageError("give --spans or --max-span-mb, not both")
            spans = spans_within(layer_bytes(directory), int(max_span_mb * 1e6))
        manifest = cut_model(directory, FragmentStore(store), spans or 3, name=name)
    except (ProviderError, PipelineError) as exc:
        raise click.ClickException(f"[{exc.code}] {exc}") from exc
    table = Table(title=f"{manifest.name}: {manifest.num_layers} layers, hidden {manifest.hidden_size}", title_justify="left")
    for column in ("fragment", "sha256", "MB", "parameters"):
        table.add_column(column)
    for item in manifest.fragments:
        table.add_row(item.label, item.sha256, f"{item.size / 1e6:.1f}", f"{item.parameters:,}")
    Console().print(table)
    click.echo(f"model digest {manifest.hex}")


@provider.command("stage")
@keypair_option
@click.option("--model", required=True, help="The pipelined model's digest (tessera provider fragment prints it).")
@click.option("--layers", required=True, help="The span this node serves, inclusive: 10-19.")
@store_option
@peers_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0: any free port (printed when ready).")
@click.option("--max-sessions", default=8, show_default=True, type=click.IntRange(1, 4096),
              help="Sessions held at once; past it the stage answers 429.")
@click.option("--idle-timeout", default=120.0, show_default=True, help="Seconds before an idle session's cache is dropped.")
@click.option("--threads", default=None, type=click.IntRange(1, 256), help="torch CPU threads (default: torch's choice).")
@click.option("--aggregator", default=None, help="Serve in this aggregator's market: register, commit what its verifier "
                                                 "asks (the keypair must be a staked provider). Without it: no market.")
@rpc_option
@click.option("--log-level", default="info", show_default=True)
def stage(keypair, model, layers, store, peers, host, port, max_sessions, idle_timeout, threads, aggregator, rpc,
          log_level) -> None:
    """Serve one span of a pipelined model's layers: sessions with their KV caches, checks for verifiers, and the
    node's fragments for peers. Only the span's layers are loaded. SIGTERM stops it."""
    _serve_stage(keypair, model, layers, store, peers, host, port, max_sessions, idle_timeout, threads, aggregator, rpc,
                 log_level)


def _serve_stage(keypair, model, layers, store, peers, host, port, max_sessions, idle_timeout, threads, aggregator, rpc,
                 log_level) -> None:
    from marketplace import logs
    from marketplace.pipeline.errors import PipelineError
    from marketplace.pipeline.fragments import Span

    logs.configure(log_level)
    require_model_runtime()
    import uvloop

    from provider.pipeline.stage_runner import StageSetup, run_stage

    try:
        setup = StageSetup(store=store, model=model, layers=Span.parse(layers), keypair=keypair, peers=peers, host=host,
                           port=port, max_sessions=max_sessions, idle_timeout=idle_timeout, threads=threads,
                           aggregator=aggregator, rpc=rpc)
        uvloop.run(run_stage(setup, _install_stop))  # uvloop: less of each step spent in the event loop
    except (PipelineError, MarketplaceError, ChainError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc

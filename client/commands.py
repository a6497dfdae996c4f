"""`tessera generate|embed|job|market`: the SDK from a shell. `--json` prints one JSON object for scripts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from client.errors import TesseraError
from client.formatting import market_table, sol
from marketplace.errors import MarketplaceError
from marketplace.vocabulary import Kind

DEFAULT_KEYPAIR = Path.home() / ".config" / "solana" / "id.json"

keypair_option = click.option("--keypair", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_KEYPAIR,
                              show_default=True, help="The paying keypair (Solana CLI JSON).")
rpc_option = click.option("--rpc", default="http://127.0.0.1:8899", show_default=True, help="Solana JSON-RPC URL.")
aggregator_option = click.option("--aggregator", default="http://127.0.0.1:8080", show_default=True, help="The aggregator's URL.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
max_lamports_option = click.option("--max-lamports", default=None, type=click.IntRange(1),
                                   help="Refuse a quote whose escrow is above this.")
channel_option = click.option("--channel", "authorizer_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                              help="Pay by voucher from the --keypair's payment channel, with this session key "
                                   "(`tessera channel open` writes it): no transaction per request.")


def decoding_options(max_new_tokens: int):
    """--max-new-tokens, --temperature (0: greedy) and --top-p, as generate and chat take them."""
    def add(command):
        for option in reversed((
            click.option("--max-new-tokens", default=max_new_tokens, show_default=True, type=click.IntRange(1, 512)),
            click.option("--temperature", default=0.0, show_default=True, type=click.FloatRange(0, 10)),
            click.option("--top-p", default=1.0, show_default=True, type=click.FloatRange(0, 1, min_open=True)),
        )):
            command = option(command)
        return command
    return add


def _client(params: dict):
    from client.sdk import TesseraClient
    from marketplace.keys import load_keypair

    return TesseraClient(params["aggregator"], params["rpc"], load_keypair(params["keypair"]),
                         max_lamports=params.get("max_lamports"), timeout=params.get("timeout") or 300)


def run_with_client(action):
    """Runs `action(client)`; every error becomes one line with its stable code and exit status 1."""
    params = click.get_current_context().params

    async def go():
        async with _client(params) as tessera:
            if params.get("authorizer_file") is not None:
                from marketplace.keys import load_keypair

                await tessera.use_channel(load_keypair(params["authorizer_file"]))
            return await action(tessera)

    try:
        return asyncio.run(go())
    except (TesseraError, MarketplaceError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc


def print_json(value) -> None:
    click.echo(json.dumps(value, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)))


def _read_lines(items: tuple[str, ...], file: Path | None) -> list[str]:
    lines = list(items)
    if file is not None:
        lines += [line for line in (sys.stdin if str(file) == "-" else file.open()).read().splitlines() if line.strip()]
    if not lines:
        raise click.UsageError("give at least one input (arguments, or --file with one per line)")
    return lines


async def _with_progress(tessera, kind: str, inputs: list[dict], model: str, params: dict | None, quiet: bool):
    """Submits, then shows a progress bar as shards are verified. Returns the result and, for a job that
    ended without every output, the JobFailed error: the outputs it has were paid for and are shown."""
    from rich.progress import Progress

    from client.errors import JobFailed

    job = await tessera.submit(kind, inputs, model, params)
    with Progress(transient=True, disable=quiet) as progress:
        bar = progress.add_task(f"job {job.job[:8]}… shards verified", total=len(inputs))
        async for _ in tessera.stream(job):
            progress.advance(bar)
    try:
        return await tessera.wait(job), None
    except JobFailed as exc:
        if exc.result is None:
            raise
        return exc.result, exc


def _fail_after_output(failure) -> None:
    if failure is not None:
        raise click.ClickException(f"[{failure.code}] {failure}")


def _receipt_table(receipt) -> Table:
    table = Table(title=f"Receipt for job {receipt.job}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", receipt.status)
    table.add_row("escrowed", sol(receipt.escrowed))
    table.add_row("refunded", sol(receipt.refunded))
    table.add_row("paid in all", f"{receipt.paid:,} lamports")
    table.add_row("verification", ", ".join(f"{n} {how}" for how, n in sorted(receipt.verification.items())) or "—")
    table.add_row("cache hits", str(receipt.cache_hits))
    for what, signature in receipt.signatures.items():
        table.add_row(what, signature)
    return table


@click.command()
@click.argument("prompts", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="Prompts, one per line ('-': stdin).")
@click.option("--model", required=True, help="The model's digest (64 hex).")
@decoding_options(max_new_tokens=32)
@click.option("--seed", default=None, type=int, help="Sampling seed (default: random when sampling).")
@max_lamports_option
@click.option("--timeout", default=300, show_default=True, type=click.FloatRange(1), help="Seconds to wait for the job.")
@channel_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def generate(prompts, file, model, max_new_tokens, temperature, top_p, seed, max_lamports, timeout, authorizer_file,
             keypair, rpc, aggregator, as_json) -> None:
    """Pay for text generation: one shard per prompt."""
    import secrets

    lines = _read_lines(prompts, file)
    params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
              "seed": seed if seed is not None or temperature == 0 else secrets.randbits(31)}
    result, failure = run_with_client(lambda t: _with_progress(t, Kind.GENERATE, [{"prompt": p} for p in lines], model, params, as_json))
    if as_json:
        print_json({"job": result.job, "outputs": result.outputs, "receipt": result.receipt,
                     "verification": [s.verification for s in result.shards], "error": failure and failure.code})
        _fail_after_output(failure)
        return
    console = Console()
    table = Table(title="Completions", title_justify="left")
    for column in ("#", "prompt", "completion", "verified"):
        table.add_column(column)
    for prompt, shard in zip(lines, result.shards):
        table.add_row(str(shard.index), prompt, repr(shard.text) if shard.output is not None else "— (no output)",
                      shard.verification or "—")
    console.print(table)
    console.print(_receipt_table(result.receipt))
    _fail_after_output(failure)


@click.command()
@click.argument("question", required=False)
@click.option("--model", required=True, help="The chat model's digest (64 hex); `tessera provider digest smollm2-135m-instruct`.")
@click.option("--system", default=None, help="A system message to start the conversation with.")
@decoding_options(max_new_tokens=128)
@max_lamports_option
@click.option("--timeout", default=300, show_default=True, type=click.FloatRange(1), help="Seconds to wait for each answer.")
@channel_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def chat(question, model, system, max_new_tokens, temperature, top_p, max_lamports, timeout, authorizer_file, keypair, rpc,
         aggregator, as_json) -> None:
    """Ask a chat model: QUESTION answers once; without it, a conversation at a prompt (an empty line ends it).
    Each turn is one paid, verified job; the cost and verification follow each answer."""
    conversation = [{"role": "system", "content": system}] if system else []
    options = {"model": model, "max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
               "max_lamports": max_lamports, "timeout": timeout}
    console = Console()

    async def turns(tessera):
        while True:
            asked = question if question is not None else await asyncio.to_thread(click.prompt, "you", default="",
                                                                                    show_default=False)
            if not asked.strip():
                return
            conversation.append({"role": "user", "content": asked})
            with console.status("asking the market", spinner="dots") if not as_json else contextlib.nullcontext():
                answer = await tessera.chat(conversation, **options)
            conversation.append(answer.message)
            if as_json:
                print_json({"job": answer.job, "message": answer.message, "usage": answer.usage,
                             "verification": answer.verification, "receipt": answer.receipt})
            else:
                console.print(f"[bold]assistant[/bold] {answer.message['content']}")
                console.print(f"[dim]{answer.usage['completion_tokens']} tokens · verified: {answer.verification} · "
                              f"paid {answer.receipt.paid:,} lamports · job {answer.job}[/dim]")
            if question is not None:
                return

    run_with_client(turns)


@click.command()
@click.argument("texts", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="Texts, one per line ('-': stdin).")
@click.option("--model", required=True, help="The encoder's digest (64 hex).")
@max_lamports_option
@click.option("--timeout", default=300, show_default=True, type=click.FloatRange(1))
@channel_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def embed(texts, file, model, max_lamports, timeout, authorizer_file, keypair, rpc, aggregator, as_json) -> None:
    """Pay for embeddings: one vector per text."""
    lines = _read_lines(texts, file)
    result, failure = run_with_client(lambda t: _with_progress(t, Kind.EMBED, [{"text": x} for x in lines], model, None, as_json))
    if as_json:
        print_json({"job": result.job, "vectors": result.vectors, "receipt": result.receipt, "error": failure and failure.code})
        _fail_after_output(failure)
        return
    console = Console()
    for text, vector in zip(lines, result.vectors):
        shown = f"[{', '.join(f'{v:.4f}' for v in vector[:4])}, …] ({len(vector)} dims)" if vector else "— (no output)"
        console.print(f"{text!r}: {shown}")
    console.print(_receipt_table(result.receipt))
    _fail_after_output(failure)


@click.group()
def job() -> None:
    """Follow, cancel, refund or unwind a job."""


@job.command("status")
@click.argument("address")
@keypair_option
@rpc_option
@aggregator_option
@json_option
def job_status(address, keypair, rpc, aggregator, as_json) -> None:
    """The aggregator's report of a job: shards, verification, settlements."""
    report = run_with_client(lambda t: t.status(address))
    if as_json:
        print_json(report)
        return
    table = Table(title=f"Job {address}: {report['status']}", title_justify="left")
    for column in ("#", "status", "verified", "providers"):
        table.add_column(column)
    for shard in report["shards"]:
        table.add_row(str(shard["index"]), shard["status"], shard["verification"] or "—", ", ".join(shard["providers"]))
    Console().print(table)


@job.command("cancel")
@click.argument("address")
@keypair_option
@rpc_option
@aggregator_option
@json_option
def job_cancel(address, keypair, rpc, aggregator, as_json) -> None:
    """Cancel a job nobody has submitted results for: escrow and rent come back."""
    receipt = run_with_client(lambda t: t.cancel(address))
    print_json(receipt) if as_json else Console().print(_receipt_table(receipt))


@job.command("refund")
@click.argument("address")
@keypair_option
@rpc_option
@aggregator_option
@json_option
def job_refund(address, keypair, rpc, aggregator, as_json) -> None:
    """After the deadline: take back the escrow of shards nobody served."""
    receipt = run_with_client(lambda t: t.refund(address))
    print_json(receipt) if as_json else Console().print(_receipt_table(receipt))


@job.command("unwind")
@click.argument("address")
@keypair_option
@rpc_option
@aggregator_option
@json_option
def job_unwind(address, keypair, rpc, aggregator, as_json) -> None:
    """Past the deadline and the market's grace period, when the verifier never settled: release every unsettled
    assignment (collateral back to its provider, nobody paid or slashed) and close the job (the rest of the escrow
    and the rent back to its client). Anyone may run it; it needs nothing from the aggregator."""
    receipt = run_with_client(lambda t: t.unwind(address))
    print_json(receipt) if as_json else Console().print(_receipt_table(receipt))


@click.group()
def market() -> None:
    """Create a market or show one."""


@market.command("init")
@click.option("--keypair", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_KEYPAIR, show_default=True,
              help="The market authority (pays for the account).")
@rpc_option
@click.option("--verifier", default=None, help="The aggregator's public key (default: the authority).")
@click.option("--treasury", default=None, help="Where market fees go (default: the authority).")
@click.option("--min-stake", default=1_000_000_000, show_default=True, type=click.IntRange(1), help="Lamports.")
@click.option("--sampling-rate-bps", default=1_000, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--fee-bps", default=200, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--slash-bps", default=5_000, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--unbonding-period", default=60, show_default=True, type=click.IntRange(0), help="Seconds.")
@click.option("--claim-timeout", default=60, show_default=True, type=click.IntRange(1), help="Seconds.")
@click.option("--grace-period", default=3_600, show_default=True, type=click.IntRange(1),
              help="Seconds after a job's deadline when anyone may unwind what the verifier left unsettled.")
@click.option("--max-price", default=1_000_000, show_default=True, type=click.IntRange(1),
              help="Lamports: the most a job may pay per shard; the sampling rate must deter faking a shard at it.")
@json_option
def market_init(keypair, rpc, verifier, treasury, min_stake, sampling_rate_bps, fee_bps, slash_bps, unbonding_period,
                claim_timeout, grace_period, max_price, as_json) -> None:
    """Create the Market account of this authority."""
    from solders.pubkey import Pubkey

    from client.market_admin import MarketSettings, initialize_market
    from marketplace.chain import ChainError
    from marketplace.chain.client import TesseraChain
    from marketplace.keys import load_keypair

    async def go():
        authority = load_keypair(keypair)
        settings = MarketSettings(Pubkey.from_string(verifier) if verifier else authority.pubkey(),
                                  Pubkey.from_string(treasury) if treasury else authority.pubkey(), min_stake,
                                  unbonding_period, claim_timeout, fee_bps, slash_bps, sampling_rate_bps,
                                  grace_period=grace_period, max_price_per_shard=max_price)
        async with TesseraChain(rpc) as chain:
            return await initialize_market(chain, authority, settings)

    try:
        address, sent = asyncio.run(go())
    except (ChainError, MarketplaceError, TesseraError, ValueError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc
    if as_json:
        print_json({"market": str(address), "signature": str(sent.signature)})
    else:
        click.echo(f"market {address} created: {sent.signature}")


@market.command("show")
@click.argument("address", required=False)
@keypair_option
@rpc_option
@aggregator_option
@json_option
def market_show(address, keypair, rpc, aggregator, as_json) -> None:
    """A market's settings and totals (default: the aggregator's market)."""
    from solders.pubkey import Pubkey

    from client.market_admin import read_market

    async def fetch(tessera):
        if address is None:
            return await tessera.market()
        key = Pubkey.from_string(address)
        return key, await read_market(tessera.chain, key)

    key, account = run_with_client(fetch)
    if account is None:
        raise click.ClickException(f"no market at {key}")
    if as_json:
        print_json({"market": str(key), **{f.name: getattr(account, f.name) for f in dataclasses.fields(account)}})
    else:
        Console().print(market_table(key, account))


@click.command()
@click.argument("amount")
@click.option("--to", "recipient", default=None, help="Address to fund (default: the --keypair's, created if missing).")
@keypair_option
@rpc_option
def airdrop(amount, recipient, keypair, rpc) -> None:
    """Ask the cluster's faucet for AMOUNT SOL (localnet, test validator, devnet)."""
    from solders.pubkey import Pubkey

    from marketplace.chain import ChainError
    from marketplace.chain.client import TesseraChain
    from marketplace.keys import load_keypair, write_keypair
    from provider.cli import parse_sol

    lamports = parse_sol(amount)
    if recipient is None and not keypair.expanduser().exists():  # a new participant's first step, as in the README
        write_keypair(keypair)
        click.echo(f"wrote a new keypair to {keypair}", err=True)

    async def go():
        address = Pubkey.from_string(recipient) if recipient else load_keypair(keypair).pubkey()
        async with TesseraChain(rpc) as chain:
            await chain.airdrop(address, lamports)
            return address, await chain.balance(address)

    try:
        address, balance = asyncio.run(go())
    except (ChainError, MarketplaceError, ValueError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc
    click.echo(f"{address}: {sol(balance)}")


@click.command()
@click.argument("job")
@click.option("--model", "models", multiple=True,
              help="The job's model: a directory, a GGUF file or a catalog name (repeat to offer several).")
@click.option("--fragments", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For a pipelined model: a fragment store holding the slashed stages' spans.")
@rpc_option
@aggregator_option
@json_option
def audit(job, models, fragments, rpc, aggregator, as_json) -> None:
    """Judge every slash of JOB again: the evidence the program recorded (the committed digest, proven against the
    provider's results root, and the referee's digest), the shard's published input and runs (for a pipeline stage:
    its signed receipts and the activations they name), and your own run of the model (or of the stage's span). A
    slash is upheld when your run contradicts what the slashed provider committed."""
    if not models and fragments is None:
        raise click.UsageError("give the job's model (--model) or, for a pipelined model, --fragments")
    from client.audit import audit_job
    from marketplace.chain import ChainError
    from marketplace.pipeline.store import FragmentStore
    from provider.cli import require_model_runtime

    require_model_runtime()  # the audit runs the model itself
    from provider.errors import ProviderError
    from provider.models import load_model

    try:
        loaded = [load_model(model) for model in models]
        audits = asyncio.run(audit_job(job, aggregator, rpc, loaded, FragmentStore(fragments) if fragments else None))
    except (ChainError, MarketplaceError, TesseraError, ProviderError, OSError) as exc:
        raise click.ClickException(f"[{getattr(exc, 'code', type(exc).__name__)}] {exc}") from exc
    rows = [{"shard": a.slash.shard, "provider": str(a.slash.provider), "slashed": a.slash.slashed,
             "committed_digest": a.slash.committed_digest.hex(), "referee_digest": a.slash.referee_digest.hex(),
             "finding": a.finding.value, "reason": a.reason, "referee_reproduced": a.referee_reproduced,
             "signature": str(a.slash.signature)} for a in audits]
    if as_json:
        print_json({"job": job, "slashes": rows})
        return
    if not rows:
        click.echo(f"job {job} has no slashes")
        return
    table = Table(title=f"slashes of job {job}")
    for column in ("shard", "provider", "slashed", "finding", "reason", "referee reproduced"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["shard"]), row["provider"], sol(row["slashed"]), row["finding"], row["reason"],
                      "yes" if row["referee_reproduced"] else "no")
    Console().print(table)

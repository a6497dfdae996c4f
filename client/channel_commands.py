"""`tessera channel open|status|withdraw`: an agent's payment channel from a shell.

The session key that signs vouchers lives in a file (`--authorizer`, readable by its owner only); `generate`,
`chat` and `embed` pay from the channel with `--channel <that file>`, signing no transaction per request.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from client.commands import aggregator_option, json_option, keypair_option, print_json, rpc_option, run_with_client
from client.formatting import sol
from marketplace.vocabulary import VoucherStatus

DEFAULT_AUTHORIZER = Path.home() / ".config" / "tessera" / "authorizer.json"
authorizer_option = click.option("--authorizer", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_AUTHORIZER,
                                 show_default=True, help="The session key that signs the channel's vouchers.")


@click.group()
def channel() -> None:
    """Pay per request from a payment channel: one deposit, then vouchers instead of transactions."""


@channel.command("open")
@click.argument("deposit")
@click.option("--withdraw-delay", default=24 * 3600, show_default=True, type=click.IntRange(1, 366 * 24 * 3600),
              help="Seconds between `withdraw` asking and paying: the aggregator's time to claim what it served.")
@authorizer_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def channel_open(deposit, withdraw_delay, authorizer, keypair, rpc, aggregator, as_json) -> None:
    """Open the --keypair's channel in the aggregator's market with DEPOSIT SOL; write a new session key to
    --authorizer for its vouchers."""
    from marketplace.keys import write_keypair
    from provider.cli import parse_sol

    lamports = parse_sol(deposit)
    if authorizer.expanduser().exists():  # it may sign for an open channel: never overwritten
        raise click.ClickException(f"{authorizer} exists; give another --authorizer path")
    key = write_keypair(authorizer)  # before the channel exists: its key is never lost
    try:
        opened = run_with_client(lambda tessera: tessera.open_channel(lamports, withdraw_delay, key))
    except click.ClickException:
        authorizer.expanduser().unlink()  # no channel was opened: the key signs for nothing
        raise
    if as_json:
        print_json({"channel": str(opened.address), "authorizer": str(key.pubkey()), "deposit": lamports})
        return
    click.echo(f"opened channel {opened.address} with {sol(lamports)}; vouchers are signed by {key.pubkey()} "
               f"({authorizer}). Pay with: tessera generate --channel {authorizer} ...")


@channel.command("status")
@authorizer_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def channel_status(authorizer, keypair, rpc, aggregator, as_json) -> None:
    """What the channel holds, has paid, and the requests it paid for."""
    from marketplace.keys import load_keypair

    async def go(tessera):
        await tessera.use_channel(load_keypair(authorizer))
        return await tessera.channel_status()

    report = run_with_client(go)
    if as_json:
        print_json(report)
        return
    table = Table(title=f"Channel {report['channel']}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("free", sol(report["free"]))
    table.add_row("paid into jobs", sol(report["claimed"]))
    table.add_row("open jobs", str(report["open_jobs"]))
    table.add_row("requests paid", str(sum(v["status"] == VoucherStatus.CLAIMED for v in report["vouchers"])))
    table.add_row("withdrawable", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report["withdrawable_at"]))
                  if report["withdrawable_at"] else "not requested")
    Console().print(table)


@channel.command("withdraw")
@authorizer_option
@keypair_option
@rpc_option
@aggregator_option
@json_option
def channel_withdraw(authorizer, keypair, rpc, aggregator, as_json) -> None:
    """Leave: the first call starts the withdrawal delay; once it has passed (and the channel's jobs have closed),
    the next returns everything the channel holds to the --keypair."""
    from marketplace.chain import ChannelAccount
    from marketplace.keys import load_keypair

    async def go(tessera):
        channel = await tessera.use_channel(load_keypair(authorizer))
        if (await tessera.chain.fetch(ChannelAccount, channel.address)).withdrawable_at == 0:
            await tessera.request_withdraw()
            account = await tessera.chain.fetch(ChannelAccount, channel.address)
            return {"requested": True, "withdrawable_at": account.withdrawable_at}
        return {"requested": False, "returned": await tessera.withdraw()}

    outcome = run_with_client(go)
    if as_json:
        print_json(outcome)
    elif outcome["requested"]:
        click.echo("withdrawal requested; run this again after "
                   + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(outcome["withdrawable_at"])))
    else:
        click.echo(f"channel closed: {sol(outcome['returned'])} returned")

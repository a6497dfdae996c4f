"""`tessera aggregator`: the service in the foreground."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import uvloop
from aiohttp import web

from marketplace import logs
from marketplace.aggregator.app import create_app
from marketplace.aggregator.config import AggregatorConfig
from marketplace.chain.accounts import MAX_SHARDS


# The Solana CLI's default keypair, as `solana` and `anchor` use it.
DEFAULT_KEYPAIR = Path.home() / ".config" / "solana" / "id.json"


@click.command("aggregator")
@click.option("--db", default=None, help="SQLAlchemy URL (default: SQLite in the current directory); "
              "postgresql+asyncpg://... for several aggregators on one database.")
@click.option("--db-schema", default=None, help="PostgreSQL schema for the tables.")
@click.option("--rpc", default="http://127.0.0.1:8899", show_default=True, help="Solana JSON-RPC URL.")
@click.option("--ws", default=None, help="Solana PubSub (WebSocket) URL, for payment channels' subscriptions "
              "[default: the RPC URL's, port + 1].")
@click.option("--keypair", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_KEYPAIR, show_default=True,
              help="The market's verifier keypair (Solana CLI JSON).")
@click.option("--market", required=True, help="The Market account's address.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--price", default=100_000, show_default=True, help="Lamports quoted per shard execution.")
@click.option("--claim-timeout", default=60, show_default=True, help="Seconds a provider has to return claimed work.")
@click.option("--epoch-seconds", default=AggregatorConfig.epoch_seconds, show_default=True, type=click.FloatRange(min=0),
              help="Requests paid by voucher are served at once and paid together, in one job on chain per this many "
                   "seconds (an epoch); 0: each is a job of its own, claimed before it is served.")
@click.option("--epoch-shards", default=MAX_SHARDS, show_default=True, type=click.IntRange(1, MAX_SHARDS),
              help="An epoch holding this many shards ends before its time.")
@click.option("--fragment-store", type=click.Path(file_okay=False, path_type=Path), default=Path("tessera-fragments"),
              show_default=True, help="Where pipelined models' heads and their jobs' activations are kept.")
@click.option("--log-level", default="info", show_default=True)
def command(db: str | None, db_schema: str | None, rpc: str, ws: str | None, keypair: Path, market: str, host: str,
            port: int, price: int, claim_timeout: int, epoch_seconds: float, epoch_shards: int,
            fragment_store: Path, log_level: str) -> None:
    """The market's orchestrator, verifier and cache (HTTP API on --host/--port). It migrates its database at start;
    to migrate before a rolling deploy, run Alembic itself: `alembic -x db=URL upgrade head` (alembic.ini)."""
    if not keypair.exists():
        raise click.ClickException(f"keypair {keypair} not found (create one with solana-keygen, or pass --keypair)")
    run(AggregatorConfig(rpc_url=rpc, pubsub_url=ws, keypair=keypair, market=market, db_url=db or default_db(),
                         db_schema=db_schema, host=host, port=port, price_per_shard=price, claim_timeout=claim_timeout,
                         epoch_seconds=epoch_seconds, epoch_shards=epoch_shards, fragment_store=fragment_store), log_level)


def run(config: AggregatorConfig, log_level: str) -> None:
    logs.configure(log_level)
    logging.getLogger("tessera.aggregator").info(
        "aggregator for market %s on http://%s:%d (db %s, rpc %s)", config.market, config.host, config.port,
        config.db_url.split("@")[-1], config.rpc_url)
    uvloop.install()
    web.run_app(create_app(config), host=config.host, port=config.port, print=None, access_log=None)


def default_db() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'tessera-aggregator.sqlite3'}"

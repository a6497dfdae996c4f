"""`tessera aggregator`: the service in the foreground."""

from __future__ import annotations

import logging
from pathlib import Path

import uvloop
from aiohttp import web

from marketplace import logs
from marketplace.aggregator.app import create_app
from marketplace.aggregator.config import AggregatorConfig


def run(config: AggregatorConfig, log_level: str) -> None:
    logs.configure(log_level)
    logging.getLogger("tessera.aggregator").info(
        "aggregator for market %s on http://%s:%d (db %s, rpc %s)", config.market, config.host, config.port,
        config.db_url.split("@")[-1], config.rpc_url)
    uvloop.install()
    web.run_app(create_app(config), host=config.host, port=config.port, print=None, access_log=None)


def default_db() -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'tessera-aggregator.sqlite3'}"

"""The aiohttp application's typed keys: what the app holds, for the modules that serve its routes."""

from __future__ import annotations

from aiohttp import web

from marketplace.aggregator.config import AggregatorConfig
from marketplace.aggregator.rate_limit import RateLimit
from marketplace.aggregator.service import Aggregator

CONFIG = web.AppKey("config", AggregatorConfig)
SERVICE = web.AppKey("service", Aggregator)
QUOTE_LIMIT = web.AppKey("quote_limit", RateLimit)

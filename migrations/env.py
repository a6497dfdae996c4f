"""Alembic environment: the aggregator's models, applied over an async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from marketplace.aggregator.db import engine_options
from marketplace.aggregator.models import Base

config = context.config
target_metadata = Base.metadata
# From the aggregator (db.alembic_config) or the command line (alembic.ini): `alembic -x db=URL -x schema=NAME ...`.
options = context.get_x_argument(as_dictionary=True)
url = options.get("db") or config.get_main_option("sqlalchemy.url")
schema = options.get("schema") or config.attributes.get("schema")
if not url:
    raise SystemExit("no database: run `alembic -x db=URL upgrade head` (the aggregator's --db URL)")
if config.config_file_name is not None:  # run from the command line: alembic.ini says how to log
    from logging.config import fileConfig

    fileConfig(config.config_file_name)


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(url, **engine_options(url, schema))
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())

"""The aggregator's database: engines for SQLite (default) and PostgreSQL, migrated by Alembic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000

MIGRATIONS = next(
    (p for p in (Path(__file__).resolve().parents[2] / "migrations", Path(__file__).with_name("migrations")) if (p / "env.py").exists()),
    None,
)


def engine_options(url: str, schema: str | None = None) -> dict:
    """PostgreSQL may be confined to one schema (each test uses its own)."""
    if url.startswith("postgresql") and schema:
        return {"connect_args": {"server_settings": {"search_path": schema}}}
    return {}


def create_engine(url: str, schema: str | None = None) -> AsyncEngine:
    engine = create_async_engine(url, **engine_options(url, schema))
    if url.startswith("sqlite"):
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Writers queue for SQLite's one write lock; a burst (a hundred agents at once) can keep one waiting for
            # seconds. Past this the request is answered 503 busy (app.py), which clients retry.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()
    return engine


def alembic_config(url: str, schema: str | None = None) -> Config:
    if MIGRATIONS is None:
        raise RuntimeError("Alembic migrations not found next to the package")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["schema"] = schema
    return config


async def migrate(url: str, schema: str | None = None) -> None:
    """Brings the database to the newest schema. Alembic runs its own event loop: off this one."""
    await asyncio.to_thread(command.upgrade, alembic_config(url, schema), "head")


def sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)

"""Storage tests run on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`), each in its own schema."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from marketplace.aggregator.db import create_engine, migrate

POSTGRES = os.environ.get("TESSERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.asynccontextmanager
async def postgres_schema(prefix: str = "test") -> AsyncIterator[tuple[str, str]]:
    """(url, schema) of a fresh, migrated schema in the test PostgreSQL; dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES} is required for this test and did not answer: {exc}")
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    url = POSTGRES.replace("postgresql://", "postgresql+asyncpg://")
    try:
        await migrate(url, schema)
        yield url, schema
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path):
    """(url, schema) of a fresh, migrated database; dropped afterwards."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'aggregator.sqlite3'}"
        await migrate(url)
        yield url, None
        return
    async with postgres_schema() as database:
        yield database


@pytest.fixture
async def engine(database):
    url, schema = database
    engine = create_engine(url, schema)
    yield engine
    await engine.dispose()

"""The aggregator's database: engines for SQLite (default) and PostgreSQL, migrated by Alembic."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from collections.abc import Mapping, Sequence

from sqlalchemy import Table, Update, and_, bindparam, case, event, inspect, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm.exc import StaleDataError

SQLITE_BUSY_TIMEOUT_MS = 30_000
VERSIONED_BATCH = 256  # rows per batched UPDATE: bounded statements (and SQLite's expression depth)

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


def versioned_update(table: Table, rows: Sequence[Mapping], fixed: Mapping | None = None) -> tuple[Update, dict]:
    """One UPDATE for many rows of a table with a version column, where the ORM would send one per row: each row
    ({id, version, column: value, ...}) gets its own values, all get `fixed`, every version is bumped, and a row
    is written only while its version is still the one read. Returns the statement and its parameters; the caller
    compares the rowcount with len(rows): fewer means some row changed meanwhile (a stale version), as the ORM's
    StaleDataError does. Statements are built once per shape and reused, so SQLAlchemy's compiled cache applies."""
    fixed = dict(fixed or {})
    columns = tuple(sorted({name for row in rows for name in row} - {"id", "version"}))
    statement = _versioned_statement(table, len(rows), columns, tuple(sorted(fixed)))
    params = {f"fixed_{name}": value for name, value in fixed.items()}
    for n, row in enumerate(rows):
        params[f"r{n}_id"], params[f"r{n}_version"] = row["id"], row["version"]
        params.update({f"r{n}_{name}": row.get(name) for name in columns})
    return statement, params


@lru_cache(maxsize=256)
def _versioned_statement(table: Table, count: int, columns: tuple[str, ...], fixed: tuple[str, ...]) -> Update:
    # Row parameters are named r<row>_<column>: SQLAlchemy's own anonymous binds are <column>_<n>.
    ids = [bindparam(f"r{n}_id", type_=table.c.id.type) for n in range(count)]
    values = {name: case(*((table.c.id == ids[n], bindparam(f"r{n}_{name}", type_=table.c[name].type))
                           for n in range(count))) for name in columns}
    values.update({name: bindparam(f"fixed_{name}", type_=table.c[name].type) for name in fixed})
    matches = (and_(table.c.id == ids[n], table.c.version == bindparam(f"r{n}_version", type_=table.c.version.type))
               for n in range(count))
    return update(table).where(or_(*matches)).values(**values, version=table.c.version + 1)


async def flush_versioned(session: AsyncSession, model: type) -> None:
    """Writes the session's changed rows of a versioned model in one UPDATE per set of changed columns (not one per
    row, as the ORM does to check each version), then lets the ORM forget them. Raises StaleDataError when a row's
    version moved meanwhile, like the ORM's own flush; the caller rolls back."""
    groups: dict[tuple[str, ...], list[dict]] = defaultdict(list)
    changed = []
    for obj in session.dirty:
        if isinstance(obj, model) and (values := {attr.key: attr.value for attr in inspect(obj).attrs if attr.history.has_changes()}):
            changed.append(obj)
            groups[tuple(sorted(values))].append({"id": obj.id, "version": obj.version, **values})
    with session.no_autoflush:  # the ORM must not write these rows itself first
        for rows in groups.values():
            for start in range(0, len(rows), VERSIONED_BATCH):
                batch = rows[start:start + VERSIONED_BATCH]
                result = await session.execute(*versioned_update(model.__table__, batch))
                if result.rowcount != len(batch):
                    raise StaleDataError(f"{len(batch) - result.rowcount} of {len(batch)} {model.__tablename__} rows "
                                         "changed meanwhile")
    for obj in changed:
        session.expunge(obj)


def sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)

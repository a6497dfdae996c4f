"""The schema comes only from Alembic migrations, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marketplace.aggregator.models import Base


async def test_migrations_match_the_models(engine):
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], f"models and migrations drifted; add a migration: {differences}"


async def test_every_table_exists(engine):
    def tables(connection):
        return set(connection.dialect.get_table_names(connection))

    async with engine.connect() as connection:
        names = await connection.run_sync(tables)
    assert set(Base.metadata.tables) <= names


async def test_drift_is_detected(engine):
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["jobs"].append_column(Column("new_field", Integer))

    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), drifted)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert any(d[0] == "add_column" and d[3].name == "new_field" for d in differences)


async def test_operators_migrate_with_alembic_itself_before_a_deploy(tmp_path):
    """`alembic -x db=URL upgrade head` (alembic.ini) builds the schema the aggregator expects; the aggregator's own
    migration at start then finds nothing to do."""
    import asyncio
    import subprocess
    import sys
    from pathlib import Path

    from marketplace.aggregator.db import create_engine, migrate

    root = Path(__file__).resolve().parents[2]
    url = f"sqlite+aiosqlite:///{tmp_path / 'deployed.sqlite3'}"
    alembic = [str(Path(sys.executable).with_name("alembic")), "-c", str(root / "alembic.ini"), "-x", f"db={url}"]

    def run(*args):
        return subprocess.run([*alembic, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert (done := await asyncio.to_thread(run, "upgrade", "head")).returncode == 0, done.stderr
    head = (await asyncio.to_thread(run, "heads")).stdout.split()[0]
    assert head in (await asyncio.to_thread(run, "current")).stdout
    await migrate(url)  # what the aggregator does at start: already at head
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []
    missing = await asyncio.to_thread(subprocess.run, [*alembic[:3], "upgrade", "head"], capture_output=True, text=True,
                                      timeout=120, cwd=tmp_path)
    assert missing.returncode != 0 and "alembic -x db=URL upgrade head" in missing.stderr

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

"""The Alembic migrations build exactly the schema the model declares."""
import os
import tempfile

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import UniqueConstraint, create_engine, inspect

from lbaas.core import models
from lbaas.db import migrate


def _diff(url):
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, models.Base.metadata)
    engine.dispose()
    return diff


def test_sqlite_schema_matches_model():
    path = os.path.join(tempfile.mkdtemp(), "m.sqlite")
    assert _diff(f"sqlite:///{path}") == []


def test_postgresql_schema_matches_model(pg_cluster):
    assert _diff(pg_cluster.create_database("migrations")) == []


def test_upgrade_is_idempotent(pg_cluster):
    url = pg_cluster.create_database("twice")
    migrate.upgrade(url)
    migrate.upgrade(url)
    engine = create_engine(url)
    assert "load_balancer" in inspect(engine).get_table_names()
    engine.dispose()


def test_mariadb_schema_matches_model(mariadb_server):
    assert _diff(mariadb_server.create_database("migrations")) == []


def test_mariadb_tables_are_utf8mb4_binary_whatever_the_database_default(mariadb_server):
    mariadb_server.sql("CREATE DATABASE latin1_default CHARACTER SET latin1")
    migrate.upgrade(mariadb_server.url("latin1_default"))
    rows = [line.split("\t") for line in mariadb_server.sql(
        "SELECT TABLE_NAME, COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'latin1_default' "
        "AND CHARACTER_SET_NAME IS NOT NULL").splitlines()]
    assert len(rows) > 50   # every VARCHAR/TEXT/JSON column of every table
    assert [r for r in rows if r[2:] != ["utf8mb4", "utf8mb4_bin"]] == []


def _max_bytes(column):
    """The most bytes a key part of this column takes in InnoDB with utf8mb4 (4 a character)."""
    length = getattr(column.type, "length", None)
    return 4 * length if length else 8


def test_every_key_fits_innodb_3072_bytes_in_utf8mb4():
    keys = []
    for table in models.Base.metadata.tables.values():
        keys.append((table.name, "primary key", list(table.primary_key.columns)))
        keys += [(table.name, i.name, list(i.columns)) for i in table.indexes]
        keys += [(table.name, u.name, list(u.columns)) for u in table.constraints
                 if isinstance(u, UniqueConstraint)]
    sizes = {(t, n): sum(_max_bytes(c) for c in cols) for t, n, cols in keys}
    assert len(sizes) > 30
    assert {k: v for k, v in sizes.items() if v > 3072} == {}

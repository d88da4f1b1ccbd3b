"""The Alembic migrations build exactly the schema the model declares."""
import os
import tempfile

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

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

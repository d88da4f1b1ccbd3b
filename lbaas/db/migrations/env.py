"""Alembic environment: migrations run online against the configured URL."""
from alembic import context
from sqlalchemy import create_engine, text

from lbaas.core import models
from lbaas.core.db import MYSQL_SQL_MODE

config = context.config
target_metadata = models.Base.metadata

# Every table a migration creates on MySQL/MariaDB takes the database's defaults: utf8mb4
# holds every code point (emoji included, 4 bytes each: an indexed VARCHAR(255) is 1020
# bytes, within InnoDB's 3072), and the binary collation compares names and tags as
# PostgreSQL and SQLite do (the _ci collations fold case, and utf8mb4_general_ci holds all
# emoji equal, so two distinct tags would collide on the tag table's primary key).
MYSQL_CHARSET = "utf8mb4"
MYSQL_COLLATION = "utf8mb4_bin"


def _mysql_defaults(connection):
    """Make utf8mb4/utf8mb4_bin the default of the migrated MySQL database (once)."""
    current = connection.execute(text(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
        "information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()")).one()
    if tuple(current) != (MYSQL_CHARSET, MYSQL_COLLATION):
        name = connection.dialect.identifier_preparer.quote(connection.scalar(
            text("SELECT DATABASE()")))
        connection.execute(text(f"ALTER DATABASE {name} CHARACTER SET {MYSQL_CHARSET} "
                                f"COLLATE {MYSQL_COLLATION}"))


def run_migrations_online():
    """Run migrations in one transaction per revision."""
    url = config.get_main_option("sqlalchemy.url")
    mysql = url.startswith("mysql")
    engine = create_engine(url, connect_args={"sql_mode": MYSQL_SQL_MODE} if mysql else {})
    with engine.connect() as connection:
        if mysql:
            _mysql_defaults(connection)
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

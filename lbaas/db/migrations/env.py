"""Alembic environment: migrations run online against the configured URL."""
from alembic import context
from sqlalchemy import create_engine

from lbaas.core import models

config = context.config
target_metadata = models.Base.metadata


def run_migrations_online():
    """Run migrations in one transaction per revision."""
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

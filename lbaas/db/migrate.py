"""Run the Alembic migrations of lbaas against a database URL."""
import os

from alembic import command
from alembic.config import Config

from lbaas.core import db

HERE = os.path.dirname(os.path.abspath(__file__))


def alembic_config(url):
    """An Alembic Config pointing at lbaas's migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(HERE, "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url, revision="head"):
    """Bring the database at url up to revision (a SQLite file is made 0600 first)."""
    db.make_private(url)
    command.upgrade(alembic_config(url), revision)


def current(url):
    """Print the database's current revision."""
    command.current(alembic_config(url))

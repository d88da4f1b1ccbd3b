"""Schema migrations (Alembic), and the tables declared outside lbaas.core.models."""
from lbaas.db import certificate  # noqa: F401  (registers its table on models.Base)

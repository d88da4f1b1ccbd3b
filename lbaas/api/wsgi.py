"""The WSGI application for gunicorn: `gunicorn lbaas.api.wsgi:application`.

Configuration comes from $LBAAS_CONFIG_FILE, never from sys.argv (gunicorn's
own arguments live there).
"""
from lbaas.api import create_app
from lbaas.cmd import common

common.setup_logging()
application = create_app(common.load_conf())

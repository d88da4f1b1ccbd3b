"""The WSGI application for gunicorn: `gunicorn lbaas.api.wsgi:application`.

Configuration comes from $LBAAS_CONFIG_FILE, never from sys.argv (gunicorn's
own arguments live there).
"""
from lbaas import conf
from lbaas.api import create_app

conf.setup_logging()
application = create_app(conf.load_conf())

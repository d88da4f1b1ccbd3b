"""The WSGI application for gunicorn: `gunicorn lbaas.api.wsgi:application`.

Configuration comes from $LBAAS_CONFIG_FILE, never from sys.argv (gunicorn's
own arguments live there).
"""
from lbaas import conf
from lbaas.api import create_app

_conf = conf.load_conf()
conf.setup_logging(_conf)
application = create_app(_conf)

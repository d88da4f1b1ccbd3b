"""What every lbaas command shares: configuration from explicit arguments, logging."""
from lbaas.conf import (CONFIG_ENV, config_files, load_conf,  # noqa: F401  (the commands' API)
                        setup_logging)

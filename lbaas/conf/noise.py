"""The third-party warnings lbaas silences, each named exactly (category, module or message).

Both come from importing eventlet, which oslo.messaging's executors (futurist) and
oslo.service's loopingcall import whenever it is installed (oslo.service depends on it),
although lbaas never monkey-patches and never runs a green thread:

* eventlet's own EventletDeprecationWarning ("Eventlet is deprecated ..."), recognised by
  its message: naming the class would import eventlet, and this filter is set before it is;
* cryptography's CryptographyDeprecationWarning about DSA, raised while dnspython (which
  eventlet imports) defines its DNSSEC DSA types, in module dns.dnssecalgs.dsa.

Every other warning still prints; docs/operators.md ("Logging") lists these two.
"""
import warnings

from cryptography.utils import CryptographyDeprecationWarning

EVENTLET_MESSAGE = r"\s*Eventlet is deprecated"
DNSPYTHON_MODULE = r"(.*\.)?dns\.dnssecalgs\."


def silence_third_party():
    """Ignore exactly the third-party warnings listed in this module (idempotent)."""
    warnings.filterwarnings("ignore", message=EVENTLET_MESSAGE, category=Warning)
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning,
                            module=DNSPYTHON_MODULE)

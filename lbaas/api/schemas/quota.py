"""Request bodies of the quota resource."""
from lbaas.api.schemas import fields as f
from lbaas.core import constants as c


def _limit():
    return f.Int(c.MIN_QUOTA, c.MAX_QUOTA, allow_none=True)


class QuotaPUT(f.Strict):
    """Limits to set: -1 unlimited, 0 none allowed, null back to the default."""

    loadbalancer = _limit()
    load_balancer = _limit()  # deprecated spelling of loadbalancer
    listener = _limit()
    member = _limit()
    pool = _limit()
    healthmonitor = _limit()
    health_monitor = _limit()  # deprecated spelling of healthmonitor
    l7policy = _limit()
    l7rule = _limit()


QuotaUpdate = f.envelope("quota", QuotaPUT, "QuotaUpdate")

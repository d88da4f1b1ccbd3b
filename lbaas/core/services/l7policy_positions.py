"""The order of a listener's L7 policies: positions 1..N, kept dense after every change."""
from sqlalchemy import select

from lbaas.core import models


def _ordered(session, listener_id, exclude=None):
    """The listener's policies in their current order (ties by age, then id)."""
    policy = models.L7Policy
    stmt = select(policy).where(policy.listener_id == listener_id) \
        .order_by(policy.position, policy.created_at, policy.id)
    if exclude is not None:
        stmt = stmt.where(policy.id != exclude)
    with session.no_autoflush:
        return list(session.scalars(stmt))


def _number(policies):
    for index, policy in enumerate(policies, 1):
        if policy.position != index:
            policy.position = index


def place(session, listener_id, row, position):
    """Put a policy at a 1-based position among its listener's (last if beyond them); renumber.

    Call before a new row is added to the session, so that it is inserted with its
    final position (its updated_at stays null).
    """
    policies = _ordered(session, listener_id, exclude=row.id)
    policies.insert(position - 1, row)
    _number(policies)


def renumber(session, listener_id):
    """Close the gaps a removed policy left: positions 1..N in the current order."""
    _number(_ordered(session, listener_id))

"""Who is asking: the request context the API hands to the core."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class RequestContext:
    """The caller's project and powers, independent of how they were authenticated."""

    project_id: str | None = None
    user_id: str | None = None
    roles: tuple = ()
    is_admin: bool = False
    auth_strategy: str = "noauth"

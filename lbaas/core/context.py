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

    @classmethod
    def admin(cls, project_id=None):
        """A context for the control plane itself, or for a noauth caller."""
        return cls(project_id=project_id, is_admin=True, roles=("admin",))

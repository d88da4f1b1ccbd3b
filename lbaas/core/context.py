"""Who is asking: the request context the API hands to the core."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class RequestContext:
    """The caller's project and powers, independent of how they were authenticated.

    Under keystone the identity fields are what auth_token validated: the token's
    project (or domain, or system) scope, its user, and its roles (lowercased).
    """

    project_id: str | None = None
    user_id: str | None = None
    roles: tuple = ()
    is_admin: bool = False
    auth_strategy: str = "noauth"
    system_scope: str | None = None
    domain_id: str | None = None
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    # the caller's Keystone token (keystone only): certificate managers read references
    # such as Barbican's with the caller's own credentials, as Octavia does
    auth_token: str | None = dataclasses.field(default=None, repr=False)

    def policy_values(self):
        """The credentials oslo.policy checks rules against."""
        return {"user_id": self.user_id, "project_id": self.project_id,
                "roles": list(self.roles), "is_admin": self.is_admin,
                "system_scope": self.system_scope, "domain_id": self.domain_id,
                "user_domain_id": self.user_domain_id,
                "project_domain_id": self.project_domain_id}

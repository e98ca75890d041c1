"""Who is asking: the signed-in user as every router sees it."""

from dataclasses import dataclass, field

from hgj_api.security.permissions import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Principal:
    """A user's identity, roles and community scope for one request (read from the database
    on each request, so it is never staler than the request).

    ``all_communities`` is a platform-wide user: every community, including ones created
    later; ``communities`` is then empty and ignored.
    """

    user_id: str
    username: str
    roles: frozenset[Role]
    communities: frozenset[str] = frozenset()
    all_communities: bool = False
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_of(self.roles))

    def has(self, *permissions: Permission) -> bool:
        """True when the user holds every one of ``permissions``."""
        return set(permissions) <= self.permissions

    def can_see(self, community: str) -> bool:
        """True when ``community`` is inside the user's scope."""
        return self.all_communities or community in self.communities

    def covers(self, communities: frozenset[str], *, all_communities: bool = False) -> bool:
        """True when a scope (another user's, say) lies wholly inside this user's scope."""
        if self.all_communities:
            return True
        return not all_communities and communities <= self.communities

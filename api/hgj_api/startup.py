"""What happens before the API serves: refusing insecure defaults, and the bootstrap admin.

Outside development mode the API refuses to start with a setting that would let strangers in
(the built-in JWT key, a weak bootstrap admin password, anonymous access) or with an enabled
user whose password was accepted only because development mode allowed it. In development
each of these is logged as a warning instead, so nobody mistakes such a server for a real one.
"""

import logging

from hgj_api import accounts
from hgj_api.audit import Actor, AuditAction
from hgj_api.security.passwords import password_problem
from hgj_api.security.permissions import Role
from hgj_api.services import Services
from hgj_api.settings import ApiSettings, insecure_defaults

log = logging.getLogger("hgj_api")

BOOTSTRAP_ACTOR = Actor(None, "(bootstrap)")


class InsecureConfigError(RuntimeError):
    """The API would start with insecure defaults outside development mode."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "refusing to start in production mode with insecure settings: "
            + "; ".join(problems)
            + " (fix them, or set HGJ_API_MODE=development on a development machine)"
        )
        self.problems = problems


def check_settings(settings: ApiSettings) -> None:
    """Raise InsecureConfigError in production, warn in development."""
    problems = insecure_defaults(settings)
    if settings.mode == "production":
        if problems:
            raise InsecureConfigError(problems)
        return
    log.warning("DEVELOPMENT MODE: insecure defaults are accepted; never expose this server")
    for problem in problems:
        log.warning("development mode accepts an insecure setting: %s", problem)


def bootstrap_admin(services: Services) -> None:
    """Create the configured platform-wide admin when no user has that name yet."""
    settings = services.settings
    if settings.bootstrap_admin_username is None or settings.bootstrap_admin_password is None:
        return
    username = settings.bootstrap_admin_username
    password = settings.bootstrap_admin_password.get_secret_value()
    with services.database.read_session() as session:
        if accounts.find_by_username(session, username) is not None:
            return
    weak = (
        password_problem(password, min_length=settings.password_min_length, username=username)
        is not None
    )
    password_hash = services.passwords.hash(password)
    with services.database.write_session() as session, session.begin():
        if accounts.find_by_username(session, username) is not None:
            return  # another replica got there first
        user = accounts.create_user(
            session,
            username=username,
            password_hash=password_hash,
            roles=[Role.ADMIN],
            all_communities=True,
            weak_password=weak,
            now=services.clock(),
        )
        services.audit.record(
            session,
            AuditAction.USER_CREATE,
            actor=BOOTSTRAP_ACTOR,
            target=("user", user.id),
            detail={"username": username, "roles": [Role.ADMIN], "all_communities": True},
        )
    log.info("created the bootstrap admin %r", username)


def check_weak_passwords(services: Services) -> None:
    """Refuse (production) or warn (development) while enabled users have weak passwords."""
    with services.database.read_session() as session:
        weak = accounts.weak_password_users(session)
    if not weak:
        return
    problem = f"user(s) {', '.join(sorted(weak))} have passwords below the policy"
    if services.settings.mode == "production":
        raise InsecureConfigError([problem + "; reset them"])
    log.warning("development mode accepts an insecure setting: %s", problem)

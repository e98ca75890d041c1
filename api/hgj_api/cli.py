"""``python -m hgj_api``: serve the API, or create the first admin.

    python -m hgj_api                              # serve (uvicorn), settings from HGJ_API_*
    python -m hgj_api create-admin --username li   # prompts for the password twice
    python -m hgj_api verify-audit                 # check the audit log's hash chain

``create-admin`` reads the password from ``HGJ_ADMIN_PASSWORD`` when set (for scripts; not an
``HGJ_API_`` setting, which would be refused as unknown), otherwise from a hidden prompt; it is
never a command-line argument, where ``ps`` would show it.
"""

import logging
import os
from typing import Annotated, Final

import typer
from sqlalchemy.exc import SQLAlchemyError

from hgj_api import accounts
from hgj_api.audit import Actor, AuditAction, AuditLog
from hgj_api.database import Database
from hgj_api.security.passwords import Passwords, password_problem
from hgj_api.security.permissions import Role
from hgj_api.settings import ApiSettings, settings_from_env
from hgj_contracts import utc_now
from hgj_statedb.audit_chain import verify_chain

PASSWORD_ENV: Final = "HGJ_ADMIN_PASSWORD"  # noqa: S105 - the variable's name
CLI_ACTOR: Final = Actor(None, "(cli)")

app = typer.Typer(help="Hongguanjia API.", add_completion=False)


@app.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    """Serve the API (the default), or run a command."""
    if context.invoked_subcommand is None:
        serve()


@app.command()
def serve() -> None:
    """Serve the API with uvicorn (HGJ_API_HOST, HGJ_API_PORT, ...)."""
    import uvicorn

    from hgj_api.app import create_app
    from hgj_api.startup import InsecureConfigError

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        api = create_app(settings)
    except InsecureConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        api,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level=settings.log_level.lower(),
    )


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="sign-in name (lower case)")],
    community: Annotated[
        list[str] | None,
        typer.Option(help="limit the admin to this community (repeat); default: all"),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="the person's name")] = None,
) -> None:
    """Create an admin (platform-wide unless --community is given) in the state database."""
    settings = _settings()
    username = accounts.normalise_username(username)
    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        f"Password for {username}", hide_input=True, confirmation_prompt=True
    )
    problem = password_problem(password, min_length=settings.password_min_length, username=username)
    if problem is not None:
        typer.echo(f"refused: {problem}", err=True)
        raise typer.Exit(2)
    passwords = Passwords()
    database = Database.open(settings.state_db_url)
    try:
        database.migrate()
        password_hash = passwords.hash(password)
        with database.write_session() as session, session.begin():
            try:
                user = accounts.create_user(
                    session,
                    username=username,
                    password_hash=password_hash,
                    roles=[Role.ADMIN],
                    communities=community or [],
                    all_communities=not community,
                    display_name=display_name,
                    now=utc_now(),
                )
            except ValueError as error:  # a taken name, or not an id
                typer.echo(f"refused: {error}", err=True)
                raise typer.Exit(1) from None
            AuditLog(utc_now).record(
                session,
                AuditAction.USER_CREATE,
                actor=CLI_ACTOR,
                target=("user", user.id),
                detail={
                    "username": username,
                    "roles": [Role.ADMIN],
                    "communities": sorted(community or []),
                    "all_communities": not community,
                },
            )
    finally:
        database.close()
    scope = "every community" if not community else ", ".join(sorted(community))
    typer.echo(f"created admin {username} ({user.id}) for {scope}")


@app.command("verify-audit")
def verify_audit() -> None:
    """Check the audit log's hash chain (HGJ_API_STATE_DB_URL) and report the first broken
    link: exit 0 when intact, 1 when broken, 2 when it cannot be checked."""
    settings = _settings()
    database = Database.open(settings.state_db_url)
    try:
        with database.read_session() as session:
            report = verify_chain(session)
    except SQLAlchemyError as error:
        typer.echo(f"cannot verify: {type(error).__name__}: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        database.close()
    typer.echo(f"records checked: {report.records}")
    typer.echo(f"chain head: seq {report.head_seq}, hash {report.head_hash}")
    found = report.first_break
    if found is None:
        typer.echo("intact")
        return
    where = f"seq {found.seq}" + (f" (id {found.record_id})" if found.record_id else "")
    typer.echo(f"BROKEN at {where}: {found.problem}")
    raise typer.Exit(1)


def _settings() -> ApiSettings:
    try:
        return settings_from_env()
    except ValueError as error:  # pydantic's ValidationError is one
        typer.echo(f"invalid settings: {error}", err=True)
        raise typer.Exit(2) from None

"""The `xpulse` command: migrate, serve, demo, api-key create/list/revoke, connector list/check,
secrets rotate.

An operator's usual mistakes (database not reachable or not migrated, the embedded database
looked for from another folder) end in one line that says what to do, not a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from alembic import command
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Scope
from app.config import Settings, get_settings
from app.migrate import alembic_config, head_revision

T = TypeVar("T")

cli = typer.Typer(help="XPulse: IT experience management.", no_args_is_help=True)
api_key_cli = typer.Typer(
    help="Manage API keys (read keys by default; --scope admin for keys that change things).",
    no_args_is_help=True,
)
connector_cli = typer.Typer(help="List connectors and check their set-up.", no_args_is_help=True)
cli.add_typer(api_key_cli, name="api-key")
secrets_cli = typer.Typer(
    help="Secrets at rest: connector credentials, chat webhook URLs (XPULSE_ENCRYPTION_KEYS).",
    no_args_is_help=True,
)
cli.add_typer(connector_cli, name="connector")
cli.add_typer(secrets_cli, name="secrets")


class CliError(Exception):
    """A mistake the operator can fix: printed as one line, exit code 1."""


def sqlite_path(settings: Settings) -> Path | None:
    """The embedded database's file, as this process resolves it; None for PostgreSQL."""
    if not settings.is_sqlite or ":///" not in settings.database_url:
        return None
    path = settings.database_url.split(":///", 1)[1].split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


def ensure_sqlite_dir(settings: Settings) -> None:
    """Create the embedded database's folder (./var by default) so the quick start just works."""
    if (path := sqlite_path(settings)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is itself the problem; show its scheme only
        return url.split(":", 1)[0] + ":…"


def explain(exc: Exception, settings: Settings) -> str:
    """One line saying what went wrong with the database and what to do about it."""
    url = safe_url(settings.database_url)
    text = str(getattr(exc, "orig", None) or exc).lower()
    if isinstance(exc, ProgrammingError | OperationalError) and (
        "no such table" in text or ("does not exist" in text and "relation" in text)
    ):
        return f"the database {url} is not migrated: run `xpulse migrate` first"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    return (
        f"cannot reach the database {url} ({reason}): check XPULSE_DATABASE_URL "
        "and that the server is running"
    )


def run(work: Callable[[], Awaitable[T]], *, needs_schema: bool = True) -> T:
    """Run a database command; usual mistakes become one line and exit code 1."""
    settings = get_settings()
    try:
        if needs_schema and (path := sqlite_path(settings)) is not None and not path.exists():
            raise CliError(
                f"no embedded database at {path.resolve()}: run xpulse from the folder where "
                "you ran `make run` (or `xpulse migrate`), or set XPULSE_DATABASE_URL"
            )
        return asyncio.run(work())
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (DBAPIError, OSError) as exc:
        typer.echo(f"error: {explain(exc, settings)}", err=True)
        raise typer.Exit(1) from None


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """A session on the configured database, refused with the fix when it is behind head."""
    from sqlalchemy import text

    from app.db import create_engine, make_sessionmaker

    engine = create_engine(get_settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            current = (
                await session.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
            if current != head_revision():
                raise CliError(
                    f"the database is at migration {current}, not {head_revision()}: "
                    "run `xpulse migrate` first"
                )
            yield session
    finally:
        await engine.dispose()


@cli.command()
def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Upgrade the database schema (safe to run from several replicas at once)."""
    settings = get_settings()
    ensure_sqlite_dir(settings)

    async def upgrade() -> None:
        # Alembic's env.py runs its own event loop: leave this one before calling it.
        await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), revision)

    run(upgrade, needs_schema=False)
    typer.echo(f"database at {revision}")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind"),
    port: int = typer.Option(8000, help="Port to bind"),
    workers: int = typer.Option(1, help="Processes (PostgreSQL only; SQLite is one process)"),
) -> None:
    """Serve the API, the feedback pages and the background ticker."""
    import uvicorn

    settings = get_settings()
    if settings.is_sqlite and workers > 1:
        raise typer.BadParameter("the embedded SQLite database supports one process only")
    ensure_sqlite_dir(settings)
    uvicorn.run(
        "app.main:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.keep_alive_seconds,
        log_config=None,
    )


@api_key_cli.command("create")
def api_key_create(
    scope: Scope = typer.Option(Scope.read, help="read (the default) or admin (read and write)"),
    name: str = typer.Option("cli", help="A label to recognise the key by"),
) -> None:
    """Create an API key and print it once."""
    from app.auth import service
    from app.clock import utcnow

    async def create() -> str:
        async with session_scope() as session:
            _, plain = await service.create_key(session, name=name, scope=scope, now=utcnow())
            await session.commit()
            return plain

    plain = run(create)
    typer.echo(plain)
    typer.echo(f"# scope {scope.value}; store it now, it is not shown again", err=True)


@api_key_cli.command("list")
def api_key_list() -> None:
    """List API keys: id, prefix, scope, live or revoked, name (never the secret part)."""
    from app.auth import service

    async def show() -> None:
        async with session_scope() as session:
            for key in await service.list_keys(session):
                state = "revoked" if key.revoked_at else "live"
                typer.echo(f"{key.id}\txp_{key.prefix}_…\t{key.scope}\t{state}\t{key.name}")

    run(show)


@api_key_cli.command("revoke")
def api_key_revoke(
    key: str = typer.Argument(..., help="The key's id, or its prefix as `list` shows it (xp_…)"),
) -> None:
    """Revoke an API key: it stops working at once."""
    from app.auth import service
    from app.clock import utcnow

    async def revoke() -> str:
        async with session_scope() as session:
            wanted = key.removeprefix("xp_").split("_", 1)[0]
            found = [
                k
                for k in await service.list_keys(session)
                if str(k.id) == key or k.prefix == wanted
            ]
            if len(found) != 1:
                raise CliError(f"no API key {key!r}: `xpulse api-key list` shows them")
            if not await service.revoke_key(session, found[0].id, now=utcnow()):
                return f"{found[0].id} was already revoked"
            await session.commit()
            return f"{found[0].id} revoked"

    typer.echo(run(revoke))


@cli.command()
def demo(
    remove: bool = typer.Option(False, "--remove", help="Take the demo data out again"),
    tickets: int = typer.Option(2000, min=10, max=100_000, help="How many demo tickets"),
) -> None:
    """Load a year of clearly marked demo tickets and answers (replacing earlier demo data)."""
    from app import demo as demo_data
    from app.clock import utcnow

    if get_settings().env == "production" and not remove:
        typer.echo("error: demo data is for trying XPulse out, not for production", err=True)
        raise typer.Exit(1)

    async def change() -> str:
        async with session_scope() as session:
            if remove:
                count = await demo_data.remove(session)
                message = f"removed the demo data ({count} tickets)"
            else:
                count = await demo_data.load(session, now=utcnow(), tickets=tickets)
                message = (
                    f"loaded {count} demo tickets (connector {demo_data.CONNECTOR_NAME}); "
                    "`xpulse demo --remove` takes them out"
                )
            await session.commit()
            return message

    typer.echo(run(change))


async def _all_connectors(session: AsyncSession) -> list[Any]:
    from app.connectors import service

    rows, cursor = await service.list_connectors(session, cursor=None, limit=200)
    while cursor:
        more, cursor = await service.list_connectors(session, cursor=cursor, limit=200)
        rows.extend(more)
    return sorted(rows, key=lambda c: c.name)


@connector_cli.command("list")
def connector_list() -> None:
    """List connectors: name, kind, channel, enabled or disabled, id."""

    async def show() -> None:
        async with session_scope() as session:
            for c in await _all_connectors(session):
                state = "enabled" if c.enabled else "disabled"
                typer.echo(f"{c.name}\t{c.kind}\t{c.channel}\t{state}\t{c.id}")

    run(show)


@connector_cli.command("check")
def connector_check(name: str = typer.Argument(..., help="The connector's name")) -> None:
    """Ask the ITSM whether the connector's credentials, states and fields are right."""
    from app.connectors import service
    from app.connectors.registry import get_kind
    from app.http import make_http_client

    async def check() -> bool:
        async with session_scope() as session:
            found = [c for c in await _all_connectors(session) if c.name == name]
            if not found:
                raise CliError(f"no connector named {name!r}: `xpulse connector list` shows them")
            config = service.to_config(found[0])
        async with make_http_client(get_settings()) as http:
            checks = await get_kind(config.kind).check(http, config)
        for c in checks:
            typer.echo(f"{'ok  ' if c.ok else 'FAIL'}\t{c.name}\t{c.detail}")
        return all(c.ok for c in checks)

    if not run(check):
        raise typer.Exit(1)


@secrets_cli.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every connector's secrets and every alert rule's chat webhook URLs under the
    first key of XPULSE_ENCRYPTION_KEYS; afterwards the other keys can be removed."""
    from app import secrets_box
    from app.actions import alerts
    from app.connectors import service

    box = secrets_box.configure(get_settings())

    async def rotate() -> tuple[int, int]:
        async with session_scope() as session:
            try:
                counts = (
                    await service.reencrypt_secrets(session),
                    await alerts.reencrypt_chat_urls(session),
                )
            except secrets_box.SecretDecryptError as exc:
                raise CliError(str(exc)) from None
            await session.commit()
            return counts

    connectors, rules = run(rotate)
    source = (
        "the key derived from XPULSE_SECRET_KEY (XPULSE_ENCRYPTION_KEYS is empty)"
        if box.derived_from_secret_key
        else "the first key of XPULSE_ENCRYPTION_KEYS"
    )
    typer.echo(
        f"{connectors} connector(s) and {rules} alert rule(s) with chat webhooks re-encrypted "
        f"under {source}"
    )


if __name__ == "__main__":
    cli()

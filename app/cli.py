"""The `xpulse` command: migrate, serve, api-key create/list/revoke."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from alembic import command

from app.auth.models import Scope
from app.config import Settings, get_settings
from app.migrate import alembic_config

cli = typer.Typer(help="XPulse: IT experience management.", no_args_is_help=True)
api_key_cli = typer.Typer(help="Manage admin API keys.", no_args_is_help=True)
cli.add_typer(api_key_cli, name="api-key")


def ensure_sqlite_dir(settings: Settings) -> None:
    """Create the embedded database's folder (./var by default) so the quick start just works."""
    if settings.is_sqlite and ":///" in settings.database_url:
        path = settings.database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


@cli.command()
def migrate(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Upgrade the database schema (safe to run from several replicas at once)."""
    settings = get_settings()
    ensure_sqlite_dir(settings)
    command.upgrade(alembic_config(settings.database_url), revision)
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
        log_config=None,
    )


@api_key_cli.command("create")
def api_key_create(
    scope: Scope = typer.Option(Scope.read, help="admin (read and write) or read"),
    name: str = typer.Option("cli", help="A label to recognise the key by"),
) -> None:
    """Create an API key and print it once."""
    from app.auth import service
    from app.clock import utcnow

    async def run() -> str:
        async with _session() as session:
            _, plain = await service.create_key(session, name=name, scope=scope, now=utcnow())
            await session.commit()
            return plain

    plain = asyncio.run(run())
    typer.echo(plain)
    typer.echo(f"# scope {scope.value}; store it now, it is not shown again", err=True)


@api_key_cli.command("list")
def api_key_list() -> None:
    """List API keys (prefix, scope, name; never the secret part)."""
    from app.auth import service

    async def run() -> None:
        async with _session() as session:
            for key in await service.list_keys(session):
                state = "revoked" if key.revoked_at else "live"
                typer.echo(f"{key.id}\txp_{key.prefix}_…\t{key.scope}\t{state}\t{key.name}")

    asyncio.run(run())


def _session():
    from contextlib import asynccontextmanager

    from app.db import create_engine, make_sessionmaker

    @asynccontextmanager
    async def scope():
        engine = create_engine(get_settings().database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                yield session
        finally:
            await engine.dispose()

    return scope()


if __name__ == "__main__":
    cli()
